"""Standard Webhooks deliveries over the real activity app, signed with `standardwebhooks`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.conftest import TokenFactory

SECRET = "whsec_" + base64.b64encode(b"g" * 32).decode()
VISIT = {
    "type": "visit.logged",
    "stream": "lead-L-1",
    "occurred_at": "2026-11-20T10:30:00+01:00",
    "rep_id": "rep-bo",
    "data": {"mode": "onsite", "effective": True, "duration_minutes": 45},
}


async def deliver(
    client: httpx.AsyncClient,
    org: str,
    payload: Any,
    *,
    msg_id: str = "msg_1",
    secret: str = SECRET,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    return await client.post(f"/v1/webhooks/generic/{org}", content=body, headers=headers)


async def feed(client: httpx.AsyncClient, auth: TokenFactory) -> list[dict[str, Any]]:
    return (await client.get("/v1/events", headers=auth())).json()["items"]  # type: ignore[no-any-return]


async def connect(client: httpx.AsyncClient, auth: TokenFactory) -> str:
    body = {
        "provider": "generic",
        "secret": SECRET,
        "default_currency": "EUR",
        "owners": {"u-7": {"rep_id": "rep-anna", "team_id": "team-north"}},
    }
    r = await client.post("/v1/connectors", json=body, headers=auth())
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


class TestGenericDelivery:
    async def test_a_list_is_stored_once_even_when_delivered_twice(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        await connect(activity, auth)
        first = await deliver(activity, org, [VISIT, {**VISIT, "stream": "lead-L-2"}])
        assert first.status_code == 200, first.text
        assert first.json()["appended"] == 2
        again = await deliver(activity, org, [VISIT, {**VISIT, "stream": "lead-L-2"}])
        assert again.json() == {"appended": 0, "duplicates": 2, "dead_letters": 0, "ignored": 0}
        events = await feed(activity, auth)
        assert len(events) == 2
        assert {e["metadata"]["source"] for e in events} == {"crm:generic"}

    async def test_a_bad_signature_is_401_and_stores_nothing(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        await connect(activity, auth)
        other = "whsec_" + base64.b64encode(b"x" * 32).decode()
        r = await deliver(activity, org, VISIT, secret=other)
        assert r.status_code == 401
        assert await feed(activity, auth) == []

    async def test_an_invalid_event_or_unknown_stage_is_a_dead_letter_and_the_rest_is_stored(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        cid = await connect(activity, auth)
        data = {**VISIT["data"], "duration_minutes": -1}  # type: ignore[dict-item]
        bad = {**VISIT, "stream": "lead-L-3", "data": data}
        moved = {
            "type": "deal.stage_changed",
            "stream": "deal-D-1",
            "owner": "u-7",
            "occurred_at": "2026-11-20T11:00:00+01:00",
            "data": {"to_stage": "Demo Scheduled"},
        }
        r = await deliver(activity, org, [VISIT, bad, moved])
        assert r.status_code == 200, r.text
        assert r.json() == {"appended": 1, "duplicates": 0, "dead_letters": 2, "ignored": 0}
        assert [e["stream"] for e in await feed(activity, auth)] == ["lead-L-1"]
        letters = (await activity.get(f"/v1/connectors/{cid}/dead-letters", headers=auth())).json()[
            "items"
        ]
        by_key = {d["event_key"]: d for d in letters}
        assert set(by_key) == {"generic:msg_1:1", "generic:msg_1:2"}
        invalid, unmapped = by_key["generic:msg_1:1"], by_key["generic:msg_1:2"]
        assert invalid["reason"] == "invalid"
        assert "duration_minutes" in invalid["detail"]
        assert invalid["payload"] == bad  # the sender's event, as it came
        assert unmapped["reason"] == "stage_unmapped"
        assert "Demo Scheduled" in unmapped["detail"]
        assert unmapped["payload"] == moved
        # Redelivered: nothing twice, no second letter.
        again = await deliver(activity, org, [VISIT, bad, moved])
        assert again.json() == {"appended": 0, "duplicates": 1, "dead_letters": 2, "ignored": 0}
        assert (
            len(
                (await activity.get(f"/v1/connectors/{cid}/dead-letters", headers=auth())).json()[
                    "items"
                ]
            )
            == 2
        )

        await activity.patch(
            f"/v1/connectors/{cid}", json={"stages": {"Demo Scheduled": "demo"}}, headers=auth()
        )
        done = await activity.post(f"/v1/connectors/{cid}/dead-letters/replay", headers=auth())
        assert done.json() == {"replayed": 1, "remaining": 1}  # the invalid one stays
        events = await feed(activity, auth)
        assert [(e["type"], e["rep_id"]) for e in events] == [
            ("visit.logged", "rep-bo"),
            ("deal.stage_changed", "rep-anna"),
        ]
        assert events[1]["data"] == {"to_stage": "demo"}

    async def test_the_openapi_documents_one_event_or_a_list(
        self, activity: httpx.AsyncClient
    ) -> None:
        spec = (await activity.get("/openapi.json")).json()
        body = spec["paths"]["/v1/webhooks/generic/{org}"]["post"]["requestBody"]
        shapes = body["content"]["application/json"]["schema"]["oneOf"]
        assert [s["type"] for s in shapes] == ["object", "array"]
        assert (shapes[1]["minItems"], shapes[1]["maxItems"]) == (1, 1000)
        assert shapes[1]["items"]["type"] == "object"

    async def test_an_unmapped_owner_is_a_dead_letter_replayed_once_mapped(
        self, activity: httpx.AsyncClient, auth: TokenFactory, org: str
    ) -> None:
        cid = await connect(activity, auth)
        r = await deliver(activity, org, [VISIT, {**VISIT, "owner": "u-9"}])
        assert r.json()["appended"] == 1
        assert r.json()["dead_letters"] == 1
        owners = {"u-9": {"rep_id": "rep-cy"}}
        await activity.patch(f"/v1/connectors/{cid}", json={"owners": owners}, headers=auth())
        done = await activity.post(f"/v1/connectors/{cid}/dead-letters/replay", headers=auth())
        assert done.json() == {"replayed": 1, "remaining": 0}
        assert [e["rep_id"] for e in await feed(activity, auth)] == ["rep-bo", "rep-cy"]
