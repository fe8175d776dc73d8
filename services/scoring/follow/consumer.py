"""The consumer: follows every org's feed and keeps the projection in step, exactly once.

Orgs are leased to the consuming replicas (leases.py): each holds, on a connection of its
own, an advisory lock per org it folds, at most its share of the orgs. If a replica dies,
PostgreSQL drops its locks with its connection and the others take its orgs at their next look
(every `discovery_seconds`; a replica that lost its connection tries again every
`election_seconds`). Each replica:

- looks for orgs (activity's `GET /v1/orgs`, a platform token) every `discovery_seconds`,
  leases free ones up to its share (letting go of those past it when a replica joined), and
  follows each leased org's feed in its own task (long-polling, so new events fold within
  moments);
- folds a page with the pure fold, then writes the changed entities, the rollup deltas, the
  wins and the new cursor **in one transaction**, the cursor by compare-and-set: a page is
  applied once, whatever crashes or which replica believed it led;
- while behind the feed (a history import, a burst), folds pages without scoring the leads,
  deals and accounts they change, and scores those once caught up, or every
  `scores_lag_seconds` (scorer.py): a profile that the next page changes again is scored once,
  not page after page. Those scores are written while the next pages are folded (which leave
  theirs for the next round); `scored_position` says how far scores go; a restart that forgot
  the keys rescores the whole org;
- takes a voided event back out with its page (`corrections.py`): the slice of the log about
  the voided event's customer (or lead) is folded with and without it, and the difference is
  written in the page's transaction, so a correction costs that customer's history, not the
  org's; a slice past `correction_events` asks for a rebuild instead;
- rebuilds an org (`replayer.py`) into a new generation when asked to, or when its timezone
  changes; reads use the old generation until the swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from shared import tasks
from shared.auth import PLATFORM_ORG, service_token
from shared.clients.activity import ActivityClient
from shared.errors import DomainError, UpstreamUnavailable

from .. import jobs, repository, workers
from ..config import ScoringSettings
from ..priority.scores import HealthRow, ScoreRow
from ..projections import leads
from ..projections.kpis import Book, Event, fold
from ..projections.rollup import FactSums, collect, expand
from . import corrections, generations, leases
from .corrections import Correction
from .entity_cache import EntityCache
from .replayer import VOID
from .scorer import Scorer, Unscored, outcome_change, today

log = logging.getLogger("salesperf.scoring.consumer")
# Scoring's service tokens: short-lived, but a rebuild's replay in a worker process keeps the one
# it was handed for its whole run, at least half of this (2 h: ~70M events at the measured rate).
TOKEN_TTL = 4 * 3600
TRAIN_RETRY_SECONDS = 60.0  # after a failed training
# How often a follower that is behind asks activity how far (a count over the backlog: far
# behind, that is a scan of most of the org's log).
LAG_CHECK_SECONDS = 5.0
# A rebuild replays an org's log about this many times faster than a follower folds it page by
# page (bench.scoring at 1M events: 11.4k against 3.3k events/s): a backlog worth more than
# 1/BULK_ADVANTAGE of the org's log is caught up faster by rebuilding the whole log.
BULK_ADVANTAGE = 3
SCORE_INLINE = 2_000  # keys left to score that a caught-up follower scores before its next page
DROP_BATCH = 5_000  # rows of an old generation deleted a transaction after a swap


@dataclass(slots=True)
class Lag:
    events: int = 0
    seconds: float = 0.0
    checked: float = 0.0  # monotonic time of the last backlog check


@dataclass(slots=True)
class ConsumerState:
    """What `/readyz` reports: the orgs this replica folds, and each one's lag."""

    connected: bool = False  # holds its lease connection (and so takes part)
    replicas: int = 0  # consuming replicas alive at the last look, this one included
    leased: set[str] = field(default_factory=set)
    lag: dict[str, Lag] = field(default_factory=dict)
    errors: int = 0

    @property
    def leading(self) -> bool:
        """Whether this replica folds any org."""
        return bool(self.leased)


class Applied(NamedTuple):
    folded: int
    skipped: dict[str, int]
    outcomes: int  # leads and deals the page closed
    voided: int = 0  # events its voids took out


@dataclass(slots=True)
class Folded:
    """A page folded, not yet written: what `Consumer._write` stores."""

    org: str
    generation: int
    timezone: str
    page: dict[str, Any]
    changed: dict[tuple[str, str], Any]  # the entities it changed, as it left them
    sums: FactSums
    wins: list[Any]
    folded: int
    skipped: dict[str, int]
    currency: str | None
    before: dict[str, Any]  # its prospects as they were before it
    # Prospects and customers its correction deleted.
    removed: tuple[set[str], set[str]] = field(default_factory=lambda: (set(), set()))

    @property
    def prospects(self) -> dict[str, Any]:
        return {key: v for (kind, key), v in self.changed.items() if kind == "prospects"}

    @property
    def customers(self) -> dict[str, Any]:
        return {key: v for (kind, key), v in self.changed.items() if kind == "customers"}


