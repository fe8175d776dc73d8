"""Channel ROI as plain arithmetic: a month's cost pro-rated over the days of a range, and the
ratios of a channel's line. No async, no SQL, no HTTP.

Pro-rating, exact in minor units: of a month of D days costing C minor units, the cost of its
days 1..k is C·k/D rounded half-even to the minor unit, and the cost of its days a..b is the
cost of days 1..b minus the cost of days 1..(a−1). So the parts of a month over any split of
its days into consecutive ranges add up to C exactly (the sums telescope), the whole month is
C, and a range holding no day of it costs 0.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from .decompose import to_minor


def month_start(day: date) -> date:
    return day.replace(day=1)


def days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def months(first: date, last: date) -> list[date]:
    """The first days of the months that `first`..`last` touches, in order."""
    out, m = [], month_start(first)
    while m <= last:
        out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def to_date_cost(cost: int, days: int, through: int) -> int:
    """The cost (minor units) of days 1..`through` of a month of `days` days costing `cost`:
    cost·through/days rounded half-even (Python's `round` of a Fraction)."""
    return round(Fraction(cost * through, days))


def prorated(cost: int, month: date, first: date, last: date) -> int:
    """The part (minor units) of `month`'s `cost` that falls on the days `first`..`last`."""
    days = days_in(month)
    month_end = month.replace(day=days)
    lo, hi = max(first, month), min(last, month_end)
    if lo > hi:
        return 0
    return to_date_cost(cost, days, hi.day) - to_date_cost(cost, days, lo.day - 1)


@dataclass(frozen=True, slots=True)
class MonthCost:
    channel: str
    month: date
    amount: Decimal
    currency: str


def range_costs(
    costs: Iterable[MonthCost], first: date, last: date, places: dict[str, int]
) -> dict[str, dict[str, int]]:
    """Each channel's cost of `first`..`last` by currency (minor units, `places[currency]`
    decimals): every month's amount pro-rated by `prorated`, summed."""
    out: dict[str, dict[str, int]] = {}
    for c in costs:
        part = prorated(to_minor(c.amount, places[c.currency]), c.month, first, last)
        by_currency = out.setdefault(c.channel, {})
        by_currency[c.currency] = by_currency.get(c.currency, 0) + part
    return out


def per(amount: Decimal, count: int, places: int) -> Decimal | None:
    """`amount` ÷ `count` to `places` decimals (half-even); None when `count` is 0."""
    if count == 0:
        return None
    return (amount / count).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


RATIO_PLACES = 4


def ratio(revenue: Decimal, cost: Decimal) -> Decimal | None:
    """Revenue ÷ cost to 4 decimals (half-even); None when the cost is 0."""
    if cost == 0:
        return None
    return (revenue / cost).quantize(Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_EVEN)
