"""A rebuild's heavy half: replay an org's whole log into a new generation and write it beside
the live one (rollups, entities, wins, scores and health), ready for rebuild.py to catch up
and swap in.

The replay holds the org's whole book (every deal, lead, account and profile) in memory while
it folds; after it, that memory stays with the process that held it (the allocator keeps what
was freed). So when activity is reached over the network, rebuild.py runs `write_in_process`
in a process of its own (`workers.alone`), which ends with the rebuild and hands its memory back
to the operating system: the serving process never holds the book. With an in-process
transport (the tests') or `SCORING_WORKER_PROCESSES=0` it runs in the serving process: the same
code.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from shared import tasks
from shared.clients.activity import ActivityClient

from .. import jobs, repository
from ..priority.scores import ActiveModel, HealthRow, ScoreRow
from .replayer import replay_org

Score = Callable[
    [list[jobs.Profile], list[jobs.Profile]], Awaitable[tuple[list[ScoreRow], list[HealthRow]]]
]
PROGRESS_SECONDS = 0.5
# A bulk catch-up replays at most this many times the log it began with: an import storing
# faster than the replay folds would otherwise keep it (and its growing book) going.
BULK_MOST = 4
T = TypeVar("T")


class Superseded(RuntimeError):
    """The org moved on while this rebuild replayed: its live generation changed, or another
    rebuild opened a generation for catch-up."""


@dataclass(frozen=True, slots=True)
class Job:
    """What a rebuild's replay needs, as it pickles into a process of its own."""

    org: str
    old: int  # the live generation when the rebuild began
    new: int
    timezone: str
    total: int  # the events the feed held when it began (for progress)
    page_size: int
    models: Mapping[str, ActiveModel]
    day: date
    currency: str  # money of health rows is counted in it
    rules: jobs.Rules
    # The replay folds the events recorded up to it (the head of the log when the rebuild
    # began; None: to the end): voids logged while it runs, which would send it back to the
    # start, are left to the catch-up after it, with what else came in meanwhile.
    until: datetime | None = None
    reason: str = "asked"
    # A bulk catch-up (`until` None): the replay reads on as the log grows, to its head, with
    # the voids logged meanwhile read ahead of it (replayer.replay_org, voids_ahead.py), so an
    # import still running, corrections and all, is replayed in one pass.
    read_on: bool = False


@dataclass(frozen=True, slots=True)
class Written:
    """The new generation as written: where its cursor stands and what it counted."""

    cursor: str | None
    position: int
    last_recorded_at: datetime | None
    folded: int
    voided: int
    skipped: dict[str, int]
    outcomes: int
    currency: str | None
    replay_seconds: float  # reading and folding the log (fact sums staged as they pile up)
    score_seconds: float  # scoring the open leads and deals, judging the accounts (its own
    # time: it runs while the rollups are written, so it overlaps `write_seconds`)
    write_seconds: float  # writing the new generation, from the replay's end
    # …of which: the rollups (summed from the staged facts), the wins and entities, the scores
    # and health, and the planner statistics
    write_steps: Mapping[str, float] = field(default_factory=dict)


