"""Migrations: replicas that start together (each running `alembic upgrade head`) migrate one
at a time, under a session advisory lock."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import asyncpg
import httpx
import orjson
import pytest

from services.activity import repository as activity_repository
from services.activity.domain import Row, prepare
from services.activity.main import create_app as create_activity
from services.scoring.main import create_app as create_scoring
from shared import pagination
from shared.auth import Principal, Role, issue_token
from shared.db import MIGRATION_LOCK, asyncpg_dsn, run_migrations
from shared.events import new_event_adapter
from shared.pagination import (
    MAX_POSITION,
    decode_cursor,
    is_current,
    readable_cursor,
)
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings, settled
from tests.conftest import JWT_SECRET, make_event, scratch_database


async def test_a_migration_waits_while_another_one_holds_the_migration_lock(base_url):
    async with scratch_database(base_url, "migrate", revision=None) as url:
        other = await asyncpg.connect(asyncpg_dsn(url))
        try:
            # A replica migrating:
            await other.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "salesperf.cli",
                "migrate",
                env={**os.environ, "DATABASE_URL": url},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            await asyncio.sleep(4)
            assert proc.returncode is None, "it must wait for the lock"
            assert await other.fetchval("SELECT to_regclass('activity.events')") is None

            await other.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
            output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
            assert proc.returncode == 0, output
            assert (
                await other.fetchval("SELECT to_regclass('activity.events')::text")
                == "activity.events"
            )
        finally:
            await other.close()


async def test_the_pipeline_refold_flags_every_existing_org_for_a_rebuild(base_url):
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261123_scoring_org_notify")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute("INSERT INTO scoring.orgs (org_id) VALUES ('acme'), ('globex')")
            await asyncio.to_thread(run_migrations, url, "20261124_scoring_refold_pipeline")
            rows = await conn.fetch(
                "SELECT org_id, rebuild_requested, rebuild_seq FROM scoring.orgs ORDER BY org_id"
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [("acme", True, 1), ("globex", True, 1)]


async def test_the_calendar_day_refold_flags_every_existing_org_for_a_rebuild(base_url):
    """Cycle times in calendar days come from facts older projections do not hold."""
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261218_goals_roster")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO scoring.orgs (org_id, rebuild_seq) VALUES ('acme', 0), ('globex', 4)"
            )
            await asyncio.to_thread(run_migrations, url, "20261219_scoring_calendar_days")
            rows = await conn.fetch(
                "SELECT org_id, rebuild_requested, rebuild_seq FROM scoring.orgs ORDER BY org_id"
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [("acme", True, 1), ("globex", True, 5)]


async def test_priority_flags_every_existing_org_to_fold_its_profiles_and_scores(base_url):
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261124_scoring_refold_pipeline")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute("INSERT INTO scoring.orgs (org_id) VALUES ('acme')")
            await asyncio.to_thread(run_migrations, url, "20261204_scoring_priority")
            row = await conn.fetchrow(
                "SELECT rebuild_requested, rebuild_seq, outcomes, lead_model, deal_model,"
                " trained_outcomes, scored_on FROM scoring.orgs"
            )
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'scoring'"
                " AND table_name IN ('scores', 'health', 'models') ORDER BY 1"
            )
        finally:
            await conn.close()
        assert tuple(row) == (True, 1, 0, 0, 0, -1, None)
        assert [t["table_name"] for t in tables] == ["health", "models", "scores"]


async def test_the_deal_refold_flags_every_existing_org_for_a_rebuild(base_url):
    """The fold that reads a deal's events by occurred time (issue 11) needs every projection
    folded again; the connectors' deals gain the times of the values they remember."""
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261213_scoring_scored_position")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO scoring.orgs (org_id, rebuild_seq) VALUES ('acme', 0), ('globex', 4)"
            )
            await asyncio.to_thread(run_migrations, url, "20261217_scoring_rollup_series")
            rows = await conn.fetch(
                "SELECT org_id, rebuild_requested, rebuild_seq FROM scoring.orgs ORDER BY org_id"
            )
            columns = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'activity' AND table_name = 'connector_deals'"
                " AND column_name LIKE '%\\_at' ORDER BY 1"
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [("acme", True, 1), ("globex", True, 5)]
        assert [tuple(c) for c in columns] == [
            ("amount_at", "timestamp with time zone"),
            ("modified_at", "text"),
            ("stage_at", "timestamp with time zone"),
        ]


