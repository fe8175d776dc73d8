"""The roster: who is in which team, since when. Admins record entries (one at a time or a CSV
of them); everyone reads what their role lets them see. Entries are appended, never changed
(membership.py holds the rules, repository.py the queries).

Who sees what, on a day D (`?on=`, default today in the org's timezone):
- admin, bi and the org's service tokens: the whole org;
- a manager: the team of their token, unless the roster names another manager of that team on
  D; and the reps whose entry in force on D is in that team (their whole history, to see where
  they came from);
- a rep: themselves, and the team the roster places them in on D.
What a caller may not see answers 404 (by id) or is left out (lists), as for goals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.errors import FieldError
from shared.pagination import decode_keyset, encode_keyset

from . import repository
from .calendars import org_day
from .exceptions import (
    RepNotFound,
    RosterFileRefused,
    RosterForAdmins,
    RosterNotCsv,
    TeamClosed,
    TeamNotEmpty,
    TeamNotFound,
)
from .membership import (
    RepEntry,
    RepStatus,
    TeamEntry,
    TeamStatus,
    history,
    may_join,
    periods,
    sees_team,
    state_on,
    superseded,
    unchanged,
)
from .models import RosterRep, RosterTeam
from .roster_csv import read_roster
from .schemas import (
    MembershipOut,
    RepEntryIn,
    RepEntryOut,
    RepPage,
    RepRecord,
    RepState,
    RosterImported,
    TeamEntryIn,
    TeamEntryOut,
    TeamPage,
    TeamRecord,
    TeamState,
)

CSV_TYPES = ("text/csv", "application/csv")
REPS_CURSOR, TEAMS_CURSOR = "roster-reps", "roster-teams"


def rep_entry(row: RosterRep) -> RepEntry:
    """A stored row as the roster's rules read it."""
    return RepEntry(
        rep_id=row.rep_id,
        effective_from=row.effective_from,
        team_id=row.team_id,
        manager_id=row.manager_id,
        status=RepStatus(row.status),
        recorded_by=row.recorded_by,
        reason=row.reason,
        recorded_at=row.recorded_at,
        seq=row.id,
    )


def team_entry(row: RosterTeam) -> TeamEntry:
    """A stored row as the roster's rules read it."""
    return TeamEntry(
        team_id=row.team_id,
        effective_from=row.effective_from,
        name=row.name,
        manager_id=row.manager_id,
        status=TeamStatus(row.status),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
        seq=row.id,
    )


def _rep_row(org: str, entry: RepEntry) -> RosterRep:
    return RosterRep(
        org_id=org,
        rep_id=entry.rep_id,
        effective_from=entry.effective_from,
        team_id=entry.team_id,
        manager_id=entry.manager_id,
        status=entry.status.value,
        recorded_by=entry.recorded_by,
        reason=entry.reason,
    )


def _team_row(org: str, entry: TeamEntry) -> RosterTeam:
    return RosterTeam(
        org_id=org,
        team_id=entry.team_id,
        effective_from=entry.effective_from,
        name=entry.name,
        manager_id=entry.manager_id,
        status=entry.status.value,
        recorded_by=entry.recorded_by,
    )


def _new_rep(user: Principal, rep_id: str, data: RepEntryIn) -> RepEntry:
    return RepEntry(
        rep_id=rep_id,
        effective_from=data.from_,
        team_id=data.team_id,
        manager_id=data.manager_id,
        status=RepStatus(data.status),
        recorded_by=user.sub,
        reason=data.reason,
    )


async def _rep_entries(session: AsyncSession, org: str, rep_id: str) -> list[RepEntry]:
    return [rep_entry(r) for r in await repository.rep_entries(session, org, [rep_id])]


async def _team_entries(session: AsyncSession, org: str, team_id: str) -> list[TeamEntry]:
    return [team_entry(r) for r in await repository.team_entries(session, org, [team_id])]


async def _team_on(session: AsyncSession, org: str, team_id: str, day: date) -> TeamEntry | None:
    return state_on(await _team_entries(session, org, team_id), day)


def _check_admin(user: Principal) -> None:
    if user.role is not Role.ADMIN:
        raise RosterForAdmins()


# --------------------------------------------------------------------------- rendering


def _rep_out(entry: RepEntry, gone: bool = False) -> RepEntryOut:
    assert entry.recorded_at is not None  # rendered once stored
    return RepEntryOut(
        from_=entry.effective_from,
        recorded_at=entry.recorded_at,
        recorded_by=entry.recorded_by,
        team_id=entry.team_id,
        manager_id=entry.manager_id,
        status=entry.status.value,
        reason=entry.reason,
        superseded=gone,
    )


def _team_out(entry: TeamEntry, gone: bool = False) -> TeamEntryOut:
    assert entry.recorded_at is not None
    return TeamEntryOut(
        from_=entry.effective_from,
        recorded_at=entry.recorded_at,
        recorded_by=entry.recorded_by,
        name=entry.name,
        manager_id=entry.manager_id,
        status=entry.status.value,
        superseded=gone,
    )


