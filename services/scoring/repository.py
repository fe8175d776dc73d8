"""Every query of the scoring service (asyncpg, like activity: COPY for rebuilds, arrays for
page writes).

Projection rows are keyed by org and *generation*; `scoring.orgs` names each org's live
generation and the feed cursor it has folded up to. The consumer moves the cursor with a
compare-and-set in the same transaction as the rows the page changed, so a page is applied
exactly once even if two replicas ever believed they led.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from shared.pagination import is_stale, readable_cursor

from .answer.sources import Row, Scope
from .domain import OwnerKind
from .projections.codec import KINDS, decode, encode
from .projections.kpis import Deal, Lead, Value, Win
from .projections.leads import Prospect
from .projections.rollup import RollupKey, Rollups

# Session advisory locks of the consuming replicas (follow/leases.py): a shared one each holds
# while alive, and one exclusive lock per org it folds (class LEASE_CLASS, key leases.key(org)).
REPLICA_LOCK = (0x5C0E, 2)
LEASE_CLASS = 0x5C0F
# A transaction lock per org (class SERIES_CLASS, key hashtext(org)) taken by whoever adds
# series: a page and a rebuild never insert an org's series at the same time, in any order.
SERIES_CLASS = 0x5C10
REBUILD_WORK_MEM = "256MB"  # for adding up a rebuild's staged sums

GENERATION_TABLES = ("kpi_values", "wins", "entities", "scores", "health")
WIN_COLUMNS = (
    "org_id",
    "generation",
    "deal",
    "account_id",
    "day",
    "rep_id",
    "team_id",
    "product_line",
    "tier",
    "channel",
)


# --------------------------------------------------------------------------- readiness


async def ping(conn: asyncpg.Connection) -> None:
    """A round trip to the database (`/readyz`)."""
    await conn.fetchval("SELECT 1")


# --------------------------------------------------------------------------- orgs


async def ensure_org(conn: asyncpg.Connection, org_id: str, timezone: str) -> asyncpg.Record:
    await conn.execute(
        "INSERT INTO scoring.orgs (org_id, timezone) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        org_id,
        timezone,
    )
    row = await get_org(conn, org_id)
    assert row is not None
    return await _resumable(conn, row)


async def _resumable(conn: asyncpg.Connection, row: asyncpg.Record) -> asyncpg.Record:
    """The org's row (for its follower to start from), with a cursor activity opens.

    The stored cursor is activity's `next` after the last page that held events, sealed with
    the cursor key of that moment (shared/pagination.py); an idle org keeps it for ever. A stored
    cursor the current key did not seal (an older key's, which dropping that key would make
    unreadable, or one no key opens any more) is replaced by the readable form of the position
    stored beside it, the same place in the feed, which activity takes from service tokens; the
    next page's cursor, sealed with the current key, replaces that in turn. Compare-and-set, like
    every move of the cursor."""
    cursor: str | None = row["cursor"]
    if cursor is None or not is_stale(cursor, row["org_id"]):
        return row
    resume = readable_cursor(row["position"])
    moved = await conn.fetchrow(
        "UPDATE scoring.orgs SET cursor = $3 WHERE org_id = $1 AND cursor = $2 RETURNING *",
        row["org_id"],
        cursor,
        resume,
    )
    if moved is not None:
        return moved
    again = await get_org(conn, row["org_id"])  # moved meanwhile: as it stands now
    assert again is not None
    return again


async def get_org(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", org_id)


async def list_orgs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch("SELECT * FROM scoring.orgs ORDER BY org_id")
    return rows


async def roster_version(conn: asyncpg.Connection, org_id: str) -> int | None:
    """The version of the org's roster copy (0: none); None for an org scoring does not know."""
    version: int | None = await conn.fetchval(
        "SELECT roster_version FROM scoring.orgs WHERE org_id = $1", org_id
    )
    return version


async def replace_roster(
    conn: asyncpg.Connection,
    org_id: str,
    version: int,
    periods: Sequence[tuple[str, str, date, date | None]],
    managers: Sequence[tuple[str, str, date, date | None]],
) -> bool:
    """The org's copy of the roster is now `periods` (rep, team, first day, last day) and
    `managers` (team, manager, first day, last day) at `version`; False (and nothing written)
    when the org is unknown or the copy is that version already. In the caller's transaction."""
    row = await conn.fetchrow(
        "SELECT roster_version FROM scoring.orgs WHERE org_id = $1 FOR UPDATE", org_id
    )
    if row is None or row["roster_version"] == version:
        return False
    await conn.execute("DELETE FROM scoring.roster_periods WHERE org_id = $1", org_id)
    await conn.copy_records_to_table(
        "roster_periods",
        schema_name="scoring",
        columns=("org_id", "rep_id", "team_id", "first_day", "last_day"),
        records=[(org_id, rep, team, first, last) for rep, team, first, last in periods],
    )
    await conn.execute("DELETE FROM scoring.roster_managers WHERE org_id = $1", org_id)
    await conn.copy_records_to_table(
        "roster_managers",
        schema_name="scoring",
        columns=("org_id", "team_id", "manager_id", "first_day", "last_day"),
        records=[(org_id, team, manager, first, last) for team, manager, first, last in managers],
    )
    await conn.execute(
        "UPDATE scoring.orgs SET roster_version = $2 WHERE org_id = $1", org_id, version
    )
    return True


async def manager_of(conn: asyncpg.Connection, org_id: str, team_id: str, day: date) -> str | None:
    """The manager the org's roster copy names for a team on a day (None: nobody)."""
    manager: str | None = await conn.fetchval(
        "SELECT manager_id FROM scoring.roster_managers WHERE org_id = $1 AND team_id = $2"
        " AND first_day <= $3 AND (last_day IS NULL OR last_day >= $3)",
        org_id,
        team_id,
        day,
    )
    return manager


async def update_settings(
    conn: asyncpg.Connection, org_id: str, timezone: str, currency: str | None, rebuild: bool
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO scoring.orgs (org_id, timezone, currency, rebuild_requested)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (org_id) DO UPDATE SET timezone = $2,
            currency = coalesce($3, scoring.orgs.currency),
            rebuild_requested = scoring.orgs.rebuild_requested OR $4,
            rebuild_asked = scoring.orgs.rebuild_asked OR $4,
            rebuild_seq = scoring.orgs.rebuild_seq + $4::int, updated_at = now(),
            scored_on = NULL  -- health counts money in the org's currency: judge it again
        RETURNING *
        """,
        org_id,
        timezone,
        currency,
        rebuild,
    )
    assert row is not None
    return row


async def request_rebuild(conn: asyncpg.Connection, org_id: str, timezone: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO scoring.orgs (org_id, timezone, rebuild_requested, rebuild_asked)
        VALUES ($1, $2, true, true)
        ON CONFLICT (org_id) DO UPDATE SET rebuild_requested = true, rebuild_asked = true,
            rebuild_seq = scoring.orgs.rebuild_seq + 1, updated_at = now()
        RETURNING *
        """,
        org_id,
        timezone,
    )
    assert row is not None
    return row


