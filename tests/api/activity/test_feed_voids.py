"""GET /v1/events?types=event.voided&after=…: an org's voids after a cursor, as scoring reads
them before a replay and ahead of a bulk catch-up. They come in log order through the partial
index `ix_events_voids` (migration 20261223), whatever share of the log they are, generic
(cached) plans included: the type is written into the query as a literal."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from services.activity import repository
from tests.api.activity.test_feed_about import append, read_all, visit
from tests.conftest import make_event


def void_of(event_id: str, stream: str) -> dict[str, Any]:
    return make_event(
        "event.voided", stream=stream, data={"voided_event_id": event_id, "reason": "typo"}
    )


async def logged_with_voids(activity, headers) -> tuple[list[str], list[str]]:
    """Twelve visits, with a void after the 3rd, 7th and 10th of them; the visits' and the
    voids' ids."""
    visits = [visit("account-A", "A") for _ in range(12)]
    voids: list[str] = []
    await append(activity, headers, visits[:3])
    for start, end, target in ((3, 7, 1), (7, 10, 5), (10, 12, 8)):
        void = void_of(visits[target]["event_id"], "account-A")
        await append(activity, headers, [void])
        voids.append(void["event_id"])
        await append(activity, headers, visits[start:end])
    return [v["event_id"] for v in visits], voids


async def test_the_voids_after_a_cursor_come_in_log_order_page_by_page(activity, auth) -> None:
    headers = auth()
    _, voids = await logged_with_voids(activity, headers)
    everything = await read_all(activity, headers)
    position = {e["event_id"]: e["position"] for e in everything}
    got = await read_all(activity, headers, types="event.voided", limit=1)
    assert [e["event_id"] for e in got] == voids
    assert [e["position"] for e in got] == sorted(position[v] for v in voids)
    first = await activity.get(
        "/v1/events", params={"types": "event.voided", "limit": 1}, headers=headers
    )
    after_first = await read_all(
        activity, headers, types="event.voided", after=first.json()["next"]
    )
    assert [e["event_id"] for e in after_first] == voids[1:]
    mixed = await read_all(activity, headers, types="event.voided,visit.logged")
    assert len(mixed) == len(everything)


async def _generic_plan(pool: asyncpg.Pool, org: str, **filters: Any) -> tuple[str, int]:
    """The plan PostgreSQL caches for the feed's query (`read_feed`, as it sends it), and how
    many events it reads."""
    async with pool.acquire() as conn:
        sent: list[tuple[str, tuple[Any, ...]]] = []

        def logged(query: Any) -> None:
            sent.append((query.query, query.args))

        conn.add_query_logger(logged)
        page = await repository.read_feed(conn, org, after=0, limit=100, **filters)
        await asyncio.sleep(0)  # loggers are called soon after the query
        conn.remove_query_logger(logged)
        query, args = sent[-1]
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute(f"PREPARE feed_page AS {query}")
            # EXECUTE takes no parameters: its arguments as quoted literals.
            quoted = [
                await conn.fetchval(
                    "SELECT quote_literal($1::text)",
                    "{" + ",".join(a) + "}" if isinstance(a, list) else str(a),
                )
                for a in args
            ]
            plan = await conn.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE feed_page({', '.join(quoted)})"
            )
            await conn.execute("DEALLOCATE feed_page")
    return str(plan), page.count


async def test_a_cached_plan_reads_the_voids_through_their_own_index(
    activity, auth, db: asyncpg.Pool, org: str
) -> None:
    await logged_with_voids(activity, auth())
    plan, count = await _generic_plan(db, org, types=["event.voided"])
    assert count == 3
    assert "ix_events_voids" in plan
    other, count = await _generic_plan(db, org, types=["visit.logged"])
    assert count == 12
    assert "ix_events_voids" not in other