def rep_record(rep_id: str, entries: list[RepEntry], day: date) -> RepRecord:
    newest = history(entries)
    gone = superseded(newest)
    held = state_on(entries, day)
    return RepRecord(
        rep_id=rep_id,
        on=day,
        state=_rep_out(held) if held else None,
        periods=[
            MembershipOut(team_id=p.team_id, from_=p.start, to=p.end) for p in periods(entries)
        ],
        history=[_rep_out(e, i in gone) for i, e in enumerate(newest)],
    )


def team_record(team_id: str, entries: list[TeamEntry], day: date) -> TeamRecord:
    newest = history(entries)
    gone = superseded(newest)
    held = state_on(entries, day)
    return TeamRecord(
        team_id=team_id,
        on=day,
        state=_team_out(held) if held else None,
        history=[_team_out(e, i in gone) for i, e in enumerate(newest)],
    )


# --------------------------------------------------------------------------- access


async def _sees_rep(
    session: AsyncSession, user: Principal, entries: list[RepEntry], day: date
) -> bool:
    if user.role is Role.REP:
        return bool(entries) and entries[0].rep_id == user.sub
    if user.role is Role.MANAGER:
        held = state_on(entries, day)
        return held is not None and await _manages(session, user, held.team_id, day)
    return True


async def _manages(session: AsyncSession, user: Principal, team_id: str, day: date) -> bool:
    """Whether a manager leads `team_id` on `day`: their token's team, and the roster names no
    other manager of it that day."""
    if user.team != team_id:
        return False
    return sees_team(user.team, user.sub, team_id, await _team_on(session, user.org, team_id, day))


async def _placed(session: AsyncSession, user: Principal, day: date) -> str | None:
    """The team the roster places a rep (the caller) in on `day`, while active in it."""
    entries = await _rep_entries(session, user.org, user.sub)
    held = state_on(entries, day)
    return held.team_id if held and held.status is RepStatus.ACTIVE else None


async def _sees_team(session: AsyncSession, user: Principal, team_id: str, day: date) -> bool:
    if user.role is Role.REP:
        return await _placed(session, user, day) == team_id
    if user.role is Role.MANAGER:
        return await _manages(session, user, team_id, day)
    return True


# --------------------------------------------------------------------------- reps


async def put_rep(
    session: AsyncSession, user: Principal, rep_id: str, data: RepEntryIn
) -> RepRecord:
    """Record a rep's team from a day; an entry that says what the roster already says on
    that day is not stored again. A rep joins (active) no team closed on that day."""
    _check_admin(user)
    await repository.lock_roster(session, user.org)
    entries = await _rep_entries(session, user.org, rep_id)
    new = _new_rep(user, rep_id, data)
    if not unchanged(entries, new):
        if not may_join(await _team_on(session, user.org, new.team_id, new.effective_from), new):
            raise TeamClosed(new.team_id, new.effective_from)
        row = _rep_row(user.org, new)
        await repository.add_roster_entry(session, row)
        entries.append(rep_entry(row))
    return rep_record(rep_id, entries, await org_day(session, user.org, None))


async def get_rep(
    session: AsyncSession, user: Principal, rep_id: str, on: date | None
) -> RepRecord:
    day = await org_day(session, user.org, on)
    entries = await _rep_entries(session, user.org, rep_id)
    if not entries or not await _sees_rep(session, user, entries, day):
        raise RepNotFound(rep_id)
    return rep_record(rep_id, entries, day)