async def orgs_to_rebuild(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT org_id FROM scoring.orgs WHERE rebuild_requested")
    return [r["org_id"] for r in rows]


async def set_rebuild_progress(
    conn: asyncpg.Connection, org_id: str, progress: dict[str, Any]
) -> None:
    await conn.execute(
        "UPDATE scoring.orgs SET rebuild = $2::jsonb WHERE org_id = $1",
        org_id,
        orgjson(progress),
    )


def orgjson(value: Any) -> str:
    return orjson.dumps(value).decode()


async def advance(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    generation: int,
    expected_cursor: str | None,
    cursor: str,
    position: int,
    last_recorded_at: datetime | None,
    folded: int,
    skipped: dict[str, int],
    currency: str | None,
    voids: bool = False,
    scored: bool = True,
    voided: int = 0,
) -> bool:
    """Move the org's cursor if nobody else has (compare-and-set); False: someone did. With
    `voids`, a page whose voids were not corrected asks for a rebuild (in the same transaction,
    so a crash cannot lose it); `voided` counts the events a correction took out.
    `scored`: the page's scores and health were written with it, so they reach its position
    too, unless an earlier page's are still to come (the scored position stays behind)."""
    row = await conn.fetchrow(
        """
        UPDATE scoring.orgs SET cursor = $4, position = $5,
            last_recorded_at = coalesce($6, last_recorded_at), folded = folded + $7,
            voided = voided + $12,
            skipped = (SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
                SELECT k, sum(v::bigint) AS v FROM (
                    SELECT key AS k, value AS v FROM jsonb_each_text(skipped)
                    UNION ALL SELECT key, value FROM jsonb_each_text($8::jsonb)) s GROUP BY k) t),
            currency = coalesce(currency, $9), rebuild_requested = rebuild_requested OR $10,
            rebuild_seq = rebuild_seq + $10::int, updated_at = now(),
            scored_position = CASE WHEN $11 AND scored_position = position
                THEN $5 ELSE scored_position END,
            scored_recorded_at = CASE WHEN $11 AND scored_position = position
                THEN coalesce($6, scored_recorded_at) ELSE scored_recorded_at END
        WHERE org_id = $1 AND generation = $2 AND cursor IS NOT DISTINCT FROM $3
        RETURNING 1
        """,
        org_id,
        generation,
        expected_cursor,
        cursor,
        position,
        last_recorded_at,
        folded,
        orgjson(skipped),
        currency,
        voids,
        scored,
        voided,
    )
    return row is not None


async def advance_next(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    generation: int,
    expected_cursor: str | None,
    cursor: str,
    voids: bool,
) -> bool:
    """Move a catching-up rebuild's cursor (compare-and-set)."""
    row = await conn.fetchrow(
        """
        UPDATE scoring.orgs SET next_cursor = $4, rebuild_requested = rebuild_requested OR $5,
            rebuild_seq = rebuild_seq + $5::int
        WHERE org_id = $1 AND next_generation = $2 AND next_cursor IS NOT DISTINCT FROM $3
        RETURNING 1
        """,
        org_id,
        generation,
        expected_cursor,
        cursor,
        voids,
    )
    return row is not None


async def analyze_generations(conn: asyncpg.Connection) -> None:
    """Fresh planner statistics for the generation tables (in the caller's transaction, which
    the sample then includes). Right after a rebuild COPYed a generation, the statistics still
    say it holds no rows, and PostgreSQL plans a page's look-up of a few keys in it as a walk
    over the whole generation (measured: 180 ms for 250k rows, on every void's correction)
    until autovacuum gets to the table. Only the two columns every look-up leads with: the
    states are large, and sampling them would cost seconds."""
    tables = ", ".join(f"scoring.{t} (org_id, generation)" for t in GENERATION_TABLES)
    await conn.execute(f"ANALYZE {tables}, scoring.kpi_series (org_id)")


async def drop_generations_batch(
    conn: asyncpg.Connection, org_id: str, keep: int, table: str, limit: int
) -> int:
    """Delete at most `limit` rows of `table` of the org's generations but `keep` (each side of
    it a range of the primary key, which leads with org and generation); how many went."""
    deleted = 0
    for side in ("<", ">"):
        status = await conn.execute(
            f"DELETE FROM scoring.{table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM scoring.{table} WHERE org_id = $1 AND generation {side} $2 "
            f"LIMIT $3))",
            org_id,
            keep,
            limit - deleted,
            timeout=None,
        )
        deleted += _rows(status)
        if deleted >= limit:
            break
    return deleted


async def begin_rebuild(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record:
    """Forget any earlier rebuild that did not finish (its rows too); the org's row as it is
    now, whose `rebuild_seq` the swap compares against."""
    row = await conn.fetchrow(
        "UPDATE scoring.orgs SET next_generation = NULL, next_cursor = NULL, rebuild_asked = false "
        "WHERE org_id = $1 RETURNING *",
        org_id,
    )
    assert row is not None
    await drop_generations(conn, org_id, keep=row["generation"])
    return row


async def first_currency(conn: asyncpg.Connection, org_id: str, generation: int) -> str | None:
    """A currency the org's money is in (for an org that has set none)."""
    value: str | None = await conn.fetchval(
        "SELECT currency FROM scoring.kpi_rollups WHERE org_id = $1 AND generation = $2 "
        "AND grain = 'm' AND owner_kind = 'org' AND currency <> '' LIMIT 1",
        org_id,
        generation,
    )
    return value


async def open_next(
    conn: asyncpg.Connection, org_id: str, *, old: int, new: int, cursor: str | None
) -> bool:
    """Open generation `new` for catch-up; False if the org is no longer where the rebuild
    began (its live generation moved, or another rebuild opened one meanwhile)."""
    opened = await conn.fetchval(
        "UPDATE scoring.orgs SET next_generation = $3, next_cursor = $4 "
        "WHERE org_id = $1 AND generation = $2 AND next_generation IS NULL RETURNING true",
        org_id,
        old,
        new,
        cursor,
    )
    return bool(opened)


async def swap_generation(
    conn: asyncpg.Connection,
    org_id: str,
    *,
    old: int,
    new: int,
    next_cursor: str | None,
    position: int,
    last_recorded_at: datetime | None,
    seq: int,
    folded: int,
    voided: int,
    skipped: dict[str, int],
    currency: str | None,
    progress: dict[str, Any],
) -> bool:
    """Make the rebuilt generation live, with its own cursor, unless the live one has gone past
    it (the live follower, fenced by the cursor, reloads from here). The request that started
    the rebuild is settled, unless another one (a new void…) came in since."""
    row = await conn.fetchrow(
        """
        UPDATE scoring.orgs SET generation = $3, next_generation = NULL, next_cursor = NULL,
            cursor = $4, position = $11, last_recorded_at = coalesce($12, last_recorded_at),
            folded = $6, voided = $7, skipped = $8::jsonb, currency = coalesce(currency, $9),
            rebuild_requested = (rebuild_seq <> $5), rebuild = $10::jsonb, updated_at = now()
        WHERE org_id = $1 AND generation = $2 AND next_generation = $3 AND position <= $11
        RETURNING 1
        """,
        org_id,
        old,
        new,
        next_cursor,
        seq,
        folded,
        voided,
        orgjson(skipped),
        currency,
        orgjson(progress),
        position,
        last_recorded_at,
    )
    return row is not None


async def drop_generation(conn: asyncpg.Connection, org_id: str, generation: int) -> None:
    for table in GENERATION_TABLES:
        await conn.execute(
            f"DELETE FROM scoring.{table} WHERE org_id = $1 AND generation = $2",
            org_id,
            generation,
            timeout=None,
        )


async def drop_generations(conn: asyncpg.Connection, org_id: str, keep: int) -> None:
    """Delete every generation of the org but `keep` (old ones, and a crashed rebuild's)."""
    for table in GENERATION_TABLES:
        await conn.execute(
            f"DELETE FROM scoring.{table} WHERE org_id = $1 AND generation <> $2",
            org_id,
            keep,
            timeout=None,
        )


# --------------------------------------------------------------------------- fold state


async def load_entities(
    conn: asyncpg.Connection, org_id: str, generation: int, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """The fold's entities by (kind, key): one index probe per key."""
    by_kind: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind, key in keys:
        by_kind[kind].append(key)
    if not any(by_kind.values()):
        return {}
    # One index range per kind (an OR of them makes the planner filter the org's every row).
    parts = [
        f"SELECT kind, key, state FROM scoring.entities WHERE org_id = $1 AND generation = $2 "
        f"AND kind = '{kind}' AND key = ANY(${n}::text[])"
        for n, kind in enumerate(by_kind, start=3)
    ]
    rows = await conn.fetch(" UNION ALL ".join(parts), org_id, generation, *by_kind.values())
    return {(r["kind"], r["key"]): decode(r["kind"], r["state"]) for r in rows}


async def save_entities(
    conn: asyncpg.Connection, org_id: str, generation: int, items: dict[tuple[str, str], Any]
) -> None:
    if not items:
        return
    kinds, keys = zip(*items, strict=True)
    await conn.execute(
        """
        INSERT INTO scoring.entities (org_id, generation, kind, key, state)
        SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[])
        ON CONFLICT (org_id, generation, kind, key) DO UPDATE SET state = excluded.state
        """,
        org_id,
        generation,
        list(kinds),
        list(keys),
        [encode(v) for v in items.values()],
    )


async def delete_entities(
    conn: asyncpg.Connection, org_id: str, generation: int, keys: Collection[tuple[str, str]]
) -> None:
    """Forget entities a correction left with nothing (all their events voided)."""
    if keys:
        kinds, names = zip(*keys, strict=True)
        await conn.execute(
            "DELETE FROM scoring.entities e USING unnest($3::text[], $4::text[]) AS d(kind, key)"
            " WHERE e.org_id = $1 AND e.generation = $2 AND e.kind = d.kind AND e.key = d.key",
            org_id,
            generation,
            list(kinds),
            list(names),
        )


# The dimensions of a rollup row, as `RollupKey` holds them after its grain and bucket: a
# series of the org (scoring.kpi_series), whose rows (scoring.kpi_values) are keyed by its id,
# a hash of them (`scoring.series_id`, see the migration 20261217_scoring_rollup_series).
SERIES_COLUMNS = (
    "owner_kind",
    "owner_id",
    "team_id",
    "product_line",
    "tier",
    "channel",
    "currency",
    "metric",
)
_SERIES_LIST = ", ".join(SERIES_COLUMNS)
_SERIES_ID = "scoring.series_id({})".format(", ".join(f"k.{c}" for c in SERIES_COLUMNS))
_SAME_SERIES = " AND ".join(f"s.{c} = k.{c}" for c in SERIES_COLUMNS)


class SeriesCollision(RuntimeError):
    """Two dimensions of an org hash to one series id: refused rather than summed together."""


def _arrays(first: int, count: int) -> str:
    """`$first::text[], …`: `count` text arrays of a statement's parameters."""
    return ", ".join(f"${i}::text[]" for i in range(first, first + count))


def _rollup_columns(keys: Iterable[RollupKey]) -> list[list[Any]]:
    """The keys as ten columns (grain, bucket as ISO text, then the series' dimensions).

    Days as text: asyncpg asks of every element of a date array whether it is a nested sequence
    (an ABC isinstance check, ~1 µs), of a string it does not."""
    columns: list[list[Any]] = [[] for _ in range(10)]
    for key in keys:
        for i, part in enumerate(key):
            columns[i].append(part)
    columns[1] = [day.isoformat() for day in columns[1]]
    return columns


async def add_series(conn: asyncpg.Connection, org_id: str, columns: list[list[Any]]) -> None:
    """Add the org's series named by the eight dimension columns that it does not have yet, and
    check that each of them is now stored under its id with its own dimensions.

    Under the org's series lock (held to the end of the caller's transaction), so two writers
    of one org (a page and a rebuild) never wait for each other's series in opposite orders; a
    rebuild adds its series in a short transaction before its long one (`FactStage.series`),
    so a page never waits for that. Every writer of an org's series holds that lock, so one
    look tells which series are missing and which collide, and only the missing are inserted:
    a follower's pages name series it stored long ago (bench.rollup_write: inserting every
    one and then checking every one was a quarter of a page's write)."""
    await _lock_series(conn, org_id)
    distinct = f"(SELECT DISTINCT * FROM unnest({_arrays(2, 8)}) AS k({_SERIES_LIST}))"
    found = await conn.fetchrow(
        f"""
        WITH k AS (SELECT k.*, {_SERIES_ID} AS id FROM {distinct} k),
        looked AS MATERIALIZED (
            SELECT k.*, s.series_id IS NULL AS missing,
                   s.series_id IS NOT NULL AND NOT ({_SAME_SERIES}) AS wrong
            FROM k LEFT JOIN scoring.kpi_series s ON s.org_id = $1 AND s.series_id = k.id
        ), added AS (
            INSERT INTO scoring.kpi_series (org_id, series_id, {_SERIES_LIST})
            SELECT $1::text, id, {_SERIES_LIST} FROM looked WHERE missing
            ORDER BY id
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FILTER (WHERE wrong) AS wrong, count(*) FILTER (WHERE missing) AS missing,
               (SELECT count(*) FROM added) AS added
        FROM looked
        """,
        org_id,
        *columns,
    )
    assert found is not None
    if found["wrong"]:
        raise SeriesCollision(
            f"{found['wrong']} series of org {org_id} share an id with other dimensions"
        )
    if found["added"] != found["missing"]:  # two new ones share an id: which, the check says
        await _check_series(conn, org_id, distinct, *columns)


async def _lock_series(conn: asyncpg.Connection, org_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", SERIES_CLASS, org_id)


def _inserted_all(status: str, distinct: int) -> bool:
    """Whether an insert of `distinct` series added every one (then none shares an id with a
    stored series or with another of them, and there is nothing to check)."""
    return _rows(status) == distinct


def _rows(status: str) -> int:
    """The row count of a command's status (`INSERT 0 12`, `SELECT 12`)."""
    return int(status.rsplit(" ", 1)[-1])


async def _check_series(conn: asyncpg.Connection, org_id: str, keys: str, *args: Any) -> None:
    """Raise SeriesCollision unless every series of `keys` (a relation of the dimensions) is
    stored under its id with these dimensions (a statement of its own: it sees what the insert
    before it added, in this transaction or in others)."""
    wrong = await conn.fetchval(
        f"""
        SELECT count(*) FROM {keys} k
        LEFT JOIN scoring.kpi_series s ON s.org_id = $1 AND s.series_id = {_SERIES_ID}
        WHERE s.series_id IS NULL OR NOT ({_SAME_SERIES})
        """,
        org_id,
        *args,
        timeout=None,
    )
    if wrong:
        raise SeriesCollision(f"{wrong} series of org {org_id} share an id with other dimensions")


async def add_rollups(
    conn: asyncpg.Connection, org_id: str, generation: int, rollups: Rollups
) -> None:
    """Add `rollups` to the generation's rows (upserted: summed into the rows there).

    Each distinct series is sent once, and each row names it by its place in that list: a
    series has a few rows in a page (its days and its month), and every element sent costs
    asyncpg ~0.4 µs to encode, every series id PostgreSQL a hash of eight texts."""
    if not rollups:
        return
    places: dict[tuple[str, ...], int] = {}
    grains: list[str] = []
    buckets: list[str] = []  # ISO text: see `_rollup_columns`
    refs: list[int] = []
    for key in rollups:
        grains.append(key[0])
        buckets.append(key[1].isoformat())
        refs.append(places.setdefault(key[2:], len(places) + 1))
    series = [list(column) for column in zip(*places, strict=True)]
    await add_series(conn, org_id, series)
    values = [str(v) for v in rollups.values()]  # text encodes far cheaper than numeric
    await conn.execute(
        f"""
        INSERT INTO scoring.kpi_values (org_id, generation, series_id, grain, bucket, value)
        SELECT $1, $2, s.series_id, r.grain, r.bucket, r.value
        FROM unnest($3::text[], $4::text[]::date[], $5::int[], $6::text[]::numeric[])
                AS r(grain, bucket, place, value)
        JOIN (SELECT k.place, {_SERIES_ID} AS series_id
              FROM unnest({_arrays(7, 8)}) WITH ORDINALITY AS k({_SERIES_LIST}, place)) s
            ON s.place = r.place
        ON CONFLICT ON CONSTRAINT pk_kpi_values
        DO UPDATE SET value = scoring.kpi_values.value + excluded.value
        """,
        org_id,
        generation,
        grains,
        buckets,
        refs,
        values,
        *series,
    )


async def drop_zero_rollups(
    conn: asyncpg.Connection, org_id: str, generation: int, keys: Iterable[RollupKey]
) -> None:
    """Delete the rows of `keys` that now hold zero (a correction took out all that made them),
    so a rep whose only visit was voided is not listed with 0, as after a rebuild."""
    columns = _rollup_columns(keys)
    if not columns[0]:
        return
    await conn.execute(
        f"""
        DELETE FROM scoring.kpi_values v
        USING unnest($3::text[], $4::text[]::date[], {_arrays(5, 8)})
                AS k(grain, bucket, {_SERIES_LIST})
        WHERE v.org_id = $1 AND v.generation = $2 AND v.series_id = {_SERIES_ID}
            AND v.grain = k.grain AND v.bucket = k.bucket AND v.value = 0
        """,
        org_id,
        generation,
        *columns,
    )


def _win_record(org_id: str, generation: int, w: Win) -> tuple[Any, ...]:
    return (
        org_id,
        generation,
        w.deal,
        w.account_id,
        w.day,
        w.rep_id,
        w.team_id,
        w.product_line,
        w.tier,
        w.channel,
    )


async def add_wins(
    conn: asyncpg.Connection, org_id: str, generation: int, wins: Sequence[Win]
) -> None:
    if wins:
        await conn.executemany(
            f"INSERT INTO scoring.wins ({', '.join(WIN_COLUMNS)}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            [_win_record(org_id, generation, w) for w in wins],
        )


async def replace_wins(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    deals: Collection[str],
    wins: Sequence[Win],
) -> None:
    """The wins of `deals` are now `wins` (a correction refolded them)."""
    if deals:
        await conn.execute(
            "DELETE FROM scoring.wins WHERE org_id = $1 AND generation = $2"
            " AND deal = ANY($3::text[])",
            org_id,
            generation,
            list(deals),
        )
    await add_wins(conn, org_id, generation, wins)


class FactStage:
    """A rebuild's fact sums, COPYed into a temporary table of its connection as the replay
    goes; `write` adds them up into day and month rows (the fold's `expand`, in SQL)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def open(self) -> None:
        await self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS scoring_stage (metric text, day date, rep_id text, "
            "team_id text, product_line text, tier text, channel text, currency text, "
            "value numeric); TRUNCATE scoring_stage"
        )

    async def add(self, sums: Any) -> None:
        if sums:
            await self._conn.copy_records_to_table(
                "scoring_stage",
                records=((*key, value) for key, value in sums.items()),
                timeout=None,
            )

    async def reset(self) -> None:
        await self._conn.execute("TRUNCATE scoring_stage")

    async def series(self, org_id: str) -> None:
        """Add the org's series the staged sums name that it does not have yet, in a transaction
        of their own before the rebuild's (series are shared by every generation and never
        change, so one added for a rebuild that then fails is harmless): the live follower may
        add series meanwhile, and must not wait for the rebuild's long transaction to do so."""
        async with self._conn.transaction():
            await self._conn.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
            await self._conn.execute("DROP TABLE IF EXISTS scoring_stage_series")
            created = await self._conn.execute(
                """
                CREATE TEMP TABLE scoring_stage_series AS
                SELECT DISTINCT o.kind AS owner_kind, o.owner AS owner_id, o.team AS team_id,
                       c.product_line, c.tier, c.channel, c.currency, c.metric
                FROM (SELECT DISTINCT rep_id, team_id, product_line, tier, channel, currency,
                             metric FROM scoring_stage) c
                CROSS JOIN LATERAL (VALUES ('rep', c.rep_id, c.team_id), ('org', '', ''),
                                           ('team', c.team_id, c.team_id)) AS o(kind, owner, team)
                WHERE o.kind <> 'team' OR c.team_id <> ''
                """,
                timeout=None,
            )
            await _lock_series(self._conn, org_id)
            status = await self._conn.execute(
                f"""
                INSERT INTO scoring.kpi_series (org_id, series_id, {_SERIES_LIST})
                SELECT $1::text, {_SERIES_ID}, k.* FROM scoring_stage_series k
                ORDER BY 2
                ON CONFLICT DO NOTHING
                """,
                org_id,
                timeout=None,
            )
            if not _inserted_all(status, _rows(created)):
                await _check_series(self._conn, org_id, "scoring_stage_series")
            await self._conn.execute("DROP TABLE scoring_stage_series")

    async def write(self, org_id: str, generation: int) -> None:
        """Day rows per rep and team; month rows per rep, team and org (as `expand`), each
        under its series (`series` has added them). Run inside the swap's transaction; a large
        org's sums take a while, so no time limit and room to aggregate in memory. The months
        are summed from the days, first per rep and team, and only then for each owner: at 1M
        events that is ~320k rows through the owner expansion instead of every staged sum three
        times. The rows go in in key order (series, grain, bucket), a cheap sort of integers
        and dates: PostgreSQL then appends to the primary key's index instead of writing all
        over it (README, "Scoring behind a bulk import")."""
        await self._conn.execute(f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'")
        await self._conn.execute(
            f"""
            WITH days AS MATERIALIZED (
                SELECT s.day, s.rep_id, s.team_id, s.product_line, s.tier, s.channel,
                       s.currency, s.metric, sum(s.value) AS value
                FROM scoring_stage s
                GROUP BY s.day, s.rep_id, s.team_id, s.product_line, s.tier, s.channel,
                         s.currency, s.metric
            ), months AS MATERIALIZED (  -- per rep and team: a few rows a day row's month
                SELECT d.day - (extract(day FROM d.day)::int - 1) AS month, d.rep_id, d.team_id,
                       d.product_line, d.tier, d.channel, d.currency, d.metric,
                       sum(d.value) AS value
                FROM days d
                GROUP BY 1, d.rep_id, d.team_id, d.product_line, d.tier, d.channel, d.currency,
                         d.metric
            ), k AS (
                SELECT 'd'::text AS grain, d.day AS bucket, 'rep' AS owner_kind,
                       d.rep_id AS owner_id, d.team_id, d.product_line, d.tier, d.channel,
                       d.currency, d.metric, d.value
                FROM days d
                UNION ALL
                SELECT 'm', m.month, o.kind, o.owner, o.team, m.product_line, m.tier,
                       m.channel, m.currency, m.metric, sum(m.value)
                FROM months m
                CROSS JOIN LATERAL (VALUES ('org', '', ''), ('rep', m.rep_id, m.team_id),
                                           ('team', m.team_id, m.team_id)) AS o(kind, owner, team)
                WHERE o.kind = 'org' OR (o.kind = 'rep' AND m.rep_id <> '')
                   OR (o.kind = 'team' AND m.team_id <> '')
                GROUP BY m.month, o.kind, o.owner, o.team, m.product_line, m.tier, m.channel,
                         m.currency, m.metric
            )
            INSERT INTO scoring.kpi_values (org_id, generation, series_id, grain, bucket, value)
            SELECT $1::text, $2::int, {_SERIES_ID}, k.grain, k.bucket, k.value
            FROM k
            ORDER BY 3, k.grain, k.bucket
            """,
            org_id,
            generation,
            timeout=None,
        )
        await self._conn.execute("DROP TABLE scoring_stage")


async def copy_generation(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    wins: Sequence[Win],
    entities: Iterable[tuple[str, str, str]],
) -> None:
    """Bulk-write a rebuilt generation's wins and entities (COPY; each entity's state as
    codec.py encodes it)."""
    await conn.copy_records_to_table(
        "wins",
        schema_name="scoring",
        columns=WIN_COLUMNS,
        records=(_win_record(org_id, generation, w) for w in wins),
        timeout=None,
    )
    await conn.copy_records_to_table(
        "entities",
        schema_name="scoring",
        columns=("org_id", "generation", "kind", "key", "state"),
        records=((org_id, generation, kind, key, state) for kind, key, state in entities),
        timeout=None,
    )


# --------------------------------------------------------------------------- reads


def _scope_sql(scope: Scope, params: list[Any], grain: str) -> str:
    owner = scope.owner
    if grain == "d":  # day rows are per rep (and team) only; a team's or the org's days sum them
        sql = " AND owner_kind = 'rep'"
        if owner.kind is not OwnerKind.ORG:
            params.append(owner.id)
            column = "owner_id" if owner.kind is OwnerKind.REP else "team_id"
            sql += f" AND {column} = ${len(params)}"
    else:
        params += [owner.kind.value, owner.id]
        sql = f" AND owner_kind = ${len(params) - 1} AND owner_id = ${len(params)}"
    if scope.team is not None:
        params.append(scope.team)
        sql += f" AND team_id = ${len(params)}"
    for column, value in scope.cuts.as_dict().items():
        if value is not None:
            params.append(value)
            sql += f" AND {column} = ${len(params)}"
    return sql


# A rep's day (row or win) counts for the team the roster places the rep in that day; a day the
# roster places the rep in no team (before the rep's first entry, or after leaving) counts for
# the team the rep's events named (scoring/roster.py).
_IN_ROSTER = (
    " LEFT JOIN scoring.roster_periods p ON p.org_id = v.org_id AND p.rep_id = {rep}"
    " AND {day} >= p.first_day AND (p.last_day IS NULL OR {day} <= p.last_day)"
)
_ROSTER_TEAM = "coalesce(p.team_id, v.team_id)"


def _rostered_scope_sql(scope: Scope, params: list[Any], rep_column: str) -> str:
    """The scope over rows `v` joined to the roster (`_IN_ROSTER`): a rep by `rep_column`, a
    team (and a manager's team limit) by the team the roster places the rep in; the cut."""
    sql = ""
    owner = scope.owner
    if owner.kind is not OwnerKind.ORG:
        params.append(owner.id)
        column = rep_column if owner.kind is OwnerKind.REP else _ROSTER_TEAM
        sql += f" AND {column} = ${len(params)}"
    if scope.team is not None:
        params.append(scope.team)
        sql += f" AND {_ROSTER_TEAM} = ${len(params)}"
    return sql + _cuts_sql(scope, params, "v.")


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _cuts_sql(scope: Scope, params: list[Any], alias: str = "") -> str:
    sql = ""
    for column, value in scope.cuts.as_dict().items():
        if value is not None:
            params.append(value)
            sql += f" AND {alias}{column} = ${len(params)}"
    return sql


def _metrics_sql(
    metrics: Collection[str], prefixes: tuple[str, ...], params: list[Any], alias: str = ""
) -> str:
    wanted: list[str] = []
    if metrics:
        params.append(list(metrics))
        wanted.append(f"{alias}metric = ANY(${len(params)}::text[])")
    for prefix in prefixes:
        params.append(prefix + "%")
        wanted.append(f"{alias}metric LIKE ${len(params)}")
    return " AND (" + " OR ".join(wanted or ["false"]) + ")"


class SqlSource:
    """The live projection of one org's generation. With `roster` (the org has one), what is
    read for a team counts each rep's days for the team the roster places the rep in then."""

    def __init__(
        self, pool: asyncpg.Pool, org_id: str, generation: int, *, roster: bool = False
    ) -> None:
        self._pool, self._org, self._generation = pool, org_id, generation
        self._roster = roster

    def _by_roster(self, scope: Scope) -> bool:
        return self._roster and (scope.owner.kind is OwnerKind.TEAM or scope.team is not None)

    async def rows(
        self,
        scope: Scope,
        grain: str,
        first: date,
        last: date,
        *,
        metrics: Collection[str] = (),
        prefixes: tuple[str, ...] = (),
    ) -> list[Row]:
        if self._by_roster(scope):
            return await self._rostered_rows(scope, grain, first, last, metrics, prefixes)
        params: list[Any] = [self._org, self._generation, grain, first, last]
        where = "org_id = $1 AND generation = $2 AND grain = $3 AND bucket BETWEEN $4 AND $5"
        where += _scope_sql(scope, params, grain)
        where += _metrics_sql(metrics, prefixes, params)
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT bucket, metric, currency, sum(value) AS value FROM scoring.kpi_rollups "
                f"WHERE {where} GROUP BY bucket, metric, currency",
                *params,
            )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def _rostered_rows(
        self,
        scope: Scope,
        grain: str,
        first: date,
        last: date,
        metrics: Collection[str],
        prefixes: tuple[str, ...],
    ) -> list[Row]:
        """A team's rows from its members' day rows, by the roster (months summed from days)."""
        params: list[Any] = [self._org, self._generation, first, last]
        bucket = "v.bucket"
        where = (
            "v.org_id = $1 AND v.generation = $2 AND v.grain = 'd' AND v.owner_kind = 'rep'"
            " AND v.bucket BETWEEN $3 AND $4"
        )
        if grain == "m":  # the months whose first day is in [first, last], from their days
            bucket = "date_trunc('month', v.bucket)::date"
            params[2:4] = [first.replace(day=1), _month_end(last)]
            params += [first, last]
            where += f" AND {bucket} BETWEEN $5 AND $6"
        where += _rostered_scope_sql(scope, params, "v.owner_id")
        where += _metrics_sql(metrics, prefixes, params, "v.")
        joined = _IN_ROSTER.format(rep="v.owner_id", day="v.bucket")
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {bucket}, v.metric, v.currency, sum(v.value) FROM scoring.kpi_rollups v"
                f"{joined} WHERE {where} GROUP BY 1, 2, 3",
                *params,
            )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def stocks(
        self, scope: Scope, ends: Sequence[date], prefixes: tuple[str, ...]
    ) -> list[dict[tuple[str, str], Value]] | None:
        """Each end's running sums, with each rep placed by the roster on that end day."""
        if not self._by_roster(scope):
            return None
        params: list[Any] = [self._org, self._generation, sorted(set(ends))]
        where = "v.org_id = $1 AND v.generation = $2 AND v.grain = 'd' AND v.owner_kind = 'rep'"
        where += _rostered_scope_sql(scope, params, "v.owner_id")
        where += _metrics_sql((), prefixes, params, "v.")
        joined = _IN_ROSTER.format(rep="v.owner_id", day="e.day")  # placed on the end day
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT e.day, v.metric, v.currency, sum(v.value)"
                " FROM unnest($3::date[]) AS e(day)"
                f" JOIN scoring.kpi_rollups v ON v.bucket <= e.day{joined}"
                f" WHERE {where} GROUP BY 1, 2, 3",
                *params,
            )
        sums: dict[date, dict[tuple[str, str], Value]] = {}
        for day, metric, currency, value in rows:
            sums.setdefault(day, {})[(metric, currency)] = value
        return [sums.get(end, {}) for end in ends]

    async def wins(self, scope: Scope, first: date, last: date) -> list[tuple[str, date]]:
        if self._by_roster(scope):
            return await self._rostered_wins(scope, first, last)
        params: list[Any] = [self._org, self._generation, first, last]
        where = "org_id = $1 AND generation = $2 AND day BETWEEN $3 AND $4"
        owner = scope.owner
        if owner.kind is not OwnerKind.ORG:
            params.append(owner.id)
            where += (
                f" AND {'rep_id' if owner.kind is OwnerKind.REP else 'team_id'} = ${len(params)}"
            )
        if scope.team is not None:
            params.append(scope.team)
            where += f" AND team_id = ${len(params)}"
        for column, value in scope.cuts.as_dict().items():
            if value is not None:
                params.append(value)
                where += f" AND {column} = ${len(params)}"
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT account_id, day FROM scoring.wins WHERE {where}", *params
            )
        return [(r[0], r[1]) for r in rows]

    async def _rostered_wins(self, scope: Scope, first: date, last: date) -> list[tuple[str, date]]:
        params: list[Any] = [self._org, self._generation, first, last]
        where = "v.org_id = $1 AND v.generation = $2 AND v.day BETWEEN $3 AND $4"
        where += _rostered_scope_sql(scope, params, "v.rep_id")
        joined = _IN_ROSTER.format(rep="v.rep_id", day="v.day")
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT v.account_id, v.day FROM scoring.wins v{joined} WHERE {where}", *params
            )
        return [(r[0], r[1]) for r in rows]

    async def first_wins(self, accounts: Collection[str]) -> dict[str, date]:
        if not accounts:
            return {}
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT account_id, min(day) FROM scoring.wins WHERE org_id = $1 AND generation = $2"
                " AND account_id = ANY($3::text[]) GROUP BY account_id",
                self._org,
                self._generation,
                list(accounts),
            )
        return {r[0]: r[1] for r in rows}

    async def by_rep(
        self, grain: str, first: date, last: date, metrics: Collection[str], team: str | None
    ) -> list[tuple[str, str, str, Any]]:
        """(rep, stored metric, currency, sum) over [first, last], for the leaderboard."""
        if self._roster and team is not None:  # the team's members on each day
            joined = _IN_ROSTER.format(rep="v.owner_id", day="v.bucket")
            async with self._pool.acquire() as conn:
                rostered = await conn.fetch(
                    "SELECT v.owner_id, v.metric, v.currency, sum(v.value)"
                    f" FROM scoring.kpi_rollups v{joined}"
                    " WHERE v.org_id = $1 AND v.generation = $2 AND v.grain = 'd'"
                    " AND v.owner_kind = 'rep' AND v.owner_id <> '' AND v.bucket BETWEEN $3 AND $4"
                    f" AND v.metric = ANY($5::text[]) AND {_ROSTER_TEAM} = $6"
                    " GROUP BY 1, 2, 3",
                    *(self._org, self._generation, first, last, list(metrics), team),
                )
            return [(r[0], r[1], r[2], r[3]) for r in rostered]
        params: list[Any] = [self._org, self._generation, grain, first, last, list(metrics)]
        where = (
            "org_id = $1 AND generation = $2 AND grain = $3 AND owner_kind = 'rep' "
            "AND owner_id <> '' AND bucket BETWEEN $4 AND $5 AND metric = ANY($6::text[])"
        )
        if team is not None:
            params.append(team)
            where += f" AND team_id = ${len(params)}"
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT owner_id, metric, currency, sum(value) FROM scoring.kpi_rollups "
                f"WHERE {where} GROUP BY owner_id, metric, currency",
                *params,
            )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def members(self, first: date, last: date, team: str | None) -> list[str]:
        """The reps the roster places in a team (`team`, or any) on some day of [first, last]."""
        params: list[Any] = [self._org, first, last]
        where = "org_id = $1 AND first_day <= $3 AND (last_day IS NULL OR last_day >= $2)"
        if team is not None:
            params.append(team)
            where += " AND team_id = $4"
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT DISTINCT rep_id FROM scoring.roster_periods WHERE {where}", *params
            )
        return [r[0] for r in rows]


