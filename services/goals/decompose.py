"""Decomposition of a goal into child goals, as plain functions. No HTTP, no SQL.

A decomposition is weights and one apportionment. The weights say how the parent is shared out:
in time (`time_weights`: evenly, by working days, by the caller's seasonal month weights, or by
last year's actuals) or across (`across_weights`: customer tiers, product lines, the reps of a
team). `split` then apportions an integer amount (money in minor units, or a count) by those
weights with the largest-remainder method, so the children always sum exactly to the parent.
`split_targets` does it for a target with its floor and stretch, keeping floor ≤ target ≤
stretch in every child.

`expected_fraction` reads the same weights back for pacing: how much of the whole should be done
by a given day.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TypeVar

from shared.money import minor_units as shared_minor_units

from .calendar import ONE_DAY, STANDARD_CALENDAR, Calendar, Span, days_in_month
from .exceptions import InvalidField

HUNDRED = Decimal(100)


# --------------------------------------------------------------------------- money


def minor_units(currency: str | None) -> int:
    """The currency's minor-unit exponent (2 for EUR, 0 for JPY); None is a count: 0."""
    if currency is None:
        return 0
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidField("currency", f"{currency!r} is not an ISO 4217 code")
    return shared_minor_units(currency)  # the system's one rule (shared.money)


def to_minor(amount: Decimal, exponent: int) -> int:
    """`amount` in minor units (Decimal("12.50"), 2 → 1250), exactly; ValueError if it has more
    decimals than `exponent` allows."""
    if exponent < 0:
        raise ValueError(f"exponent: {exponent} is negative")
    if not amount.is_finite():
        raise ValueError(f"{amount} is not a finite amount")
    sign, digits, exp = amount.as_tuple()
    assert isinstance(exp, int)  # finite
    coefficient = int("".join(map(str, digits)) or "0")
    shift = exp + exponent
    scale: int = 10 ** abs(shift)
    if shift >= 0:
        units = coefficient * scale
    else:
        units, rest = divmod(coefficient, scale)
        if rest:
            raise ValueError(f"{amount} has more than {exponent} decimals")
    return -units if sign else units


def from_minor(units: int, exponent: int) -> Decimal:
    """Minor units back to an amount with exactly `exponent` decimals (1250, 2 → Decimal("12.50"))."""
    if exponent < 0:
        raise ValueError(f"exponent: {exponent} is negative")
    digits = tuple(int(c) for c in str(abs(units)))
    return Decimal((1 if units < 0 else 0, digits, -exponent))


# --------------------------------------------------------------------------- apportionment


def _number(field: str, label: str, value: object) -> Decimal:
    """A weight as a finite Decimal ≥ 0; ints are taken, floats and the rest refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidField(field, f"{label} is {value!r}; weights are decimal numbers ≥ 0")
    return value


def _fractions(weights: Sequence[Decimal], field: str = "weights") -> list[Fraction]:
    if not weights:
        raise InvalidField(field, "at least one weight is needed")
    out = [Fraction(_number(field, f"weight {i}", w)) for i, w in enumerate(weights)]
    if not any(out):
        raise InvalidField(field, "the weights are all zero")
    return out


def _shares(total: int, weights: Sequence[Decimal]) -> tuple[list[Fraction], list[Fraction]]:
    """Each part's exact share of `total`, and the weights as fractions."""
    if isinstance(total, bool) or not isinstance(total, int):
        raise InvalidField("total", f"{total!r} is not a whole number of units")
    if total < 0:
        raise InvalidField("total", f"{total} is negative")
    exact = _fractions(weights)
    whole = sum(exact, Fraction(0))
    return [total * w / whole for w in exact], exact


