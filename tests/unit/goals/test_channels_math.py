"""Channel ROI arithmetic (services/goals/channels_math.py): a month's cost pro-rated over days,
exact in minor units, checked against Fractions and by Hypothesis over any split of a month."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from services.goals.channels_math import (
    MonthCost,
    days_in,
    months,
    per,
    prorated,
    range_costs,
    ratio,
)

MONTHS = st.builds(
    date,
    st.integers(min_value=1970, max_value=2099),
    st.integers(min_value=1, max_value=12),
    st.just(1),
)
COSTS = st.integers(min_value=0, max_value=10**17)


@given(MONTHS, COSTS, st.data())
def test_the_parts_of_any_split_of_a_month_add_up_to_its_cost(month, cost, data) -> None:
    days = days_in(month)
    cuts = data.draw(st.sets(st.integers(min_value=1, max_value=days - 1), max_size=days - 1))
    bounds = [0, *sorted(cuts), days]
    parts = [
        prorated(cost, month, month + timedelta(days=a), month + timedelta(days=b - 1))
        for a, b in itertools.pairwise(bounds)
    ]
    assert sum(parts) == cost
    for (a, b), part in zip(itertools.pairwise(bounds), parts, strict=True):
        exact = Fraction(cost * (b - a), days)
        assert abs(part - exact) <= 1, (a, b, part, exact)  # within a unit of its share


@given(
    MONTHS, COSTS, st.integers(min_value=-40, max_value=70), st.integers(min_value=0, max_value=80)
)
def test_a_range_takes_the_days_it_holds_of_the_month(month, cost, start, length) -> None:
    first = month + timedelta(days=start)
    last = first + timedelta(days=length)
    days = days_in(month)
    held = sum(1 for d in range(days) if first <= month + timedelta(days=d) <= last)
    part = prorated(cost, month, first, last)
    assert abs(part - Fraction(cost * held, days)) <= 1
    if held == days:
        assert part == cost
    if held == 0:
        assert part == 0


def test_half_even_on_the_cost_to_date() -> None:
    # 1000.00 over October's 31 days: days 1..15 are 48387.0967… cents → 48387.
    assert prorated(100000, date(2026, 10, 1), date(2026, 10, 1), date(2026, 10, 15)) == 48387
    assert prorated(100000, date(2026, 10, 1), date(2026, 10, 16), date(2026, 10, 31)) == 51613
    # 1 cent over 2 halves of February 2026 (28 days): 0.5 → 0 (even), then the rest, 1.
    feb = date(2026, 2, 1)
    assert prorated(1, feb, feb, date(2026, 2, 14)) == 0
    assert prorated(1, feb, date(2026, 2, 15), date(2026, 2, 28)) == 1
    # 3 cents: 1.5 → 2 (even), then 1.
    assert prorated(3, feb, feb, date(2026, 2, 14)) == 2
    assert prorated(3, feb, date(2026, 2, 15), date(2026, 2, 28)) == 1


def test_range_costs_sum_months_by_channel_and_currency() -> None:
    costs = [
        MonthCost("referral", date(2026, 9, 1), Decimal("300.00"), "EUR"),
        MonthCost("referral", date(2026, 10, 1), Decimal("310.00"), "EUR"),
        MonthCost("online", date(2026, 9, 1), Decimal("5000"), "JPY"),
        MonthCost("online", date(2026, 11, 1), Decimal("9.99"), "EUR"),
    ]
    got = range_costs(costs, date(2026, 9, 16), date(2026, 10, 15), {"EUR": 2, "JPY": 0})
    assert got == {"referral": {"EUR": 15000 + 15000}, "online": {"JPY": 2500, "EUR": 0}}


def test_months_and_ratios() -> None:
    assert months(date(2026, 11, 30), date(2027, 1, 1)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
    assert per(Decimal("10.00"), 3, 2) == Decimal("3.33")
    assert per(Decimal("0.05"), 2, 2) == Decimal("0.02")  # 0.025 → half-even
    assert per(Decimal("1"), 0, 2) is None
    assert ratio(Decimal("1000"), Decimal("450")) == Decimal("2.2222")
    assert ratio(Decimal("1000"), Decimal("0")) is None
