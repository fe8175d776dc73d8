"""Typed dependencies of the activity routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .config import ActivitySettings
from .notifier import FeedNotifier
from .writer import GroupCommitter


def _committer(request: Request) -> GroupCommitter:
    return request.app.state.committer  # type: ignore[no-any-return]


def _notifier(request: Request) -> FeedNotifier:
    return request.app.state.notifier  # type: ignore[no-any-return]


def _sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.sessionmaker  # type: ignore[no-any-return]


def _settings(request: Request) -> ActivitySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


CommitterDep = Annotated[GroupCommitter, Depends(_committer)]
NotifierDep = Annotated[FeedNotifier, Depends(_notifier)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessionmaker)]
SettingsDep = Annotated[ActivitySettings, Depends(_settings)]
