"""Keeping a followed org's scores and models current beside its pages (scorer.py computes
them): the keys that pages folded while behind left unscored, whole-org rescores when its day
turned or a new model is active, training when enough new outcomes came in, and the
projection's planner statistics after a burst (statistics.py). Each runs in the background
where it would hold pages up, and pokes the follower when done (pokes.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from .. import repository
from .pokes import Pokes
from .scorer import Scorer, Unscored

log = structlog.get_logger(__name__)
TRAIN_RETRY_SECONDS = 60.0  # after a failed training
SCORE_INLINE = 2_000  # keys left to score that a caught-up follower scores before its next page


class Upkeep:
    def __init__(self, pool: asyncpg.Pool, scorer: Scorer, pokes: Pokes) -> None:
        self._pool = pool
        self._scorer = scorer
        self._pokes = pokes
        self.trained: dict[str, datetime] = {}  # when each org's models were last trained
        self.train_failed: dict[str, float] = {}
        self.training: dict[str, asyncio.Task[Any]] = {}  # by org; outlive follower restarts
        self.rescoring: dict[str, asyncio.Task[None]] = {}  # whole-org rescores, by org
        self.unscored: dict[str, Unscored] = {}  # by org: what folding while behind left
        self.analyzing: asyncio.Task[None] | None = None  # the replica's, for every org

    def tasks(self) -> list[asyncio.Task[Any]]:
        """Every training, rescore and refresh of the statistics running."""
        analyzing = [self.analyzing] if self.analyzing is not None else []
        return [*self.training.values(), *self.rescoring.values(), *analyzing]

    def clear(self) -> None:
        """Forget every org's (their tasks stopped): the replica no longer folds any."""
        self.training.clear()
        self.rescoring.clear()
        self.unscored.clear()
        self.analyzing = None

    def refresh_statistics(self) -> None:
        """ANALYZE the projection's tables in the background, one refresh at a time for the
        replica (the tables are every org's: one that is running samples this org's rows too).
        On a large database it takes a second or more, which pages must not wait for: inline,
        a growing org's feed stalled at each doubling (bench.scoring at 1M events: appends
        visible at p99 0.9–4 s instead of ~0.1)."""
        if self.analyzing is not None and not self.analyzing.done():
            return
        self.analyzing = asyncio.create_task(self._analyze(), name="analyze-projection")

    async def _analyze(self) -> None:
        try:
            async with self._pool.acquire() as conn:
                await repository.analyze_generations(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Autovacuum refreshes them in time; the next burst tries again.
            log.warning("refreshing the planner statistics failed", error=str(exc))

    def take_tasks(self, org: str) -> list[asyncio.Task[Any]]:
        """The org's training and rescore, if running, for the caller to stop."""
        return [known.pop(org) for known in (self.training, self.rescoring) if org in known]

    def forget(self, org: str) -> None:
        """What only this replica knew of `org`: the next one to follow it rescores the org (it
        cannot know which keys were left) and finds when its models were trained in the
        database."""
        for known in (self.unscored, self.trained, self.train_failed):
            known.pop(org, None)

    def leave(
        self,
        org: str,
        generation: int,
        prospects: Iterable[str],
        customers: Iterable[str],
        removed: tuple[set[str], set[str]],
    ) -> None:
        """Keep the keys a page folded without scoring them, for `score_left`."""
        unscored = self.unscored.get(org)
        if unscored is None or unscored.generation != generation:  # a swap scored it
            unscored = self.unscored[org] = Unscored(generation)
        unscored.add(prospects, customers)
        # What a correction deleted: a rescore that read them before must not keep them.
        unscored.add(*removed)

    async def score_left(self, org: str, *, caught_up: bool) -> asyncio.Task[None] | None:
        """Score what pages left: a caught-up follower scores a few keys before its next page
        (which then scores its own in its transaction, so scores keep up with the KPIs);
        more, or while behind, in a task beside the next pages (which leave theirs for the
        next round), which wakes the follower when done: keys left since are scored at once,
        not at the next page. At a million events that is seconds no page waits for."""
        if caught_up and len(self.unscored[org]) <= SCORE_INLINE:
            await self.score_unscored(org, self.unscored.pop(org))
            return None
        task = asyncio.create_task(
            self.score_unscored(org, self.unscored.pop(org)), name=f"score-{org}"
        )
        poke = self._pokes.of(org)
        task.add_done_callback(lambda _t: poke.set())
        return task

    async def score_unscored(self, org: str, unscored: Unscored) -> None:
        """Score what the pages folded while behind left (taken out of `unscored` by the
        caller, before pages after them leave keys); when the rest of the org's scores are not
        current either, put them back and rescore the whole org (they are scored after it)."""
        if not await self._scorer.score_keys(self._pool, org, unscored):
            kept = self.unscored.get(org)
            if kept is None or kept.generation != unscored.generation:
                self.unscored[org] = kept = Unscored(unscored.generation, unscored.since)
            kept.add(unscored.prospects, unscored.customers)
            self.rescore(org)

    def rescore(self, org: str) -> None:
        """Rescore the whole org in the background while its pages go on being folded (they
        leave their keys unscored meanwhile; the follower scores them once it is written): at
        a million events a rescore takes seconds, which the feed does not wait for."""
        if org in self.rescoring:
            return
        task = asyncio.create_task(
            self._scorer.rescore(self._pool, org, folding=True), name=f"rescore-{org}"
        )
        poke = self._pokes.of(org)
        task.add_done_callback(lambda _t: poke.set())  # score what pages left meanwhile
        self.rescoring[org] = task

    async def keep_scored(self, org: str, row: asyncpg.Record) -> None:
        """Between pages of a follower that is caught up: start training when enough new
        outcomes came in (in the background: folding goes on; the task outlives a restart of
        the follower), and rescore the org when its day turned or a new model is active (in
        the background too)."""
        training = self.training.get(org)
        if training is not None and training.done():
            del self.training[org]
            if training.cancelled() or training.exception() is not None:
                error = "cancelled" if training.cancelled() else repr(training.exception())
                log.warning("training failed", org=org, error=error)
                self.train_failed[org] = time.monotonic()
            else:
                self.trained[org] = datetime.now(UTC)
            training = None
        failed = self.train_failed.get(org, -float("inf"))
        if training is None and time.monotonic() - failed >= TRAIN_RETRY_SECONDS:
            last = self.trained.get(org)
            if last is None:  # after a restart: when the active models were trained
                async with self._pool.acquire() as conn:
                    last = await self._scorer.last_trained(conn, org, row)
            if self._scorer.training_due(row, last):
                task = asyncio.create_task(
                    self._scorer.train_org(self._pool, org), name=f"train-{org}"
                )
                poke = self._pokes.of(org)
                task.add_done_callback(lambda _t: poke.set())  # rescore once it is stored
                self.training[org] = task
        if self._scorer.due(row):
            self.rescore(org)
