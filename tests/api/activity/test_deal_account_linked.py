"""A deal opened without an account (a prospect not yet a customer), and `deal.account_linked`
tying it to one later: both are stored as sent, and the link is about the account it names."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.conftest import make_event
from tests.problems import assert_problem

PROSPECT_DEAL = {"amount": "24000.00", "currency": "EUR", "product_line": "ovens"}


def prospect_deal(deal: str) -> dict[str, Any]:
    return make_event("deal.opened", stream=f"deal-{deal}", data=dict(PROSPECT_DEAL))


def link(deal: str, account: Any, **data: Any) -> dict[str, Any]:
    return make_event(
        "deal.account_linked", stream=f"deal-{deal}", data={"account_id": account, **data}
    )


async def stored(db, org: str, event_id: str) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT type, stream, stream_version, data FROM activity.events"
        " WHERE org_id = $1 AND event_id = $2",
        org,
        event_id,
    )
    assert row is not None
    return {**dict(row), "data": orjson.loads(row["data"])}


class TestADealWithoutAnAccount:
    async def test_is_stored_as_sent_without_an_account(self, activity, auth, db, org):
        event = prospect_deal("P-1")
        r = await activity.post("/v1/events", json=event, headers=auth())
        assert r.status_code == 201, r.text
        assert r.json()["stream_version"] == 1
        assert await stored(db, org, event["event_id"]) == {
            "type": "deal.opened",
            "stream": "deal-P-1",
            "stream_version": 1,
            "data": {**PROSPECT_DEAL, "stage": "qualification"},
        }

    async def test_an_explicit_null_account_is_a_deal_without_one(self, activity, auth, db, org):
        event = make_event(
            "deal.opened", stream="deal-P-2", data={**PROSPECT_DEAL, "account_id": None}
        )
        r = await activity.post("/v1/events", json=event, headers=auth())
        assert r.status_code == 201, r.text
        data = (await stored(db, org, event["event_id"]))["data"]
        assert data == {**PROSPECT_DEAL, "stage": "qualification"}  # a null is not stored


class TestTheLink:
    async def test_is_stored_on_the_deal_and_about_its_account(self, activity, auth, db, org):
        opening, linking = prospect_deal("P-3"), link("P-3", "acc-77", reason="signed up")
        r = await activity.post(
            "/v1/events/batch", json={"events": [opening, linking]}, headers=auth()
        )
        assert r.status_code == 201, r.text
        assert [x["stream_version"] for x in r.json()["results"]] == [1, 2]
        assert await stored(db, org, linking["event_id"]) == {
            "type": "deal.account_linked",
            "stream": "deal-P-3",
            "stream_version": 2,
            "data": {"account_id": "acc-77", "reason": "signed up"},
        }
        feed = await activity.get("/v1/events", params={"about": "account:acc-77"}, headers=auth())
        assert feed.status_code == 200, feed.text
        assert [e["event_id"] for e in feed.json()["items"]] == [linking["event_id"]]
        deal = await activity.get("/v1/events", params={"about": "deal:P-3"}, headers=auth())
        assert [e["event_id"] for e in deal.json()["items"]] == [
            opening["event_id"],
            linking["event_id"],
        ]

    @pytest.mark.parametrize(
        "account",
        [None, "", "acc 1", "-acc", "a" * 129, 42],
        ids=["null", "empty", "space", "leading-dash", "too-long", "number"],
    )
    async def test_a_bad_account_id_is_refused_naming_it(self, activity, auth, db, org, account):
        r = await activity.post("/v1/events", json=link("P-4", account), headers=auth())
        assert_problem(r, 422, "data.account_id")
        assert await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org) == 0

    async def test_an_account_id_is_required(self, activity, auth, db, org):
        event = make_event("deal.account_linked", stream="deal-P-5", data={})
        assert_problem(
            await activity.post("/v1/events", json=event, headers=auth()), 422, "data.account_id"
        )

    async def test_an_unknown_field_is_refused(self, activity, auth):
        r = await activity.post("/v1/events", json=link("P-6", "acc-1", tier="A"), headers=auth())
        assert_problem(r, 422, "data.tier")

    @pytest.mark.parametrize("stream", ["account-acc-1", "lead-L-1"])
    async def test_it_belongs_to_a_deal_stream(self, activity, auth, stream):
        event = {**link("P-7", "acc-1"), "stream": stream}
        assert_problem(await activity.post("/v1/events", json=event, headers=auth()), 422, "stream")

    async def test_a_bad_account_on_an_opening_is_still_refused(self, activity, auth):
        event = make_event(
            "deal.opened", stream="deal-P-8", data={**PROSPECT_DEAL, "account_id": "acc 1"}
        )
        assert_problem(
            await activity.post("/v1/events", json=event, headers=auth()), 422, "data.account_id"
        )
