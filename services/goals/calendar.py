"""Periods and working calendars for goals, as plain functions. No HTTP, no SQL.

A goal covers a `Span` of days (both ends inclusive): a year, a quarter, a month, an ISO week
(Monday to Sunday) or a day. Decomposition splits a span into the finer periods that cover it;
weeks are clipped to the parent, so a month split into weeks starts and ends with partial weeks.

An org's `Calendar` says which days are worked: not its weekend days, not its public holidays,
but its make-up working days (China's adjusted weekends) even when they fall on a weekend.
Dates here are local dates in the org's timezone; turning "now" into one is the caller's job.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from shared.periods import Period, period_end, period_start

ONE_DAY = timedelta(days=1)

PeriodKind = Period  # goals publishes it as `PeriodKind`, coarsest first (schemas.py)


# Which kinds a period of each kind may be split into.
FINER: dict[PeriodKind, tuple[PeriodKind, ...]] = {
    PeriodKind.YEAR: (PeriodKind.QUARTER, PeriodKind.MONTH, PeriodKind.WEEK, PeriodKind.DAY),
    PeriodKind.QUARTER: (PeriodKind.MONTH, PeriodKind.WEEK, PeriodKind.DAY),
    PeriodKind.MONTH: (PeriodKind.WEEK, PeriodKind.DAY),
    PeriodKind.WEEK: (PeriodKind.DAY,),
    PeriodKind.DAY: (),
}


@dataclass(frozen=True, slots=True)
class Span:
    """The days from `start` to `end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a span cannot end ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def dates(self) -> Iterator[date]:
        day = self.start
        for _ in range(self.days):
            yield day
            if day < date.max:
                day += ONE_DAY


def days_in_month(year: int, month: int) -> int:
    return _stdlib_calendar.monthrange(year, month)[1]


def period_of(kind: PeriodKind, day: date) -> Span:
    """The whole period of `kind` that holds `day`."""
    start = period_start(kind, day)
    return Span(start, period_end(kind, start))


def period_span(kind: PeriodKind, start: date) -> Span:
    """The period of `kind` that begins on `start`; ValueError when no such period begins then."""
    kind = PeriodKind(kind)
    span = period_of(kind, start)
    if span.start != start:
        first = {
            PeriodKind.YEAR: "1 January",
            PeriodKind.QUARTER: "the 1st of January, April, July or October",
            PeriodKind.MONTH: "the 1st of a month",
            PeriodKind.WEEK: "a Monday",
        }[kind]
        raise ValueError(f"a {kind.value} starts on {first}, not on {start.isoformat()}")
    return span


def children(parent: Span, kind: PeriodKind, into: PeriodKind) -> list[Span]:
    """The periods of `into` that cover `parent` exactly, in order, clipped to it.

    `parent` is a period of `kind` or a part of one (such as a week clipped to its month), and
    `into` must be finer than `kind`: a year splits into quarters, months, weeks or days, a quarter
    into months, weeks or days, a month into weeks or days, a week into days.
    """
    kind, into = PeriodKind(kind), PeriodKind(into)
    if into not in FINER[kind]:
        allowed = ", ".join(k.value for k in FINER[kind]) or "nothing"
        raise ValueError(f"a {kind.value} splits into {allowed}, not into {into.value}s")
    if not period_of(kind, parent.start).contains(parent.end):
        raise ValueError(
            f"{parent.start.isoformat()}..{parent.end.isoformat()} is not within one {kind.value}"
        )
    out: list[Span] = []
    day = parent.start
    while True:
        child = Span(day, min(period_of(into, day).end, parent.end))
        out.append(child)
        if child.end == parent.end:
            return out
        day = child.end + ONE_DAY


@dataclass(frozen=True, slots=True)
class Calendar:
    """An org's working days.

    `weekend` holds `date.weekday()` numbers (Monday 0 … Sunday 6). A day in `workdays` (a
    make-up working day, such as China's adjusted weekends) is worked even on a weekend; a day in
    `holidays` is never worked, even when it is also in `workdays`.
    """

    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.weekend <= frozenset(range(7)):
            bad = sorted(set(self.weekend) - set(range(7)))
            raise ValueError(f"weekend: {bad} are not weekday numbers (Monday 0 … Sunday 6)")

    def is_working(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return day.weekday() not in self.weekend

    def working_days(self, span: Span) -> int:
        """How many days of `span` are worked."""
        weeks, rest = divmod(span.days, 7)
        count = weeks * (7 - len(self.weekend))
        first = span.start.weekday()
        count += sum(1 for i in range(rest) if (first + i) % 7 not in self.weekend)
        count -= sum(
            1 for d in self.holidays if span.contains(d) and d.weekday() not in self.weekend
        )
        count += sum(
            1
            for d in self.workdays
            if span.contains(d) and d.weekday() in self.weekend and d not in self.holidays
        )
        return count

    def working_days_between(self, start: date, end: date) -> int:
        """How many days from `start` to `end`, both included, are worked (0 if `end` < `start`)."""
        if end < start:
            return 0
        return self.working_days(Span(start, end))


STANDARD_CALENDAR = Calendar()  # Saturday and Sunday off, no holidays


def checkpoints(span: Span, today: date, days: tuple[int, ...] = (10, 20)) -> date | None:
    """The next checkpoint on or after `today` within `span`, or None once the span is over.

    Checkpoints are the given days of each month (10th and 20th by default), each month's last
    day and the span's last day.
    """
    if any(not 1 <= d <= 31 for d in days):
        raise ValueError(f"days: {days} must be days of a month (1..31)")
    if today > span.end:
        return None
    day = max(today, span.start)
    last = days_in_month(day.year, day.month)
    candidates = [day.replace(day=d) for d in days if day.day <= d <= last]
    candidates.append(day.replace(day=last))
    return min(min(candidates), span.end)
