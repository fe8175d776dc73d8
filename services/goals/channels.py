"""Channel ROI: what each lead channel cost the org (admin-written, stored here) against what it
brought (scoring's range totals cut by channel, asked with the caller's token)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.contracts.scoring import KpiReport, MetricValue
from shared.errors import field_error
from shared.events import Channel
from shared.money import CURRENCIES, minor_units
from shared.owners import Owner, default_owner

from . import channels_math as cm
from . import repository
from .decompose import from_minor, to_minor
from .domain import can_read, may_see_rep, parse_owner
from .exceptions import (
    ChannelCostsRefused,
    ChannelsOfAnother,
    CostsForAdmins,
    CostsForOrgReaders,
    NotAMonth,
    RangeReversed,
    RepOfAnotherTeam,
    UnknownCurrency,
)
from .models import ChannelCost
from .placement import gathered, leads, rep_team
from .schemas import ChannelCostOut, ChannelCostPage, ChannelCostsIn, ChannelReport, Month
from .scoring import GoalsScoring

CHANNEL_QUESTIONS = 3  # questions to scoring in flight at once for one `GET /v1/channels`
METRICS = (
    "new_leads",
    "opportunities",
    "deals_won",
    "revenue_won",
    "lead_to_opportunity_rate",
    "win_rate",
    "avg_sales_cycle_days",
)
MONTH: TypeAdapter[date] = TypeAdapter(Month)
COST_READERS = frozenset({Role.ADMIN, Role.BI, Role.MANAGER, Role.SERVICE})


def _out(row: ChannelCost) -> ChannelCostOut:
    places = minor_units(row.currency)
    return ChannelCostOut(
        channel=Channel(row.channel),
        month=row.month,
        amount=format(from_minor(to_minor(row.amount, places), places), "f"),
        currency=row.currency,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def put_costs(
    session: AsyncSession, user: Principal, data: ChannelCostsIn
) -> ChannelCostPage:
    """Every cost stored (each replacing its channel and month's), or none."""
    if user.role is not Role.ADMIN:
        raise CostsForAdmins()
    seen: dict[tuple[str, date], int] = {}
    errors = []
    for i, cost in enumerate(data.costs):
        key = (cost.channel.value, cost.month)
        if key in seen:
            errors.append(
                field_error(
                    f"costs[{i}].month",
                    f"{cost.channel.value} in {cost.month:%Y-%m} is given in costs[{seen[key]}] too",
                    "duplicate",
                )
            )
        seen.setdefault(key, i)
    if errors:
        raise ChannelCostsRefused(errors)
    rows = await repository.put_channel_costs(
        session,
        user.org,
        user.sub,
        [(c.channel.value, c.month, c.amount, c.currency) for c in data.costs],
    )
    return ChannelCostPage(items=[_out(r) for r in rows])


def _month(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return MONTH.validate_python(text)
    except ValidationError as exc:
        raise NotAMonth(field, exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


async def list_costs(
    session: AsyncSession, user: Principal, first_month: str | None, last_month: str | None
) -> ChannelCostPage:
    """The org's costs of the months `first_month`..`last_month` (YYYY-MM; None: unbounded)."""
    if user.role not in COST_READERS:
        raise CostsForOrgReaders()
    first, last = _month(first_month, "from"), _month(last_month, "to")
    if first is not None and last is not None and last < first:
        raise RangeReversed(f"{first:%Y-%m}", f"{last:%Y-%m}")
    rows = await repository.channel_costs(session, user.org, first, last)
    return ChannelCostPage(items=[_out(r) for r in rows])


async def _owner(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, owner: str | None
) -> Owner:
    """The owner asked about (default: the caller's own), if the caller may read it: a rep
    themselves, a manager their team (while the roster leaves it theirs) and its reps, the
    rest anyone of the org."""
    who = parse_owner(owner, "owner", "query") if owner else default_owner(user)
    team = who.id if who.kind == "team" else (user.team if who.kind == "rep" else None)
    if not can_read(user, who, team) or not await leads(session, user):
        raise ChannelsOfAnother()
    if who.kind == "rep" and not may_see_rep(
        user, await rep_team(session, scoring, user.org, who.id)
    ):
        raise RepOfAnotherTeam("owner", [who.id])
    return who


def _count(value: MetricValue) -> int:
    return int(Decimal(str(value.value or 0)))


async def channel_roi(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    first: date,
    last: date,
    currency: str | None,
) -> ChannelReport:
    if last < first:
        raise RangeReversed(first.isoformat(), last.isoformat())
    if currency is not None and currency not in CURRENCIES:
        raise UnknownCurrency(currency)
    who = await _owner(session, user, scoring, owner)
    channels = list(Channel)
    reports: list[KpiReport] = await gathered(
        (
            scoring.kpis(
                user.org,
                owner=str(who),
                period="range",
                first=first,
                last=last,
                metrics=list(METRICS),
                channel=channel.value,
                currency=currency,
            )
            for channel in channels
        ),
        CHANNEL_QUESTIONS,
    )
    cur = reports[0].currency
    places = minor_units(cur)
    costs: dict[str, dict[str, int]] | None = None
    if who.kind == "org":  # costs are the org's: a team's or a rep's share is not known
        rows = await repository.channel_costs(
            session, user.org, cm.month_start(first), cm.month_start(last)
        )
        costs = cm.range_costs(
            [cm.MonthCost(r.channel, r.month, r.amount, r.currency) for r in rows],
            first,
            last,
            {r.currency: minor_units(r.currency) for r in rows},
        )
    items = []
    for channel, report in zip(channels, reports, strict=True):
        m = report.buckets[0].metrics if report.buckets else {}
        zero = MetricValue(value=0)
        leads_n = _count(m.get("new_leads", zero))
        won_n = _count(m.get("deals_won", zero))
        revenue = Decimal(str(m.get("revenue_won", zero).value or 0))
        line: dict[str, object] = {
            "channel": channel,
            "new_leads": leads_n,
            "opportunities": _count(m.get("opportunities", zero)),
            "deals_won": won_n,
            "revenue_won": format(revenue.quantize(Decimal(1).scaleb(-places)), "f"),
            **{
                name: m.get(name, MetricValue(value=None)).model_dump(
                    include={"value", "numerator", "denominator"}
                )
                for name in ("lead_to_opportunity_rate", "win_rate", "avg_sales_cycle_days")
            },
            "cost": None,
            "other_currency_costs": None,
            "cost_per_lead": None,
            "cost_per_won_deal": None,
            "revenue_per_cost": None,
        }
        if costs is not None:
            spent = costs.get(channel.value, {})
            cost = from_minor(spent.get(cur, 0), places)
            ratio = cm.ratio(revenue, cost)
            line |= {
                "cost": format(cost, "f"),
                "other_currency_costs": {
                    c: format(from_minor(v, minor_units(c)), "f")
                    for c, v in sorted(spent.items())
                    if c != cur
                },
                "cost_per_lead": _text(cm.per(cost, leads_n, places)),
                "cost_per_won_deal": _text(cm.per(cost, won_n, places)),
                "revenue_per_cost": _text(ratio),
            }
        items.append(line)
    return ChannelReport.model_validate(
        {
            "owner": str(who),
            "from": first,
            "to": last,
            "currency": cur,
            "items": items,
        }
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
