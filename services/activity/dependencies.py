"""Typed dependencies of the activity routes.

One async dependency hands a route everything the process holds (FastAPI resolves each
dependency per request, so fewer and async is measurably cheaper on the append hot path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from .imports.service import Importer
from .notifier import FeedNotifier
from .writer import GroupCommitter


@dataclass(frozen=True, slots=True)
class Runtime:
    """What one activity process holds: its pool, its group committer, its feed notifier,
    its import jobs."""

    pool: asyncpg.Pool
    committer: GroupCommitter
    notifier: FeedNotifier
    importer: Importer


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