def split(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Apportion `total` units by `weights` with the largest-remainder method.

    Every part gets the whole units of its exact share, and the units left over go one each to
    the parts with the largest remainders, the earlier part first on a tie. So the parts sum to
    `total` exactly, each differs from its exact share by less than one unit, and a zero weight
    gets nothing. Weights are relative (60/30/10 and 6/3/1 split alike).
    """
    shares, _ = _shares(total, weights)
    parts = [s.numerator // s.denominator for s in shares]
    left = total - sum(parts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (parts[i] - shares[i], i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return parts


def _split_within(
    total: int, weights: Sequence[Decimal], low: Sequence[int], high: Sequence[int | None]
) -> list[int]:
    """Like `split`, but part i stays within low[i]..high[i] (None: unbounded).

    Starts from each part's whole share, moved into its bounds; then adds the missing units one
    at a time to the part furthest below its exact share (the earlier on a tie) that may grow, or
    takes the surplus from the part furthest above it (the later on a tie) that may shrink. Where
    no bound binds this is exactly `split`. A part of weight zero stays at its lower bound.
    Needs sum(low) ≤ total ≤ sum(high).
    """
    shares, exact = _shares(total, weights)
    top = [lo if w == 0 else hi for w, lo, hi in zip(exact, low, high, strict=True)]
    parts = []
    for share, lo, hi in zip(shares, low, top, strict=True):
        whole = max(share.numerator // share.denominator, lo)
        parts.append(whole if hi is None else min(whole, hi))
    gap = total - sum(parts)
    if gap > 0:
        grow = [(parts[i] - shares[i], i) for i in range(len(parts)) if _below(parts[i], top[i])]
        heapq.heapify(grow)
        for _ in range(gap):
            _, i = heapq.heappop(grow)  # IndexError only if total > sum(high)
            parts[i] += 1
            if _below(parts[i], top[i]):
                heapq.heappush(grow, (parts[i] - shares[i], i))
    elif gap < 0:
        shrink = [(shares[i] - parts[i], -i) for i in range(len(parts)) if parts[i] > low[i]]
        heapq.heapify(shrink)
        for _ in range(-gap):
            _, j = heapq.heappop(shrink)  # IndexError only if total < sum(low)
            parts[-j] -= 1
            if parts[-j] > low[-j]:
                heapq.heappush(shrink, (shares[-j] - parts[-j], j))
    return parts


def _below(part: int, high: int | None) -> bool:
    return high is None or part < high


@dataclass(frozen=True, slots=True)
class Targets:
    """A goal's target with its floor and stretch, in minor units (money) or as a count."""

    target: int
    floor: int
    stretch: int

    def __post_init__(self) -> None:
        if self.floor < 0:
            raise InvalidField("floor", f"{self.floor} is negative")
        if self.floor > self.target:
            raise InvalidField("floor", f"{self.floor} is above the target {self.target}")
        if self.stretch < self.target:
            raise InvalidField("stretch", f"{self.stretch} is below the target {self.target}")


def split_targets(parent: Targets, weights: Sequence[Decimal]) -> list[Targets]:
    """The parent's target, floor and stretch apportioned by the same weights.

    Each column sums exactly to the parent's and every child keeps 0 ≤ floor ≤ target ≤ stretch.
    Largest remainder alone does not keep the order: with weights 1:3:3 a target of 4 splits
    0/2/2 but a floor of 3 splits 1/1/1, and a target of 3 splits 1/1/1 but a stretch of 4 splits
    0/2/2. So the targets are `split(parent.target, weights)`, and the floors and stretches are
    `split` of the parent's floor and stretch bounded by the children's targets (`_split_within`):
    the same numbers whenever plain `split` keeps the order; otherwise the unit that would break
    it goes to the next child in line. A child's floor then lies within (-1, +2) units of its exact
    share and its stretch within (-2, +1): no child takes more than two of the floor's units left
    over, nor gives up more than one of the stretch's, because those units never outnumber the
    room that the targets' own round-ups made.
    """
    targets = split(parent.target, weights)
    floors = _split_within(parent.floor, weights, [0] * len(targets), targets)
    stretches = _split_within(parent.stretch, weights, targets, [None] * len(targets))
    return [Targets(t, f, s) for t, f, s in zip(targets, floors, stretches, strict=True)]


def to_targets(target: Decimal, floor: Decimal, stretch: Decimal, exponent: int) -> Targets:
    """Amounts (from `floor_and_stretch`) in minor units: the target exactly (ValueError naming
    "target" if it has too many decimals), floor and stretch rounded half up, which keeps their
    order."""
    try:
        units = to_minor(target, exponent)
    except ValueError as error:
        raise InvalidField("target", str(error)) from None
    quantum = Decimal(1).scaleb(-exponent)

    def rounded(value: Decimal) -> int:
        return to_minor(value.quantize(quantum, rounding=ROUND_HALF_UP), exponent)

    return Targets(units, rounded(floor), rounded(stretch))


# --------------------------------------------------------------------------- floor and stretch


def floor_and_stretch(
    target: Decimal,
    *,
    floor: Decimal | None = None,
    stretch: Decimal | None = None,
    buffer_pct: Decimal | None = None,
    base_pct: Decimal | None = None,
    challenge_pct: Decimal | None = None,
) -> tuple[Decimal, Decimal]:
    """A goal's floor and stretch, in exactly one style (or none: both equal the target).

    - explicit: `floor` and/or `stretch` (one left out is the target);
    - a buffer around the target: `buffer_pct` 10 → floor = target × 0.9, stretch = target × 1.1;
    - percentages of the target: `base_pct` 80 and/or `challenge_pct` 120 → floor = target × 0.8,
      stretch = target × 1.2 (one left out is 100).

    Not rounded. Raises InvalidField (a ValueError) naming the field unless 0 ≤ floor ≤ target ≤
    stretch.
    """
    given = {
        "floor": floor,
        "stretch": stretch,
        "buffer_pct": buffer_pct,
        "base_pct": base_pct,
        "challenge_pct": challenge_pct,
    }
    for name, value in (("target", target), *given.items()):
        if value is not None and not value.is_finite():
            raise InvalidField(name, f"{value} is not a number")
    if target < 0:
        raise InvalidField("target", f"{target} is negative")
    styles = [
        names
        for names in (("floor", "stretch"), ("buffer_pct",), ("base_pct", "challenge_pct"))
        if any(given[n] is not None for n in names)
    ]
    if len(styles) > 1:
        named = [n for names in styles for n in names if given[n] is not None]
        raise InvalidField(
            named[-1],
            f"give floor/stretch, or buffer_pct, or base_pct/challenge_pct, not {' and '.join(named)}",
        )
    if buffer_pct is not None:
        if not 0 <= buffer_pct <= HUNDRED:
            raise InvalidField("buffer_pct", f"{buffer_pct} is not between 0 and 100")
        return target * (HUNDRED - buffer_pct) / HUNDRED, target * (HUNDRED + buffer_pct) / HUNDRED
    if base_pct is not None or challenge_pct is not None:
        base = HUNDRED if base_pct is None else base_pct
        challenge = HUNDRED if challenge_pct is None else challenge_pct
        if not 0 <= base <= HUNDRED:
            raise InvalidField("base_pct", f"{base} is not between 0 and 100")
        if challenge < HUNDRED:
            raise InvalidField("challenge_pct", f"{challenge} is below 100")
        return target * base / HUNDRED, target * challenge / HUNDRED
    low = target if floor is None else floor
    high = target if stretch is None else stretch
    if low < 0:
        raise InvalidField("floor", f"{low} is negative")
    if low > target:
        raise InvalidField("floor", f"{low} is above the target {target}")
    if high < target:
        raise InvalidField("stretch", f"{high} is below the target {target}")
    return low, high


# --------------------------------------------------------------------------- weights in time


class TimeStrategy(StrEnum):
    EVEN = "even"
    WORKING_DAYS = "working_days"
    SEASONAL = "seasonal"
    LAST_YEAR = "last_year"


class AcrossStrategy(StrEnum):
    EVEN = "even"
    WEIGHTS = "weights"
    PAST_SHARE = "past_share"


S = TypeVar("S", bound=StrEnum)


def _strategy(kind: type[S], strategy: str) -> S:
    try:
        return kind(strategy)
    except ValueError:
        allowed = ", ".join(s.value for s in kind)
        raise InvalidField("strategy", f"{strategy!r} is not one of {allowed}") from None


def time_weights(
    spans: Sequence[Span],
    strategy: str,
    *,
    calendar: Calendar = STANDARD_CALENDAR,
    seasonal: Mapping[int, Decimal] | None = None,
    last_year: Sequence[Decimal] | None = None,
) -> list[Decimal]:
    """One weight per span, to `split` a goal over them in time.

    - "even": the same for each span;
    - "working_days": the span's working days in `calendar`;
    - "seasonal": `seasonal` maps each month (1..12) to a weight; a span weighs the sum over its
      days of its month's weight ÷ the days in that month, so partial weeks are weighed fairly;
    - "last_year": `last_year`, one actual per span (the same metric a year earlier).

    InvalidField (a ValueError) when the weights cannot split anything: no working day at all,
    a month without a seasonal weight, no actuals last year.
    """
    chosen = _strategy(TimeStrategy, strategy)
    if not spans:
        raise InvalidField("spans", "nothing to split into")
    if chosen is TimeStrategy.EVEN:
        return [Decimal(1)] * len(spans)
    if chosen is TimeStrategy.WORKING_DAYS:
        weights = [Decimal(calendar.working_days(span)) for span in spans]
        if not any(weights):
            raise InvalidField("strategy", "the period has no working day in the org's calendar")
        return weights
    if chosen is TimeStrategy.SEASONAL:
        return _seasonal_weights(spans, seasonal)
    if last_year is None:
        raise InvalidField("last_year", "last year's actuals are needed")
    if len(last_year) != len(spans):
        raise InvalidField("last_year", f"{len(last_year)} actuals given for {len(spans)} periods")
    weights = [_number("last_year", f"actual {i}", v) for i, v in enumerate(last_year)]
    if not any(weights):
        raise InvalidField("last_year", "no actuals last year")
    return weights


def _seasonal_weights(
    spans: Sequence[Span], seasonal: Mapping[int, Decimal] | None
) -> list[Decimal]:
    if seasonal is None:
        raise InvalidField("seasonal", "a weight per month is needed")
    by_month: dict[int, Decimal] = {}
    for month, value in seasonal.items():
        if not 1 <= month <= 12:
            raise InvalidField("seasonal", f"{month} is not a month (1..12)")
        by_month[month] = _number("seasonal", f"the weight of month {month}", value)
    weights = []
    for span in spans:
        weight = Decimal(0)
        day = span.start
        while day <= span.end:
            last = day.replace(day=days_in_month(day.year, day.month))
            end = min(last, span.end)
            if day.month not in by_month:
                raise InvalidField("seasonal", f"no weight for month {day.month}")
            days = (end - day).days + 1
            weight += days * by_month[day.month] / days_in_month(day.year, day.month)
            if end == span.end:
                break
            day = end + ONE_DAY
        weights.append(weight)
    if not any(weights):
        raise InvalidField("seasonal", "the weights of these months are all zero")
    return weights


# --------------------------------------------------------------------------- weights across


def across_weights(
    keys: Sequence[str],
    weights: Mapping[str, Decimal] | None,
    strategy: str = "weights",
    past: Mapping[str, Decimal] | None = None,
) -> list[Decimal]:
    """One weight per key (a tier, a product line, a rep), to `split` a goal across them.

    - "even": the same for each key;
    - "weights": `weights[key]` for each key, relative (60/30/10 need not add up to 100); every
      key needs one and no other key may appear;
    - "past_share": `past[key]`, e.g. each rep's actual last period; a key missing from `past`
      had none (0), and keys of `past` not among `keys` (a rep who left) are ignored.
    """
    chosen = _strategy(AcrossStrategy, strategy)
    if not keys:
        raise InvalidField("keys", "nothing to split across")
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise InvalidField("keys", f"{key!r} appears twice")
        seen.add(key)
    if chosen is AcrossStrategy.EVEN:
        return [Decimal(1)] * len(keys)
    if chosen is AcrossStrategy.WEIGHTS:
        if weights is None:
            raise InvalidField("weights", "a weight per key is needed")
        unknown = [k for k in weights if k not in seen]
        if unknown:
            raise InvalidField("weights", f"{unknown[0]!r} is not one of {', '.join(keys)}")
        missing = [k for k in keys if k not in weights]
        if missing:
            raise InvalidField("weights", f"no weight for {missing[0]!r}")
        out = [_number("weights", f"the weight of {k!r}", weights[k]) for k in keys]
        if not any(out):
            raise InvalidField("weights", "the weights are all zero")
        return out
    if past is None:
        raise InvalidField("past", "past actuals are needed")
    out = [_number("past", f"the actual of {k!r}", past.get(k, Decimal(0))) for k in keys]
    if not any(out):
        raise InvalidField("past", "no actuals in the past period for any of these keys")
    return out


# --------------------------------------------------------------------------- pacing


def expected_fraction(
    spans: Sequence[Span],
    weights: Sequence[Decimal],
    today: date,
    calendar: Calendar,
    *,
    by_working_days: bool = True,
) -> Decimal:
    """The share of the whole (0..1) expected to be done by the end of `today`.

    Spans in order, weighted as the goal was decomposed: the full weight of every span that has
    ended, plus the current span's weight × its working days elapsed (up to and including today)
    ÷ its working days — calendar days when `by_working_days` is False or the span has no working
    day. 0 before the first span, 1 from the last span's end.
    """
    if len(weights) != len(spans):
        raise InvalidField("weights", f"{len(weights)} weights for {len(spans)} periods")
    exact = _fractions(weights)
    whole = sum(exact, Fraction(0))
    done = Fraction(0)
    for span, weight in zip(spans, exact, strict=True):
        if span.end <= today:
            done += weight
        elif span.start <= today:
            elapsed, length = (today - span.start).days + 1, span.days
            if by_working_days:
                working = calendar.working_days(span)
                if working:
                    elapsed = calendar.working_days_between(span.start, today)
                    length = working
            done += weight * Fraction(elapsed, length)
    if done == whole:
        return Decimal(1)
    return Decimal(done.numerator * whole.denominator) / Decimal(whole.numerator * done.denominator)