async def write(
    conn: asyncpg.Connection,
    client: ActivityClient,
    job: Job,
    score: Score,
    *,
    alone: bool = False,
) -> Written:
    """Replay the org's log, score its open leads and deals and judge its accounts (`score`),
    and write all of it as generation `job.new`, opened for catch-up, in one transaction.

    `alone` (a process of its own): the replay runs with the cyclic garbage collector off but
    for the young objects after each page. The collector would otherwise walk the whole
    growing book again and again (measured with `bench.fold`: 32 µs an event with it, 23
    without, at 200k events); the young collection takes a page's own garbage (its response's
    cycles) before the next page is read, while everything that survives it is the book."""
    last_report = 0.0

    async def progress(done: int) -> None:
        nonlocal last_report
        if time.monotonic() - last_report >= PROGRESS_SECONDS:
            last_report = time.monotonic()
            await repository.set_rebuild_progress(
                conn,
                job.org,
                {
                    "state": "running",
                    "done": done,
                    "total": max(job.total, done),
                    "reason": job.reason,
                },
            )

    started = time.monotonic()
    stage = repository.FactStage(conn)
    await stage.open()
    with _collector_off() if alone else contextlib.nullcontext():
        replayed = await replay_org(
            client,
            ZoneInfo(job.timezone),
            page_size=job.page_size,
            until=job.until,
            progress=progress,
            stage=stage,
            after_page=_collect_young if alone else None,
            read_on=job.read_on,
            most=BULK_MOST * max(job.total, job.page_size) if job.read_on else None,
            pack=True,
        )
    result = replayed.replay
    await stage.add(result.sums)
    replayed_at = time.monotonic()
    book = replayed.packed
    assert book is not None
    # The scores are computed (Python, in a thread or worker processes) while PostgreSQL adds
    # up and writes the rollups: each would otherwise wait for the other.
    scoring = asyncio.ensure_future(
        _timed_call(score(book.profiles("prospects"), book.profiles("customers")))
    )
    steps: dict[str, float] = {}
    try:
        with _timed(steps, "series"):  # committed before the generation's transaction
            await stage.series(job.org)
        async with conn.transaction():
            with _timed(steps, "rollups"):
                await stage.write(job.org, job.new)
            steps["rollups"] += steps.pop("series")
            with _timed(steps, "entities"):
                await repository.copy_generation(conn, job.org, job.new, result.wins, book.stored())
            (score_rows, health_rows), score_seconds = await scoring
            with _timed(steps, "scores"):
                await repository.replace_scores_and_health(
                    conn, job.org, job.new, score_rows, health_rows
                )
            with _timed(steps, "statistics"):
                await repository.analyze_generations(conn)
            if not await repository.open_next(
                conn, job.org, old=job.old, new=job.new, cursor=replayed.cursor
            ):
                raise Superseded(job.org)
    finally:  # a write that failed before it took the scores: stop them (its error wins)
        await tasks.stop(scoring)
    return Written(
        cursor=replayed.cursor,
        position=replayed.position,
        last_recorded_at=replayed.last_recorded_at,
        folded=result.folded,
        voided=result.voided,
        skipped=dict(result.skipped),
        outcomes=book.outcomes(),
        currency=await repository.first_currency(conn, job.org, job.new),
        replay_seconds=replayed_at - started,
        score_seconds=score_seconds,
        write_seconds=time.monotonic() - replayed_at,
        write_steps=steps,
    )


def write_in_process(dsn: str, activity_url: str, token: str, job: Job) -> Written:
    """`write`, in a process of its own: its own connection and client; scores computed here."""
    return asyncio.run(_write_alone(dsn, activity_url, token, job))


async def _write_alone(dsn: str, activity_url: str, token: str, job: Job) -> Written:
    timezone = ZoneInfo(job.timezone)

    async def score(
        prospects: list[jobs.Profile], customers: list[jobs.Profile]
    ) -> tuple[list[ScoreRow], list[HealthRow]]:
        return await asyncio.to_thread(
            jobs.score_org,
            prospects,
            customers,
            job.models,
            job.day,
            timezone,
            job.currency,
            job.rules,
        )

    conn = await asyncpg.connect(dsn, server_settings={"application_name": "scoring-rebuild"})
    try:
        async with ActivityClient(activity_url, token) as client:
            return await write(conn, client, job, score, alone=True)
    finally:
        await conn.close()


async def _timed_call(work: Awaitable[T]) -> tuple[T, float]:
    """What `work` returns, and how long it took."""
    started = time.monotonic()
    return await work, time.monotonic() - started


@contextlib.contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        steps[name] = time.monotonic() - started


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _collect_young() -> None:
    gc.collect(0)
