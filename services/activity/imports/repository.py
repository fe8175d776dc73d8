"""Every query of bulk imports (asyncpg, like the rest of activity)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import orjson

from .validation import Rejection

IMPORT_LOCK_CLASS = 0x1A70  # first key of a job's session advisory lock: one runner a job
KEPT_ERRORS = 10_000  # rejected rows whose errors are kept, a job; all are counted

_JOB = """
SELECT id, org_id, format, filename, size_bytes, rows_total, state, subject, role, host,
       rows_read, rows_done, stored, duplicates, rejected, progress, error, created_at,
       started_at, finished_at
FROM activity.imports
"""


async def insert_job(
    conn: asyncpg.Connection,
    *,
    id: UUID,
    org_id: str,
    format: str,
    filename: str | None,
    size_bytes: int,
    rows_total: int | None,
    subject: str,
    role: str,
    host: str,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO activity.imports (id, org_id, format, filename, size_bytes, rows_total,
                                      subject, role, host)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING *
        """,
        id,
        org_id,
        format,
        filename,
        size_bytes,
        rows_total,
        subject,
        role,
        host,
    )
    assert row is not None
    return row


async def get_job(conn: asyncpg.Connection, org_id: str, id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_JOB + "WHERE org_id = $1 AND id = $2", org_id, id)


async def list_jobs(
    conn: asyncpg.Connection, org_id: str, *, before: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Newest first; `before`: the (created_at, id) of the last job of the page before."""
    rows: list[asyncpg.Record]
    if before is None:
        rows = await conn.fetch(
            _JOB + "WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", org_id, limit
        )
        return rows
    rows = await conn.fetch(
        _JOB + "WHERE org_id = $1 AND (created_at, id) < ($2::timestamptz, $3)"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        org_id,
        before[0],
        before[1],
        limit,
    )
    return rows


async def list_errors(
    conn: asyncpg.Connection, import_id: UUID, *, after: int, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT row_number, event_id, errors::text AS errors FROM activity.import_errors
        WHERE import_id = $1 AND row_number > $2 ORDER BY row_number LIMIT $3
        """,
        import_id,
        after,
        limit,
    )
    return rows


async def resumable(conn: asyncpg.Connection, host: str) -> list[asyncpg.Record]:
    """The unfinished jobs whose file was uploaded to `host`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        _JOB + "WHERE host = $1 AND state IN ('queued', 'running') ORDER BY created_at", host
    )
    return rows


def _lock_key(id: UUID) -> int:
    key = zlib.crc32(id.bytes)
    return key - 2**32 if key >= 2**31 else key


async def try_lock_job(conn: asyncpg.Connection, id: UUID) -> bool:
    """Take the job's session lock on `conn` (held until `unlock_job` or the connection ends:
    a runner that dies lets another replica resume the job)."""
    locked = await conn.fetchval(
        "SELECT pg_try_advisory_lock($1, $2)", IMPORT_LOCK_CLASS, _lock_key(id)
    )
    return bool(locked)


async def unlock_job(conn: asyncpg.Connection, id: UUID) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1, $2)", IMPORT_LOCK_CLASS, _lock_key(id))


async def start_job(conn: asyncpg.Connection, id: UUID) -> asyncpg.Record | None:
    """The job, now running; None when it has ended already."""
    return await conn.fetchrow(
        """
        UPDATE activity.imports SET state = 'running', started_at = coalesce(started_at, now())
        WHERE id = $1 AND state IN ('queued', 'running') RETURNING *
        """,
        id,
    )


async def record_chunk(
    conn: asyncpg.Connection,
    id: UUID,
    *,
    rows_done: int,
    read: int,
    stored: int,
    duplicates: int,
    rejected: Sequence[Rejection],
    progress: float,
) -> None:
    """A chunk's counts and rejections, in the transaction that stored its events."""
    await conn.execute(
        """
        UPDATE activity.imports
        SET rows_done = $2, rows_read = rows_read + $3, stored = stored + $4,
            duplicates = duplicates + $5, rejected = rejected + $6, progress = $7
        WHERE id = $1
        """,
        id,
        rows_done,
        read,
        stored,
        duplicates,
        len(rejected),
        progress,
    )
    if rejected:
        await conn.execute(
            """
            INSERT INTO activity.import_errors (import_id, row_number, event_id, errors)
            SELECT $1, r, e, x::jsonb
            FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(r, e, x)
            WHERE (SELECT count(*) FROM activity.import_errors WHERE import_id = $1) < $5
            ON CONFLICT DO NOTHING
            """,
            id,
            [r.number for r in rejected],
            [r.event_id for r in rejected],
            [
                orjson.dumps([e.model_dump(by_alias=True) for e in r.errors]).decode()
                for r in rejected
            ],
            KEPT_ERRORS,
        )


async def finish_job(
    conn: asyncpg.Connection, id: UUID, *, state: str, error: str | None = None
) -> None:
    await conn.execute(
        """
        UPDATE activity.imports
        SET state = $2, error = $3, finished_at = now(),
            progress = CASE WHEN $2 = 'done' THEN 1 ELSE progress END
        WHERE id = $1
        """,
        id,
        state,
        error,
    )
