"""The rules of the review digests as plain functions: no HTTP, no SQL.

- A day's target is the goal's expected-to-date through that day minus its expected-to-date
  through the day before, each rounded as progress shows it (`expected_to_date`): the day's
  share along the goal's own shape, 0 on a day the shape does not work. Rounded this way the
  shares of a period's days add up exactly to the target, and each is the step between two of
  progress's own numbers.
- The carry-over of a day is its shortfall (expected-to-date − actual, never below 0), carried
  to the next working day of the org calendar on top of that day's own share.
- Champions hold the best positive value of a board (ties: all of them); the most improved
  grew the most against the board before (ties: all; no growth, no champion).
- A funnel step's week against its trailing weeks: both conversions as the funnel gives them
  and their difference in percentage points.
- ISO weeks (`2026-W49`) and months (`2026-11`) as spans of days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from shared.dates import FIRST_DAY, LAST_DAY

from .calendar import Calendar, Span, days_in_month
from .decompose import expected_fraction

ONE_DAY = timedelta(days=1)
LOOK_AHEAD_DAYS = 366  # how far the next working day is looked for
TRAILING_DAYS = 28  # the four weeks a week's funnel is compared with
WEEK_PATTERN = r"^[0-9]{4}-W[0-9]{2}$"
_WEEK = re.compile(WEEK_PATTERN)
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_POINT = Decimal("0.01")


def quantum(places: int) -> Decimal:
    """The smallest step of a value shown with `places` decimals (1 for counts)."""
    return Decimal(1).scaleb(-places)


def to_date(
    spans: Sequence[Span],
    weights: Sequence[Decimal],
    target: Decimal,
    day: date,
    calendar: Calendar,
    places: int,
) -> Decimal:
    """Target × the share expected by the end of `day` (progress's `expected_to_date`), rounded
    to `places` as progress rounds it (half to even)."""
    return (target * expected_fraction(spans, weights, day, calendar)).quantize(quantum(places))


def day_target(
    spans: Sequence[Span],
    weights: Sequence[Decimal],
    target: Decimal,
    day: date,
    calendar: Calendar,
    places: int,
) -> Decimal:
    """The day's share of `target` along the shape (`spans` weighted by `weights`): expected
    through `day` minus expected through the day before, each as progress shows it."""
    through = to_date(spans, weights, target, day, calendar, places)
    if day <= date.min:
        return through
    return through - to_date(spans, weights, target, day - ONE_DAY, calendar, places)


def shortfall(expected_to_date: Decimal, actual: Decimal) -> Decimal:
    """What is missing against pace: expected-to-date − actual, never below 0."""
    return max(Decimal(0), expected_to_date - actual)


def next_working_day(calendar: Calendar, day: date) -> date | None:
    """The first working day after `day` (within a year and the days scoring knows)."""
    candidate = day
    for _ in range(LOOK_AHEAD_DAYS):
        if candidate >= LAST_DAY:
            return None
        candidate += ONE_DAY
        if calendar.is_working(candidate):
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class Carry:
    """A day's shortfall carried to the next working day, on top of its own share."""

    day: date
    planned: Decimal
    carried: Decimal

    @property
    def total(self) -> Decimal:
        return self.planned + self.carried


def carry_over(
    expected_to_date: Decimal, actual: Decimal, next_day: date, planned: Decimal
) -> Carry:
    return Carry(day=next_day, planned=planned, carried=shortfall(expected_to_date, actual))


def bounds_reached(
    actual: Decimal,
    floor: Decimal,
    target: Decimal,
    stretch: Decimal,
    *,
    lower_is_better: bool = False,
) -> tuple[bool, bool, bool]:
    """(floor reached, target reached, stretch reached), as progress judges a level: for a
    duration (lower is better) the goal's numerically largest bound, `stretch`, is the far one
    it must stay under (pace.level: at or under it is `at_risk`, past it `behind`), so it is the
    floor a manager reads, and the smallest, `floor`, the ambitious one."""
    if lower_is_better:
        return actual <= stretch, actual <= target, actual <= floor
    return actual >= floor, actual >= target, actual >= stretch


def champions(values: Mapping[str, Decimal]) -> list[str]:
    """The reps with the largest value, ties all of them, in id order; none when the largest is
    not above 0 (nobody won anything)."""
    if not values:
        return []
    best = max(values.values())
    if best <= 0:
        return []
    return sorted(rep for rep, value in values.items() if value == best)


@dataclass(frozen=True, slots=True)
class Improved:
    rep: str
    before: Decimal
    after: Decimal

    @property
    def increase(self) -> Decimal:
        return self.after - self.before


def most_improved(after: Mapping[str, Decimal], before: Mapping[str, Decimal]) -> list[Improved]:
    """The reps whose value grew the most from `before` to `after` (a rep missing from a board
    counts 0 there), ties all of them, in id order; none when nobody grew."""
    changes = [
        Improved(rep, before.get(rep, Decimal(0)), after.get(rep, Decimal(0)))
        for rep in set(after) | set(before)
    ]
    if not changes:
        return []
    best = max(c.increase for c in changes)
    if best <= 0:
        return []
    return sorted((c for c in changes if c.increase == best), key=lambda c: c.rep)


def points_difference(week: float | None, trailing: float | None) -> Decimal | None:
    """(week − trailing) in percentage points, to 2 decimals (half up); None if either is."""
    if week is None or trailing is None:
        return None
    raw = (Decimal(str(week)) - Decimal(str(trailing))) * 100
    return raw.quantize(_POINT, ROUND_HALF_UP)


def pooled(numerator: int, denominator: int) -> Decimal | None:
    """A conversion pooled over its parts; None without a denominator."""
    return None if denominator == 0 else Decimal(numerator) / Decimal(denominator)


def trailing_span(week: Span, days: int = TRAILING_DAYS) -> Span | None:
    """The `days` days before `week` (clipped to the first day scoring knows); None if none."""
    last = week.start - ONE_DAY
    if last < FIRST_DAY:
        return None
    return Span(max(FIRST_DAY, week.start - timedelta(days=days)), last)


def parse_week(text: str) -> Span:
    """`2026-W49` → Monday..Sunday of that ISO week; ValueError otherwise."""
    if not _WEEK.match(text):
        raise ValueError("must be an ISO week as YYYY-Www, e.g. 2026-W49")
    year, week = int(text[:4]), int(text[6:])
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise ValueError(f"must be a week between {FIRST_DAY} and {LAST_DAY}")
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"{year} has no ISO week {week}") from exc
    span = Span(monday, monday + timedelta(days=6))
    if span.start < FIRST_DAY or span.end > LAST_DAY:
        raise ValueError(f"must be a week between {FIRST_DAY} and {LAST_DAY}")
    return span


