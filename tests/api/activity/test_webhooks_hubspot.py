"""HubSpot deliveries over the real activity app: signed as HubSpot signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import asyncpg
import httpx
import pytest

from services.activity.connectors.domain import from_millis
from services.activity.main import create_app
from tests.api.activity.conftest import activity_settings
from tests.api.activity.out_of_order import assert_as_in_occurred_order
from tests.conftest import TokenFactory, running

SECRET = "hubspot-client-secret-abcd"
ROTATED = "hubspot-client-secret-wxyz"
T0 = 1764584400000
CONNECTOR = {
    "provider": "hubspot",
    "secret": SECRET,
    "stages": {"appointmentscheduled": "qualification", "closedwon": "won", "closedlost": "lost"},
    "owners": {"12345": {"rep_id": "rep-anna", "team_id": "team-north"}},
    "default_currency": "EUR",
}


def ev(event_id: int, kind: str, object_id: int = 9001, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 2171,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": T0 + event_id * 60_000,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
        **extra,
    }


def change(event_id: int, prop: str, value: str, object_id: int = 9001) -> dict[str, Any]:
    return ev(event_id, "deal.propertyChange", object_id, propertyName=prop, propertyValue=value)


async def deliver(
    client: httpx.AsyncClient,
    org: str,
    events: list[dict[str, Any]],
    *,
    secret: str = SECRET,
    ts_ms: int | None = None,
    body: bytes | None = None,
    media: str = "application/json",
    base: str | None = None,
) -> httpx.Response:
    """Signed for `base` + the path when given (the URL HubSpot called), else the URL called."""
    body = json.dumps(events).encode() if body is None else body
    path = f"/v1/webhooks/hubspot/{org}"
    uri = base + path if base is not None else str(client.base_url.join(path))
    ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    source = b"POST" + uri.encode() + body + ts.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    headers = {
        "Content-Type": media,
        "X-HubSpot-Signature-v3": signature.decode(),
        "X-HubSpot-Request-Timestamp": ts,
    }
    return await client.post(f"/v1/webhooks/hubspot/{org}", content=body, headers=headers)


async def feed(client: httpx.AsyncClient, auth: TokenFactory) -> list[dict[str, Any]]:
    r = await client.get("/v1/events?limit=1000", headers=auth())
    assert r.status_code == 200
    return r.json()["items"]  # type: ignore[no-any-return]


@pytest.fixture
async def connector(activity: httpx.AsyncClient, auth: TokenFactory) -> str:
    r = await activity.post("/v1/connectors", json=CONNECTOR, headers=auth())
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


DEAL = [
    change(1, "hubspot_owner_id", "12345"),
    ev(2, "deal.creation", changeFlag="NEW"),
    change(3, "amount", "24000"),
    change(4, "dealstage", "appointmentscheduled"),
    change(5, "dealstage", "closedwon"),
]


class TestDelivery:
    async def test_a_signed_delivery_is_stored_once_even_when_delivered_twice(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        first = await deliver(activity, org, DEAL)
        assert first.status_code == 200, first.text
        assert first.json() == {"appended": 4, "duplicates": 0, "dead_letters": 0, "ignored": 1}
        again = await deliver(activity, org, DEAL)
        assert again.json() == {"appended": 0, "duplicates": 4, "dead_letters": 0, "ignored": 1}
        events = await feed(activity, auth)
        assert [e["type"] for e in events] == [
            "deal.opened",
            "deal.amount_changed",
            "deal.stage_changed",
            "deal.won",
        ]
        assert {e["metadata"]["source"] for e in events} == {"crm:hubspot"}
        assert events[-1]["data"] == {"amount": "24000.00", "currency": "EUR"}
        assert events[-1]["rep_id"] == "rep-anna"

    async def test_the_owner_and_amount_learnt_earlier_serve_a_later_delivery(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await deliver(activity, org, DEAL[:3])
        r = await deliver(activity, org, [change(9, "dealstage", "closedwon")])
        assert r.json()["appended"] == 1
        assert (await feed(activity, auth))[-1]["data"]["amount"] == "24000.00"

    @pytest.mark.parametrize("how", ["wrong secret", "stale", "unsigned", "tampered"])
    async def test_an_unverified_delivery_is_401_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str, how: str
    ) -> None:
        if how == "wrong secret":
            r = await deliver(activity, org, DEAL, secret="not-the-client-secret")
        elif how == "stale":
            r = await deliver(activity, org, DEAL, ts_ms=int((time.time() - 600) * 1000))
        elif how == "unsigned":
            r = await activity.post(f"/v1/webhooks/hubspot/{org}", json=DEAL)
        else:
            good = await deliver(activity, org, DEAL[:1])
            assert good.status_code == 200
            body = json.dumps(DEAL).encode()
            r = await activity.post(
                f"/v1/webhooks/hubspot/{org}",
                content=body,
                headers={
                    k: v
                    for k, v in good.request.headers.items()
                    if k.lower().startswith("x-hubspot")
                },
            )
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert await feed(activity, auth) == []
        dead = await activity.get(f"/v1/connectors/{connector}/dead-letters", headers=auth())
        assert dead.json()["items"] == []

    async def test_the_previous_secret_verifies_during_a_rotation(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await activity.patch(
            f"/v1/connectors/{connector}", json={"secret": ROTATED}, headers=auth()
        )
        assert (await deliver(activity, org, DEAL[:2])).status_code == 200
        assert (await deliver(activity, org, DEAL[2:3], secret=ROTATED)).status_code == 200
        await activity.patch(
            f"/v1/connectors/{connector}", json={"drop_previous_secret": True}, headers=auth()
        )
        assert (await deliver(activity, org, DEAL[3:4])).status_code == 401

    async def test_an_org_without_a_hubspot_connector_is_404(
        self, activity: httpx.AsyncClient, org: str
    ) -> None:
        assert (await deliver(activity, org, DEAL)).status_code == 404

    async def test_a_signed_body_that_is_not_json_is_400_or_415_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        assert (await deliver(activity, org, [], body=b"[{bad")).status_code == 400
        assert (await deliver(activity, org, DEAL, media="text/plain")).status_code == 415
        assert await feed(activity, auth) == []

    async def test_a_string_holding_u0000_is_422_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        """Found by the fuzzer: PostgreSQL stores no U+0000, in an event or a dead letter (a
        500 before)."""
        for bad in ([{"eventId": "\x00"}], [*DEAL, {"x": [{"\x00": 1}]}]):
            r = await deliver(activity, org, bad)
            assert r.status_code == 422, r.text
            assert r.json()["errors"][0]["field"] == "body"
        assert await feed(activity, auth) == []
        dead = await activity.get(f"/v1/connectors/{connector}/dead-letters", headers=auth())
        assert dead.json()["items"] == []

    async def test_more_than_100_events_are_refused(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        many = [change(100 + i, "amount", "1") for i in range(101)]
        assert (await deliver(activity, org, many)).status_code == 413
        assert await feed(activity, auth) == []


PUBLIC = "https://hooks.example.com/salesperf"
"""Where HubSpot calls: a TLS-terminating proxy strips `/salesperf` and forwards over http."""


@pytest.fixture
async def proxied(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Activity behind that proxy: it sees http://activity-internal/v1/…"""
    app = create_app(activity_settings(public_url=PUBLIC + "/"), database_url=database_url)
    async with running(app, "activity-internal") as client:
        yield client