# --------------------------------------------------------------------------- positions per org

ORG_POSITIONS = "20261215_activity_org_positions"


def _org_positions_migration() -> ModuleType:
    path = Path(__file__).parents[2] / "migrations" / "versions" / f"{ORG_POSITIONS}.py"
    spec = importlib.util.spec_from_file_location("org_positions_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_readable_cursor_sql_writes_is_what_python_reads(db):
    sql = _org_positions_migration().READABLE_CURSOR_SQL.format(position="$1::bigint")
    for position in (0, 1, 7, 10, 99, 1234, 98_765_432_101, MAX_POSITION):
        written = await db.fetchval(f"SELECT {sql}", position)
        assert written == readable_cursor(position)
        assert decode_cursor(written, "any-org", legacy=True) == position


async def rebuilt(scoring: httpx.AsyncClient, headers: dict[str, str], timeout: float = 30) -> None:
    """Until the org's requested rebuild has swapped a new generation in."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = (await scoring.get("/v1/admin/rebuild", headers=headers)).json()
        if status.get("state") == "done" and status.get("generation", 1) > 1:
            return
        assert asyncio.get_running_loop().time() < deadline, f"no rebuild: {status}"
        await asyncio.sleep(0.1)


def sealed_before(position: int, org: str) -> str:
    """A feed cursor as activity sealed them while positions were global (tag `p`)."""
    return pagination._seal(org, b"p", position.to_bytes(8, "big"))


def _old_rows(
    layout: list[tuple[int, str, int]],
) -> tuple[list[tuple[object, ...]], dict[str, list[str]]]:
    """Rows as the older code stored them: (global position, org, i) → a visit of rep-anna in
    the org's stream lead-<i % 3>, rendered as the service renders it; and each org's event
    ids in order."""
    versions: dict[tuple[str, str], int] = {}
    records: list[tuple[object, ...]] = []
    ids: dict[str, list[str]] = {}
    recorded = datetime(2026, 6, 15, 12, tzinfo=UTC)
    for position, org, i in layout:
        event = make_event(
            "visit.logged",
            stream=f"lead-{i % 3}",
            rep_id="rep-anna",
            team_id="team-north",
            occurred_at="2026-06-15T09:00:00+00:00",
        )
        candidate = prepare(
            Principal(org, Role.ADMIN, "ops"), new_event_adapter.validate_python(event)
        )
        version = versions[(org, candidate.stream)] = versions.get((org, candidate.stream), 0) + 1
        row = Row(
            candidate.event_id,
            candidate.type,
            candidate.stream,
            candidate.rep_id,
            candidate.team_id,
            candidate.content_hash,
            version,
            position,
            recorded + timedelta(seconds=position),
            candidate,
        )
        records += activity_repository._records(
            org, [(row, activity_repository.draft(org, candidate))], row.recorded_at
        )
        ids.setdefault(org, []).append(str(candidate.event_id))
    return records, ids


async def test_positions_become_per_org_and_scoring_resumes_where_it_stood(base_url, monkeypatch):
    """Two orgs interleaved in the old global numbering (with the gaps a sequence leaves),
    stream owners, scoring's standing of acme (folded up to its 4th event, scored up to its
    2nd, a sealed cursor) and of globex (a rebuild caught mid-way): after the upgrade each org
    is numbered 1..n, event_json says so, every stored position names the same event as before,
    and scoring follows on from where it stood, folding neither less nor more."""
    kept = pagination._sealer
    monkeypatch.delenv("SALESPERF_CURSOR_KEYS", raising=False)
    pagination.configure_cursors(JWT_SECRET)  # as the services below will
    # acme: 6 events at 3, 4, 8, 11, 12, 20; globex: 5 at 5, 6, 9, 15, 17 (gaps: rollbacks).
    layout = [
        (3, "acme", 0),
        (4, "acme", 1),
        (5, "globex", 0),
        (6, "globex", 1),
        (8, "acme", 2),
        (9, "globex", 2),
        (11, "acme", 3),
        (12, "acme", 4),
        (15, "globex", 3),
        (17, "globex", 4),
        (20, "acme", 5),
    ]
    old_of = {org: [p for p, o, _ in layout if o == org] for org in ("acme", "globex")}
    async with scratch_database(base_url, "migrate", revision=None) as url:
        try:
            await positions_become_per_org(url, old_of, layout)
        finally:
            pagination._sealer = kept


async def positions_become_per_org(
    url: str, old_of: dict[str, list[int]], layout: list[tuple[int, str, int]]
) -> None:
    await asyncio.to_thread(run_migrations, url, _org_positions_migration().down_revision)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        records, ids = _old_rows(layout)
        before = {(r[1], r[0]): r[-1] for r in records}  # (org, old position) -> event_json
        await conn.copy_records_to_table(
            "events",
            schema_name="activity",
            columns=activity_repository.COLUMNS,
            records=records,
        )
        await conn.execute("SELECT setval('activity.event_position_seq', 20)")
        await conn.execute(
            "INSERT INTO activity.stream_owners (org_id, stream, rep_id, position)"
            " SELECT DISTINCT ON (org_id, stream) org_id, stream, rep_id, position"
            " FROM activity.events ORDER BY org_id, stream, stream_version"
        )
        owners_before = await conn.fetch(
            "SELECT o.org_id, o.stream, e.event_id FROM activity.stream_owners o"
            " JOIN activity.events e ON e.position = o.position ORDER BY 1, 2"
        )
        await conn.execute(
            "INSERT INTO scoring.orgs (org_id, cursor, position, folded, last_recorded_at,"
            " scored_position, scored_recorded_at) VALUES ($1, $2, $3, 4, now(), $4, now())",
            "acme",
            sealed_before(11, "acme"),
            11,
            4,
        )
        await conn.execute(
            "INSERT INTO scoring.orgs (org_id, cursor, position, folded, scored_position,"
            " rebuild_requested, rebuild_seq, next_generation, next_cursor)"
            " VALUES ($1, $2, $3, 3, $3, true, 1, 2, $4)",
            "globex",
            sealed_before(9, "globex"),
            9,
            sealed_before(17, "globex"),
        )

        await asyncio.to_thread(run_migrations, url, ORG_POSITIONS)

        events = await conn.fetch(
            "SELECT org_id, position, event_id::text, event_json FROM activity.events"
            " ORDER BY org_id, position"
        )
        owners = await conn.fetch(
            "SELECT o.org_id, o.stream, e.event_id FROM activity.stream_owners o"
            " JOIN activity.events e ON e.org_id = o.org_id AND e.position = o.position"
            " ORDER BY 1, 2"
        )
        standing = {
            r["org_id"]: r
            for r in await conn.fetch(
                "SELECT org_id, position, scored_position, cursor, next_generation,"
                " next_cursor, rebuild_requested, folded FROM scoring.orgs"
            )
        }
        key = await conn.fetchval(
            "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i"
            " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " WHERE i.indrelid = 'activity.events'::regclass AND i.indisprimary"
        )
        sequence = await conn.fetchval("SELECT to_regclass('activity.event_position_seq')")
    finally:
        await conn.close()

    assert key == ["org_id", "position"]
    assert sequence is None
    for org in ("acme", "globex"):
        mine = [e for e in events if e["org_id"] == org]
        assert [e["position"] for e in mine] == list(range(1, len(old_of[org]) + 1))
        assert [e["event_id"] for e in mine] == ids[org]
        for e, old in zip(mine, old_of[org], strict=True):
            assert orjson.loads(e["event_json"])["position"] == e["position"]
            prefix = f'{{"position":{e["position"]},'
            assert e["event_json"] == prefix + before[(org, old)][len(f'{{"position":{old},') :]
    assert [tuple(r) for r in owners] == [tuple(r) for r in owners_before]

    acme, globex = standing["acme"], standing["globex"]
    # acme stood at old 11 (its 4th event), scored up to old 4 (its 2nd).
    assert (acme["position"], acme["scored_position"]) == (4, 2)
    assert acme["cursor"] == readable_cursor(4)
    assert decode_cursor(acme["cursor"], "acme", legacy=True) == 4
    # globex stood at old 9 (its 3rd); its rebuild, sealed around old 17, starts afresh.
    assert (globex["position"], globex["scored_position"]) == (3, 3)
    assert globex["cursor"] == readable_cursor(3)
    assert (globex["next_generation"], globex["next_cursor"]) == (None, None)
    assert globex["rebuild_requested"] is True

    await asyncio.to_thread(run_migrations, url)  # the rest, which today's services need
    # The services on the migrated database: appends go on from each org's own head, and
    # scoring follows on. acme's projection holds nothing of its first 4 events (this test
    # wrote no rows for them), so the visits it counts are exactly those folded after the
    # upgrade: its 5th and 6th and the new ones — not fewer (skipped), not more (refolded).
    activity_app = create_activity(activity_settings(), database_url=url)
    async with activity_app.router.lifespan_context(activity_app):
        scoring_app = create_scoring(  # scores in this process: the test is about positions
            scoring_settings(worker_processes=0),
            database_url=url,
            activity_transport=httpx.ASGITransport(app=activity_app),
        )
        async with (
            scoring_app.router.lifespan_context(scoring_app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=activity_app), base_url="http://activity"
            ) as activity,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=scoring_app), base_url="http://scoring"
            ) as scoring,
        ):
            expected = {"acme": (6 + 3, 2 + 3), "globex": (5 + 2, 5 + 2)}  # (head, visits)
            for org, n in (("acme", 3), ("globex", 2)):
                headers = {
                    "Authorization": "Bearer "
                    + issue_token(JWT_SECRET, org=org, role="admin", sub="ops")
                }
                events_ = [
                    make_event(
                        "visit.logged",
                        stream="lead-0",
                        rep_id="rep-anna",
                        team_id="team-north",
                        occurred_at="2026-06-16T09:00:00+00:00",
                    )
                    for _ in range(n)
                ]
                answer = await activity.post(
                    "/v1/events/batch", json={"events": events_}, headers=headers
                )
                assert answer.status_code == 201, answer.text
                head, visits = expected[org]
                assert [r["position"] for r in answer.json()["results"]] == list(
                    range(head - n + 1, head + 1)
                )
                if org == "globex":  # its rebuild (from the whole log) swapped in
                    await rebuilt(scoring, headers)
                await settled(scoring, headers, head, timeout=30)
                answer = await scoring.get(
                    "/v1/kpis",
                    headers=headers,
                    params={
                        "owner": "org",
                        "period": "year",
                        "from": "2026-01-01",
                        "metrics": "visits",
                    },
                )
                assert answer.status_code == 200, answer.text
                assert answer.json()["up_to"]["position"] == head
                assert answer.json()["buckets"][0]["metrics"]["visits"]["value"] == visits
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        row = await conn.fetchrow("SELECT folded, cursor FROM scoring.orgs WHERE org_id = 'acme'")
    finally:
        await conn.close()
    assert row["folded"] == 4 + 2 + 3  # as stored, then the 5th, 6th and the new ones
    assert is_current(row["cursor"], "acme")  # the next page's sealed cursor replaced it


ROLLUP_ROWS = [  # org, generation, grain, bucket, owner_kind, owner_id, team_id, cut…, metric, value
    ("acme", 1, "d", "2026-07-01", "rep", "r1", "t1", "pl", "gold", "web", "", "visits", "3"),
    ("acme", 1, "d", "2026-07-02", "rep", "r1", "t1", "pl", "gold", "web", "", "visits", "2"),
    ("acme", 1, "m", "2026-07-01", "rep", "r1", "t1", "pl", "gold", "web", "", "visits", "5"),
    ("acme", 1, "m", "2026-07-01", "org", "", "", "pl", "gold", "web", "", "visits", "5"),
    ("acme", 2, "m", "2026-07-01", "org", "", "", "pl", "gold", "web", "", "visits", "4"),
    ("acme", 1, "m", "2026-07-01", "team", "t1", "t1", "", "", "", "EUR", "revenue_won", "9.50"),
    ("globex", 1, "d", "2026-07-01", "rep", "r1", "t1", "pl", "gold", "web", "", "visits", "7"),
]
ROLLUP_COLUMNS = (
    "org_id, generation, grain, bucket, owner_kind, owner_id, team_id, "
    "product_line, tier, channel, currency, metric, value"
)


async def _rollups(conn: asyncpg.Connection) -> list[tuple[str, ...]]:
    rows = await conn.fetch(
        f"SELECT {ROLLUP_COLUMNS} FROM scoring.kpi_rollups ORDER BY {ROLLUP_COLUMNS}"
    )
    return sorted(tuple(str(v) for v in r) for r in rows)


async def test_rollups_move_to_series_and_back_unchanged(base_url):
    """The series-id migration keeps every rollup row: read through the `kpi_rollups` view
    after it, and from the restored table after its downgrade."""
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261216_activity_about_indexes")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.executemany(
                f"INSERT INTO scoring.kpi_rollups ({ROLLUP_COLUMNS}) VALUES ($1, $2, $3,"
                " $4::text::date, $5, $6, $7, $8, $9, $10, $11, $12, $13::text::numeric)",
                ROLLUP_ROWS,
            )
            before = await _rollups(conn)
            await asyncio.to_thread(run_migrations, url, "20261217_scoring_rollup_series")
            assert await _rollups(conn) == before
            # One series per org and dimensions, shared by the generations:
            assert await conn.fetchval("SELECT count(*) FROM scoring.kpi_series") == 4
            assert await conn.fetchval("SELECT count(*) FROM scoring.kpi_values") == 7
            await asyncio.to_thread(_downgrade, url, "20261216_activity_about_indexes")
            assert await conn.fetchval("SELECT to_regclass('scoring.kpi_series')") is None
            assert await _rollups(conn) == before
        finally:
            await conn.close()


def _downgrade(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from shared.config import REPO_ROOT

    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["skip_logging"] = True
    command.downgrade(cfg, revision)


async def test_channel_costs_come_and_go_with_their_migration(base_url):
    """goals.channel_costs: one amount per org, channel and month (a first day), non-negative;
    dropped by the downgrade, made again by the upgrade."""
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261221_goals_channel_costs")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            insert = (
                "INSERT INTO goals.channel_costs (org_id, channel, month, amount, currency,"
                " recorded_by) VALUES ('acme', $1, $2::text::date, $3::text::numeric, 'EUR', 'a')"
            )
            await conn.execute(insert, "referral", "2026-09-01", "1200.00")
            for bad in (
                ("referral", "2026-09-01", "5.00"),  # the same channel and month again
                ("billboard", "2026-09-01", "5.00"),
                ("online", "2026-09-02", "5.00"),
                ("online", "2026-09-01", "-1.00"),
            ):
                try:
                    await conn.execute(insert, *bad)
                except asyncpg.PostgresError:
                    continue
                raise AssertionError(f"stored {bad}")
            await asyncio.to_thread(_downgrade, url, "20261220_scoring_roster")
            assert await conn.fetchval("SELECT to_regclass('goals.channel_costs')") is None
            await asyncio.to_thread(run_migrations, url, "20261221_goals_channel_costs")
            assert await conn.fetchval("SELECT count(*) FROM goals.channel_costs") == 0
        finally:
            await conn.close()


async def test_incentive_plans_keep_their_versions_and_payouts(base_url):
    """goals.incentive_plan_versions and goals.incentive_payouts are never updated or deleted
    (a trigger refuses both); the downgrade drops the three tables, the upgrade makes them again."""
    async with scratch_database(base_url, "migrate", revision=None) as url:
        await asyncio.to_thread(run_migrations, url, "20261222_goals_incentive_plans")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            plan = "00000000-0000-0000-0000-000000000001"
            await conn.execute(
                "INSERT INTO goals.incentive_plans (id, org_id, version, created_by)"
                " VALUES ($1::text::uuid, 'acme', 1, 'a')",
                plan,
            )
            await conn.execute(
                "INSERT INTO goals.incentive_plan_versions (plan_id, version, org_id,"
                " effective_from, body, created_by)"
                " VALUES ($1::text::uuid, 1, 'acme', '2027-01-01', '{}', 'a')",
                plan,
            )
            await conn.execute(
                "INSERT INTO goals.incentive_payouts (org_id, rep_id, plan_id, period_start,"
                " version, currency, total, lines, paid_by)"
                " VALUES ('acme', 'rep-1', $1::text::uuid, '2027-01-01', 1, 'EUR', 10.5, '[]', 'a')",
                plan,
            )
            for change in (
                "UPDATE goals.incentive_plan_versions SET body = '{\"a\": 1}'",
                "DELETE FROM goals.incentive_plan_versions",
                "UPDATE goals.incentive_payouts SET total = 0",
                "DELETE FROM goals.incentive_payouts",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await conn.execute(change)
            assert await conn.fetchval("SELECT total FROM goals.incentive_payouts") == Decimal(
                "10.5"
            )
            await asyncio.to_thread(_downgrade, url, "20261221_goals_channel_costs")
            for table in ("incentive_plans", "incentive_plan_versions", "incentive_payouts"):
                assert await conn.fetchval(f"SELECT to_regclass('goals.{table}')") is None
            await asyncio.to_thread(run_migrations, url, "20261222_goals_incentive_plans")
            assert await conn.fetchval("SELECT count(*) FROM goals.incentive_plan_versions") == 0
        finally:
            await conn.close()
