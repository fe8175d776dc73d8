"""Migrations: replicas that start together (each running `alembic upgrade head`) migrate one
at a time, under a session advisory lock."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg
from sqlalchemy.engine import make_url

from shared.db import MIGRATION_LOCK, asyncpg_dsn, run_migrations


async def test_a_migration_waits_while_another_one_holds_the_migration_lock(base_url):
    name = f"salesperf_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(base_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    other = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await other.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)  # a replica migrating
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "salesperf.cli", "migrate",
            env={**os.environ, "DATABASE_URL": url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        await asyncio.sleep(4)
        assert proc.returncode is None, "it must wait for the lock"
        assert await other.fetchval("SELECT to_regclass('activity.events')") is None

        await other.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, output
        assert (
            await other.fetchval("SELECT to_regclass('activity.events')::text") == "activity.events"
        )
    finally:
        await other.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_pipeline_refold_flags_every_existing_org_for_a_rebuild(base_url):
    name = f"salesperf_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(base_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
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
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_priority_flags_every_existing_org_to_fold_its_profiles_and_scores(base_url):
    name = f"salesperf_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(base_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
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
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_deal_refold_flags_every_existing_org_for_a_rebuild(base_url):
    """The fold that reads a deal's events by occurred time (issue 11) needs every projection
    folded again; the connectors' deals gain the times of the values they remember."""
    name = f"salesperf_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(base_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(run_migrations, url, "20261213_scoring_scored_position")
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute(
                "INSERT INTO scoring.orgs (org_id, rebuild_seq) VALUES ('acme', 0), ('globex', 4)"
            )
            await asyncio.to_thread(run_migrations, url, "head")
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
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
