"""The whole roster as periods: each rep's in each team (rep, team, first day, last day) and each
team's with a named manager. What scoring copies to count a team's numbers by who was in it on
each day, and to refuse a manager the roster has replaced (services/scoring/rosters.py). Read
by the org's readers at large: admin, bi and service tokens."""

from __future__ import annotations

from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.contracts.goals import ManagerPeriod, RosterPeriod, RosterPeriodPage
from shared.pagination import decode_keyset, encode_keyset

from . import repository
from .exceptions import PeriodsForOrgReaders
from .membership import managers, periods
from .roster import rep_entry, team_entry

CURSOR = "roster-periods"
READERS = frozenset({Role.ADMIN, Role.BI, Role.SERVICE})


async def list_periods(
    session: AsyncSession, user: Principal, *, cursor: str | None, limit: int
) -> RosterPeriodPage:
    """The periods of `limit` reps a page, in rep order; the teams' managers on the first."""
    if user.role not in READERS:
        raise PeriodsForOrgReaders()
    after = decode_keyset(CURSOR, cursor, 1, user.org)[0] if cursor else None
    version = await repository.roster_version(session, user.org)
    rows = await repository.rep_entries_after(session, user.org, after, limit + 1)
    reps = [
        (rep, [rep_entry(r) for r in group]) for rep, group in groupby(rows, lambda r: r.rep_id)
    ]
    more = len(reps) > limit
    reps = reps[:limit]
    items = [
        RosterPeriod(rep_id=rep, team_id=p.team_id, from_=p.start, to=p.end)
        for rep, entries in reps
        for p in periods(entries)
    ]
    led: list[ManagerPeriod] = []
    if cursor is None:
        teams = await repository.all_team_entries(session, user.org)
        for _, group in groupby(teams, lambda r: r.team_id):
            led += [
                ManagerPeriod(team_id=m.team_id, manager_id=m.manager_id, from_=m.start, to=m.end)
                for m in managers([team_entry(r) for r in group])
            ]
    last = reps[-1][0] if reps else None
    return RosterPeriodPage(
        version=version,
        items=items,
        managers=led,
        next=encode_keyset(CURSOR, [last], user.org) if more and last else None,
    )
