"""Pipedrive deliveries over the real activity app: v2 bodies with the webhook's Basic auth."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.api.activity.out_of_order import assert_as_in_occurred_order
from tests.conftest import TokenFactory

SECRET = "pipedrive-hook:s3cret-passw0rd"
ROTATED = "pipedrive-hook:n3w-passw0rd-abc"
CONNECTOR = {
    "provider": "pipedrive",
    "secret": SECRET,
    "stages": {"1": "qualification", "2": "proposal"},
    "owners": {"15": {"rep_id": "rep-anna", "team_id": "team-north"}},
    "default_currency": "EUR",
}


def deal(**changes: Any) -> dict[str, Any]:
    return {
        "id": 123,
        "title": "Ovens for Kiel",
        "owner_id": 15,
        "org_id": 88,
        "stage_id": 1,
        "pipeline_id": 1,
        "value": 24000,
        "currency": "EUR",
        "status": "open",
        "lost_reason": None,
        "add_time": "2026-12-01T09:00:00Z",
        "update_time": "2026-12-04T10:00:00Z",
        "won_time": None,
        "lost_time": None,
        "custom_fields": {},
        **changes,
    }


def delivery(
    delivery_id: str,
    action: str,
    data: dict[str, Any] | None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "data": data,
        "previous": previous,
        "meta": {
            "action": action,
            "entity": "deal",
            "entity_id": "123",
            "id": delivery_id,
            "timestamp": "2026-12-04T10:00:00.000Z",
            "company_id": "7741",
            "user_id": "15",
            "version": "2.0",
            "webhook_id": "4411",
            "attempt": 1,
            "change_source": "app",
            "is_bulk_edit": False,
        },
    }


CREATED = delivery("d-1", "create", deal())
MOVED = delivery("d-2", "change", deal(stage_id=2), {"stage_id": 1})
WON = delivery(
    "d-3",
    "change",
    deal(stage_id=2, status="won", won_time="2026-12-05T08:00:00Z"),
    {"status": "open", "won_time": None},
)


async def deliver(
    client: httpx.AsyncClient, org: str, body: dict[str, Any], *, credentials: str | None = SECRET
) -> httpx.Response:
    headers = {}
    if credentials is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return await client.post(f"/v1/webhooks/pipedrive/{org}", json=body, headers=headers)


async def feed(client: httpx.AsyncClient, auth: TokenFactory) -> list[dict[str, Any]]:
    r = await client.get("/v1/events?limit=1000", headers=auth())
    assert r.status_code == 200
    return r.json()["items"]  # type: ignore[no-any-return]


async def dead_letters(client: httpx.AsyncClient, auth: TokenFactory, cid: str) -> list[Any]:
    r = await client.get(f"/v1/connectors/{cid}/dead-letters", headers=auth())
    assert r.status_code == 200
    return r.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
async def connector(activity: httpx.AsyncClient, auth: TokenFactory) -> str:
    r = await activity.post("/v1/connectors", json=CONNECTOR, headers=auth())
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


class TestDelivery:
    async def test_a_delivery_is_stored_once_even_when_delivered_twice(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        for body in (CREATED, MOVED, WON):
            first = await deliver(activity, org, body)
            assert first.status_code == 200, first.text
            assert first.json() == {"appended": 1, "duplicates": 0, "dead_letters": 0, "ignored": 0}
        again = await deliver(activity, org, WON)
        assert again.json() == {"appended": 0, "duplicates": 1, "dead_letters": 0, "ignored": 0}
        events = await feed(activity, auth)
        assert [e["type"] for e in events] == ["deal.opened", "deal.stage_changed", "deal.won"]
        assert {e["metadata"]["source"] for e in events} == {"crm:pipedrive"}
        assert {e["stream"] for e in events} == {"deal-pipedrive-123"}
        assert events[1]["data"] == {"to_stage": "proposal", "from_stage": "qualification"}
        assert events[2]["data"] == {"amount": "24000.00", "currency": "EUR"}
        assert events[2]["rep_id"] == "rep-anna"

    @pytest.mark.parametrize("credentials", [None, "pipedrive-hook:wrong", "someone:" + SECRET])
    async def test_missing_or_wrong_credentials_are_401_and_store_nothing(
        self,
        activity: httpx.AsyncClient,
        auth: TokenFactory,
        org: str,
        connector: str,
        credentials: str | None,
    ) -> None:
        unmapped = delivery("d-9", "create", deal(owner_id=99))
        for body in (CREATED, unmapped):
            r = await deliver(activity, org, body, credentials=credentials)
            assert r.status_code == 401, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.headers["www-authenticate"] == 'Basic realm="salesperf"'
        assert await feed(activity, auth) == []
        assert await dead_letters(activity, auth, connector) == []

    async def test_the_previous_credentials_pass_during_a_rotation(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await activity.patch(
            f"/v1/connectors/{connector}", json={"secret": ROTATED}, headers=auth()
        )
        assert (await deliver(activity, org, CREATED)).status_code == 200
        assert (await deliver(activity, org, MOVED, credentials=ROTATED)).status_code == 200
        await activity.patch(
            f"/v1/connectors/{connector}", json={"drop_previous_secret": True}, headers=auth()
        )
        assert (await deliver(activity, org, WON)).status_code == 401
        assert len(await feed(activity, auth)) == 2

    async def test_a_secret_that_is_not_user_and_password_is_refused(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        r = await activity.post(
            "/v1/connectors", json={**CONNECTOR, "secret": "x" * 20}, headers=auth()
        )
        assert r.status_code == 422

    async def test_an_authenticated_body_without_meta_is_422_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        assert (await deliver(activity, org, {"data": deal()})).status_code == 422
        assert await feed(activity, auth) == []

    async def test_an_org_without_a_pipedrive_connector_is_404(
        self, activity: httpx.AsyncClient, org: str
    ) -> None:
        assert (await deliver(activity, org, CREATED)).status_code == 404


class TestCurrencies:
    """Values carry what their currency has (shared.money): KWD three decimals, JPY none."""

    @pytest.mark.parametrize(
        ("currency", "sent", "stored"),
        [
            ("KWD", 1234.5678, "1234.568"),
            ("JPY", "24000.7", "24001"),
            ("BHD", 5, "5.000"),
            ("EUR", 10.456, "10.46"),
        ],
    )
    async def test_a_value_is_rounded_to_the_currency_s_minor_units(
        self,
        activity: httpx.AsyncClient,
        auth: TokenFactory,
        org: str,
        connector: str,
        currency: str,
        sent: object,
        stored: str,
    ) -> None:
        created = delivery("d-1", "create", deal(value=sent, currency=currency))
        changed = delivery(
            "d-2",
            "change",
            deal(value=sent, currency=currency, status="won", won_time="2026-12-05T08:00:00Z"),
            {"status": "open"},
        )
        for body in (created, changed):
            r = await deliver(activity, org, body)
            assert r.json()["appended"] == 1, r.text
        opened, won = await feed(activity, auth)
        assert opened["data"]["amount"] == stored
        assert opened["data"]["currency"] == currency
        assert won["data"] == {"amount": stored, "currency": currency}

    async def test_a_deal_without_a_value_opens_at_zero_in_its_currency(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        r = await deliver(
            activity, org, delivery("d-1", "create", deal(value=None, currency="JPY"))
        )
        assert r.json()["appended"] == 1, r.text
        (opened,) = await feed(activity, auth)
        assert opened["data"]["amount"] == "0"
        assert opened["data"]["currency"] == "JPY"


class TestDeadLetters:
    async def test_unmapped_events_are_listed_then_replayed_after_the_mapping_is_fixed(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        stage_and_value = delivery(
            "d-5", "change", deal(stage_id=3, value=30000), {"stage_id": 2, "value": 24000}
        )
        other_owner = delivery("d-6", "create", deal(id=124, owner_id=77))
        assert (await deliver(activity, org, CREATED)).json()["appended"] == 1
        r = await deliver(activity, org, stage_and_value)
        assert r.json() == {"appended": 1, "duplicates": 0, "dead_letters": 1, "ignored": 0}
        assert (await deliver(activity, org, other_owner)).json()["dead_letters"] == 1
        again = await deliver(activity, org, stage_and_value)
        assert again.json()["appended"] == 0
        letters = await dead_letters(activity, auth, connector)
        assert sorted(d["reason"] for d in letters) == ["owner_unmapped", "stage_unmapped"]
        assert sorted(d["event_key"] for d in letters) == [
            "pipedrive:7741:d-5:0",
            "pipedrive:7741:d-6:0",
        ]

        fixed = {**CONNECTOR["stages"], "3": "negotiation"}  # type: ignore[dict-item]
        owners = {**CONNECTOR["owners"], "77": {"rep_id": "rep-bo"}}  # type: ignore[dict-item]
        await activity.patch(
            f"/v1/connectors/{connector}", headers=auth(), json={"stages": fixed, "owners": owners}
        )
        replayed = await activity.post(
            f"/v1/connectors/{connector}/dead-letters/replay", headers=auth()
        )
        assert replayed.json() == {"replayed": 2, "remaining": 0}
        events = await feed(activity, auth)
        assert [e["type"] for e in events] == [
            "deal.opened",
            "deal.amount_changed",
            "deal.stage_changed",
            "deal.opened",
        ]
        assert events[2]["data"] == {"to_stage": "negotiation", "from_stage": "proposal"}
        assert events[3]["rep_id"] == "rep-bo"
        assert await dead_letters(activity, auth, connector) == []
        # the redelivery after the fix is stored already: nothing twice
        late = await deliver(activity, org, stage_and_value)
        assert late.json() == {"appended": 0, "duplicates": 2, "dead_letters": 0, "ignored": 0}
        assert len(await feed(activity, auth)) == 4


class TestOutOfOrder:
    """Pipedrive delivers in no promised order (a retry may come after later changes). The feed
    keeps the order they came in; scoring's fold of it gives the KPIs of the order they occurred
    in, and the connector remembers each deal's value and stage by `update_time`."""

    async def test_a_won_before_the_stage_change_that_preceded_it_still_counts_the_stage(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        for body in (CREATED, WON, MOVED):
            assert (await deliver(activity, org, body)).json()["appended"] == 1
        stored = await feed(activity, auth)
        assert [e["type"] for e in stored] == ["deal.opened", "deal.won", "deal.stage_changed"]
        got = assert_as_in_occurred_order(stored)
        assert got["stage:proposal"] == got["stage_won:proposal"] == got["deals_won"] == 1
        assert got["revenue_won"] == Decimal("24000.00")
        assert not any(k.startswith("pipeline:") for k in got)

    async def test_value_changes_in_reverse_leave_the_later_value_and_its_time(
        self,
        activity: httpx.AsyncClient,
        auth: TokenFactory,
        org: str,
        connector: str,
        db: asyncpg.Pool,
    ) -> None:
        later = delivery(
            "d-4", "change", deal(value=30000, update_time="2026-12-04T12:00:00Z"), {"value": 24000}
        )
        earlier = delivery(
            "d-5", "change", deal(value=26000, update_time="2026-12-04T11:00:00Z"), {"value": 24000}
        )
        for body in (CREATED, later, earlier):
            assert (await deliver(activity, org, body)).json()["appended"] == 1
        stored = await feed(activity, auth)
        assert [e["data"]["amount"] for e in stored] == ["24000.00", "30000.00", "26000.00"]
        got = assert_as_in_occurred_order(stored)
        assert {k: v for k, v in got.items() if k.startswith("pipeline:")} == {
            "pipeline:qualification": Decimal("30000.00")
        }
        kept = await db.fetchrow(
            "SELECT owner_id, amount, amount_at, stage, stage_at FROM activity.connector_deals"
            " WHERE connector_id = $1 AND object_id = '123'",
            UUID(connector),
        )
        at = datetime(2026, 12, 4, 12, tzinfo=UTC)
        assert tuple(kept) == ("15", "30000.00", at, "1", at)

    async def test_a_creation_dead_lettered_and_replayed_after_the_won_counts_the_win(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        """A first sighting in an unmapped stage is a dead letter while the deal's later events
        are appended; once the stage is mapped, the replayed creation comes after its won."""
        created = delivery("d-7", "create", deal(stage_id=7))
        won = delivery(
            "d-8",
            "change",
            deal(stage_id=7, status="won", won_time="2026-12-05T08:00:00Z"),
            {"status": "open", "won_time": None},
        )
        assert (await deliver(activity, org, created)).json()["dead_letters"] == 1
        assert (await deliver(activity, org, won)).json()["appended"] == 1
        stages = {**CONNECTOR["stages"], "7": "discovery"}  # type: ignore[dict-item]
        await activity.patch(f"/v1/connectors/{connector}", json={"stages": stages}, headers=auth())
        replayed = await activity.post(
            f"/v1/connectors/{connector}/dead-letters/replay", headers=auth()
        )
        assert replayed.json() == {"replayed": 1, "remaining": 0}
        stored = await feed(activity, auth)
        assert [e["type"] for e in stored] == ["deal.won", "deal.opened"]
        got = assert_as_in_occurred_order(stored)
        assert (got["deals_won"], got["revenue_won"]) == (1, Decimal("24000.00"))
        assert got["stage_won:discovery"] == 1
        assert got["sales_cycle_seconds"] == (4 * 24 - 1) * 3600  # Dec 1 09:00 to Dec 5 08:00
        assert not any(k.startswith("pipeline:") for k in got)
