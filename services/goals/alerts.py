"""Warnings read across one owner's goals, as plain functions. No HTTP, no SQL.

`leading_behind`: a goal on a *leading* indicator (the activity that fills the pipeline: visits,
calls, leads, opportunities…) that is behind its pace while a goal on a *lagging* one (the
results: revenue, deals won, new customers, collections) is still on track. That is where a miss
starts: today's results come from earlier activity, so they hide for a while that the activity
has dropped. Once the lagging goal is off track too it is no longer a warning but a miss, and
its own progress already says so.

The rule, for each owner:
- a leading goal counts when its status is `behind` or `at_risk`; a lagging one when `on_track`;
- they pair when they have the same owner, the same cuts (product line, tier and channel all
  equal; none is a cut of its own) and overlapping periods;
- every such pair is one alert; alerts come `behind` before `at_risk`, then by leading metric,
  lagging metric, owner, the periods' starts and goal ids (a stable order).

The goals come in as the progress computation judged them (`Paced`): this module only reads
their statuses and shows their numbers, it never computes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from .pace import Status

LEADING: dict[str, str] = {  # metric → how a message names it (all plural)
    "visits": "Visits",
    "effective_visits": "Effective visits",
    "calls": "Calls",
    "connected_calls": "Connected calls",
    "new_leads": "New leads",
    "opportunities": "Opportunities",
    "deals_opened": "Deals opened",
    "engagements": "Engagements",
}
LAGGING: dict[str, str] = {  # metric → its name and verb in a message
    "revenue_won": "revenue is",
    "deals_won": "deals won are",
    "new_customers": "new customers are",
    "collected": "collections are",
}
SEVERITY: dict[Status, int] = {"behind": 0, "at_risk": 1, "on_track": 2}
_NEXT = {
    "day": "tomorrow",
    "week": "next week",
    "month": "next month",
    "quarter": "next quarter",
    "year": "next year",
}


@dataclass(frozen=True, slots=True)
class Paced:
    """A goal as its progress judged it on the day asked; numbers as the API shows them."""

    goal_id: str
    owner: str
    metric: str
    period: str
    start: date
    end: date
    status: Status
    actual: int | str
    expected_to_date: int | str
    product_line: str | None = None
    tier: str | None = None
    channel: str | None = None

    @property
    def cuts(self) -> tuple[str | None, str | None, str | None]:
        return self.product_line, self.tier, self.channel


@dataclass(frozen=True, slots=True)
class Alert:
    kind: Literal["leading_behind"]
    owner: str
    leading: Paced
    lagging: Paced
    message: str


def leading_behind(goals: Iterable[Paced]) -> list[Alert]:
    """Every leading goal behind or at risk paired with every lagging goal on track of the same
    owner, cuts and overlapping period; `behind` first, then by metric names."""
    goals = list(goals)
    leading = [g for g in goals if g.metric in LEADING and g.status in ("behind", "at_risk")]
    lagging = [g for g in goals if g.metric in LAGGING and g.status == "on_track"]
    alerts = [
        Alert("leading_behind", lead.owner, lead, lag, message(lead, lag))
        for lead in leading
        for lag in lagging
        if pairs(lead, lag)
    ]
    return sorted(alerts, key=_order)


def pairs(leading: Paced, lagging: Paced) -> bool:
    """Same owner, same cuts, and periods that share at least one day."""
    return (
        leading.owner == lagging.owner
        and leading.cuts == lagging.cuts
        and leading.start <= lagging.end
        and lagging.start <= leading.end
    )


def message(leading: Paced, lagging: Paced) -> str:
    """ "Visits are behind pace (5 of 9 expected by now) while revenue is still on track: the
    pipeline for next month is thinning." An at-risk one is "below pace (at risk)"."""
    what = LEADING[leading.metric]
    cuts = ", ".join(
        f"{name} {value}"
        for name, value in zip(("product line", "tier", "channel"), leading.cuts, strict=True)
        if value is not None
    )
    if cuts:
        what = f"{what} ({cuts})"
    state = "behind pace" if leading.status == "behind" else "below pace (at risk)"
    numbers = f"{_show(leading.actual)} of {_show(leading.expected_to_date)} expected by now"
    when = _NEXT.get(leading.period, "the coming periods")
    return (
        f"{what} are {state} ({numbers}) while {LAGGING[lagging.metric]} still on track: "
        f"the pipeline for {when} is thinning."
    )


def _show(value: int | str) -> str:
    return f"{value:,}" if isinstance(value, int) else value


def _order(alert: Alert) -> tuple[int, str, str, str, date, date, str, str]:
    lead, lag = alert.leading, alert.lagging
    return (
        SEVERITY[lead.status],
        lead.metric,
        lag.metric,
        alert.owner,
        lead.start,
        lag.start,
        lead.goal_id,
        lag.goal_id,
    )
