"""Every query of the activity service (asyncpg: this is the hot path of the whole system).

Appends run inside one transaction per group commit, in four round trips:

1. `BEGIN` and a transaction-scoped advisory lock on the org (one simple-protocol message);
2. one query for everything the planner must know — stored events with the ids being appended,
   the streams' current versions and owners, voids already recorded, and (only when a manager
   appends) the known team of the reps concerned — and the positions, counted on from the
   org's newest position (one backward probe of the `(org_id, position)` primary key) *while
   the lock is held*;
3. the rows (a multi-row INSERT, or COPY for large groups), the owners of the streams the group
   opened or reassigned (`activity.stream_owners`) and a NOTIFY for long-pollers;
4. `COMMIT`, which releases the lock.

Positions are per org: an org's events are numbered 1, 2, 3… in its own log, so a position
tells nothing of any other org. Because they are allocated under a lock that is released only
after commit (and the previous holder's commit is visible to the next holder's statements, which
run READ COMMITTED), position N+1 can never be visible while N is still in flight, and a group
that rolls back leaves no hole: the next holder numbers on from the newest committed position.
A reader polling "after my cursor" skips nothing, and sees no gap.

An event never changes, so its JSON is rendered once, when it is stored (`event_json`); reads
splice those texts into a page without decoding anything.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple
from uuid import UUID

import asyncpg
import orjson

from shared.events import UPCASTERS, upcast

from .domain import VOIDED, About, Candidate, GroupState, Row

APPEND_LOCK_CLASS = 0x5A1E  # first key of the two-int advisory lock; the second is the org's
NOTIFY_CHANNEL = "activity_events"
COPY_THRESHOLD = 200  # rows; above it COPY beats a multi-row INSERT
COLUMNS = (
    "position",
    "org_id",
    "event_id",
    "type",
    "stream",
    "stream_version",
    "rep_id",
    "team_id",
    "occurred_at",
    "recorded_at",
    "schema_version",
    "data",
    "metadata",
    "content_hash",
    "event_json",
)


def iso_utc(moment: datetime) -> str:
    """Every time the API returns: UTC, always with microseconds (as the SQL rendering)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def org_lock_key(org_id: str) -> int:
    """A stable signed 32-bit key per org (collisions only make two orgs share a lock)."""
    key = zlib.crc32(org_id.encode())
    return key - 2**32 if key >= 2**31 else key


# --------------------------------------------------------------------------- appends


LOCK_TIMEOUT_MS = 10_000  # an org's lock held longer than this by someone else: answer 503


async def begin_locked(conn: asyncpg.Connection, org_id: str) -> None:
    """BEGIN and take the org's append lock, in one round trip (every literal is an integer).

    READ COMMITTED whatever the server's default: the statements after the lock must see what
    the previous holder committed, so each needs its own snapshot.
    """
    await conn.execute(
        "BEGIN ISOLATION LEVEL READ COMMITTED;"
        f" SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS};"
        f" SELECT pg_advisory_xact_lock({APPEND_LOCK_CLASS}, {org_lock_key(org_id)})"
    )


GROUP_STATE = """
SELECT 0 AS kind, e.event_id, e.type, e.stream, e.rep_id, e.team_id, e.content_hash,
       e.stream_version AS version, e.position, e.recorded_at
FROM unnest($2::uuid[]) AS i(id)
JOIN activity.events e ON e.org_id = $1 AND e.event_id = i.id
UNION ALL
SELECT 1, NULL, NULL, s.stream, o.rep_id, NULL, NULL, v.version, NULL, NULL
FROM unnest($3::text[]) AS s(stream)
CROSS JOIN LATERAL (
    SELECT stream_version AS version FROM activity.events e
    WHERE e.org_id = $1 AND e.stream = s.stream ORDER BY stream_version DESC LIMIT 1
) v
LEFT JOIN activity.stream_owners o ON o.org_id = $1 AND o.stream = s.stream
UNION ALL
SELECT 2, (e.data->>'voided_event_id')::uuid, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM activity.events e
WHERE cardinality($4::text[]) > 0 AND e.org_id = $1 AND e.type = 'event.voided'
  AND e.data->>'voided_event_id' = ANY($4::text[])
UNION ALL
SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       coalesce((SELECT position FROM activity.events e
                 WHERE e.org_id = $1 ORDER BY position DESC LIMIT 1), 0),
       clock_timestamp()
WHERE $5 > 0
"""

