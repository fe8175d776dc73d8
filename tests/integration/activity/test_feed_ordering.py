"""Guarantee 1: a consumer polling "after my cursor" never misses an event.

Positions handed out before commit (by a sequence, or counted by each writer on its own) meet
transactions that commit in any order: position 11 can become visible before position 10, and a
poller that has moved its cursor to 11 never sees 10. The store prevents it by allocating
positions (the org's own 1, 2, 3…) under a per-org advisory lock held until commit
(services/activity/repository.py). These tests show the hazard is real without that mechanism
and absent with it.
"""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import httpx

from services.activity import repository
from services.activity.domain import prepare
from services.activity.writer import AppendRequest, store
from shared.auth import Principal, Role
from shared.events import new_event_adapter
from tests.conftest import make_event


def _request(org: str, n: int = 1) -> AppendRequest:
    principal = Principal(org=org, role=Role.SERVICE, sub="test")
    events = [
        new_event_adapter.validate_python(make_event(stream=f"lead-{uuid.uuid4().hex[:8]}"))
        for _ in range(n)
    ]
    return AppendRequest(principal, [prepare(principal, e) for e in events], batch=n > 1)


async def _poll(db: asyncpg.Pool, org: str, after: int) -> list[int]:
    rows = await db.fetch(
        "SELECT position FROM activity.events WHERE org_id = $1 AND position > $2 ORDER BY position",
        org,
        after,
    )
    return [r["position"] for r in rows]


async def _plain_insert(conn: asyncpg.Connection, org: str, position: int) -> int:
    """An INSERT at a position handed out before it, with no lock: the naive store."""
    return await conn.fetchval(
        """
        INSERT INTO activity.events (position, org_id, event_id, type, stream, stream_version,
            occurred_at, schema_version, data, metadata, content_hash, event_json)
        VALUES ($4, $1, $2, 'visit.logged', $3, 1, now(), 1, '{}', '{}', '\\x00', '{}')
        RETURNING position
        """,
        org,
        uuid.uuid4(),
        f"lead-{uuid.uuid4().hex[:8]}",
        position,
    )


class TestNegativeControl:
    async def test_plain_inserts_let_a_poller_skip_an_event_that_commits_late(self, db, org):
        async with db.acquire() as slow, db.acquire() as fast:
            slow_tx = slow.transaction()
            await slow_tx.start()
            early = await _plain_insert(slow, org, 1)  # smaller position, still uncommitted
            late = await _plain_insert(fast, org, 2)  # larger position, committed at once
            assert early < late

            seen = await _poll(db, org, 0)
            assert seen == [late]
            cursor = seen[-1]

            await slow_tx.commit()
            assert await _poll(db, org, cursor) == []  # `early` is now behind the cursor: skipped
            assert set(await _poll(db, org, 0)) == {early, late}


class TestAppendLock:
    async def test_a_second_writer_waits_until_the_first_commits_so_nothing_is_skipped(
        self, db, org
    ):
        async with db.acquire() as slow:
            slow_tx = slow.transaction()
            await slow_tx.start()
            [first] = await store(slow, org, [_request(org)])

            async def second_writer() -> list[object]:
                async with db.acquire() as conn, conn.transaction():
                    return await store(conn, org, [_request(org)])

            second = asyncio.create_task(second_writer())
            await asyncio.sleep(0.3)
            assert not second.done(), "the second append must wait for the first one's commit"
            assert await _poll(db, org, 0) == []

            await slow_tx.commit()
            [[second_decision]] = await second
        [first_decision] = first  # type: ignore[misc]
        assert first_decision.row.position < second_decision.row.position
        assert await _poll(db, org, 0) == [
            first_decision.row.position,
            second_decision.row.position,
        ]

    async def test_each_org_numbers_its_own_log_and_a_rollback_leaves_no_gap(self, db, org):
        other = f"{org}-other"
        async with db.acquire() as conn:
            [[mine]] = await store(conn, org, [_request(org)])
            await repository.commit(conn)
            await store(conn, org, [_request(org, 3)])  # allocated 2..4, then rolled back
            await repository.rollback(conn)
            [[theirs]] = await store(conn, other, [_request(other)])
            await repository.commit(conn)
            [[a, b]] = await store(conn, org, [_request(org, 2)])
            await repository.commit(conn)
        assert [mine.row.position, a.row.position, b.row.position] == [1, 2, 3]
        assert theirs.row.position == 1
        assert await _poll(db, org, 0) == [1, 2, 3]
        assert await _poll(db, other, 0) == [1]

    async def test_orgs_do_not_wait_for_each_other(self, db, org):
        other = f"{org}-other"
        async with db.acquire() as slow:
            slow_tx = slow.transaction()
            await slow_tx.start()
            await store(slow, org, [_request(org)])
            async with db.acquire() as conn, conn.transaction():
                await asyncio.wait_for(store(conn, other, [_request(other)]), timeout=2)
            await slow_tx.rollback()


class TestTailingConsumer:
    async def test_a_consumer_tailing_the_feed_sees_every_event_exactly_once_in_order(
        self, replicas, db, org, auth
    ):
        """16 appenders x 200 events over two replicas, plus writers that hold their
        transactions open, while one consumer long-polls the feed with random page sizes."""
        headers = auth("service", sub="scoring")
        writers, per_writer = 16, 200
        held_writers, held_batches = 4, 10
        expected = writers * per_writer + held_writers * held_batches * 3
        rng = random.Random(7)

        async def appender(client: httpx.AsyncClient, w: int) -> None:
            for i in range(per_writer):
                event = make_event("call.logged", stream=f"lead-w{w}-{i % 7}")
                r = await client.post("/v1/events", json=event, headers=headers)
                assert r.status_code == 201, r.text

        async def held_writer(w: int) -> None:
            for _ in range(held_batches):
                async with db.acquire() as conn, conn.transaction():
                    await store(conn, org, [_request(org, 3)])
                    await asyncio.sleep(rng.uniform(0.01, 0.08))  # commit late, on purpose

        seen: list[dict[str, object]] = []

        async def consumer() -> None:
            cursor = None
            client = replicas[0]
            while len(seen) < expected:
                params: dict[str, object] = {"limit": rng.randint(1, 250), "wait": 1}
                if cursor:
                    params["after"] = cursor
                r = await client.get("/v1/events", params=params, headers=headers)
                assert r.status_code == 200, r.text
                page = r.json()
                seen.extend(page["items"])
                cursor = page["next"]

        tasks = [appender(replicas[w % 2], w) for w in range(writers)]
        tasks += [held_writer(w) for w in range(held_writers)]
        await asyncio.wait_for(asyncio.gather(consumer(), *tasks), timeout=120)

        positions = [e["position"] for e in seen]
        assert len(seen) == expected
        assert len({e["event_id"] for e in seen}) == expected, "an event was delivered twice"
        assert positions == list(range(1, expected + 1)), "the org's own 1, 2, 3…, no gaps"
        stored = await db.fetch(
            "SELECT event_id, position FROM activity.events WHERE org_id = $1 ORDER BY position",
            org,
        )
        assert [str(r["event_id"]) for r in stored] == [e["event_id"] for e in seen]
