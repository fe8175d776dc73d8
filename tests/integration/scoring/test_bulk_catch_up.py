"""A follower far behind its org's log (a history just imported, scoring started cold) stops
folding page by page and rebuilds the org, which replays the log in bulk (~3x the events/s),
then follows on from the rebuilt generation's cursor. What it ends with is exactly what a clean
rebuild of the same log writes; a follower with the bulk path off folds page by page."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI

from salesperf.synthetic import iter_events
from services.activity.main import create_app as create_activity
from services.scoring.follow.consumer import Consumer
from services.scoring.follow.replayer import replay_org
from services.scoring.repository import GENERATION_TABLES
from shared import tasks
from shared.auth import issue_token
from shared.clients.activity import ActivityClient
from shared.db import asyncpg_dsn
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET
from tests.integration.scoring.test_rebuild_process import generation

BULK, PAGED = "bulk-org", "paged-org"


@pytest.fixture
async def activity(own_database: str) -> AsyncIterator[FastAPI]:
    app = create_activity(activity_settings(), database_url=own_database)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def pool(own_database: str) -> AsyncIterator[asyncpg.Pool]:
    made = await asyncpg.create_pool(asyncpg_dsn(own_database), min_size=1, max_size=6)
    yield made
    await made.close()


async def post(activity: FastAPI, org: str, events: list[dict[str, Any]]) -> int:
    token = issue_token(JWT_SECRET, org=org, role="admin", sub="t")
    transport = httpx.ASGITransport(app=activity)
    async with httpx.AsyncClient(transport=transport, base_url="http://activity") as client:
        for i in range(0, len(events), 1000):
            answer = await client.post(
                "/v1/events/batch",
                json={"events": events[i : i + 1000]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 201, answer.text
    return int(answer.json()["results"][-1]["position"])


def consumer(activity: FastAPI, database: str, pool: asyncpg.Pool, *, bulk: int) -> Consumer:
    settings = scoring_settings(
        consume=False, page_size=100, fold_events=100, bulk_catchup_events=bulk, worker_processes=0
    )
    return Consumer(
        settings,
        asyncpg_dsn(database),
        pool,
        JWT_SECRET,
        transport=httpx.ASGITransport(app=activity),
    )


@contextlib.asynccontextmanager
async def following(c: Consumer, org: str) -> AsyncIterator[None]:
    task = asyncio.create_task(c.follower.follow(org))
    try:
        yield
    finally:
        await tasks.stop(task)  # cancelled again until it ends (shared/tasks.py says why)
        c.scorer.close()


async def reached(
    pool: asyncpg.Pool, org: str, position: int, c: Consumer | None = None
) -> asyncpg.Record:
    """The org's row once its KPIs and its scores are folded up to `position`, and, with the
    follower `c`, once the models it trains on catching up are active and the org is rescored
    with them (a clean rebuild afterwards scores with the same models)."""
    for _ in range(1200):
        row = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", org)
        if (
            row is not None
            and row["position"] == row["scored_position"] == position  # scores trail the KPIs
            and row["next_generation"] is None
            and (
                c is None
                or (
                    row["trained_outcomes"] >= 0
                    and not c.upkeep.training
                    and not c.upkeep.rescoring
                    and not c.scorer.due(row)
                )
            )
        ):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"{org} did not reach position {position}: {row and dict(row)}")


async def matches_a_clean_rebuild(
    activity: FastAPI, database: str, pool: asyncpg.Pool, org: str, row: asyncpg.Record
) -> dict[str, list[Any]]:
    """The org's live generation (`row`, as followed) holds exactly what a clean rebuild of
    the same log writes; its rows (read first: the rebuild drops it once done)."""
    followed = await generation(pool, row["generation"], org)
    again = consumer(activity, database, pool, bulk=0)
    try:
        await again.rebuild(org)
    finally:
        again.scorer.close()
    clean = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", org)
    assert clean["generation"] == row["generation"] + 1
    for column in ("position", "folded", "voided", "skipped", "currency", "outcomes"):
        assert clean[column] == row[column], column
    rebuilt = await generation(pool, clean["generation"], org)
    for table in GENERATION_TABLES:
        assert followed[table] == rebuilt[table], table
    return followed


async def test_a_follower_far_behind_rebuilds_and_follows_on_from_there(
    activity: FastAPI, own_database: str, pool: asyncpg.Pool
) -> None:
    events = list(iter_events(teams=2, reps_per_team=2, scale=0.5, seed=5))
    assert len(events) > 1000
    assert any(e["type"] == "event.voided" for e in events)
    head = await post(activity, BULK, events)

    bulk = consumer(activity, own_database, pool, bulk=300)
    async with following(bulk, BULK):
        row = await reached(pool, BULK, head)
        assert row["generation"] == 2  # replayed into a new generation, not folded page by page
        progress = orjson.loads(row["rebuild"])
        assert (progress["state"], progress["reason"]) == ("done", "catch_up")
        assert row["folded"] + row["voided"] == progress["done"] > 1000

        # It follows on from there, page by page (a small backlog is not worth a rebuild).
        more = [
            e
            for e in iter_events(teams=2, reps_per_team=2, scale=0.2, seed=6)
            if e["type"] != "event.voided"
        ][:40]
        head = await post(activity, BULK, more)
        row = await reached(pool, BULK, head, bulk)
        assert row["generation"] == 2

    followed = await matches_a_clean_rebuild(activity, own_database, pool, BULK, row)
    assert all(followed.values()), {table: len(rows) for table, rows in followed.items()}


async def test_with_the_bulk_path_off_a_follower_folds_page_by_page(
    activity: FastAPI, own_database: str, pool: asyncpg.Pool
) -> None:
    events = [
        e
        for e in iter_events(teams=1, reps_per_team=2, scale=0.2, seed=5)
        if e["type"] != "event.voided"
    ][:600]
    head = await post(activity, PAGED, events)
    paged = consumer(activity, own_database, pool, bulk=0)
    async with following(paged, PAGED):
        row = await reached(pool, PAGED, head)
    assert row["generation"] == 1
    assert row["rebuild"] is None
    assert row["folded"] == len(events)


async def test_a_bulk_catch_up_while_voids_keep_coming_ends_before_the_first_new_one(
    activity: FastAPI, own_database: str, pool: asyncpg.Pool
) -> None:
    """A replay that meets a void it did not list first would have to start over; one reading
    to the end of a log that keeps growing with voids (a history being imported) would start
    over for ever. A bulk catch-up ends before the first such void, and leaves the rest (that
    void too) to the follower."""
    org = "voids-org"
    events = [
        e
        for e in iter_events(teams=1, reps_per_team=2, scale=0.3, seed=8)
        if e["type"] in ("visit.logged", "call.logged")
    ][:500]
    await post(activity, org, events)
    stop = asyncio.Event()

    async def keep_voiding() -> int:
        """A visit and its void every few milliseconds until told to stop; the last position."""
        last = 0
        for i in range(10_000):
            if stop.is_set():
                break
            visit = {**events[i % len(events)], "event_id": str(uuid.uuid4())}
            void = {
                "event_id": str(uuid.uuid4()),
                "type": "event.voided",
                "stream": visit["stream"],
                "occurred_at": visit["occurred_at"],
                "data": {"voided_event_id": visit["event_id"], "reason": "typo"},
            }
            last = await post(activity, org, [visit, void])
            await asyncio.sleep(0.005)
        return last

    settings = scoring_settings(consume=False, page_size=20, worker_processes=0)
    replaying = Consumer(
        settings,
        asyncpg_dsn(own_database),
        pool,
        JWT_SECRET,
        transport=httpx.ASGITransport(app=activity),
    )
    await pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
    voiding = asyncio.create_task(keep_voiding())
    try:
        await asyncio.sleep(0.2)  # voids are coming in
        await asyncio.wait_for(replaying.rebuild(org, reason="catch_up", chase=False), 60)
        assert not voiding.done()  # it finished while they still came
    finally:
        stop.set()
        head = await voiding
        replaying.scorer.close()
    row = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", org)
    assert row["generation"] == 2
    assert row["position"] < head

    follower = consumer(activity, own_database, pool, bulk=0)
    async with following(follower, org):
        row = await reached(pool, org, head, follower)
    await matches_a_clean_rebuild(activity, own_database, pool, org, row)
    visits = await pool.fetchval(
        "SELECT sum(value) FROM scoring.kpi_rollups WHERE org_id = $1 AND generation = 3"
        " AND grain = 'm' AND owner_kind = 'org' AND metric IN ('visits', 'calls')",
        org,
    )
    assert visits == len(events)  # every visit added while voiding was voided


async def test_a_bulk_catch_up_replays_what_came_in_while_it_ran(
    activity: FastAPI, own_database: str
) -> None:
    """The log grows while the replay reads it (an import still running): the replay reads on
    past the head it began at, to the head as it grows, and ends right before a void logged
    meanwhile (which it did not list when it began)."""
    org = "growing-org"
    events = [
        e
        for e in iter_events(teams=1, reps_per_team=2, scale=0.6, seed=9)
        if e["type"] in ("visit.logged", "call.logged")
    ][:310]
    assert len(events) == 310
    await post(activity, org, events[:200])
    heads: list[int] = []

    async def log_grows(seen: int) -> None:  # after each page the replay folds
        if not heads:  # more events, as an import stores them
            heads.append(await post(activity, org, events[200:300]))
        elif len(heads) == 1:  # a void of the first event, and more after it
            void = {
                "event_id": str(uuid.uuid4()),
                "type": "event.voided",
                "stream": events[0]["stream"],
                "occurred_at": events[0]["occurred_at"],
                "data": {"voided_event_id": events[0]["event_id"], "reason": "typo"},
            }
            heads.append(await post(activity, org, [void, *events[300:]]))

    token = issue_token(JWT_SECRET, org=org, role="service", sub="scoring")
    transport = httpx.ASGITransport(app=activity)
    async with ActivityClient("http://activity", token, transport=transport) as client:
        replayed = await replay_org(
            client, ZoneInfo("UTC"), page_size=50, progress=log_grows, to_first_new_void=True
        )
        # Its cursor is right before the void: the follower goes on from it.
        rest = await client.raw_page(replayed.cursor, limit=100)
    assert heads == [300, 311]
    assert (replayed.position, replayed.replay.folded, replayed.replay.voided) == (300, 300, 0)
    assert [e["position"] for e in rest["items"]] == list(range(301, 312))
    assert rest["items"][0]["type"] == "event.voided"


async def test_a_bulk_catch_up_replays_at_most_so_many_events(activity: FastAPI) -> None:
    """A log growing faster than it is replayed would keep a bulk catch-up going for ever: it
    ends at the first page boundary past `most` events, and the follower goes on from there."""
    org = "bounded-org"
    events = [
        e
        for e in iter_events(teams=1, reps_per_team=2, scale=0.6, seed=9)
        if e["type"] in ("visit.logged", "call.logged")
    ][:200]
    await post(activity, org, events)
    token = issue_token(JWT_SECRET, org=org, role="service", sub="scoring")
    transport = httpx.ASGITransport(app=activity)
    async with ActivityClient("http://activity", token, transport=transport) as client:
        replayed = await replay_org(
            client, ZoneInfo("UTC"), page_size=50, to_first_new_void=True, most=120
        )
        rest = await client.raw_page(replayed.cursor, limit=100)
    assert (replayed.position, replayed.replay.folded) == (150, 150)
    assert [e["position"] for e in rest["items"]] == list(range(151, 201))
