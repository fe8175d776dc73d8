"""Group commit: concurrent appends are coalesced into one transaction per org.

Appends are serialized per org by an advisory lock (see repository.py), so one append's
transaction must be as short as possible. Instead of each request taking the lock, committing
and waiting for its own WAL flush, requests queue here and one writer task stores everything
that queued up meanwhile in a single transaction: one lock, one INSERT, one commit. Each
request is still decided on its own (a conflict in one does not fail the others), and a batch
request stays all-or-nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import structlog

from shared.auth import Principal
from shared.errors import DomainError, UpstreamUnavailable

from . import metrics, repository
from .domain import Candidate, Decision, plan_request

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class AppendRequest:
    principal: Principal
    candidates: Sequence[Candidate]
    batch: bool
    future: asyncio.Future[list[Decision]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        max_group_events: int,
        on_commit: Callable[[str], None] = lambda org: None,
    ) -> None:
        self._pool = pool
        self._max_group_events = max_group_events
        self._on_commit = on_commit
        self._queue: asyncio.Queue[AppendRequest] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="activity-group-committer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            _fail(self._queue.get_nowait(), UpstreamUnavailable("The service is shutting down."))

    async def append(
        self, principal: Principal, candidates: Sequence[Candidate], *, batch: bool
    ) -> list[Decision]:
        if not self.running:
            raise UpstreamUnavailable("The event writer is not running.")
        request = AppendRequest(principal, candidates, batch)
        self._queue.put_nowait(request)
        return await asyncio.shield(request.future)

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            size = len(group[0].candidates)
            while size < self._max_group_events and not self._queue.empty():
                request = self._queue.get_nowait()
                group.append(request)
                size += len(request.candidates)
            by_org: dict[str, list[AppendRequest]] = defaultdict(list)
            for request in group:
                by_org[request.principal.org].append(request)
            metrics.GROUP_SIZE.observe(size)
            for org, requests in by_org.items():
                await self._commit(org, requests)

    async def _commit(self, org: str, requests: list[AppendRequest]) -> None:
        try:
            async with self._pool.acquire() as conn:
                try:
                    outcomes = await store(conn, org, requests)
                    await repository.commit(conn)
                except BaseException:
                    await repository.rollback(conn)
                    raise
        except asyncio.CancelledError:
            for request in requests:
                _fail(request, UpstreamUnavailable("The service is shutting down."))
            raise
        except Exception as exc:
            if len(requests) > 1:  # do not let one request's failure fail its neighbours
                for request in requests:
                    await self._commit(org, [request])
                return
            log.exception("append failed", org=org)
            failure: Exception = exc
            if isinstance(exc, (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
                failure = UpstreamUnavailable(
                    "The event store is unavailable; retry with the same event_id."
                )
            _fail(requests[0], failure)
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
    conn: asyncpg.Connection, org: str, requests: Sequence[AppendRequest]
) -> list[list[Decision] | DomainError]:
    """Decide and insert a group of requests on `conn`, whose transaction the caller ends
    (`repository.commit` / `repository.rollback`); it begins here, with the org's lock."""
    await repository.begin_locked(conn, org)
    candidates = [c for r in requests for c in r.candidates]
    state, allocation = await repository.load_group_state(
        conn,
        org,
        [c.event_id for c in candidates],
        [c.voids for c in candidates if c.voids is not None],
        [c.stream for c in candidates],
    )
    outcomes: list[list[Decision] | DomainError] = []
    for request in requests:
        try:
            outcomes.append(
                plan_request(state, request.principal, request.candidates, batch=request.batch)
            )
        except DomainError as exc:
            outcomes.append(exc)
    if state.new_rows:
        for row, position in zip(state.new_rows, allocation.positions, strict=False):
            row.position, row.recorded_at = position, allocation.recorded_at
        await repository.insert_rows(conn, org, state.new_rows)
    return outcomes


def _fail(request: AppendRequest, exc: Exception) -> None:
    if not request.future.done():
        request.future.set_exception(exc)
