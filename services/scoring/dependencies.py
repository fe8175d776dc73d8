"""Typed dependencies of the scoring routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from shared.clients.activity import ActivityClient

from .answer.answers import Answers
from .answer.org_views import OrgRows
from .config import ScoringSettings
from .follow.consumer import Consumer


@dataclass(frozen=True, slots=True)
class Runtime:
    """What one scoring process holds: its pool, settings and consumer (leading or not)."""

    pool: asyncpg.Pool
    settings: ScoringSettings
    consumer: Consumer
    answers: Answers
    org_rows: OrgRows

    def client(self, org: str) -> ActivityClient:
        """A feed client for `org` (for `as_of` replays)."""
        return self.consumer.client(org)


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