class TestBehindAProxy:
    async def test_a_delivery_signed_for_the_public_url_is_accepted_with_the_setting(
        self, proxied: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        assert (await proxied.post("/v1/connectors", json=CONNECTOR, headers=auth())).is_success
        r = await deliver(proxied, org, DEAL, base=PUBLIC)
        assert r.status_code == 200, r.text
        assert r.json()["appended"] == 4
        # the URL the service sees is not the one HubSpot signed
        assert (await deliver(proxied, org, DEAL[:1])).status_code == 401

    async def test_and_refused_without_it(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        r = await deliver(activity, org, DEAL, base=PUBLIC)
        assert r.status_code == 401, r.text
        assert await feed(activity, auth) == []

    def test_the_setting_is_a_base_url(self) -> None:
        assert activity_settings(public_url="https://h.example.com/").public_url == (
            "https://h.example.com"
        )
        assert activity_settings(public_url="").public_url is None
        for bad in ("hooks.example.com", "ftp://h.example.com", "https://h.example.com/?a=1"):
            with pytest.raises(ValueError, match="base URL"):
                activity_settings(public_url=bad)


class TestCurrencies:
    """Amounts carry what their currency has (shared.money): KWD three decimals, JPY none."""

    @pytest.mark.parametrize(
        ("currency", "sent", "stored"),
        [
            ("KWD", "1234.5678", "1234.568"),
            ("JPY", "24000.7", "24001"),
            ("EUR", "10.456", "10.46"),
        ],
    )
    async def test_an_amount_is_rounded_to_the_currency_s_minor_units(
        self,
        activity: httpx.AsyncClient,
        auth: TokenFactory,
        org: str,
        currency: str,
        sent: str,
        stored: str,
    ) -> None:
        body = {**CONNECTOR, "default_currency": currency}
        assert (await activity.post("/v1/connectors", json=body, headers=auth())).is_success
        deal = [
            change(1, "hubspot_owner_id", "12345"),
            ev(2, "deal.creation"),
            change(3, "amount", sent),
            change(5, "dealstage", "closedwon"),
        ]
        r = await deliver(activity, org, deal)
        assert r.json() == {"appended": 3, "duplicates": 0, "dead_letters": 0, "ignored": 1}
        opened, changed, won = await feed(activity, auth)
        assert Decimal(opened["data"]["amount"]) == 0
        assert changed["data"] == {"amount": stored, "currency": currency}
        assert won["data"] == {"amount": stored, "currency": currency}


class TestDeadLetters:
    async def test_unmapped_events_are_listed_then_replayed_after_the_mapping_is_fixed(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        delivery = [
            *DEAL[:4],
            change(5, "dealstage", "contractsent"),
            change(6, "hubspot_owner_id", "777", object_id=9002),
            ev(7, "deal.creation", object_id=9002),
        ]
        r = await deliver(activity, org, delivery)
        assert r.json()["appended"] == 3
        assert r.json()["dead_letters"] == 2
        again = await deliver(activity, org, delivery)
        assert again.json()["appended"] == 0
        letters = (
            await activity.get(f"/v1/connectors/{connector}/dead-letters", headers=auth())
        ).json()["items"]
        assert sorted(d["reason"] for d in letters) == ["owner_unmapped", "stage_unmapped"]
        assert len(letters) == 2  # the redelivery added none

        rep = auth("rep", sub="rep-anna")
        assert (
            await activity.get(f"/v1/connectors/{connector}/dead-letters", headers=rep)
        ).status_code == 403
        fixed = {**CONNECTOR["stages"], "contractsent": "negotiation"}  # type: ignore[dict-item]
        owners = {**CONNECTOR["owners"], "777": {"rep_id": "rep-bo"}}  # type: ignore[dict-item]
        await activity.patch(
            f"/v1/connectors/{connector}", headers=auth(), json={"stages": fixed, "owners": owners}
        )
        replayed = await activity.post(
            f"/v1/connectors/{connector}/dead-letters/replay", headers=auth()
        )
        assert replayed.json() == {"replayed": 2, "remaining": 0}
        events = await feed(activity, auth)
        assert [e["type"] for e in events][-2:] == ["deal.stage_changed", "deal.opened"]
        assert events[-1]["rep_id"] == "rep-bo"
        assert (
            await activity.get(f"/v1/connectors/{connector}/dead-letters", headers=auth())
        ).json()["items"] == []
        again = await activity.post(
            f"/v1/connectors/{connector}/dead-letters/replay", headers=auth()
        )
        assert again.json() == {"replayed": 0, "remaining": 0}
        assert len(await feed(activity, auth)) == len(events)


class TestOutOfOrder:
    """HubSpot delivers in no promised order; each event comes alone here, as retries reorder
    them. The feed keeps the order they came in; scoring's fold of it must give the KPIs of
    the order they occurred in, and the connector must not remember an older amount."""

    STAGES: ClassVar[dict[str, str]] = {
        **CONNECTOR["stages"],  # type: ignore[dict-item]
        "presentationscheduled": "proposal",
        "decisionmakerboughtin": "negotiation",
    }

    async def deliver_alone(
        self, client: httpx.AsyncClient, org: str, events: list[dict[str, Any]]
    ) -> None:
        for event in events:
            r = await deliver(client, org, [event])
            assert r.status_code == 200, r.text
            assert r.json()["dead_letters"] == 0, r.json()

    async def map_stages(self, client: httpx.AsyncClient, auth: TokenFactory, cid: str) -> None:
        r = await client.patch(
            f"/v1/connectors/{cid}", json={"stages": self.STAGES}, headers=auth()
        )
        assert r.status_code == 200, r.text

    async def test_a_won_before_the_stage_change_that_preceded_it_still_counts_the_stage(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await self.map_stages(activity, auth, connector)
        moved, won = change(4, "dealstage", "presentationscheduled"), DEAL[4]
        await self.deliver_alone(activity, org, [*DEAL[:3], won, moved])
        stored = await feed(activity, auth)
        assert [e["type"] for e in stored] == [
            "deal.opened",
            "deal.amount_changed",
            "deal.won",
            "deal.stage_changed",
        ]
        assert stored[3]["data"] == {"to_stage": "proposal"}
        got = assert_as_in_occurred_order(stored)
        assert got["stage:proposal"] == got["stage_closed:proposal"] == 1
        assert got["stage_won:proposal"] == got["deals_won"] == 1
        assert got["revenue_won"] == Decimal("24000.00")
        assert not any(k.startswith("pipeline:") for k in got)  # out of the pipeline

    async def test_two_stage_changes_in_reverse_leave_the_deal_in_the_later_stage(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await self.map_stages(activity, auth, connector)
        earlier = change(4, "dealstage", "presentationscheduled")
        later = change(5, "dealstage", "decisionmakerboughtin")
        await self.deliver_alone(activity, org, [*DEAL[:3], later, earlier])
        stored = await feed(activity, auth)
        assert [e["data"].get("to_stage") for e in stored[-2:]] == ["negotiation", "proposal"]
        got = assert_as_in_occurred_order(stored)
        assert {k: v for k, v in got.items() if k.startswith("pipeline:")} == {
            "pipeline:negotiation": Decimal("24000.00")
        }

    async def test_a_won_before_the_deal_s_creation_counts_when_the_creation_comes(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        owner, created, amount, won = DEAL[0], DEAL[1], DEAL[2], DEAL[4]
        await self.deliver_alone(activity, org, [owner, amount, won, created])
        stored = await feed(activity, auth)
        assert [e["type"] for e in stored] == ["deal.amount_changed", "deal.won", "deal.opened"]
        got = assert_as_in_occurred_order(stored)
        assert (got["deals_won"], got["revenue_won"]) == (1, Decimal("24000.00"))
        assert got["sales_cycle_seconds"] == 3 * 60  # opened at minute 2, won at minute 5
        assert not any(k.startswith("pipeline:") for k in got)

    async def test_amount_changes_in_reverse_leave_the_newer_amount_for_the_won(
        self,
        activity: httpx.AsyncClient,
        auth: TokenFactory,
        org: str,
        connector: str,
        db: asyncpg.Pool,
    ) -> None:
        newer, older = change(4, "amount", "20000"), change(3, "amount", "10000")
        await self.deliver_alone(activity, org, [*DEAL[:2], newer, older])
        kept = await db.fetchrow(
            "SELECT amount, amount_at FROM activity.connector_deals WHERE connector_id = $1"
            " AND object_id = '9001'",
            UUID(connector),
        )
        assert (kept["amount"], kept["amount_at"]) == ("20000.00", from_millis(T0 + 4 * 60_000))
        await self.deliver_alone(activity, org, [change(5, "dealstage", "closedwon")])
        stored = await feed(activity, auth)
        assert [e["type"] for e in stored] == [
            "deal.opened",
            "deal.amount_changed",
            "deal.amount_changed",
            "deal.won",
        ]
        assert [e["data"]["amount"] for e in stored[1:]] == ["20000.00", "10000.00", "20000.00"]
        got = assert_as_in_occurred_order(stored)
        assert got["revenue_won"] == Decimal("20000.00")

    async def test_an_amount_change_after_the_close_changes_neither_revenue_nor_pipeline(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str, connector: str
    ) -> None:
        await self.deliver_alone(activity, org, [*DEAL[:3], DEAL[4], change(6, "amount", "99999")])
        stored = await feed(activity, auth)
        assert [e["type"] for e in stored][-2:] == ["deal.won", "deal.amount_changed"]
        got = assert_as_in_occurred_order(stored)
        assert (got["deals_won"], got["revenue_won"]) == (1, Decimal("24000.00"))
        assert not any(k.startswith("pipeline:") for k in got)
