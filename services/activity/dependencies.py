"""Typed dependencies of the activity routes (async: no thread hop per request)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from .notifier import FeedNotifier
from .writer import GroupCommitter


async def _committer(request: Request) -> GroupCommitter:
    return request.app.state.committer  # type: ignore[no-any-return]


async def _notifier(request: Request) -> FeedNotifier:
    return request.app.state.notifier  # type: ignore[no-any-return]


async def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


CommitterDep = Annotated[GroupCommitter, Depends(_committer)]
NotifierDep = Annotated[FeedNotifier, Depends(_notifier)]
PoolDep = Annotated[asyncpg.Pool, Depends(_pool)]
