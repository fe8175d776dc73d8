"""A page is applied once: the cursor moves by compare-and-set in the page's transaction."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.scoring.follow.consumer import Consumer
from services.scoring.follow.pages import Fenced
from shared.db import asyncpg_dsn
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET


def page(org: str, n: int, start: int = 1, after: str | None = None) -> dict:
    items = [
        {
            "event_id": f"00000000-0000-4000-8000-{org[-6:]}{i:06d}",
            "type": "visit.logged",
            "org_id": org,
            "stream": "account-acc-1",
            "stream_version": i,
            "position": i,
            "rep_id": "rep-1",
            "team_id": "team-1",
            "occurred_at": "2026-07-01T10:00:00+00:00",
            "recorded_at": "2026-07-01T10:00:01+00:00",
            "schema_version": 1,
            "data": {
                "mode": "onsite",
                "effective": True,
                "duration_minutes": 5,
                "account_id": "acc-1",
            },
            "metadata": {"source": "app"},
        }
        for i in range(start, start + n)
    ]
    return {"items": items, "next": f"cursor-{start + n - 1}", "has_more": False}


@pytest.fixture
async def consumers(database_url: str, db: asyncpg.Pool) -> list[Consumer]:
    settings = scoring_settings(consume=False)
    dsn = asyncpg_dsn(database_url)
    return [Consumer(settings, dsn, db, JWT_SECRET) for _ in range(2)]


async def visits(db: asyncpg.Pool, org: str) -> int:
    value = await db.fetchval(
        "SELECT sum(value) FROM scoring.kpi_rollups WHERE org_id = $1 AND owner_kind = 'org' "
        "AND grain = 'm' AND metric = 'visits'",
        org,
    )
    return int(value or 0)


class TestApplyIsExactlyOnce:
    async def test_the_same_page_applied_twice_counts_once(self, consumers, db, org) -> None:
        await db.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
        first, second = consumers
        await first.apply(org, page(org, 5), expected=None)
        with pytest.raises(Fenced):
            await second.apply(org, page(org, 5), expected=None)
        assert await visits(db, org) == 5
        row = await db.fetchrow("SELECT cursor, folded FROM scoring.orgs WHERE org_id = $1", org)
        assert (row["cursor"], row["folded"]) == ("cursor-5", 5)

    async def test_two_replicas_racing_on_one_page_count_it_once(self, consumers, db, org) -> None:
        await db.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
        results = await asyncio.gather(
            *(c.apply(org, page(org, 50), expected=None) for c in consumers),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["Applied", "Fenced"]
        assert await visits(db, org) == 50

    async def test_the_next_page_continues_from_the_stored_cursor(self, consumers, db, org) -> None:
        await db.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
        first, _ = consumers
        await first.apply(org, page(org, 3), expected=None)
        await first.apply(org, page(org, 4, start=4, after="cursor-3"), expected="cursor-3")
        assert await visits(db, org) == 7