def _has_voids(page: dict[str, Any]) -> bool:
    return any(e["type"] == VOID for e in page["items"])


def _merge(folded: Folded, fix: Correction) -> None:
    """Fold a correction into its page: the slice's entity states replace the page's (they
    are what the log says once its voids are taken out), its sums and counts add up."""
    # What the page did not touch was, before it, as the log had it with the old voids (the
    # page's own entities were loaded before it, or are new).
    for stream, prospect in fix.prior.items():
        if ("prospects", stream) not in folded.changed:
            folded.before.setdefault(stream, prospect)
    for entity in fix.removed:
        folded.changed.pop(entity, None)
    folded.changed.update(fix.entities)
    folded.removed = (fix.prospects_removed(), fix.customers_removed())
    for fact, value in fix.sums.items():
        folded.sums[fact] = folded.sums.get(fact, 0) + value
    folded.folded += fix.folded
    skipped = dict(folded.skipped)
    for kind, change in fix.skipped.items():
        skipped[kind] = skipped.get(kind, 0) + change
    folded.skipped = skipped


@dataclass(frozen=True, slots=True)
class Gathered:
    """A page's correction slice, read ahead (`events` None: too large, rebuild instead)."""

    events: list[Event] | None


class Fenced(Exception):
    """The org's cursor or generation moved under us: start that org over from the database."""


def _keys_of(event: dict[str, Any]) -> set[tuple[str, str]]:
    """The entities a fold of `event` may read or write (more are found from those)."""
    keys: set[tuple[str, str]] = set()
    stream: str = event["stream"]
    data = event["data"]
    if stream.startswith("lead-"):
        keys.add(("leads", stream))
    elif stream.startswith("deal-"):
        keys.add(("deals", stream))
    else:
        keys.add(("accounts", stream.removeprefix("account-")))
    if data.get("account_id"):
        keys.add(("accounts", data["account_id"]))
    if data.get("lead_id"):
        keys.add(("leads", f"lead-{data['lead_id']}"))
    if data.get("deal_id"):
        keys.add(("deals", f"deal-{data['deal_id']}"))
    if data.get("invoice_id"):
        keys.add(("invoices", data["invoice_id"]))
    keys |= {("prospects", key) for key in leads.keys_read(event, {})}
    keys |= {("customers", account) for kind, account in keys if kind == "accounts"}
    return keys