# With a manager in the group: the known team of every rep the group's events name ($6) and of
# the owners of its streams — the team of the rep's most recent event that names one (an index
# scan backwards on (org_id, rep_id, position)); NULL for a rep with no team yet.
GROUP_STATE_WITH_TEAMS = (
    GROUP_STATE
    + """UNION ALL
SELECT 4, NULL, NULL, NULL, r.rep_id, t.team_id, NULL, NULL, NULL, NULL
FROM (
    SELECT unnest($6::text[])
    UNION
    SELECT o.rep_id FROM activity.stream_owners o
    WHERE o.org_id = $1 AND o.stream = ANY($3::text[]) AND o.rep_id IS NOT NULL
) AS r(rep_id)
LEFT JOIN LATERAL (
    SELECT e.team_id FROM activity.events e
    WHERE e.org_id = $1 AND e.rep_id = r.rep_id AND e.team_id IS NOT NULL
    ORDER BY e.position DESC LIMIT 1
) t ON true
"""
)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Positions allocated under the lock (at least one per new row) and the recording time."""

    positions: Sequence[int]
    recorded_at: datetime


async def load_group_state(
    conn: asyncpg.Connection,
    org_id: str,
    event_ids: Sequence[UUID],
    voided_ids: Sequence[UUID],
    streams: Sequence[str],
    reps: Sequence[str] | None = None,
) -> tuple[GroupState, Allocation]:
    """What the planner needs, and one position per candidate: the org's next ones, counted
    on from its newest (the caller holds the org's lock). The group's new rows take the first
    of them in order, so the org's positions stay contiguous; the rest are never used.
    `reps`: look up the known team of these reps and of the streams' owners (None: no lookup,
    no manager appends)."""
    lookup = list({*event_ids, *voided_ids})
    args: list[object] = [
        org_id,
        lookup,
        list(set(streams)),
        [str(v) for v in voided_ids],
        len(event_ids),
    ]
    if reps is None:
        rows = await conn.fetch(GROUP_STATE, *args)
    else:
        rows = await conn.fetch(GROUP_STATE_WITH_TEAMS, *args, list(set(reps)))
    state = GroupState()
    head: int | None = None
    recorded_at: datetime | None = None
    for r in rows:
        kind = r["kind"]
        if kind == 0:
            state.known[r["event_id"]] = Row(
                event_id=r["event_id"],
                type=r["type"],
                stream=r["stream"],
                rep_id=r["rep_id"],
                team_id=r["team_id"],
                content_hash=bytes(r["content_hash"]),
                stream_version=r["version"],
                position=r["position"],
                recorded_at=r["recorded_at"],
            )
        elif kind == 1:
            state.versions[r["stream"]] = r["version"]
            state.owners[r["stream"]] = r["rep_id"]
        elif kind == 2:
            state.voided.add(r["event_id"])
        elif kind == 4:
            state.teams[r["rep_id"]] = r["team_id"]
        else:
            head, recorded_at = r["position"], r["recorded_at"]
    assert head is not None or not event_ids
    positions = range(head + 1, head + 1 + len(event_ids)) if head is not None else range(0)
    return state, Allocation(positions, recorded_at or datetime.min)


class Draft(NamedTuple):
    """An event's stored JSON, rendered before the lock but for the three things only the lock
    decides (position, stream version, recording time), which `_records` splices in. Rendering
    is most of an append's CPU; this keeps it out of the org's serialized section."""

    head: str  # "event_id", "type", "org_id", "stream"
    middle: str  # "rep_id", "team_id", "occurred_at"
    tail: str  # "schema_version", "data", "metadata", and the closing brace


_VERSION_SLOT = ',"stream_version":0,'
_RECORDED_SLOT = ',"recorded_at":"",'


def draft(org_id: str, c: Candidate) -> Draft:
    """The event as the API will serve it (keys in this order), with slots left open."""
    text = orjson.dumps(
        {
            "event_id": str(c.event_id),
            "type": c.type,
            "org_id": org_id,
            "stream": c.stream,
            "stream_version": 0,
            "rep_id": c.rep_id,
            "team_id": c.team_id,
            "occurred_at": iso_utc(c.occurred_at),
            "recorded_at": "",
            "schema_version": c.schema_version,
            "data": orjson.Fragment(c.data_json),
            "metadata": orjson.Fragment(c.metadata_json),
        }
    ).decode()
    # Every string value is JSON-escaped, so the first unescaped slot is the key itself.
    head, _, rest = text[1:].partition(_VERSION_SLOT)
    middle, _, tail = rest.partition(_RECORDED_SLOT)
    return Draft(head, middle, tail)


def _records(
    org_id: str, rows: Sequence[tuple[Row, Draft]], recorded_at: datetime
) -> list[tuple[object, ...]]:
    recorded = iso_utc(recorded_at)
    out: list[tuple[object, ...]] = []
    for r, d in rows:
        c = r.candidate
        assert c is not None
        text = (
            f'{{"position":{r.position},{d.head},"stream_version":{r.stream_version},'
            f'{d.middle},"recorded_at":"{recorded}",{d.tail}'
        )
        out.append(
            (
                r.position,
                org_id,
                r.event_id,
                r.type,
                r.stream,
                r.stream_version,
                r.rep_id,
                r.team_id,
                c.occurred_at,
                recorded_at,
                c.schema_version,
                c.data_json,
                c.metadata_json,
                r.content_hash,
                text,
            )
        )
    return out


_INSERT = """
WITH inserted AS (
    INSERT INTO activity.events (position, org_id, event_id, type, stream, stream_version,
        rep_id, team_id, occurred_at, recorded_at, schema_version, data, metadata, content_hash,
        event_json)
    SELECT position, $1, event_id, type, stream, stream_version, rep_id, team_id, occurred_at,
           recorded_at, schema_version, data::jsonb, metadata::jsonb, content_hash, event_json
    FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::text[],
                $8::text[], $9::timestamptz[], $10::timestamptz[], $11::smallint[], $12::text[],
                $13::text[], $14::bytea[], $15::text[])
         AS t(position, event_id, type, stream, stream_version, rep_id, team_id, occurred_at,
              recorded_at, schema_version, data, metadata, content_hash, event_json)
    RETURNING 1
), owned AS (
    INSERT INTO activity.stream_owners (org_id, stream, rep_id, position)
    SELECT $1, stream, rep_id, position
    FROM unnest($17::text[], $18::text[], $19::bigint[]) AS o(stream, rep_id, position)
    ON CONFLICT (org_id, stream) DO UPDATE SET rep_id = EXCLUDED.rep_id, position = EXCLUDED.position
)
SELECT pg_notify($16, $1)
"""

_OWNERS_AND_NOTIFY = """
WITH owned AS (
    INSERT INTO activity.stream_owners (org_id, stream, rep_id, position)
    SELECT $1, stream, rep_id, position
    FROM unnest($3::text[], $4::text[], $5::bigint[]) AS o(stream, rep_id, position)
    ON CONFLICT (org_id, stream) DO UPDATE SET rep_id = EXCLUDED.rep_id, position = EXCLUDED.position
)
SELECT pg_notify($2, $1)
"""


@dataclass(frozen=True, slots=True)
class OwnerChange:
    """A stream the group opened or reassigned: its owner from `position` on (None: no rep)."""

    stream: str
    rep_id: str | None
    position: int


async def insert_rows(
    conn: asyncpg.Connection,
    org_id: str,
    rows: Sequence[tuple[Row, Draft]],
    recorded_at: datetime,
    owners: Sequence[OwnerChange] = (),
) -> None:
    """Store the group's new rows and the owners they set, and wake long-pollers (NOTIFY is
    delivered at commit), in one statement (two for COPY)."""
    records = _records(org_id, rows, recorded_at)
    owner_columns = (
        [o.stream for o in owners],
        [o.rep_id for o in owners],
        [o.position for o in owners],
    )
    if len(records) > COPY_THRESHOLD:
        await conn.copy_records_to_table(
            "events", schema_name="activity", columns=COLUMNS, records=records
        )
        await conn.execute(_OWNERS_AND_NOTIFY, org_id, NOTIFY_CHANNEL, *owner_columns)
        return
    columns = list(zip(*records, strict=True))
    await conn.execute(_INSERT, org_id, *columns[:1], *columns[2:], NOTIFY_CHANNEL, *owner_columns)


async def ping(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


async def commit(conn: asyncpg.Connection) -> None:
    await conn.execute("COMMIT")


async def rollback(conn: asyncpg.Connection) -> None:
    """Best effort: a broken connection is discarded by the pool, which rolls back anyway."""
    if not conn.is_closed():
        with contextlib.suppress(Exception):
            await conn.execute("ROLLBACK")


# --------------------------------------------------------------------------- reads

_SELECT = "SELECT position, type, schema_version, rep_id, team_id, event_json FROM activity.events"


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One stored event and its JSON as the API serves it."""

    position: int
    rep_id: str | None
    team_id: str | None
    json: str


