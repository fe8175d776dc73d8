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
from services.scoring.follow.replayer import Replayed, replay_org
from services.scoring.projections.codec import KINDS
from services.scoring.projections.rollup import replay
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


def touches(seed: int, n: int, *, scale: float = 0.6) -> list[dict[str, Any]]:
    """The first `n` visits and calls of a synthetic log (at most `n`)."""
    return [
        e
        for e in iter_events(teams=1, reps_per_team=2, scale=scale, seed=seed)
        if e["type"] in ("visit.logged", "call.logged")
    ][:n]


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


async def test_a_bulk_catch_up_while_voids_keep_coming_ends_and_the_follower_goes_on(
    activity: FastAPI, own_database: str, pool: asyncpg.Pool
) -> None:
    """A replay that meets a void it did not list first would have to start over; one reading
    to the end of a log that keeps growing with voids (a history being imported) would start
    over for ever. A bulk catch-up reads voids ahead and leaves out the events they void, ends
    once it has reached the head (or before a void of an event it folded), and leaves the rest
    to the follower: what they end with is a clean rebuild's."""
    org = "voids-org"
    events = touches(8, 500, scale=0.3)
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
    events = touches(9, 310, scale=0.6)
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
            client, ZoneInfo("UTC"), page_size=50, progress=log_grows, read_on=True
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
    events = touches(9, 200, scale=0.6)
    await post(activity, org, events)
    token = issue_token(JWT_SECRET, org=org, role="service", sub="scoring")
    transport = httpx.ASGITransport(app=activity)
    async with ActivityClient("http://activity", token, transport=transport) as client:
        replayed = await replay_org(client, ZoneInfo("UTC"), page_size=50, read_on=True, most=120)
        rest = await client.raw_page(replayed.cursor, limit=100)
    assert (replayed.position, replayed.replay.folded) == (150, 150)
    assert [e["position"] for e in rest["items"]] == list(range(151, 201))


@contextlib.asynccontextmanager
async def service_client(activity: FastAPI, org: str) -> AsyncIterator[ActivityClient]:
    """Activity's client as scoring holds it for `org`."""
    token = issue_token(JWT_SECRET, org=org, role="service", sub="scoring")
    transport = httpx.ASGITransport(app=activity)
    async with ActivityClient("http://activity", token, transport=transport) as client:
        yield client


async def bulk_replay(
    client: ActivityClient, progress: Any, *, most: int | None = None
) -> Replayed:
    """A bulk catch-up's replay in pages of 50, `progress` called after each page."""
    return await replay_org(
        client, ZoneInfo("UTC"), page_size=50, progress=progress, read_on=True, most=most
    )


def void_of(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "event.voided",
        "stream": event["stream"],
        "occurred_at": event["occurred_at"],
        "data": {"voided_event_id": event["event_id"], "reason": "typo"},
    }


def unvoided(seed: int, n: int) -> list[dict[str, Any]]:
    """The first `n` events of a synthetic log (every kind but voids), in log order."""
    events = [
        e
        for e in iter_events(teams=1, reps_per_team=2, scale=0.6, seed=seed)
        if e["type"] != "event.voided"
    ][:n]
    assert len(events) == n
    return events


