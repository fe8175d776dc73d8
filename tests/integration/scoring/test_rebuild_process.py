"""A rebuild replays in a process of its own when activity is reached over the network
(services/scoring/follow/generations.py): the serving process never holds the org's book. What that
process writes must be exactly what the same rebuild writes in the serving process.

Activity is served by real uvicorn on loopback (a worker process cannot reach an in-process
transport); the two rebuilds run one after the other on the same log, and every row of the two
generations is compared."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from salesperf.synthetic import iter_events
from services.activity.main import create_app as create_activity
from services.scoring.follow import scorer as scorer_module
from services.scoring.follow.consumer import Consumer
from services.scoring.repository import GENERATION_TABLES
from shared.auth import issue_token
from shared.db import asyncpg_dsn
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET
from tests.e2e.test_run import free_port

ORG = "rb-alone"


class Quiet(uvicorn.Server):
    """Without uvicorn's own signal handlers: pytest keeps its Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def on_loopback(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = Quiet(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started or serving.done():
            break
        await asyncio.sleep(0.02)
    assert server.started, "activity did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def generation(
    pool: asyncpg.Pool, number: int, org: str = ORG
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a generation, without the generation's number, in a stable order."""
    rows = {}
    for table in GENERATION_TABLES:
        records = await pool.fetch(
            f"SELECT * FROM scoring.{table} WHERE org_id = $1 AND generation = $2", org, number
        )
        rows[table] = sorted(
            tuple(repr(v) for k, v in r.items() if k != "generation") for r in records
        )
    return rows


def children() -> set[int | None]:
    return {p.pid for p in multiprocessing.active_children()}


async def rebuild_watching_children(consumer: Consumer) -> int:
    """Rebuild the org; the most child processes seen while it ran that were not there before
    (other tests' worker pools may still be ending)."""
    before = children()
    task = asyncio.ensure_future(consumer.rebuild(ORG))
    most = 0
    while not task.done():
        most = max(most, len(children() - before))
        await asyncio.sleep(0.01)
    await task
    return most


async def test_a_rebuild_in_a_process_of_its_own_writes_what_one_in_the_serving_process_does(
    own_database: str,
) -> None:
    activity = create_activity(activity_settings(), database_url=own_database)
    token = issue_token(JWT_SECRET, org=ORG, role="admin", sub="t")
    events = list(iter_events(teams=2, reps_per_team=3, scale=0.25, seed=11))
    assert any(e["type"] == "event.voided" for e in events)
    async with on_loopback(activity) as url, httpx.AsyncClient(base_url=url) as client:
        for i in range(0, len(events), 1000):
            answer = await client.post(
                "/v1/events/batch",
                json={"events": events[i : i + 1000]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 201, answer.text
        head = answer.json()["results"][-1]["position"]
        pool = await asyncpg.create_pool(asyncpg_dsn(own_database), min_size=1, max_size=4)
        try:
            await pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", ORG)
            dsn = asyncpg_dsn(own_database)

            def consumer(processes: int) -> Consumer:
                settings = scoring_settings(
                    consume=False, activity_url=url, worker_processes=processes, worker_nice=0
                )
                return Consumer(settings, dsn, pool, JWT_SECRET)

            alone, here = consumer(1), consumer(0)
            before = children()
            try:
                seen = await asyncio.wait_for(rebuild_watching_children(alone), 120)
                left = children() - before
                in_a_process = await generation(pool, 2)
                row_alone = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", ORG)
                assert await rebuild_watching_children(here) == 0
                in_serving = await generation(pool, 3)
                row_here = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", ORG)
            finally:
                alone.scorer.close()
                here.scorer.close()
        finally:
            await pool.close()
    assert seen >= 1  # the replay ran in a process of its own
    assert left == set()  # and it ended with the rebuild
    assert row_alone["position"] == row_here["position"] == head
    for column in ("folded", "voided", "skipped", "currency", "outcomes"):
        assert row_alone[column] == row_here[column], column
    assert row_alone["voided"] > 0
    assert row_alone["outcomes"] > 0
    for table in GENERATION_TABLES:
        assert in_a_process[table] == in_serving[table], table
        assert in_a_process[table], f"{table} is empty"


async def test_a_small_org_is_rescored_here_a_large_one_in_a_worker_process(
    own_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower waits for its org's rescore: a small org's takes milliseconds in a thread,
    where a worker process's first start would take a second of imports."""
    activity = create_activity(activity_settings(), database_url=own_database)
    token = issue_token(JWT_SECRET, org=ORG, role="admin", sub="t")
    events = [
        e
        for e in iter_events(teams=1, reps_per_team=1, scale=0.2, seed=3)
        if e["type"] != "event.voided"
    ][:300]
    dsn = asyncpg_dsn(own_database)
    async with on_loopback(activity) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.post(
            "/v1/events/batch",
            json={"events": events},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 201, answer.text
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        settings = scoring_settings(consume=False, activity_url=url, worker_nice=0)
        consumer = Consumer(settings, dsn, pool, JWT_SECRET)
        try:
            await pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", ORG)
            await consumer.rebuild(ORG)
            scored = "SELECT count(*) FROM scoring.scores WHERE org_id = $1"
            assert await pool.fetchval(scored, ORG) > 0

            async def rescore() -> int:
                await pool.execute(
                    "UPDATE scoring.orgs SET scored_on = NULL WHERE org_id = $1", ORG
                )
                await pool.execute("DELETE FROM scoring.scores WHERE org_id = $1", ORG)
                before = children()
                task = asyncio.ensure_future(consumer.scorer.rescore(pool, ORG))
                most = 0
                while not task.done():
                    most = max(most, len(children() - before))
                    await asyncio.sleep(0.01)
                await task
                assert await pool.fetchval(scored, ORG) > 0
                return most

            assert await rescore() == 0
            monkeypatch.setattr(scorer_module, "SMALL_ORG_EVENTS", 0)
            assert await rescore() == 1
        finally:
            consumer.scorer.close()
            await pool.close()
