"""Every query of the activity service.

Appends run on a raw asyncpg connection inside one transaction per group commit:
`lock_org` first (a transaction-scoped advisory lock per org), then the reads the planner
needs, then one multi-row INSERT. Because positions are drawn from the sequence while the
lock is held, and the lock is released only after commit, a reader can never see position
N+1 committed while N is still in flight: polling "after my cursor" skips nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.events import upcast

from .domain import GroupState, Row
from .models import events

APPEND_LOCK_CLASS = 0x5A1E  # first key of the two-int advisory lock; the second is hashtext(org)
NOTIFY_CHANNEL = "activity_events"


# --------------------------------------------------------------------------- appends (asyncpg)


async def lock_org(conn: asyncpg.Connection, org_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", APPEND_LOCK_CLASS, org_id)


async def load_group_state(
    conn: asyncpg.Connection,
    org_id: str,
    event_ids: Sequence[UUID],
    voided_ids: Sequence[UUID],
    streams: Sequence[str],
) -> GroupState:
    state = GroupState()
    rows = await conn.fetch(
        """
        SELECT event_id, type, stream, rep_id, team_id, content_hash, stream_version, position,
               recorded_at
        FROM activity.events WHERE org_id = $1 AND event_id = ANY($2::uuid[])
        """,
        org_id,
        list({*event_ids, *voided_ids}),
    )
    for r in rows:
        state.known[r["event_id"]] = Row(
            event_id=r["event_id"],
            type=r["type"],
            stream=r["stream"],
            rep_id=r["rep_id"],
            team_id=r["team_id"],
            content_hash=bytes(r["content_hash"]),
            stream_version=r["stream_version"],
            position=r["position"],
            recorded_at=r["recorded_at"],
        )
    versions = await conn.fetch(
        """
        SELECT s.stream, v.version
        FROM unnest($2::text[]) AS s(stream)
        CROSS JOIN LATERAL (
            SELECT stream_version AS version FROM activity.events e
            WHERE e.org_id = $1 AND e.stream = s.stream
            ORDER BY stream_version DESC LIMIT 1
        ) v
        """,
        org_id,
        list(set(streams)),
    )
    state.versions = {r["stream"]: r["version"] for r in versions}
    if voided_ids:
        voided = await conn.fetch(
            """
            SELECT (data->>'voided_event_id')::uuid AS id FROM activity.events
            WHERE org_id = $1 AND type = 'event.voided' AND data->>'voided_event_id' = ANY($2::text[])
            """,
            org_id,
            [str(v) for v in voided_ids],
        )
        state.voided = {r["id"] for r in voided}
    return state


async def allocate_positions(conn: asyncpg.Connection, count: int) -> tuple[list[int], datetime]:
    """`count` positions, ascending, and the recording time (both taken under the lock)."""
    row = await conn.fetchrow(
        """
        SELECT array_agg(nextval('activity.event_position_seq') ORDER BY g) AS positions,
               clock_timestamp() AS now
        FROM generate_series(1, $1) AS g
        """,
        count,
    )
    assert row is not None
    return sorted(row["positions"]), row["now"]


async def insert_rows(conn: asyncpg.Connection, org_id: str, rows: Sequence[Row]) -> None:
    cands = [r.candidate for r in rows]
    assert all(c is not None for c in cands)
    await conn.execute(
        """
        INSERT INTO activity.events (position, org_id, event_id, type, stream, stream_version,
            rep_id, team_id, occurred_at, recorded_at, schema_version, data, metadata, content_hash)
        SELECT position, $1, event_id, type, stream, stream_version, rep_id, team_id, occurred_at,
               $2, schema_version, data::jsonb, metadata::jsonb, content_hash
        FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::text[], $7::int[], $8::text[],
                    $9::text[], $10::timestamptz[], $11::smallint[], $12::text[], $13::text[],
                    $14::bytea[])
             AS t(position, event_id, type, stream, stream_version, rep_id, team_id, occurred_at,
                  schema_version, data, metadata, content_hash)
        """,
        org_id,
        rows[0].recorded_at,
        [r.position for r in rows],
        [r.event_id for r in rows],
        [r.type for r in rows],
        [r.stream for r in rows],
        [r.stream_version for r in rows],
        [r.rep_id for r in rows],
        [r.team_id for r in rows],
        [c.occurred_at for c in cands],  # type: ignore[union-attr]
        [c.schema_version for c in cands],  # type: ignore[union-attr]
        [orjson.dumps(c.data).decode() for c in cands],  # type: ignore[union-attr]
        [orjson.dumps(c.metadata).decode() for c in cands],  # type: ignore[union-attr]
        [r.content_hash for r in rows],
    )


async def notify(conn: asyncpg.Connection, org_id: str) -> None:
    """Wake long-polling readers (delivered at commit, to every replica that listens)."""
    await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, org_id)


# --------------------------------------------------------------------------- reads (SQLAlchemy)

_COLUMNS = (
    events.c.position,
    events.c.event_id,
    events.c.type,
    events.c.org_id,
    events.c.stream,
    events.c.stream_version,
    events.c.rep_id,
    events.c.team_id,
    events.c.occurred_at,
    events.c.recorded_at,
    events.c.schema_version,
    events.c.data,
    events.c.metadata,
)


def _as_dict(row: Any) -> dict[str, Any]:
    item: dict[str, Any] = row._asdict()
    item["schema_version"], item["data"] = upcast(
        item["type"], item["schema_version"], item["data"]
    )
    return item


def _scoped(
    query: Select[Any], org_id: str, rep_id: str | None, team_id: str | None
) -> Select[Any]:
    query = query.where(events.c.org_id == org_id)
    if rep_id is not None:
        query = query.where(events.c.rep_id == rep_id)
    if team_id is not None:
        query = query.where(events.c.team_id == team_id)
    return query


async def read_feed(
    session: AsyncSession,
    org_id: str,
    *,
    after: int,
    limit: int,
    types: Sequence[str] | None = None,
    rep_id: str | None = None,
    team_id: str | None = None,
) -> list[dict[str, Any]]:
    query = _scoped(select(*_COLUMNS), org_id, rep_id, team_id).where(events.c.position > after)
    if types:
        query = query.where(events.c.type.in_(types))
    query = query.order_by(events.c.position).limit(limit)
    result = await session.execute(query)
    return [_as_dict(r) for r in result]


async def read_stream(
    session: AsyncSession,
    org_id: str,
    stream: str,
    *,
    after: int,
    limit: int,
    rep_id: str | None = None,
    team_id: str | None = None,
) -> list[dict[str, Any]]:
    query = (
        _scoped(select(*_COLUMNS), org_id, rep_id, team_id)
        .where(events.c.stream == stream, events.c.position > after)
        .order_by(events.c.stream_version)
        .limit(limit)
    )
    result = await session.execute(query)
    return [_as_dict(r) for r in result]


async def get_event(session: AsyncSession, org_id: str, event_id: UUID) -> dict[str, Any] | None:
    query = select(*_COLUMNS).where(events.c.org_id == org_id, events.c.event_id == event_id)
    row = (await session.execute(query)).first()
    return _as_dict(row) if row else None
