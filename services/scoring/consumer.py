"""The consumer: follows every org's feed and keeps the projection in step, exactly once.

One replica leads at a time: the one holding a session-level advisory lock on a dedicated
connection (`LEADER_LOCK`). If it dies, PostgreSQL drops the lock with its connection and
another replica, trying every `election_seconds`, takes over. The leader:

- looks for orgs (activity's `GET /v1/orgs`, a platform token) every `discovery_seconds`, and
  follows each one's feed in its own task (long-polling, so new events fold within moments);
- folds a page with the pure fold, then writes the changed entities, the rollup deltas, the
  wins and the new cursor **in one transaction**, the cursor by compare-and-set: a page is
  applied once, whatever crashes or which replica believed it led;
- rebuilds an org (`replayer.py`) into a new generation when asked to, when its timezone
  changes, or when a page holds a void (the voided event's contribution must come out
  everywhere, and a replay without it is exactly that); reads use the old generation until the
  swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from shared.auth import PLATFORM_ORG, Role, issue_token
from shared.clients.activity import ActivityClient
from shared.errors import DomainError, UpstreamUnavailable

from . import generations, jobs, repository, workers
from .config import ScoringSettings
from .priority.scores import HealthRow, ScoreRow
from .projections import leads
from .projections.kpis import Book, fold
from .projections.rollup import FactSums, collect, expand
from .replayer import VOID
from .scorer import Scorer, today

log = logging.getLogger("salesperf.scoring.consumer")
TOKEN_TTL = 24 * 3600
TRAIN_RETRY_SECONDS = 60.0  # after a failed training


@dataclass(slots=True)
class Lag:
    events: int = 0
    seconds: float = 0.0
    checked: float = 0.0  # monotonic time of the last backlog check


@dataclass(slots=True)
class ConsumerState:
    """What `/readyz` reports: whether this replica leads, and each org's lag."""

    leading: bool = False
    lag: dict[str, Lag] = field(default_factory=dict)
    errors: int = 0


