"""Every query of the goals service (SQLAlchemy 2, async session owned by the request)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Calendar, Goal, Revision


async def get_goal(session: AsyncSession, org_id: str, goal_id: uuid.UUID) -> Goal | None:
    goal = await session.get(Goal, goal_id)
    return goal if goal is not None and goal.org_id == org_id else None


async def lock_goal(session: AsyncSession, org_id: str, goal_id: uuid.UUID) -> Goal | None:
    """The goal, locked until the transaction ends (changes to one goal go one at a time)."""
    result = await session.execute(
        select(Goal).where(Goal.id == goal_id, Goal.org_id == org_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def current_body(session: AsyncSession, goal: Goal) -> dict[str, Any]:
    revision = await session.get(Revision, (goal.id, goal.revision))
    assert revision is not None
    return revision.body


async def bodies(session: AsyncSession, goals: Sequence[Goal]) -> dict[uuid.UUID, Revision]:
    if not goals:
        return {}
    keys = [(g.id, g.revision) for g in goals]
    result = await session.execute(
        select(Revision).where(
            Revision.goal_id.in_([k[0] for k in keys]),
            Revision.revision.in_({k[1] for k in keys}),
        )
    )
    wanted = set(keys)
    return {r.goal_id: r for r in result.scalars() if (r.goal_id, r.revision) in wanted}


async def first_revision(session: AsyncSession, goal_id: uuid.UUID) -> Revision | None:
    return await session.get(Revision, (goal_id, 1))


def add_goal(session: AsyncSession, goal: Goal, revision: Revision) -> None:
    session.add(goal)
    session.add(revision)


def add_revision(session: AsyncSession, revision: Revision) -> None:
    session.add(revision)


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
) -> list[Goal]:
    query = select(Goal).where(Goal.org_id == org_id)
    if owner is not None:
        query = query.where(Goal.owner_kind == owner[0], Goal.owner_id == owner[1])
    if metric is not None:
        query = query.where(Goal.metric == metric)
    if period_kind is not None:
        query = query.where(Goal.period_kind == period_kind)
    if start_from is not None:
        query = query.where(Goal.period_start >= start_from)
    if start_to is not None:
        query = query.where(Goal.period_start <= start_to)
    if team is not None:
        query = query.where(Goal.team_id == team)
    if rep is not None:
        query = query.where(Goal.owner_kind == "rep", Goal.owner_id == rep)
    if parent_id is not None:
        query = query.where(Goal.parent_id == parent_id)
    if not include_archived:
        query = query.where(Goal.archived.is_(False))
    if after is not None:
        query = query.where(tuple_(Goal.period_start, Goal.id) > tuple_(*after))
    query = query.order_by(Goal.period_start, Goal.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def children(session: AsyncSession, org_id: str, parent_id: uuid.UUID) -> list[Goal]:
    result = await session.execute(
        select(Goal)
        .where(Goal.org_id == org_id, Goal.parent_id == parent_id, Goal.archived.is_(False))
        .order_by(Goal.period_start, Goal.id)
    )
    return list(result.scalars())


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