def week_name(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_of(day: date) -> Span:
    monday = day - timedelta(days=day.weekday())
    return Span(monday, monday + timedelta(days=6))


def parse_month(text: str) -> Span:
    """`2026-11` → the 1st..the last of that month; ValueError otherwise."""
    if not _MONTH.match(text):
        raise ValueError("must be a month as YYYY-MM, e.g. 2026-11")
    year, month = int(text[:4]), int(text[5:])
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise ValueError(f"must be between {FIRST_DAY:%Y-%m} and {LAST_DAY:%Y-%m}")
    return month_of(date(year, month, 1))


def month_of(day: date) -> Span:
    first = day.replace(day=1)
    return Span(first, first.replace(day=days_in_month(first.year, first.month)))


def next_month(month: Span) -> Span | None:
    """The month after `month`; None past the last day scoring knows."""
    if month.end >= LAST_DAY:
        return None
    return month_of(month.end + ONE_DAY)


def previous_month(month: Span) -> Span | None:
    if month.start <= FIRST_DAY:
        return None
    return month_of(month.start - ONE_DAY)


def as_of_day(span: Span, today: date) -> date:
    """The day a period is judged on: its last day once over, today while it runs (its first
    day before it starts)."""
    return min(max(today, span.start), span.end)


def merged_order(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """The names of `first` in its order, each name only `second` has placed right after the
    name it follows there (funnel steps a period did not reach keep their place)."""
    out = list(dict.fromkeys(first))
    after: str | None = None
    for name in second:
        if name not in out:
            out.insert(out.index(after) + 1 if after is not None else 0, name)
        after = name
    return out


def distinct(items: Iterable[str]) -> list[str]:
    """`items` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))