class Applied(NamedTuple):
    folded: int
    skipped: dict[str, int]
    outcomes: int  # leads and deals the page closed


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
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._elect(), name="scoring-consumer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def token(self, org: str) -> str:
        return issue_token(self._secret, org=org, role=Role.SERVICE, sub="scoring",
                           ttl_seconds=TOKEN_TTL)  # fmt: skip

    def client(self, org: str) -> ActivityClient:
        return ActivityClient(
            self.settings.activity_url, self.token(org), transport=self._transport
        )

    async def _elect(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": "scoring-leader"}
                )
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot reach the database to elect a leader: %r", exc)
                await asyncio.sleep(self.settings.election_seconds)
                continue
            try:
                if await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, $2)", *repository.LEADER_LOCK
                ):
                    log.info("this replica leads the scoring consumer")
                    self.state.leading = True
                    await self._lead(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lost the consumer lock: %r", exc)
            finally:
                self.state.leading = False
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(self.settings.election_seconds)

    async def _lead(self, leader_conn: asyncpg.Connection) -> None:
        followers: dict[str, asyncio.Task[None]] = {}
        self._pokes: dict[str, asyncio.Event] = {}
        platform = self.client(PLATFORM_ORG)
        poked: set[str] = set()  # orgs flagged for a rebuild at the last look, already woken
        try:
            while True:
                await leader_conn.fetchval("SELECT 1")  # still holding the lock's connection?
                try:
                    orgs = [o.org_id for o in (await platform.orgs()).items]
                except DomainError as exc:
                    log.warning("cannot list orgs: %s", exc)
                    orgs = []
                async with self._pool.acquire() as conn:
                    known = [r["org_id"] for r in await repository.list_orgs(conn)]
                    flagged = set(await repository.orgs_to_rebuild(conn))
                for org in dict.fromkeys([*orgs, *known]):
                    task = followers.get(org)
                    if task is None or task.done():
                        self._pokes[org] = asyncio.Event()
                        followers[org] = asyncio.create_task(
                            self._follow(org), name=f"follow-{org}"
                        )
                    elif org in flagged and org not in poked:
                        # Wake a long-poll once: a rebuild was asked for. Once only: a poke
                        # cancels the fetch in flight, and poking every round could cancel
                        # every fetch of a follower that is behind, which then never catches
                        # up enough to start the rebuild.
                        self._pokes[org].set()
                poked = flagged
                await asyncio.sleep(self.settings.discovery_seconds)
        finally:
            tasks = [*followers.values(), *self._training.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._training.clear()
            await platform.aclose()

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
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
            raise
        finally:
            woken.cancel()
        if fetch.done():
            return fetch.result()
        fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fetch
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
        try:
            while True:
                if rebuilding is not None and rebuilding.done():
                    rebuilding.result()  # a failed rebuild raises here; the follower restarts
                    rebuilding = None
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
                if page["items"]:
                    await self.apply(org, page, expected=cursor)
                cursor = page["next"]
                behind = page["has_more"]
                await self._track_lag(org, client, cursor, page)
        finally:
            if rebuilding is not None:
                rebuilding.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await rebuilding

    async def _keep_scored(self, org: str, row: asyncpg.Record) -> None:
        """Between pages of a follower that is caught up: start training when enough new
        outcomes came in (in the background: folding goes on; the task outlives a restart of
        the follower), and rescore the org when its day turned or a new model is active."""
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
            await self.scorer.rescore(self._pool, org)

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
        if now - lag.checked < 1.0:
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
    ) -> Applied:
        """Fold one page and write its effects and the new cursor in one transaction.

        Without `generation`, into the live generation (moving `cursor`); with it, into a
        rebuild's generation catching up (moving `next_cursor`). A page holding a void is
        folded as usual (a void has no facts of its own) and flags the org for a rebuild, in
        the same transaction: the rebuild is what takes the voided event back out."""
        items: list[dict[str, Any]] = page["items"]
        voids = any(e["type"] == VOID for e in items)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repository.lock_org(conn, org)
            assert row is not None
            await repository.plan_for_this_page(conn)
            live = generation is None
            target: int = row["generation"] if generation is None else generation
            book = Book(ZoneInfo(row["timezone"]))
            entities = await self._load(conn, org, target, items)
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
            prospects = {key: v for (k, key), v in changed.items() if k == "prospects"}
            judged = await self.scorer.judge_page(
                conn, org, row, prospects,
                customers=[v for (k, _), v in changed.items() if k == "customers"],
            )  # fmt: skip
            try:  # while the page's profiles are judged in a thread
                await repository.save_entities(conn, org, target, changed)
                await repository.add_rollups(conn, org, target, expand(sums))
                await repository.add_wins(conn, org, target, book.wins)
            except BaseException:
                judged.cancel()  # nobody will read it
                raise
            outcomes = await self.scorer.save_page(
                conn, org, target, judged, prospects,
                before={key: v for (k, key), v in entities.items() if k == "prospects"},
            )  # fmt: skip
            if live:  # a rebuild counts its own, and sets them when it swaps
                await repository.add_outcomes(conn, org, outcomes)
            if live:
                moved = await repository.advance(
                    conn, org, generation=target, expected_cursor=expected, cursor=page["next"],
                    position=items[-1]["position"],
                    last_recorded_at=datetime.fromisoformat(items[-1]["recorded_at"]),
                    folded=folded, skipped=dict(skipped), currency=currency, voids=voids,
                )  # fmt: skip
            else:
                moved = await repository.advance_next(
                    conn, org, generation=target, expected_cursor=expected,
                    cursor=page["next"], voids=voids,
                )  # fmt: skip
            if not moved:  # another writer moved the cursor: nothing of this page is kept
                raise Fenced(org)
        return Applied(folded, dict(skipped), outcomes)

    async def _load(
        self, conn: asyncpg.Connection, org: str, generation: int, items: Iterable[dict[str, Any]]
    ) -> dict[tuple[str, str], Any]:
        wanted: set[tuple[str, str]] = set()
        for event in items:
            wanted |= _keys_of(event)
        entities: dict[tuple[str, str], Any] = {}
        for _ in range(3):  # invoices → deals → accounts
            missing = wanted - entities.keys()
            if not missing:
                break
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

    async def rebuild(self, org: str) -> None:
        """Replay the org's whole log into a new generation beside the live one, catch it up
        with the live cursor, and swap it in; reads and live folding go on meanwhile."""
        started = time.monotonic()
        async with self.client(org) as client, self._pool.acquire() as conn:
            row = await repository.begin_rebuild(conn, org)
            old, new = row["generation"], row["generation"] + 1
            total = (await client.backlog(None)).events
            await repository.set_rebuild_progress(
                conn, org, {"state": "running", "done": 0, "total": total}
            )
            timezone = ZoneInfo(row["timezone"])
            day = today(timezone)
            job = generations.Job(
                org=org, old=old, new=new, timezone=row["timezone"], total=total,
                page_size=self.settings.page_size,
                models=await self.scorer.models(conn, org, row), day=day,
                currency=self.scorer.currency(row), rules=self.scorer.job_rules,
            )  # fmt: skip
            written = await self._write_generation(conn, client, job)
            written_at = time.monotonic()
            replayed_at = written_at - written.write_seconds  # with the process's start
            folded, voided, skipped = written.folded, written.voided, dict(written.skipped)
            outcomes, currency = written.outcomes, written.currency
            cursor, position = written.cursor, written.position
            last_recorded = written.last_recorded_at

            # Catch up with the head of the feed, then swap: the new generation holds everything
            # up to its cursor, so it may go live whenever it is not behind the live one.
            wait = 0.0
            while True:
                page = await client.raw_page(cursor, limit=self.settings.page_size, wait=wait)
                if page["items"]:
                    n, more_skipped, closed = await self.apply(
                        org, page, expected=cursor, generation=new
                    )
                    folded += n
                    outcomes += closed
                    for k, v in more_skipped.items():
                        skipped[k] = skipped.get(k, 0) + v
                    cursor = page["next"]
                    position = page["items"][-1]["position"]
                    last_recorded = datetime.fromisoformat(page["items"][-1]["recorded_at"])
                    wait = 0.0
                    continue
                done = {"state": "done", "done": folded + voided, "total": folded + voided,
                        "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
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
                wait = 1.0
            await repository.drop_generations(conn, org, keep=new)
        log.info(
            "rebuilt %s: %d events in %.2fs (replay %.2fs, write %.2fs, catch-up and swap %.2fs)",
            org, folded, time.monotonic() - started, replayed_at - started,
            written_at - replayed_at, time.monotonic() - written_at,
        )  # fmt: skip