def _derived_keys(entities: dict[tuple[str, str], Any]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for (kind, _), value in entities.items():
        if kind in ("leads", "deals") and value.account_id:
            keys.add(("accounts", value.account_id))
            keys.add(("customers", value.account_id))
        if kind == "invoices" and value.deal:
            keys.add(("deals", value.deal))
        if kind == "prospects" and value.lead:
            keys.add(("prospects", value.lead))
    return keys


class Consumer:
    def __init__(
        self,
        settings: ScoringSettings,
        dsn: str,
        pool: asyncpg.Pool,
        secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._dsn = dsn
        self._pool = pool
        self._secret = secret
        self._transport = transport
        self.state = ConsumerState()
        self.scorer = Scorer(settings, dsn)
        self._trained: dict[str, datetime] = {}  # when each org's models were last trained
        self._train_failed: dict[str, float] = {}
        self._training: dict[str, asyncio.Task[Any]] = {}  # by org; outlive follower restarts
        self._rescoring: dict[str, asyncio.Task[None]] = {}  # whole-org rescores, by org
        self._pokes: dict[str, asyncio.Event] = {}  # by org: a long-poll to cut short
        self._unscored: dict[str, Unscored] = {}  # by org: what folding while behind left
        self._task: asyncio.Task[None] | None = None
        self._replica = uuid.uuid4().hex  # this replica's name in the lease ranking

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._elect(), name="scoring-consumer")

    async def stop(self) -> None:
        await tasks.stop(self._task)

    def token(self, org: str) -> str:
        """Scoring's service token for `org`: signed with the current key, re-minted once half
        its life is gone (shared/auth.py)."""
        return service_token(self.settings, org=org, sub="scoring", ttl_seconds=TOKEN_TTL,
                             secret=self._secret)  # fmt: skip

    def client(self, org: str) -> ActivityClient:
        """A client of activity for `org` that asks for the token at each request (a follower's
        client lives as long as the follower)."""
        return ActivityClient(
            self.settings.activity_url, lambda: self.token(org), transport=self._transport
        )

    async def _elect(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": "scoring-leases"}
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot reach the database to lease orgs: %r", exc)
                await asyncio.sleep(self.settings.election_seconds)
                continue
            try:
                await repository.join_replicas(conn)
                self.state.connected = True
                await self._lead(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lost the lease connection (and every org with it): %r", exc)
            finally:
                self.state.connected = False
                self.state.leased.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(self.settings.election_seconds)

    async def _lead(self, leases_conn: asyncpg.Connection) -> None:
        """Every `discovery_seconds`: find the orgs, count the live replicas, let go of the
        orgs past this replica's share, lease free ones up to it, and follow each one held."""
        followers: dict[str, asyncio.Task[None]] = {}
        self._pokes = {}
        platform = self.client(PLATFORM_ORG)
        poked: set[str] = set()  # orgs flagged for a rebuild at the last look, already woken
        try:
            while True:
                try:
                    orgs = [o.org_id for o in (await platform.orgs()).items]
                except DomainError as exc:
                    log.warning("cannot list orgs: %s", exc)
                    orgs = []
                async with self._pool.acquire() as conn:
                    known = [r["org_id"] for r in await repository.list_orgs(conn)]
                    flagged = set(await repository.orgs_to_rebuild(conn))
                every = list(dict.fromkeys([*orgs, *known]))
                replicas = await repository.count_replicas(leases_conn)
                mine = leases.share(len(every), replicas, self.settings.max_orgs)
                for org in leases.to_release(self._replica, followers, mine):
                    await self._let_go(org, followers.pop(org), leases_conn)
                taken = await repository.leases_of_others(leases_conn)
                room = mine - len(followers)
                for org in leases.to_take(self._replica, every, set(followers), taken, room):
                    if await repository.try_lease(leases_conn, leases.key(org)):
                        followers[org] = self._start_following(org)
                for org, task in followers.items():
                    if task.done():  # a follower never ends on its own: it failed; again
                        followers[org] = self._start_following(org)
                    elif org in flagged and org not in poked:
                        # Wake a long-poll once: a rebuild was asked for. Once only: a poke
                        # cancels the fetch in flight, and poking every round could cancel
                        # every fetch of a follower that is behind, which then never catches
                        # up enough to start the rebuild.
                        self._pokes[org].set()
                poked = flagged
                self.state.replicas = replicas
                self.state.leased = set(followers)
                await asyncio.sleep(self.settings.discovery_seconds)
        finally:
            await tasks.stop(
                *followers.values(), *self._training.values(), *self._rescoring.values()
            )
            self._training.clear()
            self._rescoring.clear()
            self._unscored.clear()
            self.state.lag.clear()
            await platform.aclose()

    def _start_following(self, org: str) -> asyncio.Task[None]:
        self._pokes[org] = asyncio.Event()
        return asyncio.create_task(self._follow(org), name=f"follow-{org}")

    async def _let_go(
        self, org: str, follower: asyncio.Task[None], leases_conn: asyncpg.Connection
    ) -> None:
        """Stop following `org` (a page being written is rolled back: the replica that takes
        the org folds it again from the cursor) and free its lease for another replica."""
        await tasks.stop(follower, *(known.pop(org) for known in (self._training, self._rescoring)
                                     if org in known))  # fmt: skip
        await repository.release_lease(leases_conn, leases.key(org))
        # What only this replica knew: the next one rescores the org (it cannot know which
        # keys were left) and finds when its models were trained in the database.
        for known in (self._unscored, self._trained, self._train_failed, self.state.lag):
            known.pop(org, None)
        log.info("let go of org %s for another replica", org)

    # ------------------------------------------------------------------ one org

    async def _follow(self, org: str) -> None:
        backoff = 0.5
        async with self.client(org) as client:
            while True:
                try:
                    await self._follow_once(org, client)
                except Fenced:
                    log.info("org %s moved under us; reloading", org)
                except (
                    UpstreamUnavailable,
                    OSError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                ) as exc:
                    self.state.errors += 1
                    log.warning("following %s: %r; retrying in %.1fs", org, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30)
                    continue
                backoff = 0.5

    async def _next_page(
        self, org: str, client: ActivityClient, cursor: str | None, wait: float
    ) -> dict[str, Any] | None:
        """The next page, or None when a rebuild request woke the long-poll first."""
        poke = self._pokes.setdefault(org, asyncio.Event())
        fetch = asyncio.ensure_future(
            client.raw_page(cursor, limit=self.settings.page_size, wait=wait)
        )
        woken = asyncio.ensure_future(poke.wait())
        try:
            await asyncio.wait({fetch, woken}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled (shutdown): the fetch must not outlive its follower
            await tasks.stop(fetch)
            raise
        finally:
            woken.cancel()
        if fetch.done():
            return fetch.result()
        await tasks.stop(fetch)  # raises if this follower is cancelled meanwhile
        poke.clear()
        return None

    async def _follow_once(self, org: str, client: ActivityClient) -> None:
        async with self._pool.acquire() as conn:
            row = await repository.ensure_org(conn, org, self.settings.default_timezone)
        cursor: str | None = row["cursor"]
        rebuilding: asyncio.Task[None] | None = None
        last_rebuild = -float("inf")
        due = True
        behind = True
        cache = EntityCache(self.settings.fold_cache)
        writing: asyncio.Task[Applied] | None = None  # while behind: the page being written
        scoring: asyncio.Task[None] | None = None  # while behind: scores of earlier pages

        async def settle() -> None:
            """Wait for the page being written (raising what failed it)."""
            nonlocal writing
            if writing is not None:
                await writing
                writing = None

        async def scored() -> None:
            """Wait for the scores being written (raising what failed them)."""
            nonlocal scoring
            if scoring is not None:
                task, scoring = scoring, None
                await task

        try:
            while True:
                if rebuilding is not None and rebuilding.done():
                    rebuilding.result()  # a failed rebuild raises here; the follower restarts
                    rebuilding = None
                rescoring = self._rescoring.get(org)
                if rescoring is not None and rescoring.done():
                    del self._rescoring[org]
                    rescoring.result()  # a failed rescore raises here; the follower restarts
                    if not behind and org in self._unscored and scoring is None:
                        await settle()  # what pages left meanwhile
                        scoring = await self._score_left(org, caught_up=True)
                if rebuilding is None:
                    async with self._pool.acquire() as conn:
                        row = await repository.get_org(conn, org)
                    assert row is not None
                    # Asked by an admin: now. Asked by voids: once caught up (catching up
                    # matters more), and not more often than configured.
                    due = row["rebuild_asked"] or (
                        not behind
                        and time.monotonic() - last_rebuild >= self.settings.rebuild_seconds
                    )
                    if row["rebuild_requested"] and due:
                        last_rebuild = time.monotonic()
                        rebuilding = asyncio.create_task(self.rebuild(org), name=f"rebuild-{org}")
                    elif not behind:
                        await self._keep_scored(org, row)
                # While a rebuild runs, poll often enough to see it finish.
                wait = 0.0 if cursor is None else self.settings.long_poll_seconds
                if rebuilding is not None or (row["rebuild_requested"] and not due):
                    wait = min(wait, 0.5)
                page = await self._next_page(org, client, cursor, wait)
                if page is None:
                    continue
                page = await self._coalesce(client, page)
                behind = page["has_more"]
                if page["items"]:
                    lagging = self.settings.scores_lag_seconds > 0 and (
                        behind or org in self._unscored or scoring is not None
                    )
                    # While the whole org is rescored, pages leave their keys for after it.
                    defer = lagging or org in self._rescoring
                    if behind and not _has_voids(page):
                        # Fold it while the page before is written; write it in turn.
                        writing = await self._apply_ahead(
                            org, page, expected=cursor, defer_scores=defer, cache=cache,
                            writing=writing,
                        )  # fmt: skip
                    else:  # caught up, or voids: written before the next page is folded
                        # A correction's slice is read from activity while the page before
                        # is still being written (it does not depend on what scoring holds).
                        gathering = (
                            asyncio.ensure_future(self._slice(client, page))
                            if _has_voids(page) else None
                        )  # fmt: skip
                        try:
                            await settle()
                        except BaseException:
                            if gathering is not None:
                                gathering.cancel()
                            raise
                        gathered = None if gathering is None else Gathered(await gathering)
                        if not behind:
                            cache.clear()
                        await self.apply(
                            org, page, expected=cursor, defer_scores=defer, client=client,
                            gathered=gathered, cache=cache if behind else None,
                        )  # fmt: skip
                cursor = page["next"]
                await self._track_lag(org, client, cursor, page)
                if behind and rebuilding is None and self._bulk_due(org, row):
                    await settle()
                    await scored()
                    await self.rebuild(org, reason="catch_up", chase=False)
                    self._unscored.pop(org, None)  # the new generation is scored throughout
                    self.state.lag.pop(org, None)  # measured again from the new cursor
                    return  # and followed on from there
                if scoring is not None and scoring.done():
                    await scored()
                unscored = self._unscored.get(org)
                if unscored is None or org in self._rescoring:  # scored once it is written
                    continue
                if scoring is None and (
                    not behind  # caught up: score the rest now
                    or unscored.age() >= self.settings.scores_lag_seconds
                    or len(unscored) >= self.settings.unscored_keys
                ):  # beside the next pages (which leave theirs for the next round)
                    await settle()
                    scoring = await self._score_left(org, caught_up=not behind)
        finally:
            await tasks.stop(writing, scoring, rebuilding)

    def _bulk_due(self, org: str, row: asyncpg.Record) -> bool:
        """Far enough behind (`bulk_catchup_events`, and a backlog of at least a
        1/BULK_ADVANTAGE of the org's log) that replaying the whole log catches up sooner than
        folding the backlog page by page; not while a whole-org rescore runs."""
        threshold = self.settings.bulk_catchup_events
        lag = self.state.lag.get(org)
        if threshold <= 0 or lag is None or org in self._rescoring:
            return False
        return lag.events >= threshold and lag.events * BULK_ADVANTAGE >= row["folded"] + lag.events

    async def _score_left(self, org: str, *, caught_up: bool) -> asyncio.Task[None] | None:
        """Score what pages left: a caught-up follower scores a few keys before its next page
        (which then scores its own in its transaction, so scores keep up with the KPIs);
        more, or while behind, in a task beside the next pages (which leave theirs for the
        next round), which wakes the follower when done: keys left since are scored at once,
        not at the next page. At a million events that is seconds no page waits for."""
        if caught_up and len(self._unscored[org]) <= SCORE_INLINE:
            await self._score_unscored(org, self._unscored.pop(org))
            return None
        task = asyncio.create_task(
            self._score_unscored(org, self._unscored.pop(org)), name=f"score-{org}"
        )
        poke = self._pokes.setdefault(org, asyncio.Event())
        task.add_done_callback(lambda _t: poke.set())
        return task

    async def _score_unscored(self, org: str, unscored: Unscored) -> None:
        """Score what the pages folded while behind left (taken out of `_unscored` by the
        caller, before pages after them leave keys); when the rest of the org's scores are not
        current either, put them back and rescore the whole org (they are scored after it)."""
        if not await self.scorer.score_keys(self._pool, org, unscored):
            kept = self._unscored.get(org)
            if kept is None or kept.generation != unscored.generation:
                self._unscored[org] = kept = Unscored(unscored.generation, unscored.since)
            kept.add(unscored.prospects, unscored.customers)
            self._rescore(org)

    def _rescore(self, org: str) -> None:
        """Rescore the whole org in the background while its pages go on being folded (they
        leave their keys unscored meanwhile; `_follow_once` scores them once it is written):
        at a million events a rescore takes seconds, which the feed does not wait for."""
        if org in self._rescoring:
            return
        task = asyncio.create_task(
            self.scorer.rescore(self._pool, org, folding=True), name=f"rescore-{org}"
        )
        poke = self._pokes.setdefault(org, asyncio.Event())
        task.add_done_callback(lambda _t: poke.set())  # score what pages left meanwhile
        self._rescoring[org] = task

    async def _keep_scored(self, org: str, row: asyncpg.Record) -> None:
        """Between pages of a follower that is caught up: start training when enough new
        outcomes came in (in the background: folding goes on; the task outlives a restart of
        the follower), and rescore the org when its day turned or a new model is active (in
        the background too)."""
        training = self._training.get(org)
        if training is not None and training.done():
            del self._training[org]
            if training.cancelled() or training.exception() is not None:
                error = "cancelled" if training.cancelled() else repr(training.exception())
                log.warning("training %s failed: %s", org, error)
                self._train_failed[org] = time.monotonic()
            else:
                self._trained[org] = datetime.now(UTC)
            training = None
        failed = self._train_failed.get(org, -float("inf"))
        if training is None and time.monotonic() - failed >= TRAIN_RETRY_SECONDS:
            last = self._trained.get(org)
            if last is None:  # after a restart: when the active models were trained
                async with self._pool.acquire() as conn:
                    last = await self.scorer.last_trained(conn, org, row)
            if self.scorer.training_due(row, last):
                task = asyncio.create_task(
                    self.scorer.train_org(self._pool, org), name=f"train-{org}"
                )
                poke = self._pokes.setdefault(org, asyncio.Event())
                task.add_done_callback(lambda _t: poke.set())  # rescore once it is stored
                self._training[org] = task
        if self.scorer.due(row):
            self._rescore(org)

    async def _coalesce(self, client: ActivityClient, page: dict[str, Any]) -> dict[str, Any]:
        """While behind, fold several pages in one transaction: keys repeat from page to page,
        so fewer rows are written per event (measured: ~2× the catch-up rate)."""
        items = list(page["items"])
        while page["has_more"] and len(items) < self.settings.fold_events:
            page = await client.raw_page(page["next"], limit=self.settings.page_size)
            items += page["items"]
        return {**page, "items": items}

    async def _track_lag(
        self, org: str, client: ActivityClient, cursor: str | None, page: dict[str, Any]
    ) -> None:
        lag = self.state.lag.setdefault(org, Lag())
        if not page["has_more"]:
            lag.events, lag.seconds = 0, 0.0
            return
        now = time.monotonic()
        if now - lag.checked < LAG_CHECK_SECONDS:
            return
        lag.checked = now
        backlog = await client.backlog(cursor)
        lag.events = backlog.events
        if backlog.head_recorded_at is not None and page["items"]:
            last = datetime.fromisoformat(page["items"][-1]["recorded_at"])
            lag.seconds = max(0.0, (backlog.head_recorded_at - last).total_seconds())

    async def apply(
        self,
        org: str,
        page: dict[str, Any],
        *,
        expected: str | None,
        generation: int | None = None,
        defer_scores: bool = False,
        client: ActivityClient | None = None,
        gathered: Gathered | None = None,
        cache: EntityCache | None = None,
    ) -> Applied:
        """Fold one page and write its effects and the new cursor in one transaction.

        Without `generation`, into the live generation (moving `cursor`); with it, into a
        rebuild's generation catching up (moving `next_cursor`). A page holding voids is
        folded as usual (a void has no facts of its own), then corrected in the same
        transaction (`corrections.py`: the slice of the log about the voided events, read
        from activity with `client` before the transaction, unless `gathered` already); without
        either, or when the slice is too large, it flags the org for a rebuild instead, which
        takes them out. With `cache` (a follower that is behind), the fold reads and leaves
        its entities there.
        `defer_scores` (live only): leave the changed leads, deals and accounts unscored, kept
        in `_unscored` for `_score_unscored`; the scored position stays where it is."""
        live = generation is None
        if gathered is None and client is not None and _has_voids(page):
            gathered = Gathered(await self._slice(client, page))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repository.lock_org(conn, org)
            assert row is not None
            await repository.plan_for_this_page(conn)
            target: int = row["generation"] if generation is None else generation
            folded = await self._fold(conn, org, target, row["timezone"], page, cache=cache)
            fix = None
            if gathered is not None and gathered.events is not None:
                since = page["items"][0]["position"]
                fix = corrections.correct(gathered.events, ZoneInfo(row["timezone"]), since=since)
                if cache is not None:  # committed before the next page is folded
                    cache.put(fix.entities)
                    cache.drop(fix.removed)
            applied = await self._write(
                conn, row, folded, expected=expected, live=live, defer=defer_scores and live,
                fix=fix,
            )  # fmt: skip
        if cache is not None:
            cache.trim(in_flight=())
        if defer_scores and live:
            self._left_unscored(folded)
        return applied

    async def _slice(self, client: ActivityClient, page: dict[str, Any]) -> list[Event] | None:
        """The slice of the log the page's voids are about, up to the page's end (None: more
        than `correction_events` events; the org is rebuilt instead)."""

        def fetch(about: list[str]) -> AsyncIterator[dict[str, Any]]:
            async def events() -> AsyncIterator[dict[str, Any]]:
                cursor = None
                while True:
                    found = await client.raw_page(
                        cursor, limit=self.settings.page_size, about=about
                    )
                    for event in found["items"]:
                        yield event
                    if not found["has_more"]:
                        return
                    cursor = found["next"]

            return events()

        items = page["items"]
        return await corrections.gather(
            fetch, corrections.seeds(e for e in items if e["type"] == VOID),
            until=items[-1]["position"], cap=self.settings.correction_events,
        )  # fmt: skip

    async def _apply_ahead(
        self, org: str, page: dict[str, Any], *, expected: str | None, defer_scores: bool,
        cache: EntityCache, writing: asyncio.Task[Applied] | None,
    ) -> asyncio.Task[Applied]:  # fmt: skip
        """While behind: fold `page` (into the live generation) while the page before it is
        still being written (`writing`), then write it in a task of its own, so that the
        next page is fetched and folded while PostgreSQL writes this one. The fold sees the
        entities as the page in flight left them (`cache`); pages commit in order (this one's
        write starts once that one's has committed), each with the cursor by compare-and-set:
        if one fails, the ones after it are never written, and the follower starts over."""
        async with self._pool.acquire() as conn:
            row = await repository.get_org(conn, org)
            assert row is not None
            async with conn.transaction(readonly=True):
                await repository.plan_for_this_page(conn)
                folded = await self._fold(
                    conn, org, row["generation"], row["timezone"], page, cache=cache
                )
        if writing is not None:
            await writing  # raises what failed it: nothing after it is written
        cache.trim(in_flight=folded.changed.keys())

        async def write() -> Applied:
            async with self._pool.acquire() as conn, conn.transaction():
                now = await repository.lock_org(conn, org)
                assert now is not None
                if (now["generation"], now["timezone"]) != (folded.generation, folded.timezone):
                    raise Fenced(org)  # swapped or re-zoned since: fold it again
                await repository.plan_for_this_page(conn)
                applied = await self._write(
                    conn, now, folded, expected=expected, live=True, defer=defer_scores
                )
            if defer_scores:
                self._left_unscored(folded)
            return applied

        return asyncio.create_task(write(), name=f"write-{org}")

    async def _fold(
        self,
        conn: asyncpg.Connection,
        org: str,
        generation: int,
        timezone: str,
        page: dict[str, Any],
        *,
        cache: EntityCache | None = None,
    ) -> Folded:
        """Fold a page over the entities it touches (from `cache`, else the database)."""
        items: list[dict[str, Any]] = page["items"]
        book = Book(ZoneInfo(timezone))
        entities = await self._load(conn, org, generation, items, cache)
        for (kind, key), value in entities.items():
            getattr(book, kind)[key] = value
        sums: FactSums = {}
        skipped: dict[str, int] = defaultdict(int)
        folded = 0
        currency: str | None = None
        for event in items:
            facts = fold(book, event)
            if facts is None:
                skipped[event["type"]] += 1
                continue
            folded += 1
            collect(sums, facts)
            if currency is None:
                currency = next((f.currency for f in facts if f.currency), None)
        changed = {(k, key): getattr(book, k)[key] for k, key in book.changed}
        if cache is not None:
            cache.put(changed)
        return Folded(
            org=org, generation=generation, timezone=timezone, page=page, changed=changed,
            sums=sums, wins=list(book.wins), folded=folded, skipped=dict(skipped),
            currency=currency,
            before={key: v for (k, key), v in entities.items() if k == "prospects"},
        )  # fmt: skip

    async def _write(
        self, conn: asyncpg.Connection, row: asyncpg.Record, folded: Folded, *,
        expected: str | None, live: bool, defer: bool, fix: Correction | None = None,
    ) -> Applied:  # fmt: skip
        """Write a folded page's effects, and its voids' correction, and move the cursor (the
        caller's transaction). A page with voids but no correction asks for a rebuild."""
        org, target, items = folded.org, folded.generation, folded.page["items"]
        voids = fix is None and _has_voids(folded.page)
        if fix is not None:
            _merge(folded, fix)
        prospects = folded.prospects
        judged = None
        if not defer:  # scored in a thread while the page's other effects are written
            judged = await self.scorer.judge_page(
                conn, org, row, prospects, folded.customers.values()
            )
        try:
            await repository.save_entities(conn, org, target, folded.changed)
            await repository.add_rollups(conn, org, target, expand(folded.sums))
            await repository.add_wins(conn, org, target, folded.wins)
            if fix is not None:
                await self._write_correction(conn, org, target, fix)
        except BaseException:
            if judged is not None:
                judged.cancel()  # nobody will read it
            raise
        if judged is not None:
            await self.scorer.save_page(conn, org, target, judged, prospects)
        outcomes = outcome_change(prospects, folded.before, removed=folded.removed[0])
        if live:  # a rebuild counts its own, and sets them when it swaps
            await repository.add_outcomes(conn, org, outcomes)
            moved = await repository.advance(
                conn, org, generation=target, expected_cursor=expected,
                cursor=folded.page["next"], position=items[-1]["position"],
                last_recorded_at=datetime.fromisoformat(items[-1]["recorded_at"]),
                folded=folded.folded, skipped=folded.skipped, currency=folded.currency,
                voids=voids, scored=not defer, voided=fix.voided if fix else 0,
            )  # fmt: skip
        else:
            moved = await repository.advance_next(
                conn, org, generation=target, expected_cursor=expected,
                cursor=folded.page["next"], voids=voids,
            )  # fmt: skip
        if not moved:  # another writer moved the cursor: nothing of this page is kept
            raise Fenced(org)
        return Applied(folded.folded, folded.skipped, outcomes, fix.voided if fix else 0)

    @staticmethod
    async def _write_correction(
        conn: asyncpg.Connection, org: str, generation: int, fix: Correction
    ) -> None:
        """What a correction changes beyond the page's own writes (its sums and entity states
        went with the page's): entities left with nothing, rollup rows it brought to zero,
        the wins of its deals, and the scores and health of what is gone."""
        await repository.delete_entities(conn, org, generation, fix.removed)
        await repository.drop_zero_rollups(conn, org, generation, expand(fix.sums).keys())
        await repository.replace_wins(conn, org, generation, fix.deals, fix.wins)
        await repository.save_scores(conn, org, generation, [], fix.prospects_removed())
        await repository.delete_health(conn, org, generation, fix.customers_removed())

    def _left_unscored(self, folded: Folded) -> None:
        unscored = self._unscored.get(folded.org)
        if unscored is None or unscored.generation != folded.generation:  # a swap scored it
            unscored = self._unscored[folded.org] = Unscored(folded.generation)
        unscored.add(folded.prospects, folded.customers)
        # What a correction deleted: a rescore that read them before must not keep them.
        unscored.add(*folded.removed)

    async def _load(
        self, conn: asyncpg.Connection, org: str, generation: int,
        items: Iterable[dict[str, Any]], cache: EntityCache | None = None,
    ) -> dict[tuple[str, str], Any]:  # fmt: skip
        wanted: set[tuple[str, str]] = set()
        for event in items:
            wanted |= _keys_of(event)
        entities: dict[tuple[str, str], Any] = {}
        for _ in range(3):  # invoices → deals → accounts
            missing = wanted - entities.keys()
            if not missing:
                break
            if cache is not None:
                entities |= cache.take(generation, missing)
                missing -= entities.keys()
            if missing:
                entities |= await repository.load_entities(conn, org, generation, missing)
            wanted |= _derived_keys(entities)
        return entities

    # ------------------------------------------------------------------ rebuild

    async def _write_generation(
        self, conn: asyncpg.Connection, client: ActivityClient, job: generations.Job
    ) -> generations.Written:
        """The replay and the new generation's write: in a process of its own when activity is
        reached over the network and worker processes are on (generations.py says why),
        else here."""
        if self._transport is None and self.settings.worker_processes > 0:
            return await workers.alone(
                generations.write_in_process, self._dsn, self.settings.activity_url,
                self.token(job.org), job, nice=self.settings.worker_nice,
            )  # fmt: skip
        timezone = ZoneInfo(job.timezone)

        async def score(
            prospects: list[jobs.Profile], customers: list[jobs.Profile]
        ) -> tuple[list[ScoreRow], list[HealthRow]]:
            return await self.scorer.score_org(
                prospects, customers, job.models, job.day, timezone, job.currency
            )

        return await generations.write(conn, client, job, score)

    async def _drop_gently(self, conn: asyncpg.Connection, org: str, keep: int) -> None:
        """Delete the generations a swap left behind a batch at a time, each followed by a
        pause as long as it took: at a million events that is millions of rows, which one
        DELETE would churn through on a core of its own for tens of seconds while the follower
        writes the org's pages; paced, it takes at most half of one."""
        for table in repository.GENERATION_TABLES:
            while True:
                began = time.monotonic()
                deleted = await repository.drop_generations_batch(
                    conn, org, keep, table, DROP_BATCH
                )
                if deleted < DROP_BATCH:
                    break
                await asyncio.sleep(time.monotonic() - began)

    async def rebuild(self, org: str, *, reason: str = "asked", chase: bool = True) -> None:
        """Replay the org's whole log into a new generation beside the live one, catch it up
        with the live cursor, and swap it in; reads and live folding go on meanwhile.

        `chase=False` (a follower catching up in bulk, which stops folding meanwhile): swap as
        soon as the log is replayed, and leave what came in meanwhile to the follower, which
        folds it (or replays again, if that is faster) instead of chasing the feed here."""
        started = time.monotonic()
        async with self.client(org) as client, self._pool.acquire() as conn:
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
                org=org, old=old, new=new, timezone=row["timezone"], total=total,
                page_size=self.settings.page_size,
                models=await self.scorer.models(conn, org, row), day=day,
                currency=self.scorer.currency(row), rules=self.scorer.job_rules,
                # Chasing (asked): up to the head as it began, the catch-up below folds the
                # rest. A bulk catch-up replays on to the head as the log grows instead.
                until=head.head_recorded_at if chase else None, to_first_new_void=not chase,
                reason=reason,
            )  # fmt: skip
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
                page = (await client.raw_page(cursor, limit=self.settings.page_size, wait=wait)
                        if chase else None)  # fmt: skip
                if page is not None and page["items"]:
                    n, more_skipped, closed, taken_out = await self.apply(
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
                done = {"state": "done", "done": folded + voided, "total": folded + voided,
                        "seconds": round(time.monotonic() - started, 3), "phases": phases,
                        "write_steps": {step: round(seconds, 3) for step, seconds
                                        in written.write_steps.items()},
                        "reason": reason}  # fmt: skip
                async with conn.transaction():
                    swapped = await repository.swap_generation(
                        conn, org, old=old, new=new, next_cursor=cursor, position=position,
                        last_recorded_at=last_recorded, seq=row["rebuild_seq"], folded=folded,
                        voided=voided, skipped=skipped, currency=currency, progress=done,
                    )  # fmt: skip
                    if swapped:  # what its scores and health were computed for, and its count
                        await repository.set_outcomes(conn, org, outcomes)
                        await repository.mark_scored(conn, org, new, day, self.scorer.marker(row))
                if swapped:
                    break
                # The live follower is past us: fold what it folded, waiting for it if need be.
                wait, chase = 1.0, True
            await self._drop_gently(conn, org, keep=new)
        log.info("rebuilt %s (%s): %d events in %.2fs (%s; writing: %s)", org, reason, folded,
                 time.monotonic() - started,
                 ", ".join(f"{name} {seconds:.2f}s" for name, seconds in phases.items()),
                 ", ".join(f"{name} {seconds:.2f}s" for name, seconds
                           in written.write_steps.items()))  # fmt: skip


def _phases(written: generations.Written, *, catch_up: float) -> dict[str, float]:
    """Where a rebuild's time went (seconds), as `GET /v1/admin/rebuild` shows it when done."""
    return {name: round(seconds, 3) for name, seconds in (
        ("replay", written.replay_seconds), ("score", written.score_seconds),
        ("write", written.write_seconds), ("catch_up", catch_up),
    )}  # fmt: skip
