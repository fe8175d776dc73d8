"""Positions are per org (issue 11, §6): an org's events are numbered 1, 2, 3… in its own log,
whatever other orgs append meanwhile, so no number an org sees (append results, the feed, an
event by id, a stream, the backlog, scoring's `up_to`) tells how busy another org is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.pagination import decode_cursor
from tests.api.scoring.conftest import settled
from tests.conftest import TokenFactory, make_event

TEAM = "team-north"


@pytest.fixture
async def activity(activity_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=activity_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://activity") as client:
        yield client


def visit(i: int) -> dict[str, Any]:
    return make_event(
        "visit.logged",
        stream=f"lead-{i % 5}",
        rep_id="rep-anna",
        team_id=TEAM,
        occurred_at="2026-06-15T09:00:00+00:00",
    )


async def read_feed(
    activity: httpx.AsyncClient, headers: dict[str, str], limit: int = 7
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"after": cursor} if cursor else {})}
        answer = await activity.get("/v1/events", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["items"]
        cursor = page["next"]
        if not page["has_more"]:
            return items


async def test_two_orgs_appending_interleaved_each_number_their_own_log_from_one(
    activity: httpx.AsyncClient, auth: TokenFactory, org: str
) -> None:
    orgs = [org, f"{org}-other"]
    stored: dict[str, dict[str, int]] = {o: {} for o in orgs}  # event_id -> position

    async def singles(o: str, n: int) -> None:
        for i in range(n):
            answer = await activity.post("/v1/events", json=visit(i), headers=auth(org_id=o))
            assert answer.status_code == 201, answer.text
            stored[o][answer.json()["event_id"]] = answer.json()["position"]

    async def batches(o: str, n: int, size: int) -> None:
        for _ in range(n):
            events = [visit(i) for i in range(size)]
            answer = await activity.post(
                "/v1/events/batch", json={"events": events}, headers=auth(org_id=o)
            )
            assert answer.status_code == 201, answer.text
            for r in answer.json()["results"]:
                stored[o][r["event_id"]] = r["position"]

    # Both orgs at once, several writers each (the group commit mixes them into groups).
    await asyncio.gather(
        *(singles(o, 12) for o in orgs for _ in range(3)),
        *(batches(o, 3, 9) for o in orgs for _ in range(2)),
        singles(orgs[0], 5),  # one org busier than the other
    )
    for o in orgs:
        headers = auth(org_id=o)
        n = len(stored[o])
        assert n == 3 * 12 + 2 * 3 * 9 + (5 if o == orgs[0] else 0)
        assert sorted(stored[o].values()) == list(range(1, n + 1))

        feed = await read_feed(activity, headers)
        assert [e["position"] for e in feed] == list(range(1, n + 1))
        assert {e["event_id"]: e["position"] for e in feed} == stored[o]
        assert {e["org_id"] for e in feed} == {o}

        some = feed[n // 2]
        by_id = await activity.get(f"/v1/events/{some['event_id']}", headers=headers)
        assert by_id.json()["position"] == some["position"]
        stream = await activity.get("/v1/streams/lead-0", headers=headers, params={"limit": 1000})
        assert stream.status_code == 200, stream.text
        assert {e["position"] for e in stream.json()["items"]} <= set(range(1, n + 1))

        backlog = await activity.get("/v1/events/backlog", headers=headers)
        assert backlog.json()["events"] == n
        assert decode_cursor(backlog.json()["head"], o) == n


async def test_the_feed_and_scorings_up_to_agree_per_org(
    activity: httpx.AsyncClient, scoring: httpx.AsyncClient, auth: TokenFactory, org: str
) -> None:
    orgs = [org, f"{org}-other"]
    counts = dict.fromkeys(orgs, 0)
    for size, o in [(3, orgs[0]), (5, orgs[1]), (2, orgs[0]), (4, orgs[1]), (1, orgs[0])]:
        events = [visit(i) for i in range(size)]
        answer = await activity.post(
            "/v1/events/batch", json={"events": events}, headers=auth(org_id=o)
        )
        assert answer.status_code == 201, answer.text
        counts[o] += size
        assert answer.json()["results"][-1]["position"] == counts[o]

    for o in orgs:
        headers = auth(org_id=o)
        feed = await read_feed(activity, headers)
        assert [e["position"] for e in feed] == list(range(1, counts[o] + 1))
        await settled(scoring, headers, counts[o])
        answer = await scoring.get(
            "/v1/kpis",
            headers=headers,
            params={"owner": "org", "period": "year", "from": "2026-01-01", "metrics": "visits"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["up_to"]["position"] == feed[-1]["position"] == counts[o]
        assert datetime.fromisoformat(body["up_to"]["recorded_at"]) == datetime.fromisoformat(
            feed[-1]["recorded_at"]
        )
        assert body["buckets"][0]["metrics"]["visits"]["value"] == counts[o]
