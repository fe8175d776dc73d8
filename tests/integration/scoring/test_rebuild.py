"""A rebuild replays the log into a new generation and swaps it in, whatever the live follower
is doing: here there is none at all (its cursor never moved), so the rebuild is ahead."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from services.activity.main import create_app as create_activity
from services.scoring.follow.consumer import Consumer
from shared.auth import issue_token
from shared.db import asyncpg_dsn
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET, make_event


async def test_a_rebuild_ahead_of_the_live_cursor_swaps_in_and_moves_the_cursor(
    own_database: str,
) -> None:
    app = create_activity(activity_settings(), database_url=own_database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        token = issue_token(JWT_SECRET, org="rb", role="admin", sub="t")
        async with httpx.AsyncClient(transport=transport, base_url="http://a") as client:
            events = [make_event(stream=f"account-acc-{i % 5}") for i in range(50)]
            answer = await client.post(
                "/v1/events/batch",
                json={"events": events},
                headers={"Authorization": f"Bearer {token}"},
            )
            head = answer.json()["results"][-1]["position"]
        pool = await asyncpg.create_pool(asyncpg_dsn(own_database), min_size=1, max_size=4)
        try:
            await pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ('rb')")
            consumer = Consumer(
                scoring_settings(consume=False),
                asyncpg_dsn(own_database),
                pool,
                JWT_SECRET,
                transport=transport,
            )
            await asyncio.wait_for(consumer.rebuild("rb"), 30)
            row = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = 'rb'")
            visits = await pool.fetchval(
                "SELECT sum(value) FROM scoring.kpi_rollups WHERE org_id = 'rb' AND generation = 2"
                " AND grain = 'm' AND owner_kind = 'org' AND metric = 'visits'"
            )
            old_rows = await pool.fetchval(
                "SELECT count(*) FROM scoring.kpi_rollups WHERE org_id = 'rb' AND generation = 1"
            )
        finally:
            await pool.close()
    assert (row["generation"], row["position"], row["folded"]) == (2, head, 50)
    assert row["cursor"] is not None
    assert row["rebuild"] is not None
    assert (visits, old_rows) == (50, 0)