async def export_page(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    after: tuple[int, date] | None,
    limit: int,
    rep: str | None,
    team: str | None,
) -> list[asyncpg.Record]:
    """Day rows (one per rep, team, day, metric and cut) in key order (series, day) after the
    keyset `after`: series are the org's for good, so a cursor outlives a rebuild."""
    params: list[Any] = [org_id, generation, limit]
    where = "v.org_id = $1 AND v.generation = $2 AND v.grain = 'd' AND s.owner_kind = 'rep'"
    if rep is not None:
        params.append(rep)
        where += f" AND s.owner_id = ${len(params)}"
    if team is not None:
        params.append(team)
        where += f" AND s.team_id = ${len(params)}"
    if after is not None:
        params += list(after)
        where += f" AND (v.series_id, v.bucket) > (${len(params) - 1}, ${len(params)})"
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT v.series_id, s.owner_id AS rep_id, v.bucket, s.metric, s.team_id,
               s.product_line, s.tier, s.channel, s.currency, v.value
        FROM scoring.kpi_values v
        JOIN scoring.kpi_series s ON s.org_id = v.org_id AND s.series_id = v.series_id
        WHERE {where}
        ORDER BY v.series_id, v.bucket
        LIMIT $3
        """,
        *params,
    )
    return rows


async def funnel_cohorts(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    created_from: datetime,
    created_before: datetime,
    *,
    tiers: bool = False,
) -> tuple[dict[str, Lead], list[Deal], dict[str, str]]:
    """What the cohort funnel counts: the leads created in [created_from, created_before)
    by stream, every deal (a lead's deal may open any time later; one folded before deals
    kept their lead gets it from its profile), and, with `tiers`, the tier of each of those
    leads' accounts."""
    created = Lead._fields.index("created_at")  # the entity is stored as an array…
    rows = await conn.fetch(
        f"""
        SELECT key, state FROM (
            SELECT key, state, (CASE WHEN left(state, 1) = '{{'
                THEN state::jsonb ->> 'created_at'  -- …or, folded long ago, an object
                ELSE state::jsonb ->> {created} END)::timestamptz AS created
            FROM scoring.entities WHERE org_id = $1 AND generation = $2 AND kind = 'leads'
        ) l WHERE created >= $3 AND created < $4
        """,
        org_id,
        generation,
        created_from,
        created_before,
    )
    leads: dict[str, Lead] = {r["key"]: decode("leads", r["state"]) for r in rows}
    rows = await conn.fetch(
        "SELECT key, state FROM scoring.entities WHERE org_id = $1 AND generation = $2 "
        "AND kind = 'deals'",
        org_id,
        generation,
    )
    deals: dict[str, Deal] = {r["key"]: decode("deals", r["state"]) for r in rows}
    # A deal folded before deals kept their lead: its profile knows it (the same `lead_id`).
    unlinked = [key for key, deal in deals.items() if not deal.lead]
    if unlinked:
        lead = Prospect._fields.index("lead")
        rows = await conn.fetch(
            f"""
            SELECT key, CASE WHEN left(state, 1) = '{{' THEN state::jsonb ->> 'lead'
                ELSE state::jsonb ->> {lead} END AS lead
            FROM scoring.entities WHERE org_id = $1 AND generation = $2
                AND kind = 'prospects' AND key = ANY($3::text[])
            """,
            org_id,
            generation,
            unlinked,
        )
        for r in rows:
            if r["lead"]:
                deals[r["key"]] = deals[r["key"]]._replace(lead=r["lead"])
    by_account: dict[str, str] = {}
    if tiers:
        accounts = sorted({lead.account_id for lead in leads.values() if lead.account_id})
        rows = await conn.fetch(
            "SELECT key, state FROM scoring.entities WHERE org_id = $1 AND generation = $2 "
            "AND kind = 'accounts' AND key = ANY($3::text[])",
            org_id,
            generation,
            accounts,
        )
        by_account = {r["key"]: decode("accounts", r["state"]).tier for r in rows}
    return leads, list(deals.values()), by_account