def _stored(rows: list[asyncpg.Record]) -> list[StoredRow]:
    out = []
    for position, event_type, version, rep_id, team_id, text in rows:
        if (event_type, version) in UPCASTERS:  # an old shape: bring it up to date on read
            item = orjson.loads(text)
            item["schema_version"], item["data"] = upcast(event_type, version, item["data"])
            text = orjson.dumps(item).decode()
        out.append(StoredRow(position, rep_id, team_id, text))
    return out


def _scope_sql(params: list[object], rep_id: str | None, team_id: str | None) -> str:
    sql = ""
    if rep_id is not None:
        params.append(rep_id)
        sql += f" AND rep_id = ${len(params)}"
    if team_id is not None:
        params.append(team_id)
        sql += f" AND team_id = ${len(params)}"
    return sql


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Up to `limit` events: their stored JSON joined with commas, and where the page ends."""

    items_json: str
    count: int
    last_position: int | None
    has_more: bool


async def read_feed(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    after: int,
    limit: int,
    types: Sequence[str] | None = None,
    ids: Sequence[UUID] | None = None,
    rep_id: str | None = None,
    team_id: str | None = None,
) -> FeedPage:
    """Up to `limit` events after position `after`, in order. PostgreSQL joins the stored JSON
    into one text; while upcasters exist (old payload shapes), pages are assembled row by row
    so they can run."""
    params: list[object] = [org_id, after, limit]
    where = "org_id = $1 AND position > $2" + _scope_sql(params, rep_id, team_id)
    where += _filters_sql(params, types, ids)
    if UPCASTERS:
        rows = _stored(
            await conn.fetch(f"{_SELECT} WHERE {where} ORDER BY position LIMIT $3 + 1", *params)
        )
        return _assembled(rows, limit)
    row = await conn.fetchrow(
        f"""
        WITH page AS (
            SELECT position, event_json, row_number() OVER (ORDER BY position) AS n
            FROM (SELECT position, event_json FROM activity.events
                  WHERE {where} ORDER BY position LIMIT $3 + 1) p
        )
        SELECT string_agg(event_json, ',' ORDER BY position) FILTER (WHERE n <= $3) AS items,
               max(position) FILTER (WHERE n <= $3) AS last,
               count(*) FILTER (WHERE n <= $3) AS count,
               count(*) > $3 AS has_more
        FROM page
        """,
        *params,
    )
    assert row is not None
    return FeedPage(row["items"] or "", row["count"], row["last"], row["has_more"])


def _filters_sql(
    params: list[object], types: Sequence[str] | None, ids: Sequence[UUID] | None
) -> str:
    """The feed's `types` and `ids` filters as WHERE conditions (their values added to
    `params`); `ids` is found through the unique `(org_id, event_id)` index. The voids alone
    are asked for by their type as a literal: the partial index `ix_events_voids` holds them
    in log order, and only a literal lets a generic (cached) plan match its predicate."""
    sql = ""
    if types and set(types) == {VOIDED}:
        sql += f" AND type = '{VOIDED}'"
    elif types:
        params.append(list(types))
        sql += f" AND type = ANY(${len(params)}::text[])"
    if ids is not None:
        params.append(list(ids))
        sql += f" AND event_id = ANY(${len(params)}::uuid[])"
    return sql


def _assembled(rows: list[StoredRow], limit: int) -> FeedPage:
    """A page of up to `limit` of `rows` (one more than that: there is more)."""
    page = rows[:limit]
    last = page[-1].position if page else None
    return FeedPage(",".join(r.json for r in page), len(page), last, len(rows) > limit)


# The positions of the events about the entities ($4 streams, $5 account_id, $6 deal_id,
# $7 lead_id, $8 invoice_id), gathered whole before they are ordered: a BitmapOr over the stream
# index `(org_id, stream, stream_version)` and the partial indexes `ix_events_<field>`. Ordered
# and limited in one query, the planner may walk the org's log by position instead, filtering
# it, when it guesses that many events match (the partial indexes give it no statistics).
_ABOUT_HITS = """
    WITH hits AS MATERIALIZED (
        SELECT position FROM activity.events
        WHERE {where}
          AND (stream = ANY($4::text[])
               OR data->>'account_id' = ANY($5::text[]) OR data->>'deal_id' = ANY($6::text[])
               OR data->>'lead_id' = ANY($7::text[]) OR data->>'invoice_id' = ANY($8::text[]))
    ), picked AS (
        SELECT position FROM hits ORDER BY position LIMIT $3 + 1
    )"""


async def read_about(
    conn: asyncpg.Connection,
    org_id: str,
    about: About,
    *,
    after: int,
    limit: int,
    types: Sequence[str] | None = None,
    ids: Sequence[UUID] | None = None,
    rep_id: str | None = None,
    team_id: str | None = None,
) -> FeedPage:
    """`read_feed` kept to the events about any of `about`'s entities (see `About`)."""
    params: list[object] = [
        org_id,
        after,
        limit,
        about.streams(),
        list(about.accounts),
        list(about.deals),
        list(about.leads),
        list(about.invoices),
    ]
    where = "org_id = $1 AND position > $2" + _scope_sql(params, rep_id, team_id)
    where += _filters_sql(params, types, ids)
    hits = _ABOUT_HITS.format(where=where)
    if UPCASTERS:
        rows = _stored(
            await conn.fetch(
                f"""{hits}
            SELECT e.position, e.type, e.schema_version, e.rep_id, e.team_id, e.event_json
            FROM picked JOIN activity.events e ON e.org_id = $1 AND e.position = picked.position
            ORDER BY e.position
            """,
                *params,
            )
        )
        return _assembled(rows, limit)
    row = await conn.fetchrow(
        f"""{hits}, page AS (
            SELECT e.position, e.event_json, row_number() OVER (ORDER BY e.position) AS n
            FROM picked JOIN activity.events e ON e.org_id = $1 AND e.position = picked.position
        )
        SELECT string_agg(event_json, ',' ORDER BY position) FILTER (WHERE n <= $3) AS items,
               max(position) FILTER (WHERE n <= $3) AS last,
               count(*) FILTER (WHERE n <= $3) AS count,
               count(*) > $3 AS has_more
        FROM page
        """,
        *params,
    )
    assert row is not None
    return FeedPage(row["items"] or "", row["count"], row["last"], row["has_more"])


