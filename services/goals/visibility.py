"""Which goals the caller may see: the roles' rules (domain.py) and, for a manager, whether
they lead their token's team today and where each rep works today (placement.py: the roster
where it knows the rep, else their own history as scoring tells it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role

from . import repository
from .calendars import org_day
from .domain import Owner, can_read, may_see_rep
from .exceptions import GoalNotFound
from .models import Goal
from .placement import leads, rep_teams
from .scoring import GoalsScoring


async def visible(
    session: AsyncSession, scoring: GoalsScoring, user: Principal, goals: Sequence[Goal]
) -> list[Goal]:
    """`goals` without those the caller may not see: for a manager, every one while the roster
    names another manager of their team today, else those of reps working in another team
    today (as the roster says, or scoring said within the last few seconds)."""
    if user.role is not Role.MANAGER or not goals:
        return list(goals)
    day = await org_day(session, user.org, None)
    if not await leads(session, user, day):
        return []
    reps = {g.owner_id for g in goals if g.owner_kind == "rep"}
    teams = await rep_teams(session, scoring, user.org, reps, day)
    hidden = {rep for rep, team in teams.items() if not may_see_rep(user, team)}
    return [g for g in goals if not (g.owner_kind == "rep" and g.owner_id in hidden)]


async def readable(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    goal_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Goal:
    """The goal, if the caller may see it; else 404, as for a goal that does not exist."""
    load = repository.lock_goal if lock else repository.get_goal
    goal = await load(session, user.org, goal_id)
    if (
        goal is None
        or not can_read(user, Owner(goal.owner_kind, goal.owner_id), goal.team_id)
        or not await visible(session, scoring, user, [goal])
    ):
        raise GoalNotFound(f"There is no goal {goal_id}.")
    return goal
