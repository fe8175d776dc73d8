"""Where a rep works and whether a manager leads their team, as goals decides who sees and sets
which goal. One place for both lookups; the rules are membership.py's.

- A rep's team on a day (the org's today unless a day is given): the team the roster places
  them in (`roster_team`: their entry in force that day, `left` included); for a rep the roster
  does not know that day, where their own history places them (scoring's `GET /v1/reps/{rep}`,
  `GoalsScoring.rep_team`; None: no history yet). An org without a roster is answered by
  scoring alone, as before the roster.
- A manager leads their token's team on a day unless the roster names another manager of it
  that day (`sees_team`, as the roster's own reads decide).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from datetime import date
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role

from . import repository
from .calendars import org_day
from .membership import RepEntry, roster_team, sees_team, state_on
from .roster import rep_entry, team_entry
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


async def rep_teams(
    session: AsyncSession,
    scoring: GoalsScoring,
    org: str,
    reps: Iterable[str],
    on: date | None = None,
    *,
    fresh: bool = False,
) -> dict[str, str | None]:
    """Each rep's team on `on` (default the org's today): the roster's where it knows the rep
    that day (one query for all), else scoring's (`fresh`: asked now, for a write)."""
    wanted = sorted(set(reps))
    if not wanted:
        return {}
    day = await org_day(session, org, on)
    entries: dict[str, list[RepEntry]] = defaultdict(list)
    for row in await repository.rep_entries(session, org, wanted):
        entries[row.rep_id].append(rep_entry(row))
    teams = {rep: roster_team(entries[rep], day) for rep in wanted}
    unknown = [rep for rep, team in teams.items() if team is None]
    asked = await gathered(scoring.rep_team(org, rep, fresh=fresh) for rep in unknown)
    teams.update(zip(unknown, asked, strict=True))
    return teams


async def rep_team(
    session: AsyncSession,
    scoring: GoalsScoring,
    org: str,
    rep: str,
    on: date | None = None,
    *,
    fresh: bool = False,
) -> str | None:
    """`rep_teams` for one rep."""
    return (await rep_teams(session, scoring, org, [rep], on, fresh=fresh))[rep]


async def leads(session: AsyncSession, user: Principal, on: date | None = None) -> bool:
    """Whether the caller leads the team their token claims on `on` (default the org's today):
    always for other roles; for a manager, unless the roster names another manager of that
    team that day. A manager who does not lead it sees and sets nothing of it, as of any team
    not theirs."""
    if user.role is not Role.MANAGER:
        return True
    if user.team is None:
        return False
    day = await org_day(session, user.org, on)
    rows = await repository.team_entries(session, user.org, [user.team])
    held = state_on([team_entry(r) for r in rows], day)
    return sees_team(user.team, user.sub, user.team, held)
