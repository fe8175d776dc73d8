"""Scoring's rules as plain functions: buckets of periods, who sees which owner, the metric
catalogue, and how each metric is derived from the stored sums. No HTTP, no SQL. (Periods,
owners and the list of metrics are shared with goals: shared/periods.py, shared/owners.py,
shared/contracts/scoring.py.)

Every metric is a sum of facts (`projections/kpis.py`) or a ratio of two sums, and a ratio is
always returned with its numerator and denominator, so a BI tool can re-aggregate it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from shared.auth import Principal, Role
from shared.contracts.scoring import SERVED, MetricKind
from shared.money import minor_units
from shared.owners import Owner as Owner
from shared.owners import OwnerKind as OwnerKind
from shared.owners import default_owner as default_owner
from shared.owners import parse_owner as parse_owner
from shared.periods import Period as Period
from shared.periods import period_end as period_end
from shared.periods import period_start as period_start

from .exceptions import (
    ManagerSeesOwnTeam,
    RangeReversed,
    RepSeesOwnNumbers,
    TooManyBuckets,
    UnknownMetric,
)

MAX_BUCKETS = 1000
SECONDS_PER_DAY = Decimal(86400)


@dataclass(frozen=True, slots=True)
class Bucket:
    start: date
    end: date  # inclusive


def buckets(period: Period, first: date, last: date) -> list[Bucket]:
    """The whole periods that overlap [first, last]."""
    if last < first:
        raise RangeReversed()
    out: list[Bucket] = []
    start = period_start(period, first)
    while start <= last:
        end = period_end(period, start)
        out.append(Bucket(start, end))
        if len(out) > MAX_BUCKETS:
            raise TooManyBuckets(MAX_BUCKETS, period.value)
        start = end + timedelta(days=1)
    return out


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


# --------------------------------------------------------------------------- owners, access


def team_filter(principal: Principal, owner: Owner) -> str | None:
    """Check that the caller may see `owner`; the team a manager's rep rows are limited to.

    Reps see themselves, managers their team and its reps (a rep's rows only while in that
    team), everyone else the whole org. A refusal names no data (403 without details)."""
    if principal.role is Role.REP:
        if owner != Owner(OwnerKind.REP, principal.sub):
            raise RepSeesOwnNumbers()
        return None
    if principal.role is Role.MANAGER:
        if owner.kind is OwnerKind.ORG or (
            owner.kind is OwnerKind.TEAM and owner.id != principal.team
        ):
            raise ManagerSeesOwnTeam()
        return principal.team if owner.kind is OwnerKind.REP else None
    return None


# --------------------------------------------------------------------------- metrics


Kind = MetricKind  # the contract's: how a metric's value is made from its parts


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: Kind
    parts: tuple[str, ...]  # stored metrics it is derived from
    description: str


PARTS: dict[str, tuple[str, ...]] = {
    "visits": ("visits",),
    "effective_visits": ("effective_visits",),
    "effective_visit_rate": ("effective_visits", "visits"),
    "calls": ("calls",),
    "connected_calls": ("connected_calls",),
    "call_connect_rate": ("connected_calls", "calls"),
    "engagements": ("engagements",),
    "engaged_seconds": ("engaged_seconds",),
    "new_leads": ("new_leads",),
    "opportunities": ("opportunities",),
    "disqualified_leads": ("disqualified_leads",),
    "lead_to_opportunity_rate": ("opportunities", "new_leads"),
    "avg_days_lead_to_opportunity": ("lead_to_opportunity_days", "lead_to_opportunity_count"),
    "avg_elapsed_days_lead_to_opportunity": (
        "lead_to_opportunity_seconds",
        "lead_to_opportunity_count",
    ),
    "deals_opened": ("deals_opened",),
    "deals_won": ("deals_won",),
    "deals_lost": ("deals_lost",),
    "win_rate": ("deals_won", "deals_closed"),
    "revenue_won": ("revenue_won",),
    "average_deal_size": ("revenue_won", "deals_won"),
    "avg_sales_cycle_days": ("sales_cycle_days", "sales_cycle_count"),
    "avg_sales_cycle_elapsed_days": ("sales_cycle_seconds", "sales_cycle_count"),
    "new_customers": ("new_customers",),
    "repeat_purchase_rate": ("wins",),
    "invoiced": ("invoiced",),
    "collected": ("collected",),
    "collection_rate": ("collected", "invoiced"),
    "open_pipeline": ("pipeline:",),
    "weighted_pipeline": ("pipeline:",),
    "followed_up_72h": ("followed_up_72h",),
    "followed_up_72h_rate": ("followed_up_72h", "new_customers"),
}
"""The stored metrics each metric the contract serves (`SERVED`) is derived from."""

CATALOGUE: dict[str, Metric] = {
    m.name: Metric(m.name, m.kind, PARTS[m.name], m.description) for m in SERVED
}
DEFAULT_METRICS = tuple(CATALOGUE)


def parse_metrics(text: str | None, name: str = "metrics") -> tuple[str, ...]:
    if not text:
        return DEFAULT_METRICS
    wanted = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in wanted if m not in CATALOGUE]
    if unknown or not wanted:
        raise UnknownMetric(unknown, CATALOGUE, name)
    return wanted


def stored_parts(metrics: Iterable[str]) -> set[str]:
    """The stored metrics the flow metrics among `metrics` need."""
    parts: set[str] = set()
    for name in metrics:
        metric = CATALOGUE[name]
        if metric.kind in (Kind.PIPELINE, Kind.DISTINCT_RATE):
            continue
        for part in metric.parts:
            parts.update(("deals_won", "deals_lost") if part == "deals_closed" else (part,))
    return parts


# --------------------------------------------------------------------------- deriving values

Sums = Mapping[tuple[str, str], Decimal | int]  # (stored metric, currency) → sum


def _minor(currency: str) -> Decimal:
    """The currency's smallest unit (0.01 for EUR, 1 for JPY): what money values round to."""
    return Decimal(1).scaleb(-minor_units(currency))


