"""Rebuilding an org: replay its whole log into a new generation beside the live one
(generations.py, in a process of its own when it can), catch it up with the feed page by page
(pages.py), swap it in, and drop the old generation gently. Reads and live folding go on
meanwhile; reads use the old generation until the swap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import structlog

from shared.clients.activity import ActivityClient

from .. import jobs, repository, workers
from ..config import ScoringSettings
from ..priority.scores import HealthRow, ScoreRow
from . import generations
from .pages import Pages
from .scorer import Scorer, today

log = structlog.get_logger(__name__)
DROP_BATCH = 5_000  # rows of an old generation deleted a transaction after a swap


class Rebuilder:
    def __init__(
        self,
        settings: ScoringSettings,
        dsn: str,
        pool: asyncpg.Pool,
        scorer: Scorer,
        pages: Pages,
        *,
        client: Callable[[str], ActivityClient],
        token: Callable[[str], str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._dsn = dsn
        self._pool = pool
        self._scorer = scorer
        self._pages = pages
        self._client = client
        self._token = token
        self._transport = transport

    async def rebuild(self, org: str, *, reason: str = "asked", chase: bool = True) -> None:
        """Replay the org's whole log into a new generation beside the live one, catch it up
        with the live cursor, and swap it in; reads and live folding go on meanwhile.

        `chase=False` (a follower catching up in bulk, which stops folding meanwhile): swap as
        soon as the log is replayed, and leave what came in meanwhile to the follower, which
        folds it (or replays again, if that is faster) instead of chasing the feed here."""
        started = time.monotonic()
        scorer, settings = self._scorer, self._settings
        async with self._client(org) as client, self._pool.acquire() as conn:
            row = await repository.begin_rebuild(conn, org)
            old, new = row["generation"], row["generation"] + 1
            head = await client.backlog(None)
            total = head.events
            await repository.set_rebuild_progress(
                conn, org, {"state": "running", "done": 0, "total": total, "reason": reason}
            )
            timezone = ZoneInfo(row["timezone"])
            day = today(timezone)
            job = generations.Job(
                org=org,
                old=old,
                new=new,
                timezone=row["timezone"],
                total=total,
                page_size=settings.page_size,
                models=await scorer.models(conn, org, row),
                day=day,
                currency=scorer.currency(row),
                rules=scorer.job_rules,
                # Chasing (asked): up to the head as it began, the catch-up below folds the
                # rest. A bulk catch-up replays on to the head as the log grows instead.
                until=head.head_recorded_at if chase else None,
                read_on=not chase,
                reason=reason,
            )
            written = await self._write_generation(conn, client, job)
            written_at = time.monotonic()
            folded, voided, skipped = written.folded, written.voided, dict(written.skipped)
            outcomes, currency = written.outcomes, written.currency
            cursor, position = written.cursor, written.position
            last_recorded = written.last_recorded_at

            # Catch up with the head of the feed, then swap: the new generation holds everything
            # up to its cursor, so it may go live whenever it is not behind the live one.
            wait = 0.0
            while True:
                # Not chasing (a bulk catch-up): swap at once, the follower folds the rest.
                page = (
                    await client.raw_page(cursor, limit=settings.page_size, wait=wait)
                    if chase
                    else None
                )
                if page is not None and page["items"]:
                    n, more_skipped, closed, taken_out = await self._pages.apply(
                        org, page, expected=cursor, generation=new, client=client
                    )
                    folded += n
                    voided += taken_out
                    outcomes += closed
                    for k, v in more_skipped.items():
                        skipped[k] = skipped.get(k, 0) + v
                    cursor = page["next"]
                    position = page["items"][-1]["position"]
                    last_recorded = datetime.fromisoformat(page["items"][-1]["recorded_at"])
                    wait = 0.0
                    continue
                phases = _phases(written, catch_up=time.monotonic() - written_at)
                done = {
                    "state": "done",
                    "done": folded + voided,
                    "total": folded + voided,
                    "seconds": round(time.monotonic() - started, 3),
                    "phases": phases,
                    "write_steps": {
                        step: round(seconds, 3) for step, seconds in written.write_steps.items()
                    },
                    "reason": reason,
                }
                async with conn.transaction():
                    swapped = await repository.swap_generation(
                        conn,
                        org,
                        old=old,
                        new=new,
                        next_cursor=cursor,
                        position=position,
                        last_recorded_at=last_recorded,
                        seq=row["rebuild_seq"],
                        folded=folded,
                        voided=voided,
                        skipped=skipped,
                        currency=currency,
                        progress=done,
                    )
                    if swapped:  # what its scores and health were computed for, and its count
                        await repository.set_outcomes(conn, org, outcomes)
                        await repository.mark_scored(conn, org, new, day, scorer.marker(row))
                if swapped:
                    break
                # The live follower is past us: fold what it folded, waiting for it if need be.
                wait, chase = 1.0, True
            await _drop_gently(conn, org, keep=new)
        log.info(
            "rebuilt",
            org=org,
            reason=reason,
            events=folded,
            seconds=round(time.monotonic() - started, 2),
            phases={name: round(seconds, 2) for name, seconds in phases.items()},
            write_steps={name: round(seconds, 2) for name, seconds in written.write_steps.items()},
        )

    async def _write_generation(
        self, conn: asyncpg.Connection, client: ActivityClient, job: generations.Job
    ) -> generations.Written:
        """The replay and the new generation's write: in a process of its own when activity is
        reached over the network and worker processes are on (generations.py says why),
        else here."""
        settings = self._settings
        if self._transport is None and settings.worker_processes > 0:
            return await workers.alone(
                generations.write_in_process,
                self._dsn,
                settings.activity_url,
                self._token(job.org),
                job,
                nice=settings.worker_nice,
            )
        timezone = ZoneInfo(job.timezone)

        async def score(
            prospects: list[jobs.Profile], customers: list[jobs.Profile]
        ) -> tuple[list[ScoreRow], list[HealthRow]]:
            return await self._scorer.score_org(
                prospects, customers, job.models, job.day, timezone, job.currency
            )

        return await generations.write(conn, client, job, score)


async def _drop_gently(conn: asyncpg.Connection, org: str, keep: int) -> None:
    """Delete the generations a swap left behind a batch at a time, each followed by a pause
    as long as it took: at a million events that is millions of rows, which one DELETE would
    churn through on a core of its own for tens of seconds while the follower writes the org's
    pages; paced, it takes at most half of one."""
    for table in repository.GENERATION_TABLES:
        while True:
            began = time.monotonic()
            deleted = await repository.drop_generations_batch(conn, org, keep, table, DROP_BATCH)
            if deleted < DROP_BATCH:
                break
            await asyncio.sleep(time.monotonic() - began)


def _phases(written: generations.Written, *, catch_up: float) -> dict[str, float]:
    """Where a rebuild's time went (seconds), as `GET /v1/admin/rebuild` shows it when done."""
    return {
        name: round(seconds, 3)
        for name, seconds in (
            ("replay", written.replay_seconds),
            ("score", written.score_seconds),
            ("write", written.write_seconds),
            ("catch_up", catch_up),
        )
    }
