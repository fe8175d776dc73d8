"""Which goals and reps the caller may see: the roles' rules (domain.py) and, for a manager,
where each rep's own history places them (asked of scoring)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role

from . import repository
from .domain import Owner, can_read, may_see_rep
from .exceptions import GoalNotFound
from .models import Goal
from .scoring import GoalsScoring

TEAM_QUESTIONS = 8  # questions to scoring in flight at once about where reps work
T = TypeVar("T")


async def gathered(calls: Iterable[Awaitable[T]], at_once: int = TEAM_QUESTIONS) -> list[T]:
    """`calls` awaited together, `at_once` at a time."""
    gate = asyncio.Semaphore(at_once)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def hidden_reps(scoring: GoalsScoring, user: Principal, goals: Sequence[Goal]) -> set[str]:
    """The reps owning some of `goals` whom the caller may not see: for a manager, those whose
    history places them in another team (as scoring said within the last few seconds)."""
    if user.role is not Role.MANAGER:
        return set()
    reps = sorted({g.owner_id for g in goals if g.owner_kind == "rep"})
    teams = await gathered(scoring.rep_team(user.org, rep) for rep in reps)
    return {rep for rep, team in zip(reps, teams, strict=True) if not may_see_rep(user, team)}


async def visible(scoring: GoalsScoring, user: Principal, goals: Sequence[Goal]) -> list[Goal]:
    """`goals` without those of reps the caller may not see."""
    hidden = await hidden_reps(scoring, user, goals)
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
        or await hidden_reps(scoring, user, [goal])
    ):
        raise GoalNotFound(f"There is no goal {goal_id}.")
    return goal