async def list_reps(
    session: AsyncSession,
    user: Principal,
    *,
    team: str | None,
    on: date | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> RepPage:
    """The reps' entries in force on a day (by default the active ones: the members), in rep
    order; a manager's kept to their team, a rep's to themselves."""
    day = await org_day(session, user.org, on)
    rep = user.sub if user.role is Role.REP else None
    if user.role is Role.MANAGER:
        if team not in (None, user.team) or not await _manages(session, user, str(user.team), day):
            return RepPage(on=day, items=[], next=None)
        team = user.team
    after = decode_keyset(REPS_CURSOR, cursor, 1, user.org)[0] if cursor else None
    rows = await repository.reps_on(
        session, user.org, day, team=team, status=status, rep=rep, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return RepPage(
        on=day,
        items=[
            RepState(
                rep_id=r.rep_id,
                team_id=r.team_id,
                manager_id=r.manager_id,
                status=RepStatus(r.status).value,
                reason=r.reason,
                from_=r.effective_from,
                recorded_at=r.recorded_at,
                recorded_by=r.recorded_by,
            )
            for r in rows
        ],
        next=encode_keyset(REPS_CURSOR, [rows[-1].rep_id], user.org) if more and rows else None,
    )


async def import_roster(
    session: AsyncSession, user: Principal, content_type: str, raw: bytes
) -> RosterImported:
    """A CSV of rep entries (roster_csv.py), all or nothing: any bad row (unreadable, a team
    closed on its day, a rep's second row for a day) refuses the file, every one named. Rows
    apply in the file's order; one that says what the roster (with the rows above it) already
    says on its day is counted `unchanged` and not stored."""
    _check_admin(user)
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in CSV_TYPES:
        raise RosterNotCsv(media)
    rows, refused = read_roster(raw)
    await repository.lock_roster(session, user.org)
    known: dict[str, list[RepEntry]] = defaultdict(list)
    for stored in await repository.rep_entries(session, user.org, sorted({r.rep_id for r in rows})):
        known[stored.rep_id].append(rep_entry(stored))
    teams: dict[str, list[TeamEntry]] = defaultdict(list)
    named = sorted({r.entry.team_id for r in rows})
    for stored_team in await repository.team_entries(session, user.org, named):
        teams[stored_team.team_id].append(team_entry(stored_team))
    fresh: list[RosterRep] = []
    for row in rows:
        new = replace(_new_rep(user, row.rep_id, row.entry), seq=row.index)  # file order
        if unchanged(known[row.rep_id], new):
            continue
        if not may_join(state_on(teams[new.team_id], new.effective_from), new):
            refused += (
                TeamClosed(new.team_id, new.effective_from, f"rows[{row.index}].team_id").errors
                or ()
            )
            continue
        known[row.rep_id].append(new)
        fresh.append(_rep_row(user.org, new))
    if refused:
        raise RosterFileRefused(sorted(refused, key=_row_number))
    await repository.add_roster_entries(session, fresh)
    return RosterImported(rows=len(rows), stored=len(fresh), unchanged=len(rows) - len(fresh))


def _row_number(error: FieldError) -> tuple[int, str]:
    """rows[12].from → (12, "rows[12].from"); the header and the body first."""
    head = error.field.split(".", 1)[0]
    if head.startswith("rows[") and head.endswith("]"):
        return int(head[5:-1]), error.field
    return -1, error.field


# --------------------------------------------------------------------------- teams


async def put_team(
    session: AsyncSession, user: Principal, team_id: str, data: TeamEntryIn
) -> TeamRecord:
    """Record a team's name, manager and status from a day; the same again is not stored. A
    team is not closed on a day some rep is still an active member of it (409)."""
    _check_admin(user)
    await repository.lock_roster(session, user.org)
    entries = await _team_entries(session, user.org, team_id)
    new = TeamEntry(
        team_id=team_id,
        effective_from=data.from_,
        name=data.name,
        manager_id=data.manager_id,
        status=TeamStatus(data.status),
        recorded_by=user.sub,
    )
    if not unchanged(entries, new):
        if new.status is TeamStatus.CLOSED:
            members = await repository.reps_on(
                session,
                user.org,
                new.effective_from,
                team=team_id,
                status=RepStatus.ACTIVE.value,
                rep=None,
                after=None,
                limit=5,
            )
            if members:
                raise TeamNotEmpty(team_id, new.effective_from, [m.rep_id for m in members])
        row = _team_row(user.org, new)
        await repository.add_roster_entry(session, row)
        entries.append(team_entry(row))
    return team_record(team_id, entries, await org_day(session, user.org, None))


async def get_team(
    session: AsyncSession, user: Principal, team_id: str, on: date | None
) -> TeamRecord:
    day = await org_day(session, user.org, on)
    entries = await _team_entries(session, user.org, team_id)
    if not entries or not await _sees_team(session, user, team_id, day):
        raise TeamNotFound(team_id)
    return team_record(team_id, entries, day)


async def list_teams(
    session: AsyncSession,
    user: Principal,
    *,
    on: date | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> TeamPage:
    """The teams' entries in force on a day, in team order: a manager's own team, a rep's."""
    day = await org_day(session, user.org, on)
    only: str | None = None  # the one team a manager or a rep sees
    if user.role is Role.MANAGER:
        only = user.team if await _manages(session, user, str(user.team), day) else None
    elif user.role is Role.REP:
        only = await _placed(session, user, day)
    if only is None and user.role in (Role.MANAGER, Role.REP):
        return TeamPage(on=day, items=[], next=None)
    after = decode_keyset(TEAMS_CURSOR, cursor, 1, user.org)[0] if cursor else None
    rows = await repository.teams_on(
        session,
        user.org,
        day,
        status=status,
        team=only,
        after=after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return TeamPage(
        on=day,
        items=[
            TeamState(
                team_id=r.team_id,
                name=r.name,
                manager_id=r.manager_id,
                status=TeamStatus(r.status).value,
                from_=r.effective_from,
                recorded_at=r.recorded_at,
                recorded_by=r.recorded_by,
            )
            for r in rows
        ],
        next=encode_keyset(TEAMS_CURSOR, [rows[-1].team_id], user.org) if more and rows else None,
    )
