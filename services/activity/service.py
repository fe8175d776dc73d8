"""The activity use cases: append, read the feed, read a stream, read one event."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Principal, Role
from shared.errors import DomainError, FieldError, InvalidInput, NotFound, field_error
from shared.events import EVENT_TYPES, EnvelopeBase
from shared.pagination import decode_cursor, encode_cursor

from . import metrics, repository
from .domain import Candidate, Decision, can_see, prepare
from .notifier import FeedNotifier
from .schemas import AppendStatus
from .writer import GroupCommitter


def _result(decision: Decision) -> dict[str, Any]:
    row = decision.row
    return {
        "event_id": row.event_id,
        "position": row.position,
        "stream_version": row.stream_version,
        "recorded_at": row.recorded_at,
    }


def _count(decisions: Sequence[Decision]) -> None:
    for d in decisions:
        if d.created:
            metrics.EVENTS_APPENDED.labels(d.row.type).inc()
        else:
            metrics.EVENTS_REPLAYED.inc()


async def append_one(
    committer: GroupCommitter, principal: Principal, event: EnvelopeBase
) -> tuple[dict[str, Any], bool]:
    """Store one event; returns its result and whether it is new (False: an idempotent replay)."""
    candidate = prepare(principal, event)
    try:
        [decision] = await committer.append(principal, [candidate], batch=False)
    except DomainError as exc:
        metrics.APPENDS_REJECTED.labels(exc.slug).inc()
        raise
    _count([decision])
    return _result(decision), decision.created


def _prefixed(errors: list[FieldError] | None, index: int) -> list[FieldError]:
    return [e.model_copy(update={"field": f"events[{index}].{e.field}"}) for e in errors or []]


async def append_batch(
    committer: GroupCommitter, principal: Principal, events: Sequence[EnvelopeBase]
) -> tuple[dict[str, Any], bool]:
    """Store all of `events` or none; returns the results and whether any event is new."""
    candidates: list[Candidate] = []
    for i, event in enumerate(events):
        try:
            candidates.append(prepare(principal, event))
        except DomainError as exc:
            exc.errors = _prefixed(exc.errors, i)
            exc.detail = f"events[{i}]: {exc.detail}"
            raise
    try:
        decisions = await committer.append(principal, candidates, batch=True)
    except DomainError as exc:
        metrics.APPENDS_REJECTED.labels(exc.slug).inc()
        raise
    _count(decisions)
    results = [
        {**_result(d), "status": AppendStatus.CREATED if d.created else AppendStatus.DUPLICATE}
        for d in decisions
    ]
    created = sum(1 for d in decisions if d.created)
    return {
        "created": created,
        "duplicates": len(decisions) - created,
        "results": results,
    }, created > 0


def _scope(principal: Principal) -> dict[str, str | None]:
    if principal.role is Role.REP:
        return {"rep_id": principal.sub, "team_id": None}
    if principal.role is Role.MANAGER:
        return {"rep_id": None, "team_id": principal.team}
    return {"rep_id": None, "team_id": None}


def parse_types(types: str | None) -> list[str] | None:
    if not types:
        return None
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            f"Unknown event type(s): {', '.join(unknown)}.",
            errors=[
                field_error("types", f"unknown type {t!r}", "unknown_type", "query")
                for t in unknown
            ],
        )
    return wanted


def _page(items: list[dict[str, Any]], after: int, limit: int) -> dict[str, Any]:
    has_more = len(items) > limit
    items = items[:limit]
    last = items[-1]["position"] if items else after
    return {"items": items, "next": encode_cursor(last), "has_more": has_more}


async def read_feed(
    sessionmaker: async_sessionmaker[AsyncSession],
    notifier: FeedNotifier,
    principal: Principal,
    *,
    after: str | None,
    limit: int,
    types: str | None,
    wait: float,
) -> dict[str, Any]:
    """The org's events after a cursor, in global order; long-polls up to `wait` seconds.

    Each query runs in its own short transaction, so a waiting reader holds no connection.
    """
    position = decode_cursor(after)
    wanted = parse_types(types)
    deadline = time.monotonic() + wait
    while True:
        waiter = notifier.subscribe(principal.org)
        async with sessionmaker() as session:
            items = await repository.read_feed(
                session,
                principal.org,
                after=position,
                limit=limit + 1,
                types=wanted,
                **_scope(principal),
            )
        remaining = deadline - time.monotonic()
        if items or remaining <= 0:
            metrics.FEED_EVENTS_SERVED.inc(min(len(items), limit))
            return _page(items, position, limit)
        await notifier.wait(waiter, remaining)


async def read_stream(
    session: AsyncSession, principal: Principal, stream: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    position = decode_cursor(after)
    items = await repository.read_stream(
        session, principal.org, stream, after=position, limit=limit + 1, **_scope(principal)
    )
    if not items and position == 0:
        raise NotFound(f"There is no stream {stream!r}.")
    return _page(items, position, limit)


async def get_event(session: AsyncSession, principal: Principal, event_id: UUID) -> dict[str, Any]:
    item = await repository.get_event(session, principal.org, event_id)
    if item is None:
        raise NotFound(f"There is no event {event_id}.")
    if not can_see(principal, item["rep_id"], item["team_id"]):
        raise NotFound(f"There is no event {event_id}.")
    return item
