"""While behind, the follower folds a page while the page before it is still being written
(`Pages.apply_ahead`). The fold must see what the page in flight did, pages must commit in
order, and a page whose predecessor failed must never be written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.scoring.follow.consumer import Consumer
from services.scoring.follow.entity_cache import EntityCache
from services.scoring.follow.pages import Fenced
from shared.db import asyncpg_dsn
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET


def event(org: str, i: int, kind: str, stream: str, **data: Any) -> dict[str, Any]:
    return {
        "event_id": f"00000000-0000-4000-8000-{i:012d}",
        "type": kind,
        "org_id": org,
        "stream": stream,
        "stream_version": i,
        "position": i,
        "rep_id": "rep-1",
        "team_id": "team-1",
        "occurred_at": f"2026-07-01T{8 + i:02d}:00:00+00:00",
        "recorded_at": f"2026-07-01T{8 + i:02d}:00:01+00:00",
        "schema_version": 1,
        "data": data,
        "metadata": {"source": "app"},
    }


def pages(org: str) -> list[dict[str, Any]]:
    """Page 1 opens a deal; page 2 wins it: page 2's fold needs the deal page 1 opened."""
    opened = event(
        org,
        1,
        "deal.opened",
        "deal-D1",
        account_id="acc-1",
        amount="900.00",
        currency="EUR",
        product_line="ovens",
        stage="qualification",
    )
    visit = event(
        org,
        2,
        "visit.logged",
        "deal-D1",
        mode="onsite",
        effective=True,
        duration_minutes=30,
        account_id="acc-1",
    )
    won = event(org, 3, "deal.won", "deal-D1", amount="1000.00", currency="EUR")
    return [
        {"items": [opened, visit], "next": "cursor-2", "has_more": True},
        {"items": [won], "next": "cursor-3", "has_more": True},
    ]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    made = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=2, max_size=6)
    yield made
    await made.close()


@pytest.fixture
def consumer(database_url: str, pool: asyncpg.Pool) -> Consumer:
    return Consumer(scoring_settings(consume=False), asyncpg_dsn(database_url), pool, JWT_SECRET)


async def revenue(pool: asyncpg.Pool, org: str) -> tuple[Any, ...]:
    row = await pool.fetchrow(
        "SELECT (SELECT sum(value) FROM scoring.kpi_rollups WHERE org_id = $1 AND grain = 'm' "
        "AND owner_kind = 'org' AND metric = 'revenue_won') AS revenue, "
        "(SELECT sum(value) FROM scoring.kpi_rollups WHERE org_id = $1 AND grain = 'm' "
        "AND owner_kind = 'org' AND metric = 'deals_won') AS won, "
        "(SELECT cursor FROM scoring.orgs WHERE org_id = $1) AS cursor",
        org,
    )
    return tuple(row)


async def test_a_page_folded_while_the_one_before_is_written_sees_what_it_did(
    consumer: Consumer, pool: asyncpg.Pool, org: str
) -> None:
    await pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
    first, second = pages(org)
    cache = EntityCache(size=0)  # nothing kept but the page in flight
    async with pool.acquire() as holder, holder.transaction():
        # Hold the org's row: the first page's write waits for it, uncommitted.
        await holder.execute("SELECT 1 FROM scoring.orgs WHERE org_id = $1 FOR UPDATE", org)
        writing = await consumer.pages.apply_ahead(
            org, first, expected=None, defer_scores=True, cache=cache, writing=None
        )
        await asyncio.sleep(0.2)
        assert not writing.done()
        # The second page is folded now, its deal from memory (the database has none yet).
        folding = asyncio.create_task(
            consumer.pages.apply_ahead(
                org, second, expected="cursor-2", defer_scores=True, cache=cache, writing=writing
            )
        )
        await asyncio.sleep(0.2)
        assert (
            await pool.fetchval("SELECT count(*) FROM scoring.entities WHERE org_id = $1", org) == 0
        )
    last = await folding
    await last
    # A deal won is counted with its amount only if the fold knew the deal was open.
    assert await revenue(pool, org) == (1000, 1, "cursor-3")
    deal = await pool.fetchval(
        "SELECT state FROM scoring.entities WHERE org_id = $1 AND kind = 'deals'", org
    )
    assert '"won"' in deal


async def test_a_page_after_one_that_failed_is_never_written(
    consumer: Consumer, pool: asyncpg.Pool, org: str
) -> None:
    await pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
    first, second = pages(org)
    cache = EntityCache(size=100)
    # The first page expects a cursor the org does not have: its write is fenced.
    writing = await consumer.pages.apply_ahead(
        org, first, expected="elsewhere", defer_scores=True, cache=cache, writing=None
    )
    with pytest.raises(Fenced):
        await consumer.pages.apply_ahead(
            org, second, expected="cursor-2", defer_scores=True, cache=cache, writing=writing
        )
    assert await revenue(pool, org) == (None, None, None)
    assert await pool.fetchval("SELECT count(*) FROM scoring.entities WHERE org_id = $1", org) == 0


def test_the_cache_lets_committed_entities_go_but_not_those_in_flight() -> None:
    cache = EntityCache(size=2)
    assert cache.take(7, [("deals", "deal-1")]) == {}
    cache.put({("deals", "deal-1"): "a", ("deals", "deal-2"): "b", ("leads", "lead-1"): "c"})
    cache.put({("deals", "deal-1"): "a2"})  # folded again: the most recent now
    cache.trim(in_flight={("deals", "deal-2")})
    assert len(cache) == 2
    assert cache.take(7, [("deals", "deal-1"), ("deals", "deal-2"), ("leads", "lead-1")]) == {
        ("deals", "deal-1"): "a2",
        ("deals", "deal-2"): "b",
    }
    assert cache.take(8, [("deals", "deal-1")]) == {}  # another generation: nothing of it
    assert len(cache) == 0