# --------------------------------------------------------------------------- reps


async def latest_day(
    conn: asyncpg.Connection, org_id: str, generation: int, rep_id: str
) -> tuple[str, date] | None:
    """The team and day of the rep's latest day rollup that still counts something (a voided
    event leaves its rows at zero: a correction places nobody), None without any.

    On a day spent in two teams, the first team by id (a roster will settle it)."""
    row = await conn.fetchrow(
        """
        SELECT s.team_id, v.bucket
        FROM scoring.kpi_series s
        CROSS JOIN LATERAL (  -- each of the rep's series: its latest day row, from the index
            SELECT bucket FROM scoring.kpi_values v
            WHERE v.org_id = s.org_id AND v.generation = $2 AND v.series_id = s.series_id
              AND v.grain = 'd' AND v.value <> 0
            ORDER BY v.bucket DESC
            LIMIT 1
        ) v
        WHERE s.org_id = $1 AND s.owner_kind = 'rep' AND s.owner_id = $3
        ORDER BY v.bucket DESC, s.team_id
        LIMIT 1
        """,
        org_id, generation, rep_id,
    )  # fmt: skip
    return None if row is None else (row["team_id"], row["bucket"])


# --------------------------------------------------------------------------- priority and health

SCORE_COLUMNS = (
    "org_id",
    "generation",
    "kind",
    "key",
    "rep_id",
    "team_id",
    "score",
    "tier",
    "next_touch_due",
    "model_version",
    "doc",
)
HEALTH_COLUMNS = (
    "org_id",
    "generation",
    "account_id",
    "rep_id",
    "team_id",
    "lifecycle",
    "at_risk",
    "won_12m",
    "doc",
)


