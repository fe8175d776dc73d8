"""The roster's rules as plain functions: which entry holds on a day, the periods a rep spends
in each team, whether an entry changes anything, and who may be put where. No HTTP, no SQL.

The roster is bitemporal and append-only. Each entry says "from `effective_from` on, this is
so" (valid time) and was learnt at `recorded_at` (transaction time); nothing is overwritten. The
state of a rep (a team) on day D, as known now, is among its entries with
`effective_from <= D` the one with the latest `effective_from`, then the latest `recorded_at`,
then the latest `seq` (the order of rows stored in one transaction, which share a
`recorded_at`). An entry not stored yet (`recorded_at` None) comes after every stored one.
repository.py's `DISTINCT ON` queries pick the same entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar


class RepStatus(StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class TeamStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RepEntry:
    """A rep's team, manager and status from `effective_from` on."""

    rep_id: str
    effective_from: date
    team_id: str
    manager_id: str | None
    status: RepStatus
    recorded_by: str
    reason: str | None = None
    recorded_at: datetime | None = None  # None: not stored yet
    seq: int = 0

    @property
    def state(self) -> tuple[str, str | None, str]:
        """What the entry says (not why, who or when it was said)."""
        return self.team_id, self.manager_id, self.status.value


@dataclass(frozen=True, slots=True)
class TeamEntry:
    """A team's name, manager and status from `effective_from` on."""

    team_id: str
    effective_from: date
    name: str
    manager_id: str | None
    status: TeamStatus
    recorded_by: str
    recorded_at: datetime | None = None  # None: not stored yet
    seq: int = 0

    @property
    def state(self) -> tuple[str, str | None, str]:
        return self.name, self.manager_id, self.status.value


class Dated(Protocol):
    @property
    def effective_from(self) -> date: ...

    @property
    def recorded_at(self) -> datetime | None: ...

    @property
    def seq(self) -> int: ...

    @property
    def state(self) -> tuple[str, str | None, str]: ...


E = TypeVar("E", bound=Dated)


def order(entry: Dated) -> tuple[date, bool, float, int]:
    """The bitemporal order: effective day, then when recorded (not yet: last), then `seq`."""
    recorded = entry.recorded_at
    return (
        entry.effective_from,
        recorded is None,
        recorded.timestamp() if recorded is not None else 0.0,
        entry.seq,
    )


def state_on(entries: Iterable[E], day: date) -> E | None:
    """The entry that holds on `day` as known now; None before the first one takes effect."""
    return max((e for e in entries if e.effective_from <= day), key=order, default=None)


def history(entries: Iterable[E]) -> list[E]:
    """Every entry, newest first: by effective day, then by when it was recorded."""
    return sorted(entries, key=order, reverse=True)


def superseded(entries: Sequence[E]) -> set[int]:
    """Positions (in `entries`) of the entries that a later record for the same day replaced:
    kept, shown, but no longer what the roster says."""
    winner: dict[date, int] = {}
    for i, entry in enumerate(entries):
        best = winner.get(entry.effective_from)
        if best is None or order(entry) > order(entries[best]):
            winner[entry.effective_from] = i
    kept = set(winner.values())
    return {i for i in range(len(entries)) if i not in kept}


def timeline(entries: Iterable[E]) -> list[E]:
    """The entry that holds from each effective day on, in day order (one per day)."""
    by_day: dict[date, E] = {}
    for entry in sorted(entries, key=order):
        by_day[entry.effective_from] = entry
    return [by_day[day] for day in sorted(by_day)]


def unchanged(entries: Iterable[E], new: E) -> bool:
    """Whether `new` says what the roster already says on its day: storing it would change
    nothing, so it is not stored (a PUT or an import row sent again)."""
    current = state_on(entries, new.effective_from)
    return current is not None and current.state == new.state


@dataclass(frozen=True, slots=True)
class Membership:
    """A rep's time in one team: from `start` to `end` (both included; None: still there)."""

    team_id: str
    start: date
    end: date | None


def periods(entries: Iterable[RepEntry]) -> list[Membership]:
    """The periods of membership, oldest first: consecutive active entries in the same team
    make one period (a change of manager does not split it); a move to another team or
    `left` ends it the day before."""
    found: list[Membership] = []
    team: str | None = None
    start: date | None = None
    for entry in timeline(entries):
        active = entry.status is RepStatus.ACTIVE
        if team is not None and start is not None and (not active or entry.team_id != team):
            found.append(Membership(team, start, entry.effective_from - timedelta(days=1)))
            team = start = None
        if active and team is None:
            team, start = entry.team_id, entry.effective_from
    if team is not None and start is not None:
        found.append(Membership(team, start, None))
    return found


@dataclass(frozen=True, slots=True)
class Managed:
    """A team's manager as the roster names them, from `start` to `end` (None: still)."""

    team_id: str
    manager_id: str
    start: date
    end: date | None


def managers(entries: Iterable[TeamEntry]) -> list[Managed]:
    """The periods a team's entries name a manager, oldest first (a day naming nobody ends
    one); what `sees_team` decides by, as periods another service can copy."""
    found: list[Managed] = []
    held: tuple[str, str, date] | None = None  # team, manager, since
    for entry in timeline(entries):
        if held is not None and entry.manager_id != held[1]:
            found.append(Managed(held[0], held[1], held[2], entry.effective_from - timedelta(1)))
            held = None
        if held is None and entry.manager_id is not None:
            held = (entry.team_id, entry.manager_id, entry.effective_from)
    if held is not None:
        found.append(Managed(held[0], held[1], held[2], None))
    return found


def may_join(team: TeamEntry | None, entry: RepEntry) -> bool:
    """A rep may be made an active member of a team unless the roster has the team closed on
    the entry's day. A team the roster does not know (yet) is taken as it is today, named by
    the events that carry its id; leaving (`left`) is always allowed."""
    return not (
        entry.status is RepStatus.ACTIVE and team is not None and team.status is TeamStatus.CLOSED
    )


def sees_team(role_team: str | None, sub: str, team_id: str, team: TeamEntry | None) -> bool:
    """A manager (token team `role_team`, subject `sub`) sees `team_id` on a day when it is
    their token's team and the roster does not name someone else its manager that day."""
    if role_team is None or role_team != team_id:
        return False
    return team is None or team.manager_id is None or team.manager_id == sub


def roster_team(entries: Iterable[RepEntry], day: date) -> str | None:
    """The team the roster places a rep in on `day`, for who may see and set their goals: the
    team named by the rep's entry in force that day, `left` included (the team they left, whose
    manager keeps their goals as the roster's own reads keep the rep); None when no entry is in
    force that day (the roster does not know the rep then: their history decides)."""
    held = state_on(entries, day)
    return held.team_id if held is not None else None
