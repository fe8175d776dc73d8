"""Group commit: concurrent appends are coalesced into one transaction per org.

Appends are serialized per org by an advisory lock (see repository.py), so one append's
transaction must be as short as possible. Instead of each request taking the lock, committing
and waiting for its own WAL flush, requests queue here and the org's writer task stores
everything that queued up meanwhile in a single transaction: one lock, one INSERT, one
commit. Each request is still decided on its own (a conflict in one does not fail the others),
and a batch request stays all-or-nothing.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import structlog

from shared import tasks
from shared.auth import Principal, Role
from shared.errors import DomainError

from . import metrics, repository
from .domain import Candidate, Decision, Row, plan_request
from .exceptions import AppendQueueFull, EventStoreUnavailable, ShuttingDown

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Appendable:
    """A request to store: a single event or a batch (all or nothing), decided on its own."""

    principal: Principal
    candidates: Sequence[Candidate]
    batch: bool
    # One per candidate, rendered before the request queues for the org's lock (here, unless
    # the caller rendered them already, as an import's preparer does).
    drafts: list[repository.Draft] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.drafts:
            self.drafts = [repository.draft(self.principal.org, c) for c in self.candidates]


@dataclass(slots=True)
class AppendRequest(Appendable):
    """An API request waiting in an org's queue for its group commit."""

    future: asyncio.Future[list[Decision]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


UNAVAILABLE = (
    # The store, not a request, is at fault: retry later (appends answer 503, imports wait).
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.LockNotAvailableError,
    asyncpg.QueryCanceledError,
)


class GroupCommitter:
    """One writer task per org with appends pending; it ends when its queue runs dry.

    Orgs never wait for each other: a lock held long on one org (by another replica, say)
    delays only that org's appends, and those get a 503 after `lock_timeout`.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_group_events: int,
        max_queued_requests: int = 10_000,
        acquire_timeout: float = 10.0,
        on_commit: Callable[[str], None] = lambda org: None,
    ) -> None:
        self._pool = pool
        self._max_group_events = max_group_events
        self._max_queued = max_queued_requests
        self._acquire_timeout = acquire_timeout
        self._on_commit = on_commit
        self._queues: dict[str, collections.deque[AppendRequest]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self._queued = 0
        self._stopping = False

    @property
    def running(self) -> bool:
        return not self._stopping

    def start(self) -> None:
        self._stopping = False

    async def stop(self) -> None:
        """Refuse new appends, finish nothing more, and answer every pending one with 503."""
        self._stopping = True
        await tasks.stop(*self._writers.values())
        for queue in self._queues.values():
            while queue:
                _fail(queue.popleft(), ShuttingDown())

    async def append(
        self, principal: Principal, candidates: Sequence[Candidate], *, batch: bool
    ) -> list[Decision]:
        if self._stopping:
            raise ShuttingDown()
        if self._queued >= self._max_queued:
            raise AppendQueueFull()
        org = principal.org
        request = AppendRequest(principal, candidates, batch)
        self._queues.setdefault(org, collections.deque()).append(request)
        self._queued += 1
        if org not in self._writers:
            self._writers[org] = asyncio.create_task(
                self._write(org), name=f"activity-writer-{org}"
            )
        return await asyncio.shield(request.future)

    async def _write(self, org: str) -> None:
        queue = self._queues[org]
        group: list[AppendRequest] = []
        try:
            while queue:
                group, size = [], 0
                while queue and (not group or size < self._max_group_events):
                    request = queue.popleft()
                    self._queued -= 1
                    group.append(request)
                    size += len(request.candidates)
                metrics.GROUP_SIZE.observe(size)
                await self._commit(org, group)
        finally:
            for request in group:  # cancelled mid-group: nobody must wait for ever
                _fail(request, ShuttingDown())
            # No await between the last look at the queue and here: an append arriving after
            # this starts a new writer.
            del self._writers[org]
            if not queue:
                del self._queues[org]

    async def _commit(self, org: str, requests: list[AppendRequest]) -> None:
        try:
            async with self._pool.acquire(timeout=self._acquire_timeout) as conn:
                try:
                    outcomes = await store(conn, org, requests)
                    await repository.commit(conn)
                except BaseException:
                    await repository.rollback(conn)
                    raise
        except asyncio.CancelledError:
            raise
        except UNAVAILABLE as exc:  # the store, not a request, is at fault: fail fast, all
            log.warning("event store unavailable", org=org, error=repr(exc))
            for request in requests:
                _fail(request, EventStoreUnavailable())
            return
        except Exception as exc:
            if len(requests) > 1:  # do not let one request's failure fail its neighbours
                for request in requests:
                    await self._commit(org, [request])
                return
            log.exception("append failed", org=org)
            _fail(requests[0], exc)
            return
        self._on_commit(org)
        for request, outcome in zip(requests, outcomes, strict=True):
            if request.future.done():
                continue
            if isinstance(outcome, DomainError):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)


async def store(
    conn: asyncpg.Connection, org: str, requests: Sequence[Appendable]
) -> list[list[Decision] | DomainError]:
    """Decide and insert a group of requests on `conn`, whose transaction the caller ends
    (`repository.commit` / `repository.rollback`); it begins here, with the org's lock."""
    await repository.begin_locked(conn, org)
    candidates = [c for r in requests for c in r.candidates]
    # Known teams matter only to managers' appends: looked up only for groups that hold one.
    managed = any(r.principal.role is Role.MANAGER for r in requests)
    state, allocation = await repository.load_group_state(
        conn,
        org,
        [c.event_id for c in candidates],
        [c.voids for c in candidates if c.voids is not None],
        [c.stream for c in candidates],
        [c.rep_id for c in candidates if c.rep_id is not None] if managed else None,
    )
    outcomes: list[list[Decision] | DomainError] = []
    new_rows: list[tuple[Row, repository.Draft]] = []
    for request in requests:
        try:
            decisions = plan_request(
                state, request.principal, request.candidates, batch=request.batch
            )
        except DomainError as exc:
            outcomes.append(exc)
            continue
        outcomes.append(decisions)
        new_rows += [
            (d.row, draft) for d, draft in zip(decisions, request.drafts, strict=True) if d.created
        ]
    if new_rows:
        for (row, _), position in zip(new_rows, allocation.positions, strict=False):
            row.position, row.recorded_at = position, allocation.recorded_at
        owners = [
            repository.OwnerChange(stream, owner, row.position)
            for stream, (owner, row) in state.owner_changes.items()
            if row.position is not None
        ]
        await repository.insert_rows(conn, org, new_rows, allocation.recorded_at, owners)
    return outcomes


def _fail(request: AppendRequest, exc: Exception) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