async def save_scores(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    scores: Sequence[Any],
    closed: Collection[str],
) -> None:
    """Upsert the scores of open prospects (`ScoreRow`s) and drop those of closed ones."""
    if closed:  # by the primary key: the kind is the stream's prefix
        await conn.execute(
            "DELETE FROM scoring.scores s USING unnest($3::text[]) AS c(key)"
            " WHERE s.org_id = $1 AND s.generation = $2"
            " AND s.kind = split_part(c.key, '-', 1) AND s.key = c.key",
            org_id,
            generation,
            list(closed),
        )
    if scores:
        await conn.execute(
            """
            INSERT INTO scoring.scores (org_id, generation, kind, key, rep_id, team_id, score,
                tier, next_touch_due, model_version, doc)
            SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[],
                $7::smallint[], $8::text[], $9::date[], $10::int[], $11::text[])
            ON CONFLICT (org_id, generation, kind, key) DO UPDATE SET rep_id = excluded.rep_id,
                team_id = excluded.team_id, score = excluded.score, tier = excluded.tier,
                next_touch_due = excluded.next_touch_due,
                model_version = excluded.model_version, doc = excluded.doc
            """,
            org_id,
            generation,
            *(list(column) for column in zip(*scores, strict=True)),
        )


async def save_health(
    conn: asyncpg.Connection, org_id: str, generation: int, rows: Sequence[Any]
) -> None:
    """Upsert accounts' health (`HealthRow`s)."""
    if rows:
        await conn.execute(
            """
            INSERT INTO scoring.health (org_id, generation, account_id, rep_id, team_id,
                lifecycle, at_risk, won_12m, doc)
            SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[],
                $7::boolean[], $8::text[]::numeric[], $9::text[])
            ON CONFLICT (org_id, generation, account_id) DO UPDATE SET
                rep_id = excluded.rep_id, team_id = excluded.team_id,
                lifecycle = excluded.lifecycle, at_risk = excluded.at_risk,
                won_12m = excluded.won_12m, doc = excluded.doc
            """,
            org_id,
            generation,
            *(list(column) for column in zip(*rows, strict=True)),
        )


