"""Funnel plans: the deals, opportunities, leads, calls and visits a target needs, from the
owner's own conversion rates (scoring) over a look-back window."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.dates import FIRST_DAY

from . import plan
from .calendar import Span
from .calendars import org_calendar
from .domain import (
    can_read,
    check_currency,
    may_see_rep,
    metric_info,
    parse_owner,
    parse_value,
    render,
)
from .exceptions import InvalidField, PlanOfAnother, RefusedField, RepOfAnotherTeam
from .parts import weight
from .placement import leads, rep_team
from .schemas import FunnelPlanIn
from .scoring import GoalsScoring

LOOKBACK_METRICS = (
    "revenue_won",
    "deals_won",
    "deals_lost",
    "deals_opened",
    "opportunities",
    "new_leads",
    "visits",
    "calls",
    "new_customers",
)


def _challenge(raw: int | str) -> Decimal:
    try:
        challenge = Decimal(str(raw))
    except ArithmeticError as exc:
        raise InvalidField("challenge", "is not a number") from exc
    if not challenge.is_finite() or not Decimal("0.1") <= challenge <= Decimal(10):
        raise InvalidField("challenge", "must be between 0.1 and 10")
    return challenge


async def funnel_plan(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, data: FunnelPlanIn
) -> dict[str, Any]:
    owner = parse_owner(data.owner)
    if not can_read(
        user,
        owner,
        owner.id if owner.kind == "team" else (user.team if user.role is Role.MANAGER else None),
    ) or not await leads(session, user):  # a team the roster gives another manager today
        raise PlanOfAnother()
    if owner.kind == "rep" and not may_see_rep(
        user, await rep_team(session, scoring, user.org, owner.id)
    ):
        raise RepOfAnotherTeam("owner", [owner.id])
    if data.end < data.start:
        raise RefusedField("end", "must not be before `start`")
    metric = "revenue_won" if data.goal == "revenue" else "new_customers"
    info = metric_info(metric)
    check_currency(info, data.currency)
    target = parse_value(data.target, "target", info, data.currency)
    try:
        challenge = _challenge(data.challenge)
        if data.start <= FIRST_DAY:
            raise InvalidField("start", f"must leave days to look back on after {FIRST_DAY}")
    except InvalidField as exc:
        raise RefusedField(exc.field, exc.detail) from exc
    lookback_end = data.start - timedelta(days=1)
    lookback_start = max(FIRST_DAY, data.start - timedelta(days=data.lookback_days))
    report = await scoring.kpis(
        user.org,
        owner=str(owner),
        period="day",
        first=lookback_start,
        last=lookback_end,
        metrics=list(LOOKBACK_METRICS),
        currency=data.currency,
    )
    sums = {
        name: sum((Decimal(str(b.metrics[name].value or 0)) for b in report.buckets), Decimal(0))
        for name in LOOKBACK_METRICS
    }
    try:
        overrides = {k: weight(v, f"rates.{k}") for k, v in data.rates.items()}
    except InvalidField as exc:
        raise RefusedField(exc.field, exc.detail) from exc
    try:
        rates = plan.apply_overrides(plan.rates_from_kpis(sums), overrides)
    except InvalidField as exc:  # names the rate
        raise RefusedField(f"rates.{exc.field}", exc.detail) from exc
    calendar, _ = await org_calendar(session, user.org)
    span = Span(data.start, data.end)
    working = calendar.working_days(span)
    weeks = Decimal(span.days) / Decimal(7)
    result = plan.funnel_plan(
        data.goal, target, rates, challenge=challenge, weeks=weeks, working_days=working
    )
    return {
        "owner": str(owner),
        "goal": data.goal,
        "target": render(target, info, data.currency),
        "currency": data.currency,
        "start": data.start.isoformat(),
        "end": data.end.isoformat(),
        "weeks": float(round(weeks, 2)),
        "working_days": working,
        "lookback": {
            "from": lookback_start.isoformat(),
            "to": lookback_end.isoformat(),
            "totals": {k: format(v, "f") for k, v in sums.items()},
        },
        **plan.to_json(result),
    }