async def read_stream(
    conn: asyncpg.Connection,
    org_id: str,
    stream: str,
    *,
    after: int,
    limit: int,
    rep_id: str | None = None,
    team_id: str | None = None,
) -> list[StoredRow]:
    params: list[object] = [org_id, stream, after, limit]
    sql = f"{_SELECT} WHERE org_id = $1 AND stream = $2 AND position > $3"
    sql += _scope_sql(params, rep_id, team_id) + " ORDER BY stream_version LIMIT $4"
    return _stored(await conn.fetch(sql, *params))


async def get_event(conn: asyncpg.Connection, org_id: str, event_id: UUID) -> StoredRow | None:
    rows = await conn.fetch(f"{_SELECT} WHERE org_id = $1 AND event_id = $2", org_id, event_id)
    return _stored(rows)[0] if rows else None


async def list_orgs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every org with events, its newest position and when that was recorded: a skip scan of
    the (org_id, position) index, one probe per org rather than a pass over the table."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        WITH RECURSIVE orgs(org_id) AS (
            (SELECT org_id FROM activity.events ORDER BY org_id LIMIT 1)
            UNION ALL
            SELECT (SELECT e.org_id FROM activity.events e WHERE e.org_id > orgs.org_id
                    ORDER BY e.org_id LIMIT 1)
            FROM orgs WHERE orgs.org_id IS NOT NULL
        )
        SELECT o.org_id, h.position, h.recorded_at
        FROM orgs o
        CROSS JOIN LATERAL (
            SELECT position, recorded_at FROM activity.events e
            WHERE e.org_id = o.org_id ORDER BY position DESC LIMIT 1
        ) h
        WHERE o.org_id IS NOT NULL
        ORDER BY o.org_id
        """
    )
    return rows


async def backlog(conn: asyncpg.Connection, org_id: str, after: int) -> asyncpg.Record:
    """How many of the org's events lie after `after`, and the newest one's position and time.
    An org's positions run 1, 2, 3… with no gaps (allocated under its lock; nothing is ever
    deleted), so the count is the newest position less `after`: one index probe, where a
    `count(*)` walked every event after the cursor (a consumer far behind asks often)."""
    row = await conn.fetchrow(
        """
        SELECT greatest(coalesce(h.position, 0) - $2, 0)::bigint AS events,
               CASE WHEN h.position > $2 THEN h.position END AS head,
               h.recorded_at AS head_recorded_at
        FROM (SELECT 1) one
        LEFT JOIN LATERAL (
            SELECT position, recorded_at FROM activity.events
            WHERE org_id = $1 ORDER BY position DESC LIMIT 1
        ) h ON true
        """,
        org_id,
        after,
    )
    assert row is not None
    return row