async def delete_health(
    conn: asyncpg.Connection, org_id: str, generation: int, accounts: Collection[str]
) -> None:
    """Drop the health of accounts nothing is left of."""
    if accounts:
        await conn.execute(
            "DELETE FROM scoring.health WHERE org_id = $1 AND generation = $2"
            " AND account_id = ANY($3::text[])",
            org_id,
            generation,
            list(accounts),
        )


async def replace_scores_and_health(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    scores: Sequence[Any],
    health_rows: Sequence[Any],
) -> None:
    """All of a generation's scores and health at once (a rebuild, a rescore): COPY."""
    for table in ("scores", "health"):
        await conn.execute(
            f"DELETE FROM scoring.{table} WHERE org_id = $1 AND generation = $2",
            org_id,
            generation,
            timeout=None,
        )
    await conn.copy_records_to_table(
        "scores",
        schema_name="scoring",
        columns=SCORE_COLUMNS,
        records=((org_id, generation, *row) for row in scores),
        timeout=None,
    )
    await conn.copy_records_to_table(
        "health",
        schema_name="scoring",
        columns=HEALTH_COLUMNS,
        records=((org_id, generation, *row[:5], Decimal(row[5]), row[6]) for row in health_rows),
        timeout=None,
    )


async def entity_states(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    kind: str,
    keys: Collection[str] | None = None,
) -> list[str]:
    """Every entity of one kind of a generation (or those of `keys`) as stored, for a worker
    process to decode."""
    if keys is None:
        rows = await conn.fetch(
            "SELECT state FROM scoring.entities "
            "WHERE org_id = $1 AND generation = $2 AND kind = $3",
            org_id,
            generation,
            kind,
            timeout=None,
        )
    else:
        rows = await conn.fetch(
            "SELECT state FROM scoring.entities WHERE org_id = $1 AND generation = $2 "
            "AND kind = $3 AND key = ANY($4::text[])",
            org_id,
            generation,
            kind,
            list(keys),
            timeout=None,
        )
    return [r["state"] for r in rows]


