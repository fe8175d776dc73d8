"""Every query of the goals service (SQLAlchemy 2, async session owned by the request)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .models import Calendar, Goal, Revision


async def ping(conn: AsyncConnection) -> None:
    """The readiness check's round trip to the database."""
    await conn.execute(text("SELECT 1"))


async def get_goal(session: AsyncSession, org_id: str, goal_id: uuid.UUID) -> Goal | None:
    goal = await session.get(Goal, goal_id)
    return goal if goal is not None and goal.org_id == org_id else None


async def lock_goal(session: AsyncSession, org_id: str, goal_id: uuid.UUID) -> Goal | None:
    """The goal, locked until the transaction ends (changes to one goal go one at a time)."""
    result = await session.execute(
        select(Goal).where(Goal.id == goal_id, Goal.org_id == org_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def current_revision(session: AsyncSession, goal: Goal) -> Revision:
    revision = await session.get(Revision, (goal.id, goal.revision))
    assert revision is not None  # a goal's current revision always exists
    return revision


async def add_goal(session: AsyncSession, goal: Goal, revision: Revision) -> None:
    """Store a new goal with its first revision (their server defaults read back)."""
    session.add(goal)
    session.add(revision)
    await session.flush()
    await session.refresh(goal)
    await session.refresh(revision)


async def add_revision(session: AsyncSession, revision: Revision) -> None:
    session.add(revision)
    await session.flush()
    await session.refresh(revision)


async def _with_current(session: AsyncSession, query: Select[Any]) -> list[tuple[Goal, Revision]]:
    """`query`'s goals, each with its current revision (one query)."""
    result = await session.execute(
        query.add_columns(Revision).join(
            Revision, (Revision.goal_id == Goal.id) & (Revision.revision == Goal.revision)
        )
    )
    return [(goal, revision) for goal, revision in result.all()]


def _narrowed(
    query: Select[Any],
    owner: tuple[str, str] | None,
    period_kind: str | None,
    team: str | None,
    rep: str | None,
) -> Select[Any]:
    """`query` kept to an owner's goals, a period kind, a manager's team or a rep's own."""
    if owner is not None:
        query = query.where(Goal.owner_kind == owner[0], Goal.owner_id == owner[1])
    if period_kind is not None:
        query = query.where(Goal.period_kind == period_kind)
    if team is not None:
        query = query.where(Goal.team_id == team)
    if rep is not None:
        query = query.where(Goal.owner_kind == "rep", Goal.owner_id == rep)
    return query


async def list_goals(
    session: AsyncSession,
    org_id: str,
    *,
    owner: tuple[str, str] | None,
    metric: str | None,
    period_kind: str | None,
    start_from: date | None,
    start_to: date | None,
    team: str | None,
    rep: str | None,
    parent_id: uuid.UUID | None,
    include_archived: bool,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Goal, Revision]]:
    """A page of goals in period order, each with its current revision (one query)."""
    query = _narrowed(select(Goal).where(Goal.org_id == org_id), owner, period_kind, team, rep)
    if metric is not None:
        query = query.where(Goal.metric == metric)
    if start_from is not None:
        query = query.where(Goal.period_start >= start_from)
    if start_to is not None:
        query = query.where(Goal.period_start <= start_to)
    if parent_id is not None:
        query = query.where(Goal.parent_id == parent_id)
    if not include_archived:
        query = query.where(Goal.archived.is_(False))
    if after is not None:
        query = query.where(tuple_(Goal.period_start, Goal.id) > tuple_(*after))
    query = query.order_by(Goal.period_start, Goal.id).limit(limit)
    return await _with_current(session, query)


async def current_goals(
    session: AsyncSession,
    org_id: str,
    *,
    owner: tuple[str, str] | None,
    period_kind: str | None,
    team: str | None,
    rep: str | None,
    day: date,
    longest_days: int,
) -> list[tuple[Goal, Revision]]:
    """The goals not archived that may hold `day` (starting at most `longest_days` before it),
    in period order, each with its current revision (one query; the caller checks each
    period's end)."""
    query = select(Goal).where(
        Goal.org_id == org_id,
        Goal.archived.is_(False),
        Goal.period_start <= day,
        Goal.period_start > day - timedelta(days=longest_days),
    )
    query = _narrowed(query, owner, period_kind, team, rep).order_by(Goal.period_start, Goal.id)
    return await _with_current(session, query)


async def children(
    session: AsyncSession, org_id: str, parent_id: uuid.UUID
) -> list[tuple[Goal, Revision]]:
    """A goal's children not archived, in period order, each with its current revision."""
    query = (
        select(Goal)
        .where(Goal.org_id == org_id, Goal.parent_id == parent_id, Goal.archived.is_(False))
        .order_by(Goal.period_start, Goal.id)
    )
    return await _with_current(session, query)


async def revisions(session: AsyncSession, goal_id: uuid.UUID) -> list[Revision]:
    result = await session.execute(
        select(Revision).where(Revision.goal_id == goal_id).order_by(Revision.revision)
    )
    return list(result.scalars())


async def get_calendar(session: AsyncSession, org_id: str) -> Calendar | None:
    return await session.get(Calendar, org_id)


async def put_calendar(session: AsyncSession, calendar: Calendar) -> Calendar:
    merged = await session.merge(calendar)
    await session.flush()
    return merged
