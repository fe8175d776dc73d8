"""The activity use cases: append, read the feed, read a stream, read one event."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from shared.auth import Principal, Role
from shared.errors import DomainError, FieldError
from shared.events import EVENT_TYPES, EnvelopeBase
from shared.pagination import decode_cursor, encode_cursor

from . import metrics, repository
from .domain import (
    Candidate,
    Decision,
    can_see,
    parse_about,
    parse_ids,
    prepare,
    read_filter,
)
from .exceptions import (
    BacklogNotAllowed,
    EventNotFound,
    OrgListNotAllowed,
    StreamNotFound,
    UnknownEventType,
)
from .notifier import FeedNotifier
from .repository import StoredRow
from .schemas import AppendStatus
from .writer import GroupCommitter

# A group commit records all its events at one time: render it once, not once per event.
_recorded_iso = functools.lru_cache(maxsize=64)(repository.iso_utc)


def _result(decision: Decision) -> dict[str, Any]:
    row = decision.row
    return {
        "event_id": row.event_id,
        "position": row.position,
        "stream_version": row.stream_version,
        "recorded_at": _recorded_iso(row.recorded_at) if row.recorded_at else None,
    }


def _count(decisions: Sequence[Decision]) -> None:
    for d in decisions:
        if d.created:
            metrics.appended(d.row.type).inc()
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
    rep_id, team_id = read_filter(principal)
    return {"rep_id": rep_id, "team_id": team_id}


def parse_types(types: str | None) -> list[str] | None:
    if not types:
        return None
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in EVENT_TYPES]
    if unknown:
        raise UnknownEventType(unknown)
    return wanted


@dataclass(frozen=True, slots=True)
class Page:
    """A page of events as JSON bytes, and what its body ends with (the router repeats it in
    headers, so a client can ask for the next page before it parses this one)."""

    body: bytes
    next: str
    has_more: bool


def _framed(items_json: str, last: int, has_more: bool, org: str) -> Page:
    """A page as JSON bytes: the events' stored JSON spliced in as it is."""
    cursor = encode_cursor(last, org)
    tail = orjson.dumps({"next": cursor, "has_more": has_more})
    return Page(b'{"items":[' + items_json.encode() + b"]," + tail[1:], cursor, has_more)


def _page(rows: list[StoredRow], after: int, limit: int, org: str) -> Page:
    page = rows[:limit]
    last = page[-1].position if page else after
    return _framed(",".join(r.json for r in page), last, len(rows) > limit, org)


def _reads_stored_cursors(principal: Principal) -> bool:
    """A service (scoring) may pass the readable cursor it stored before cursors were opaque."""
    return principal.role is Role.SERVICE


async def read_feed(
    pool: asyncpg.Pool,
    notifier: FeedNotifier,
    principal: Principal,
    *,
    after: str | None,
    limit: int,
    types: str | None,
    wait: float,
    about: str | None = None,
    ids: str | None = None,
) -> Page:
    """The org's events after a cursor, in the order of their positions (the org's own 1, 2,
    3…); long-polls up to `wait` seconds. With `about`, only the events about any of the
    entities it names (`parse_about`), read by a query of their own; with `ids`, only those
    events (`parse_ids`).

    Each query borrows a connection only for itself, so a waiting reader holds none.
    """
    position = decode_cursor(after, principal.org, legacy=_reads_stored_cursors(principal))
    wanted = parse_types(types)
    entities = parse_about(about)
    wanted_ids = parse_ids(ids)
    deadline = time.monotonic() + wait
    while True:
        waiter = notifier.subscribe(principal.org)
        async with pool.acquire() as conn:
            if entities is None:
                page = await repository.read_feed(
                    conn,
                    principal.org,
                    after=position,
                    limit=limit,
                    types=wanted,
                    ids=wanted_ids,
                    **_scope(principal),
                )
            else:
                page = await repository.read_about(
                    conn,
                    principal.org,
                    entities,
                    after=position,
                    limit=limit,
                    types=wanted,
                    ids=wanted_ids,
                    **_scope(principal),
                )
        remaining = deadline - time.monotonic()
        if page.count or remaining <= 0 or notifier.closed:
            metrics.FEED_EVENTS_SERVED.inc(page.count)
            last = position if page.last_position is None else page.last_position
            return _framed(page.items_json, last, page.has_more, principal.org)
        await notifier.wait(waiter, remaining)


async def read_stream(
    pool: asyncpg.Pool, principal: Principal, stream: str, *, after: str | None, limit: int
) -> Page:
    position = decode_cursor(after, principal.org)
    async with pool.acquire() as conn:
        items = await repository.read_stream(
            conn, principal.org, stream, after=position, limit=limit + 1, **_scope(principal)
        )
    if not items and position == 0:  # unknown, or none of it the caller's: alike
        raise StreamNotFound(stream)
    return _page(items, position, limit, principal.org)


async def get_event(pool: asyncpg.Pool, principal: Principal, event_id: UUID) -> bytes:
    async with pool.acquire() as conn:
        item = await repository.get_event(conn, principal.org, event_id)
    if item is None or not can_see(principal, item.rep_id, item.team_id):
        raise EventNotFound(event_id)
    return item.json.encode()


async def list_orgs(pool: asyncpg.Pool, principal: Principal) -> dict[str, Any]:
    """The orgs that have events, each with the cursor of its newest event: for a platform
    service (scoring's consumer) that follows every org's feed."""
    if not (principal.is_platform and principal.role is Role.SERVICE):
        raise OrgListNotAllowed()
    async with pool.acquire() as conn:
        rows = await repository.list_orgs(conn)
    return {
        "items": [
            {
                "org_id": r["org_id"],
                "head": encode_cursor(r["position"], r["org_id"]),
                "head_recorded_at": repository.iso_utc(r["recorded_at"]),
            }
            for r in rows
        ]
    }


async def backlog(pool: asyncpg.Pool, principal: Principal, after: str | None) -> dict[str, Any]:
    """How far a consumer at cursor `after` is behind the org's feed."""
    if principal.role not in (Role.SERVICE, Role.ADMIN):
        raise BacklogNotAllowed()
    position = decode_cursor(after, principal.org, legacy=_reads_stored_cursors(principal))
    async with pool.acquire() as conn:
        row = await repository.backlog(conn, principal.org, position)
    recorded = row["head_recorded_at"]
    return {
        "events": row["events"],
        "head": encode_cursor(row["head"] if row["head"] is not None else position, principal.org),
        "head_recorded_at": repository.iso_utc(recorded) if recorded is not None else None,
    }