async def entities_of_kind(
    conn: asyncpg.Connection, org_id: str, generation: int, kind: str
) -> list[Any]:
    """Every entity of one kind of a generation, decoded."""
    return [decode(kind, state) for state in await entity_states(conn, org_id, generation, kind)]


async def mark_scored(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    day: date,
    models: str,
    *,
    up_to: tuple[int, datetime | None] | None = None,
) -> None:
    """Every score and health of the generation is for `day` and `models`, and goes as far as
    the org's position, or as `up_to` (position, recorded at) when pages went on meanwhile
    (the caller holds the org's row, or swaps in the generation)."""
    if up_to is None:
        sql = "scored_position = position, scored_recorded_at = last_recorded_at"
    else:
        sql = (
            "scored_position = greatest(scored_position, $5), scored_recorded_at = CASE "
            "WHEN scored_position < $5 THEN $6 ELSE scored_recorded_at END"
        )
    await conn.execute(
        f"UPDATE scoring.orgs SET scored_on = $3, scored_models = $4, {sql} "
        "WHERE org_id = $1 AND generation = $2",
        org_id,
        generation,
        day,
        models,
        *(up_to or ()),
    )


async def add_outcomes(conn: asyncpg.Connection, org_id: str, outcomes: int) -> None:
    if outcomes:
        await conn.execute(
            "UPDATE scoring.orgs SET outcomes = outcomes + $2 WHERE org_id = $1", org_id, outcomes
        )


