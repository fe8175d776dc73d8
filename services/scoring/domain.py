"""Scoring's rules as plain functions: periods, owners, the metric catalogue, and how each
metric is derived from the stored sums. No HTTP, no SQL.

Every metric is a sum of facts (`projections/kpis.py`) or a ratio of two sums, and a ratio is
always returned with its numerator and denominator, so a BI tool can re-aggregate it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.auth import Principal, Role
from shared.errors import Forbidden, InvalidInput, field_error

MAX_BUCKETS = 1000
SECONDS_PER_DAY = Decimal(86400)


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def grain(self) -> str:
        """Which stored rows answer it: day rows ("d") or month rows ("m")."""
        return "d" if self in (Period.DAY, Period.WEEK) else "m"


def period_start(period: Period, day: date) -> date:
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def period_end(period: Period, start: date) -> date:
    """The last day of the period that begins on `start`."""
    if period is Period.DAY:
        return start
    if period is Period.WEEK:
        return start + timedelta(days=6)
    months = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}[period]
    year, month = divmod(start.month - 1 + months, 12)
    following = date(start.year + year, month + 1, 1)
    return following - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Bucket:
    start: date
    end: date  # inclusive


def buckets(period: Period, first: date, last: date) -> list[Bucket]:
    """The whole periods that overlap [first, last]."""
    if last < first:
        raise InvalidInput(
            "`to` is before `from`.",
            errors=[field_error("to", "must not be before `from`", "range", "query")],
        )
    out: list[Bucket] = []
    start = period_start(period, first)
    while start <= last:
        end = period_end(period, start)
        out.append(Bucket(start, end))
        if len(out) > MAX_BUCKETS:
            raise InvalidInput(
                f"The range spans more than {MAX_BUCKETS} {period.value}s; narrow it or pick a "
                "longer period.",
                errors=[field_error("to", f"more than {MAX_BUCKETS} buckets", "range", "query")],
            )
        start = end + timedelta(days=1)
    return out


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


# --------------------------------------------------------------------------- owners, access


class OwnerKind(StrEnum):
    REP = "rep"
    TEAM = "team"
    ORG = "org"


@dataclass(frozen=True, slots=True)
class Owner:
    kind: OwnerKind
    id: str = ""

    def __str__(self) -> str:
        return self.kind.value if self.kind is OwnerKind.ORG else f"{self.kind.value}:{self.id}"


def parse_owner(text: str, name: str = "owner") -> Owner:
    kind, _, ident = text.partition(":")
    if kind == "org" and not ident:
        return Owner(OwnerKind.ORG)
    if kind in ("rep", "team") and ident:
        return Owner(OwnerKind(kind), ident)
    raise InvalidInput(
        f"`{name}` must be `rep:ID`, `team:ID` or `org`.",
        errors=[field_error(name, "must be rep:ID, team:ID or org", "owner", "query")],
    )


def default_owner(principal: Principal) -> Owner:
    if principal.role is Role.REP:
        return Owner(OwnerKind.REP, principal.sub)
    if principal.role is Role.MANAGER and principal.team:
        return Owner(OwnerKind.TEAM, principal.team)
    return Owner(OwnerKind.ORG)


def team_filter(principal: Principal, owner: Owner) -> str | None:
    """Check that the caller may see `owner`; the team a manager's rep rows are limited to.

    Reps see themselves, managers their team and its reps (a rep's rows only while in that
    team), everyone else the whole org. A refusal names no data (403 without details)."""
    if principal.role is Role.REP:
        if owner != Owner(OwnerKind.REP, principal.sub):
            raise Forbidden("A rep sees only their own numbers (`owner=rep:<you>`).")
        return None
    if principal.role is Role.MANAGER:
        if owner.kind is OwnerKind.ORG or (
            owner.kind is OwnerKind.TEAM and owner.id != principal.team
        ):
            raise Forbidden("A manager sees their own team and its reps.")
        return principal.team if owner.kind is OwnerKind.REP else None
    return None


# --------------------------------------------------------------------------- metrics


class Kind(StrEnum):
    COUNT = "count"
    MONEY = "money"
    RATE = "rate"  # count / count
    MONEY_RATE = "money_rate"  # money / money, same currency
    AVERAGE_MONEY = "average_money"  # money / count
    AVERAGE_DAYS = "average_days"  # seconds / count, in days
    DISTINCT_RATE = "distinct_rate"  # distinct customers, from the wins
    PIPELINE = "pipeline"  # money open at the end of the bucket


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: Kind
    parts: tuple[str, ...]  # stored metrics it is derived from
    description: str


def _m(name: str, kind: Kind, parts: tuple[str, ...], description: str) -> Metric:
    return Metric(name, kind, parts, description)


CATALOGUE: dict[str, Metric] = {
    m.name: m
    for m in (
        _m("visits", Kind.COUNT, ("visits",), "Visits logged."),
        _m("effective_visits", Kind.COUNT, ("effective_visits",), "Visits marked effective."),
        _m(
            "effective_visit_rate",
            Kind.RATE,
            ("effective_visits", "visits"),
            "Effective visits ÷ visits.",
        ),
        _m("calls", Kind.COUNT, ("calls",), "Calls logged."),
        _m("connected_calls", Kind.COUNT, ("connected_calls",), "Calls that connected."),
        _m("call_connect_rate", Kind.RATE, ("connected_calls", "calls"), "Connected ÷ calls."),
        _m(
            "engagements",
            Kind.COUNT,
            ("engagements",),
            "Digital touches tracked (engagement.tracked `count`: e-mails sent, opened and "
            "clicked, pages viewed, forms, chats, SMS, webinars).",
        ),
        _m(
            "engaged_seconds",
            Kind.COUNT,
            ("engaged_seconds",),
            "Seconds spent in those touches (engagement.tracked `seconds`).",
        ),
        _m("new_leads", Kind.COUNT, ("new_leads",), "Leads created."),
        _m("opportunities", Kind.COUNT, ("opportunities",), "Leads qualified (first time)."),
        _m("disqualified_leads", Kind.COUNT, ("disqualified_leads",), "Leads disqualified."),
        _m(
            "lead_to_opportunity_rate",
            Kind.RATE,
            ("opportunities", "new_leads"),
            "Opportunities ÷ new leads, both in the period.",
        ),
        _m(
            "avg_days_lead_to_opportunity",
            Kind.AVERAGE_DAYS,
            ("lead_to_opportunity_seconds", "lead_to_opportunity_count"),
            "Mean days from lead.created to lead.qualified, over the leads qualified in the period.",
        ),
        _m("deals_opened", Kind.COUNT, ("deals_opened",), "Deals opened."),
        _m("deals_won", Kind.COUNT, ("deals_won",), "Deals won."),
        _m("deals_lost", Kind.COUNT, ("deals_lost",), "Deals lost."),
        _m("win_rate", Kind.RATE, ("deals_won", "deals_closed"), "Won ÷ (won + lost)."),
        _m("revenue_won", Kind.MONEY, ("revenue_won",), "Amounts of deals won."),
        _m(
            "average_deal_size",
            Kind.AVERAGE_MONEY,
            ("revenue_won", "deals_won"),
            "Revenue won ÷ deals won (in the reporting currency).",
        ),
        _m(
            "avg_sales_cycle_days",
            Kind.AVERAGE_DAYS,
            ("sales_cycle_seconds", "sales_cycle_count"),
            "Mean days from deal.opened to deal.won, over the deals won in the period.",
        ),
        _m(
            "new_customers",
            Kind.COUNT,
            ("new_customers",),
            "Accounts whose first won deal (in log order) falls in the period.",
        ),
        _m(
            "repeat_purchase_rate",
            Kind.DISTINCT_RATE,
            ("wins",),
            "Customers with a won deal in the period who had one before it ÷ customers with a "
            "won deal in the period.",
        ),
        _m("invoiced", Kind.MONEY, ("invoiced",), "Invoices issued."),
        _m("collected", Kind.MONEY, ("collected",), "Payments received."),
        _m(
            "collection_rate",
            Kind.MONEY_RATE,
            ("collected", "invoiced"),
            "Collected ÷ invoiced, both in the period.",
        ),
        _m(
            "open_pipeline",
            Kind.PIPELINE,
            ("pipeline:",),
            "Amounts of deals open at the end of the period.",
        ),
        _m(
            "weighted_pipeline",
            Kind.PIPELINE,
            ("pipeline:",),
            "Open pipeline at the end of the period, each stage's amount × that stage's win rate "
            "(the org's deals that reached the stage and closed by then: (won + 1) ÷ (closed + 2)).",
        ),
        _m(
            "followed_up_72h",
            Kind.COUNT,
            ("followed_up_72h",),
            "New customers touched (visit or call) within 72 h of their first won deal.",
        ),
        _m(
            "followed_up_72h_rate",
            Kind.RATE,
            ("followed_up_72h", "new_customers"),
            "New customers followed up within 72 h ÷ new customers.",
        ),
    )
}
DEFAULT_METRICS = tuple(CATALOGUE)


def parse_metrics(text: str | None, name: str = "metrics") -> tuple[str, ...]:
    if not text:
        return DEFAULT_METRICS
    wanted = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in wanted if m not in CATALOGUE]
    if unknown or not wanted:
        raise InvalidInput(
            f"Unknown metric(s): {', '.join(unknown) or '(none given)'}. Known: "
            f"{', '.join(CATALOGUE)}.",
            errors=[field_error(name, f"unknown metric {m!r}", "unknown_metric", "query")
                    for m in unknown or [""]],
        )  # fmt: skip
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
        return {"value": _ratio(numerator, denominator), "numerator": numerator,
                "denominator": denominator}  # fmt: skip
    if kind is Kind.MONEY_RATE:
        num, den = _in(sums, parts[0], currency), _in(sums, parts[1], currency)
        return {"value": _ratio(num, den), "numerator": money(num), "denominator": money(den),
                "currency": currency}  # fmt: skip
    if kind is Kind.AVERAGE_MONEY:
        total, count = _in(sums, parts[0], currency), int(sums.get((parts[1], currency), 0))
        value = money((total / count).quantize(Decimal("0.01"))) if count else None
        return {"value": value, "numerator": money(total), "denominator": count,
                "currency": currency}  # fmt: skip
    if kind is Kind.AVERAGE_DAYS:
        seconds, count = _count(sums, parts[0]), _count(sums, parts[1])
        days = Decimal(seconds) / SECONDS_PER_DAY
        mean = round(float(days / count), 2) if count else None
        return {"value": mean, "numerator": round(float(days), 4), "denominator": count,
                "unit": "days"}  # fmt: skip
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
        "open_pipeline": {"value": money(total), "currency": currency,
                          "by_stage": {s: money(a) for s, a in sorted(open_by_stage.items()) if a}},
        "weighted_pipeline": {"value": money(weighted.quantize(Decimal("0.01"))),
                              "currency": currency},
    }  # fmt: skip


def distinct_rate(customers: int, repeat: int) -> dict[str, Any]:
    return {"value": _ratio(repeat, customers), "numerator": repeat, "denominator": customers}
