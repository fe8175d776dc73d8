"""Helpers shared by the goals API tests: goal bodies, creating and listing goals, and
independent re-implementations of the arithmetic the service promises (largest-remainder
apportionment, working days), so the tests check numbers against their own computation.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import httpx

from tests.api.scoring.helpers import PROBLEM_JSON, assert_problem

__all__ = [
    "PROBLEM_JSON",
    "assert_problem",
    "cents",
    "count_goal",
    "create",
    "decompose",
    "ids",
    "largest_remainder",
    "list_all",
    "minor",
    "money_goal",
    "month_spans",
    "working_days",
]


def count_goal(**overrides: Any) -> dict[str, Any]:
    """A monthly visits goal of team t1 (March 2026, target 100)."""
    return {
        "owner": "team:t1",
        "metric": "visits",
        "period": "month",
        "start": "2026-03-01",
        "target": 100,
        **overrides,
    }


def money_goal(**overrides: Any) -> dict[str, Any]:
    """A yearly revenue goal of team t1 (2026, 1,000,000.00 EUR)."""
    return {
        "owner": "team:t1",
        "metric": "revenue_won",
        "period": "year",
        "start": "2026-01-01",
        "target": "1000000.00",
        "currency": "EUR",
        **overrides,
    }


async def create(
    goals: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """POST a goal that must be stored; the goal as answered."""
    answer = await goals.post("/v1/goals", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    goal: dict[str, Any] = answer.json()
    return goal


async def decompose(
    goals: httpx.AsyncClient, headers: dict[str, str], goal_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST a decomposition that must succeed; {"parent": …, "children": […]}."""
    answer = await goals.post(f"/v1/goals/{goal_id}/decompose", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def list_all(
    goals: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every goal a list query returns, following `next` to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await goals.get("/v1/goals", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items.extend(page["items"])
        cursor = page["next"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def ids(goals: Iterable[dict[str, Any]]) -> list[str]:
    return [g["id"] for g in goals]


# --------------------------------------------------------------------------------- arithmetic


def largest_remainder(total: int, weights: Sequence[Fraction | int]) -> list[int]:
    """`total` apportioned by `weights`: whole shares, then one unit each to the largest
    remainders, the earlier part first on a tie."""
    whole = sum((Fraction(w) for w in weights), Fraction(0))
    shares = [Fraction(total) * Fraction(w) / whole for w in weights]
    parts = [int(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def working_days(
    first: date,
    last: date,
    *,
    weekend: Iterable[int] = (5, 6),
    holidays: Iterable[date] = (),
    workdays: Iterable[date] = (),
) -> int:
    """Days from `first` to `last` (both included) that are worked, counted one by one."""
    off, free, extra = set(weekend), set(holidays), set(workdays)
    count, day = 0, first
    while day <= last:
        if day not in free and (day in extra or day.weekday() not in off):
            count += 1
        day += timedelta(days=1)
    return count


def month_spans(year: int, months: Iterable[int] = range(1, 13)) -> list[tuple[date, date]]:
    return [(date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1])) for m in months]


def minor(amount: str) -> int:
    """ "1234.56" → 123456 (two decimals)."""
    whole, _, cents = amount.partition(".")
    return int(whole) * 100 + int(cents.ljust(2, "0"))


def cents(units: int) -> str:
    return f"{units // 100}.{units % 100:02d}"
