"""Where an org stands, kept in memory (services/scoring/answer/org_views.py): served without a
query while nothing changed, forgotten when `scoring.orgs` NOTIFYs a change, never kept while the
listener is down. To tell memory from the database, the reader's pool has one connection and
the test holds it: an answer that needed the database could not come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.scoring import repository
from services.scoring.answer import org_views
from services.scoring.answer.org_views import OrgRows
from shared.db import asyncpg_dsn


@pytest.fixture
async def rows(database_url: str) -> AsyncIterator[tuple[OrgRows, asyncpg.Pool]]:
    dsn = asyncpg_dsn(database_url)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    reader = OrgRows(dsn, pool)
    reader.start()
    await until(lambda: reader.listening)
    yield reader, pool
    await reader.stop()
    await pool.close()


async def until(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def until_a_read_needs_the_database(reader: OrgRows, org: str, timeout: float = 10) -> None:
    """Reads, with the reader's pool exhausted, until one cannot be answered from memory."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await asyncio.wait_for(reader.get(org), 0.1)
        except TimeoutError:
            return
        assert asyncio.get_running_loop().time() < deadline, "the row was never forgotten"
        await asyncio.sleep(0.02)


async def test_a_row_is_kept_until_its_org_changes(rows, db: asyncpg.Pool, org: str) -> None:
    reader, pool = rows
    async with db.acquire() as conn:
        await repository.ensure_org(conn, org, "UTC")
    assert (await reader.get(org))["timezone"] == "UTC"

    async with pool.acquire():  # the reader's only connection is taken: memory or nothing
        assert (await asyncio.wait_for(reader.get(org), 1))["timezone"] == "UTC"

        await db.execute(
            "UPDATE scoring.orgs SET timezone = 'Asia/Shanghai' WHERE org_id = $1", org
        )
        # Told of the change, the reader forgets the row: a read then needs the database.
        await until_a_read_needs_the_database(reader, org)

    assert (await reader.get(org))["timezone"] == "Asia/Shanghai"


async def test_nothing_is_kept_while_the_listener_is_down(
    rows, db: asyncpg.Pool, org: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, pool = rows
    monkeypatch.setattr(org_views, "RETRY_SECONDS", 0.5)
    async with db.acquire() as conn:
        await repository.ensure_org(conn, org, "UTC")
    await reader.get(org)

    await db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'scoring-org-listener' AND datname = current_database()"
    )
    await until(lambda: not reader.listening)
    # A change now would never be told: every read asks the database (none is kept).
    await db.execute("UPDATE scoring.orgs SET timezone = 'Europe/Paris' WHERE org_id = $1", org)
    assert (await reader.get(org))["timezone"] == "Europe/Paris"
    async with pool.acquire():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.get(org), 0.3)

    await until(lambda: reader.listening)  # back, and keeping rows again
    await reader.get(org)
    async with pool.acquire():
        assert (await asyncio.wait_for(reader.get(org), 1))["timezone"] == "Europe/Paris"