async def logged(client: ActivityClient, up_to: int) -> list[dict[str, Any]]:
    """The org's log up to position `up_to`, as the feed serves it."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await client.raw_page(cursor, limit=1000)
        items += [e for e in page["items"] if e["position"] <= up_to]
        cursor = page["next"]
        if not page["has_more"]:
            return items


async def same_as_a_clean_replay(client: ActivityClient, replayed: Replayed) -> None:
    """What the bulk replay ended with is the clean replay of the log up to where it ended,
    with the voids in that part of the log applied (and no others)."""
    events = await logged(client, replayed.position)
    voided = frozenset(e["data"]["voided_event_id"] for e in events if e["type"] == "event.voided")
    clean = replay(events, ZoneInfo("UTC"), voided)
    got = replayed.replay
    assert (got.folded, got.voided, dict(got.skipped)) == (
        clean.folded,
        clean.voided,
        dict(clean.skipped),
    )
    assert got.sums == clean.sums
    assert sorted(got.wins) == sorted(clean.wins)
    for kind in KINDS:
        assert getattr(got.book, kind) == getattr(clean.book, kind), kind


async def test_a_bulk_catch_up_leaves_out_what_voids_logged_meanwhile_void_before_it_folds_it(
    activity: FastAPI,
) -> None:
    """Voids logged while the replay runs (an import storing a history with its corrections)
    are read ahead of the pages: the events they void that the replay has not folded yet are
    left out, and it reads on to the head instead of ending at the first of those voids."""
    org = "voids-ahead-org"
    events = unvoided(11, 300)
    await post(activity, org, events[:200])
    visits = [e for e in events[200:] if e["type"] in ("visit.logged", "call.logged")][:8]
    assert len(visits) == 8
    voids = [void_of(v) for v in visits]
    heads: list[int] = []

    async def log_grows(seen: int) -> None:
        if not heads:  # the rest of the history, its voids among it
            heads.append(await post(activity, org, events[200:250] + voids[:4] + events[250:]))
            heads.append(await post(activity, org, voids[4:]))

    async with service_client(activity, org) as client:
        replayed = await bulk_replay(client, log_grows)
        assert heads == [304, 308]
        assert (replayed.position, replayed.replay.voided) == (308, 8)
        assert replayed.replay.folded == 300 - 8 + 8  # the voids themselves fold (no facts)
        await same_as_a_clean_replay(client, replayed)
        rest = await client.raw_page(replayed.cursor, limit=100)
    assert rest["items"] == []


async def test_voids_are_read_before_the_replay_reaches_the_end_of_the_log_it_knows(
    activity: FastAPI,
) -> None:
    """A correction comes soon after its event: the voids just past the end of the log as the
    replay last read it name events just before that end. Read only once the replay got there,
    they would name events folded already and end it; read some pages earlier, they do not."""
    org = "voids-in-time-org"
    events = unvoided(17, 300)
    await post(activity, org, events[:200])
    heads: list[int] = []

    async def log_grows(seen: int) -> None:  # once the first page is folded
        if not heads:  # event 180: past the first page, before the end as first read (200)
            heads.append(await post(activity, org, [*events[200:], void_of(events[179])]))

    async with service_client(activity, org) as client:
        replayed = await bulk_replay(client, log_grows)
        assert heads == [301]
        assert (replayed.position, replayed.replay.voided) == (301, 1)
        await same_as_a_clean_replay(client, replayed)


async def test_a_bulk_catch_up_ends_before_a_void_of_an_event_it_has_folded(
    activity: FastAPI,
) -> None:
    """A void read ahead whose event the replay has folded already cannot be taken back out in
    memory: the replay ends right before it, with the voids before it applied and none after
    it, and the follower goes on from there (correcting it in place)."""
    org = "void-behind-org"
    events = unvoided(12, 300)
    await post(activity, org, events[:200])
    folded = next(e for e in events[:50] if e["type"] in ("visit.logged", "call.logged"))
    later = [e for e in events[200:] if e["type"] in ("visit.logged", "call.logged")][:4]
    assert len(later) == 4
    heads: list[int] = []

    async def log_grows(seen: int) -> None:
        if not heads:
            heads.append(
                await post(
                    activity,
                    org,
                    [*events[200:], void_of(later[0]), void_of(folded), void_of(later[1])],
                )
            )

    async with service_client(activity, org) as client:
        replayed = await bulk_replay(client, log_grows)
        assert heads == [303]
        # It ends at 301, the void of `later[0]` applied; `later[1]` (voided at 303) counted.
        assert (replayed.position, replayed.replay.voided) == (301, 1)
        await same_as_a_clean_replay(client, replayed)
        rest = await client.raw_page(replayed.cursor, limit=100)
    assert [e["position"] for e in rest["items"]] == [302, 303]
    assert rest["items"][0]["data"]["voided_event_id"] == folded["event_id"]


async def test_a_bulk_catch_up_bounded_by_most_reads_on_to_the_voids_it_applied(
    activity: FastAPI,
) -> None:
    """`most` ends a bulk catch-up at a page boundary, but not before a void whose event it
    left out: ending there would leave the event out of a log that does not void it yet."""
    org = "bounded-voids-org"
    events = unvoided(13, 300)
    await post(activity, org, events[:200])
    # Folded in the page that passes `most` (201-250), voided after the page's end.
    target = [e for e in events[200:250] if e["type"] in ("visit.logged", "call.logged")][-1]
    heads: list[int] = []

    async def log_grows(seen: int) -> None:
        if not heads:
            heads.append(await post(activity, org, [*events[200:], void_of(target)]))

    async with service_client(activity, org) as client:
        replayed = await bulk_replay(client, log_grows, most=220)
        assert heads == [301]
        assert (replayed.position, replayed.replay.voided) == (301, 1)
        await same_as_a_clean_replay(client, replayed)


async def test_a_bulk_catch_up_bounded_by_most_reads_on_to_the_voids_listed_first(
    activity: FastAPI,
) -> None:
    """The voids in the log when it begins are applied too (their events left out): `most`
    does not end it before the last of them."""
    org = "listed-voids-org"
    events = touches(15, 200)
    await post(activity, org, [*events, void_of(events[9])])
    async with service_client(activity, org) as client:
        replayed = await bulk_replay(client, None, most=120)
        assert (replayed.position, replayed.replay.voided) == (201, 1)
        await same_as_a_clean_replay(client, replayed)


async def test_a_void_logged_between_the_head_and_the_voids_being_read_is_reached(
    activity: FastAPI,
) -> None:
    """A void logged after the replay read the head but before it read the voids lies past
    what it knows of the log; it applied it, so it reads on to it all the same."""
    org = "void-in-between-org"
    events = touches(16, 200)
    await post(activity, org, events)
    logged_between: list[int] = []
    async with service_client(activity, org) as client:
        head = client.backlog

        async def head_then_a_void(after: str | None) -> Any:
            answer = await head(after)
            if not logged_between:  # event 140 is not folded yet: the replay leaves it out
                logged_between.append(await post(activity, org, [void_of(events[139])]))
            return answer

        client.backlog = head_then_a_void  # type: ignore[method-assign]
        replayed = await bulk_replay(client, None, most=150)
        assert logged_between == [201]
        assert (replayed.position, replayed.replay.voided) == (201, 1)
        await same_as_a_clean_replay(client, replayed)


async def test_a_bulk_catch_up_bounded_by_most_ends_while_voids_keep_coming(
    activity: FastAPI,
) -> None:
    """Past `most`, it reads no more voids ahead: a log that keeps growing with visits and
    their voids would otherwise move the last void it applied on and on, and with it the end."""
    org = "endless-voids-org"
    visits = touches(14, 200, scale=0.6)
    await post(activity, org, visits)
    rounds: list[int] = []

    async def log_grows(seen: int) -> None:  # after every page: 75 visits (more than a page)
        if len(rounds) < 40:
            more = [{**v, "event_id": str(uuid.uuid4())} for v in visits[:75]]
            rounds.append(await post(activity, org, [*more, void_of(more[-1])]))

    async with service_client(activity, org) as client:
        replayed = await bulk_replay(client, log_grows, most=220)
        assert len(rounds) < 15  # it did not chase the log while it grew
        assert replayed.replay.voided > 0
        await same_as_a_clean_replay(client, replayed)
