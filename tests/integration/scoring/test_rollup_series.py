"""Rollup rows are keyed by a series id, a hash of their dimensions (owner, team, cut, currency,
metric): rows of one series add up under it in every generation, and two dimensions that would
share an id are refused, never summed together."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg
import pytest

from services.scoring import repository
from services.scoring.projections.rollup import RollupKey

DAY = date(2026, 7, 1)


def key(rep: str, metric: str = "visits", grain: str = "d") -> RollupKey:
    return (grain, DAY, "rep", rep, "team-1", "pl", "gold", "web", "", metric)


async def stored(db: asyncpg.Pool, org: str) -> list[tuple]:
    rows = await db.fetch(
        "SELECT generation, owner_id, metric, value FROM scoring.kpi_rollups WHERE org_id = $1"
        " ORDER BY generation, owner_id, metric",
        org,
    )
    return [tuple(r) for r in rows]


@pytest.fixture
def org() -> str:
    return f"series-{uuid.uuid4().hex[:8]}"


async def test_rows_of_a_series_add_up_and_generations_share_its_series(db, org) -> None:
    async with db.acquire() as conn, conn.transaction():
        await repository.add_rollups(conn, org, 1, {key("rep-1"): 2, key("rep-2"): 1})
        await repository.add_rollups(conn, org, 1, {key("rep-1"): 3})
        await repository.add_rollups(conn, org, 2, {key("rep-1"): Decimal("1.5")})
    assert await stored(db, org) == [
        (1, "rep-1", "visits", 5),
        (1, "rep-2", "visits", 1),
        (2, "rep-1", "visits", Decimal("1.5")),
    ]
    assert await db.fetchval("SELECT count(*) FROM scoring.kpi_series WHERE org_id = $1", org) == 2


async def test_a_row_that_drops_to_zero_is_deleted(db, org) -> None:
    async with db.acquire() as conn, conn.transaction():
        await repository.add_rollups(conn, org, 1, {key("rep-1"): 2, key("rep-2"): 1})
        await repository.add_rollups(conn, org, 1, {key("rep-1"): -2})
        await repository.drop_zero_rollups(conn, org, 1, [key("rep-1"), key("rep-2")])
    assert await stored(db, org) == [(1, "rep-2", "visits", 1)]


async def test_dimensions_that_share_an_id_are_refused_and_nothing_is_written(db, org) -> None:
    # Another series stored under rep-1's id, as a hash collision would leave it:
    await db.execute(
        "INSERT INTO scoring.kpi_series (org_id, series_id, owner_kind, owner_id, team_id,"
        " product_line, tier, channel, currency, metric) VALUES ($1, scoring.series_id('rep',"
        " 'rep-1', 'team-1', 'pl', 'gold', 'web', '', 'visits'), 'rep', 'rep-9', 'team-1', 'pl',"
        " 'gold', 'web', '', 'calls')",
        org,
    )
    with pytest.raises(repository.SeriesCollision):
        async with db.acquire() as conn, conn.transaction():
            await repository.add_rollups(conn, org, 1, {key("rep-1"): 2, key("rep-2"): 1})
    assert await db.fetchval("SELECT count(*) FROM scoring.kpi_values WHERE org_id = $1", org) == 0
