"""Typed dependencies of the scoring routes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from fastapi import Depends, Request

from shared.auth import CurrentUser, Principal, Role
from shared.clients.activity import ActivityClient

from . import repository
from .answer.answers import Answers
from .answer.org_views import OrgRows
from .answer.replays import Replays
from .config import ScoringSettings
from .exceptions import ManagerReplaced
from .follow.consumer import Consumer

# The org an `as_of` replay reads the feed of: the one activity client sends a token for it.
_reading: ContextVar[str] = ContextVar("scoring_feed_org")


def feed_client(
    settings: ScoringSettings,
    token: Callable[[str], str],
    transport: httpx.AsyncBaseTransport | None = None,
) -> ActivityClient:
    """The process's one client of activity's feed for `as_of` replays (made in the lifespan,
    closed on shutdown): each request carries a token for the org `Runtime.feed` reads."""
    return ActivityClient(settings.activity_url, lambda: token(_reading.get()), transport=transport)


@dataclass(frozen=True, slots=True)
class Runtime:
    """What one scoring process holds: its pool, settings and consumer (leading or not), and
    its client of activity's feed."""

    pool: asyncpg.Pool
    settings: ScoringSettings
    consumer: Consumer
    answers: Answers
    org_rows: OrgRows
    activity: ActivityClient
    replays: Replays

    @contextlib.contextmanager
    def feed(self, org: str) -> Iterator[ActivityClient]:
        """The feed client, reading `org`'s feed in this block (for `as_of` replays; tasks the
        block starts read it too)."""
        reading = _reading.set(org)
        try:
            yield self.activity
        finally:
            _reading.reset(reading)


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def reach(runtime: Runtime, user: Principal) -> Principal:
    """A manager's token names a team; where the org's roster copy (rosters.py) names another
    manager of that team today, the token reaches nothing of it (403, as in goals). Orgs
    without a roster, and every other role, are as their token says."""
    if user.role is not Role.MANAGER or not user.team:
        return user
    row = await runtime.org_rows.get(user.org)
    if row is None or row["roster_version"] == 0:
        return user
    day = datetime.now(UTC).astimezone(ZoneInfo(row["timezone"])).date()
    async with runtime.pool.acquire() as conn:
        manager = await repository.manager_of(conn, user.org, user.team, day)
    if manager is not None and manager != user.sub:
        raise ManagerReplaced(user.team)
    return user


async def _reader(user: CurrentUser, runtime: RuntimeDep) -> Principal:
    return await reach(runtime, user)


Reader = Annotated[Principal, Depends(_reader)]
"""The caller, refused (403) when a manager the roster has replaced."""