def money(value: Decimal | int) -> str:
    return format(Decimal(value), "f")


def _count(sums: Sums, metric: str) -> int:
    return int(sum(v for (m, _), v in sums.items() if m == metric))


def _in(sums: Sums, metric: str, currency: str) -> Decimal:
    return Decimal(sums.get((metric, currency), 0))


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> float | None:
    return round(float(Decimal(numerator) / Decimal(denominator)), 6) if denominator else None


def derive(name: str, sums: Sums, currency: str) -> dict[str, Any]:
    """The JSON value of a flow metric from a bucket's sums."""
    metric = CATALOGUE[name]
    kind, parts = metric.kind, metric.parts
    if kind is Kind.COUNT:
        return {"value": _count(sums, parts[0])}
    if kind is Kind.MONEY:
        return {"value": money(_in(sums, parts[0], currency)), "currency": currency}
    if kind is Kind.RATE:
        numerator = _count(sums, parts[0])
        denominator = (
            _count(sums, "deals_won") + _count(sums, "deals_lost")
            if parts[1] == "deals_closed"
            else _count(sums, parts[1])
        )
        return {
            "value": _ratio(numerator, denominator),
            "numerator": numerator,
            "denominator": denominator,
        }
    if kind is Kind.MONEY_RATE:
        num, den = _in(sums, parts[0], currency), _in(sums, parts[1], currency)
        return {
            "value": _ratio(num, den),
            "numerator": money(num),
            "denominator": money(den),
            "currency": currency,
        }
    if kind is Kind.AVERAGE_MONEY:
        total, count = _in(sums, parts[0], currency), int(sums.get((parts[1], currency), 0))
        value = money((total / count).quantize(_minor(currency))) if count else None
        return {
            "value": value,
            "numerator": money(total),
            "denominator": count,
            "currency": currency,
        }
    if kind is Kind.AVERAGE_DAYS:
        calendar_days, count = _count(sums, parts[0]), _count(sums, parts[1])
        return {
            "value": round(calendar_days / count, 2) if count else None,
            "numerator": calendar_days,
            "denominator": count,
            "unit": "days",
        }
    if kind is Kind.AVERAGE_ELAPSED_DAYS:
        seconds, count = _count(sums, parts[0]), _count(sums, parts[1])
        days = Decimal(seconds) / SECONDS_PER_DAY
        mean = round(float(days / count), 2) if count else None
        return {
            "value": mean,
            "numerator": round(float(days), 4),
            "denominator": count,
            "unit": "days",
        }
    raise ValueError(f"{name} is not a flow metric")  # pragma: no cover


def win_rate_by_stage(closed: Mapping[str, int], won: Mapping[str, int]) -> dict[str, Decimal]:
    """Smoothed (Laplace) historical win rate per stage: (won + 1) ÷ (closed + 2)."""
    return {
        stage: (Decimal(won.get(stage, 0)) + 1) / (Decimal(closed.get(stage, 0)) + 2)
        for stage in set(closed) | set(won)
    }


def pipeline_values(
    open_by_stage: Mapping[str, Decimal], rates: Mapping[str, Decimal], currency: str
) -> dict[str, dict[str, Any]]:
    """open_pipeline and weighted_pipeline from the amounts open per stage at a moment."""
    total = sum(open_by_stage.values(), Decimal(0))
    weighted = sum(
        (amount * rates.get(stage, Decimal("0.5")) for stage, amount in open_by_stage.items()),
        Decimal(0),
    )
    return {
        "open_pipeline": {
            "value": money(total),
            "currency": currency,
            "by_stage": {s: money(a) for s, a in sorted(open_by_stage.items()) if a},
        },
        "weighted_pipeline": {
            "value": money(weighted.quantize(_minor(currency))),
            "currency": currency,
        },
    }


def distinct_rate(customers: int, repeat: int) -> dict[str, Any]:
    return {"value": _ratio(repeat, customers), "numerator": repeat, "denominator": customers}
