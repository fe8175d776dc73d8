"""Typed dependencies of the scoring routes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated

import asyncpg
import httpx
from fastapi import Depends, Request

from shared.clients.activity import ActivityClient

from .answer.answers import Answers
from .answer.org_views import OrgRows
from .config import ScoringSettings
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