async def set_outcomes(conn: asyncpg.Connection, org_id: str, outcomes: int) -> None:
    await conn.execute("UPDATE scoring.orgs SET outcomes = $2 WHERE org_id = $1", org_id, outcomes)


async def priority_page(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    *,
    kind: str,
    rep: str | None,
    team: str | None,
    tier: str | None,
    after: tuple[int, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Open leads or deals by score (highest first, then by id), after the keyset `after`."""
    params: list[Any] = [org_id, generation, kind, limit]
    where = "org_id = $1 AND generation = $2 AND kind = $3"
    for column, value in (("rep_id", rep), ("team_id", team), ("tier", tier)):
        if value is not None:
            params.append(value)
            where += f" AND {column} = ${len(params)}"
    if after is not None:
        params += [after[0], after[1]]
        s, k = f"${len(params) - 1}::smallint", f"${len(params)}::text"
        # `score <= s` is implied, but lets the index start at the cursor.
        where += f" AND score <= {s} AND (score < {s} OR (score = {s} AND key > {k}))"
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT key, score, doc, next_touch_due FROM scoring.scores WHERE {where} "
        "ORDER BY score DESC, key LIMIT $4",
        *params,
    )
    return rows


async def get_score(
    conn: asyncpg.Connection, org_id: str, generation: int, key: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT key, rep_id, team_id, doc FROM scoring.scores "
        "WHERE org_id = $1 AND generation = $2 AND kind = $3 AND key = $4",
        org_id,
        generation,
        key.split("-", 1)[0],
        key,
    )
    return row


async def score_export_page(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    after: tuple[str, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    params: list[Any] = [org_id, generation, limit]
    where = "org_id = $1 AND generation = $2"
    if after is not None:
        params += list(after)
        where += " AND (kind, key) > ($4, $5)"
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT kind, key, doc FROM scoring.scores WHERE {where} ORDER BY kind, key LIMIT $3",
        *params,
    )
    return rows


def _health_ranked(where: str) -> str:
    """Health rows (those matching `where`, on `h`) with the org's won revenue ranked before
    each and in all, for the tier suggestion: the ranking reads only the revenue index, and
    the rows' documents are joined in for the matching rows alone."""
    return f"""
    WITH ranked AS (
        SELECT account_id, won_12m,
            coalesce(sum(won_12m) OVER (ORDER BY won_12m DESC, account_id
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
            sum(won_12m) OVER () AS total
        FROM scoring.health WHERE org_id = $1 AND generation = $2
    )
    SELECT h.account_id, h.rep_id, h.team_id, h.lifecycle, h.at_risk, h.doc, h.won_12m,
           r.before, r.total
    FROM scoring.health h JOIN ranked r USING (account_id)
    WHERE h.org_id = $1 AND h.generation = $2 AND {where}
    """


async def health_page(
    conn: asyncpg.Connection,
    org_id: str,
    generation: int,
    *,
    rep: str | None,
    team: str | None,
    risk: bool | None,
    lifecycle: str | None,
    after: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Accounts' health by id (code point order) after `after`, each with the org's won
    revenue ranked before it and in all (the tier suggestion depends on every account)."""
    params: list[Any] = [org_id, generation, limit]
    where = "true"
    for column, value in (
        ("rep_id", rep),
        ("team_id", team),
        ("at_risk", risk),
        ("lifecycle", lifecycle),
    ):
        if value is not None:
            params.append(value)
            where += f" AND h.{column} = ${len(params)}"
    if after is not None:
        params.append(after)
        where += f" AND h.account_id > ${len(params)}"
    rows: list[asyncpg.Record] = await conn.fetch(
        _health_ranked(where) + " ORDER BY h.account_id LIMIT $3", *params
    )
    return rows


async def get_health(
    conn: asyncpg.Connection, org_id: str, generation: int, account_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        _health_ranked("h.account_id = $3"), org_id, generation, account_id
    )
    return row


# --------------------------------------------------------------------------- models


async def save_model(
    conn: asyncpg.Connection,
    org_id: str,
    kind: str,
    *,
    model_kind: str,
    outcomes: int,
    body: str,
    report: str,
    trained_outcomes: int,
) -> asyncpg.Record:
    """Store a new version and make it the org's active model of its kind (holding the org's
    row, so two trainings at once take one version after the other)."""
    await lock_org(conn, org_id)
    row = await conn.fetchrow(
        """
        INSERT INTO scoring.models (org_id, kind, version, model_kind, outcomes, body, report)
        SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6
        FROM scoring.models WHERE org_id = $1 AND kind = $2
        RETURNING org_id, kind, version, model_kind, trained_at, outcomes, report
        """,
        org_id,
        kind,
        model_kind,
        outcomes,
        body,
        report,
    )
    assert row is not None
    await conn.execute(
        f"UPDATE scoring.orgs SET {kind}_model = $2, trained_outcomes = $3, updated_at = now() "
        "WHERE org_id = $1",
        org_id,
        row["version"],
        trained_outcomes,
    )
    return row


async def get_model(
    conn: asyncpg.Connection, org_id: str, kind: str, version: int
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM scoring.models WHERE org_id = $1 AND kind = $2 AND version = $3",
        org_id,
        kind,
        version,
    )
    return row


async def model_as_of(
    conn: asyncpg.Connection, org_id: str, kind: str, as_of: datetime
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM scoring.models WHERE org_id = $1 AND kind = $2 AND trained_at <= $3 "
        "ORDER BY version DESC LIMIT 1",
        org_id,
        kind,
        as_of,
    )
    return row


async def list_models(conn: asyncpg.Connection, org_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT org_id, kind, version, model_kind, trained_at, outcomes, report "
        "FROM scoring.models WHERE org_id = $1 ORDER BY kind, version DESC",
        org_id,
    )
    return rows


async def plan_for_this_page(conn: asyncpg.Connection) -> None:
    """Plan every statement of this transaction for its own arguments.

    A page's statements take arrays of keys (`load_entities`: ~3,000 for 1,000 events). After
    five runs PostgreSQL may cache a generic plan for a prepared statement, costed for an
    array of unknown length, and for `load_entities` that plan took ~110 µs an event folded
    against ~15 with a plan made for the arrays at hand (measured, 30k-60k events): most of
    the live fold's time. Planning these statements afresh costs ~0.2 ms a page."""
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")


async def lock_org(conn: asyncpg.Connection, org_id: str) -> asyncpg.Record | None:
    """The org's row, held until the transaction ends (a page and a rescore never interleave)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM scoring.orgs WHERE org_id = $1 FOR UPDATE", org_id
    )
    return row


# ---------------------------------------------------------------------------------- leases

_ADVISORY = """
    FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND classid = $1 AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


async def join_replicas(conn: asyncpg.Connection) -> None:
    """Say that this connection's replica is alive and consuming (until it closes)."""
    await conn.execute("SELECT pg_advisory_lock_shared($1, $2)", *REPLICA_LOCK)


async def count_replicas(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(
        f"SELECT count(*) {_ADVISORY} AND objid = $2", REPLICA_LOCK[0], REPLICA_LOCK[1]
    )
    return count


async def leases_of_others(conn: asyncpg.Connection) -> set[int]:
    """The org keys other replicas' connections hold leases on."""
    rows = await conn.fetch(
        f"SELECT objid::bigint AS key {_ADVISORY} AND pid <> pg_backend_pid()", LEASE_CLASS
    )
    return {r["key"] for r in rows}


async def try_lease(conn: asyncpg.Connection, key: int) -> bool:
    taken: bool = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LEASE_CLASS, key)
    return taken


async def release_lease(conn: asyncpg.Connection, key: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1, $2)", LEASE_CLASS, key)
