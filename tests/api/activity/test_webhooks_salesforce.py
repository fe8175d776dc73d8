"""Salesforce outbound messages over the real activity app: SOAP in, `Ack` out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import TokenFactory
from tests.unit.activity.test_connectors_salesforce import ORG_ID, envelope, notification

TOKEN = "Vq3n1cJ0pZl2m8Yt4Rk6Xw9Hb7Ds5Fa0"
ROTATED = "Zt8r2Lm4Qx6Wc1Vb3Nk5Pj7Hg9Fd0Sa2"
CONNECTOR = {
    "provider": "salesforce",
    "secret": TOKEN,
    "salesforce_org_id": ORG_ID,
    "stages": {"Prospecting": "qualification", "Proposal/Price Quote": "proposal"},
    "owners": {"0055g00000AbCdEAAV": {"rep_id": "rep-anna", "team_id": "team-north"}},
    "default_currency": "EUR",
}
OPENED = envelope(notification("04l1"))
PROPOSAL = envelope(
    notification(
        "04l2", StageName="Proposal/Price Quote", SystemModstamp="2026-12-04T11:00:00.000Z"
    )
)
WON = envelope(
    notification(
        "04l3",
        StageName="Closed Won",
        IsClosed="true",
        IsWon="true",
        Amount="26000",
        SystemModstamp="2026-12-04T12:00:00.000Z",
    )
)


async def deliver(
    client: httpx.AsyncClient,
    org: str,
    body: bytes,
    *,
    token: str = TOKEN,
    media: str = "text/xml; charset=utf-8",
) -> httpx.Response:
    return await client.post(
        f"/v1/webhooks/salesforce/{org}/{token}",
        content=body,
        headers={"Content-Type": media, "SOAPAction": '""'},
    )


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


class TestConnector:
    async def test_the_org_id_is_shown_and_the_token_is_not(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        r = await activity.get(f"/v1/connectors/{connector}", headers=auth())
        assert r.json()["salesforce_org_id"] == ORG_ID
        assert r.json()["webhook_path"] == f"/v1/webhooks/salesforce/{org}/{{secret}}"
        assert TOKEN not in r.text
        other = "00D5g000004ZZZZEAO"
        patched = await activity.patch(
            f"/v1/connectors/{connector}", headers=auth(), json={"salesforce_org_id": other}
        )
        assert patched.json()["salesforce_org_id"] == other

    @pytest.mark.parametrize(
        "change",
        [
            {"salesforce_org_id": None},
            {"salesforce_org_id": "not-an-org"},
            {"secret": "short"},
            {"secret": "has/a/slash/has/a/slash/has/a/slash"},
        ],
    )
    async def test_a_salesforce_connector_needs_an_org_id_and_a_url_safe_token(
        self, activity: httpx.AsyncClient, auth: TokenFactory, change: dict[str, Any]
    ) -> None:
        body = {**CONNECTOR, **change}
        assert (await activity.post("/v1/connectors", json=body, headers=auth())).status_code == 422

    async def test_other_providers_take_no_salesforce_org_id(
        self, activity: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        body = {
            "provider": "pipedrive",
            "secret": "pipedrive-hook:s3cret-passw0rd",
            "default_currency": "EUR",
            "salesforce_org_id": ORG_ID,
        }
        assert (await activity.post("/v1/connectors", json=body, headers=auth())).status_code == 422


class TestDelivery:
    async def test_a_message_is_acked_and_stored_once_even_when_delivered_twice(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        for body in (OPENED, PROPOSAL, WON):
            r = await deliver(activity, org, body)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/xml")
            assert "<Ack>true</Ack>" in r.text
            assert '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">' in (
                r.text
            )
        again = await deliver(activity, org, WON)
        assert again.status_code == 200
        assert "<Ack>true</Ack>" in again.text
        assert (await deliver(activity, org, OPENED)).status_code == 200  # a late retry
        events = await feed(activity, auth)
        assert [e["type"] for e in events] == [
            "deal.opened",
            "deal.stage_changed",
            "deal.amount_changed",
            "deal.won",
        ]
        assert {e["metadata"]["source"] for e in events} == {"crm:salesforce"}
        assert events[1]["data"] == {"to_stage": "proposal", "from_stage": "qualification"}
        assert events[3]["data"] == {"amount": "26000.00", "currency": "EUR"}
        assert events[3]["rep_id"] == "rep-anna"

    async def test_a_message_processed_but_not_acked_is_stored_once_when_resent(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        both = envelope(notification("04l1"), notification("04l9", Id="0065g00000OtherAAB"))
        assert (await deliver(activity, org, both)).status_code == 200
        assert (await deliver(activity, org, both)).status_code == 200
        assert len(await feed(activity, auth)) == 2

    @pytest.mark.parametrize("how", ["token", "org id"])
    async def test_a_wrong_token_or_org_id_is_401_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str, how: str
    ) -> None:
        unmapped = envelope(notification(OwnerId="005OTHER"), org_id=ORG_ID)
        if how == "token":
            answers = [await deliver(activity, org, b, token=ROTATED) for b in (OPENED, unmapped)]
        else:
            other = [
                envelope(notification(), org_id="00D5g000004ZZZZEAO"),
                envelope(notification(OwnerId="005OTHER"), org_id="00D5g000004ZZZZEAO"),
            ]
            answers = [await deliver(activity, org, b) for b in other]
        for r in answers:
            assert r.status_code == 401, r.text
            assert "Ack" not in r.text
        assert await feed(activity, auth) == []
        assert await dead_letters(activity, auth, connector) == []
        # nothing was remembered either: the right message later opens the deal
        assert (await deliver(activity, org, OPENED)).status_code == 200
        assert [e["type"] for e in await feed(activity, auth)] == ["deal.opened"]

    async def test_the_previous_token_works_during_a_rotation(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await activity.patch(
            f"/v1/connectors/{connector}", json={"secret": ROTATED}, headers=auth()
        )
        assert (await deliver(activity, org, OPENED)).status_code == 200
        assert (await deliver(activity, org, PROPOSAL, token=ROTATED)).status_code == 200
        await activity.patch(
            f"/v1/connectors/{connector}", json={"drop_previous_secret": True}, headers=auth()
        )
        assert (await deliver(activity, org, WON)).status_code == 401

    async def test_xml_with_entities_or_not_xml_is_refused_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        evil = (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + OPENED.split(b"?>", 1)[1]
        )
        assert (await deliver(activity, org, evil)).status_code == 400
        assert (await deliver(activity, org, b"{}")).status_code == 400
        assert (await deliver(activity, org, OPENED, media="application/json")).status_code == 415
        assert await feed(activity, auth) == []

    async def test_more_than_100_notifications_are_refused(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        many = envelope(*(notification(f"04l{i}") for i in range(101)))
        assert (await deliver(activity, org, many)).status_code == 413
        assert await feed(activity, auth) == []

    async def test_an_org_without_a_salesforce_connector_is_404(
        self, activity: httpx.AsyncClient, org: str
    ) -> None:
        assert (await deliver(activity, org, OPENED)).status_code == 404


class TestDeadLetters:
    async def test_unmapped_events_are_listed_then_replayed_after_the_mapping_is_fixed(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        assert (await deliver(activity, org, OPENED)).status_code == 200
        moved = envelope(
            notification(
                "04l5",
                StageName="Id. Decision Makers",
                Amount="30000",
                SystemModstamp="2026-12-04T11:00:00.000Z",
            ),
            notification("04l6", Id="0065g00000OtherAAB", OwnerId="005OTHER"),
        )
        assert (await deliver(activity, org, moved)).status_code == 200
        assert (await deliver(activity, org, moved)).status_code == 200
        assert [e["type"] for e in await feed(activity, auth)] == [
            "deal.opened",
            "deal.amount_changed",
        ]
        letters = await dead_letters(activity, auth, connector)
        assert sorted((d["event_key"], d["reason"]) for d in letters) == [
            (f"salesforce:{ORG_ID}:04l5:1", "stage_unmapped"),
            (f"salesforce:{ORG_ID}:04l6:0", "owner_unmapped"),
        ]

        stages = {**CONNECTOR["stages"], "Id. Decision Makers": "demo"}  # type: ignore[dict-item]
        owners = {**CONNECTOR["owners"], "005OTHER": {"rep_id": "rep-bo"}}  # type: ignore[dict-item]
        await activity.patch(
            f"/v1/connectors/{connector}", headers=auth(), json={"stages": stages, "owners": owners}
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
        assert events[2]["data"] == {"to_stage": "demo", "from_stage": "qualification"}
        assert events[3]["rep_id"] == "rep-bo"
        assert await dead_letters(activity, auth, connector) == []
        # the message sent again changes nothing (Salesforce retries until it is acked)
        assert (await deliver(activity, org, moved)).status_code == 200
        assert len(await feed(activity, auth)) == 4
