"""Guarantees 2 and 3 under races, across two replicas that share only the database."""

from __future__ import annotations

import asyncio

from tests.conftest import make_event


async def count(db, org: str) -> int:
    return await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org)


class TestRacingIdempotency:
    async def test_twenty_identical_appends_racing_store_one_event(self, replicas, db, org, auth):
        event = make_event()
        responses = await asyncio.gather(
            *(replicas[i % 2].post("/v1/events", json=event, headers=auth()) for i in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 19 + [201]
        assert len({r.content for r in responses}) == 1, "every answer is the original result"
        assert await count(db, org) == 1

    async def test_identical_batches_racing_store_each_event_once(self, replicas, db, org, auth):
        events = [make_event(stream=f"lead-{i % 5}") for i in range(200)]
        responses = await asyncio.gather(
            *(
                replicas[i % 2].post("/v1/events/batch", json={"events": events}, headers=auth())
                for i in range(6)
            )
        )
        assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
        results = {tuple(x["position"] for x in r.json()["results"]) for r in responses}
        assert len(results) == 1
        assert await count(db, org) == 200
        versions = await db.fetch(
            "SELECT stream, array_agg(stream_version ORDER BY position) AS v FROM activity.events "
            "WHERE org_id = $1 GROUP BY stream",
            org,
        )
        assert all(r["v"] == list(range(1, 41)) for r in versions)


class TestRacingWriters:
    async def test_of_writers_racing_on_one_expected_version_exactly_one_wins(
        self, replicas, db, org, auth
    ):
        for _ in range(3):
            await replicas[0].post("/v1/events", json=make_event(stream="deal-R"), headers=auth())
        contenders = [
            make_event(
                "deal.stage_changed",
                stream="deal-R",
                expected_version=3,
                data={"to_stage": f"stage_{i}"},
            )
            for i in range(12)
        ]
        responses = await asyncio.gather(
            *(
                replicas[i % 2].post("/v1/events", json=e, headers=auth())
                for i, e in enumerate(contenders)
            )
        )
        statuses = [r.status_code for r in responses]
        assert sorted(statuses) == [201] + [409] * 11
        winner = contenders[statuses.index(201)]
        rows = await db.fetch(
            "SELECT event_id, stream_version FROM activity.events WHERE org_id = $1 AND stream = 'deal-R' "
            "ORDER BY stream_version",
            org,
        )
        assert [r["stream_version"] for r in rows] == [1, 2, 3, 4]
        assert str(rows[-1]["event_id"]) == winner["event_id"]
        assert all(
            r.json()["type"] == "urn:salesperf:problem:stream-version-conflict"
            for r in responses
            if r.status_code == 409
        )

    async def test_writers_without_expected_version_all_land_with_distinct_versions(
        self, replicas, db, org, auth
    ):
        responses = await asyncio.gather(
            *(
                replicas[i % 2].post("/v1/events", json=make_event(stream="deal-Q"), headers=auth())
                for i in range(30)
            )
        )
        assert {r.status_code for r in responses} == {201}
        assert sorted(r.json()["stream_version"] for r in responses) == list(range(1, 31))
