"""Reports built from a `Source`: the KPI table and the funnel. One builder for the stored
projection and for an `as_of` replay."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..domain import (
    CATALOGUE,
    Bucket,
    Kind,
    Owner,
    OwnerKind,
    Period,
    derive,
    distinct_rate,
    period_end,
    period_start,
    pipeline_values,
    stored_parts,
    win_rate_by_stage,
)
from ..projections.kpis import LOST_REASON, UNOPENED, Deal, Lead, Value
from .sources import Row, Scope, Source

PIPELINE, CLOSED, WON, STAGE = "pipeline:", "stage_closed:", "stage_won:", "stage:"


async def kpi_buckets(
    source: Source,
    scope: Scope,
    period: Period,
    bucket_list: Sequence[Bucket],
    metrics: Sequence[str],
    currency: str,
) -> list[dict[str, Any]]:
    """Each bucket with the requested metrics' values."""
    first, last = bucket_list[0].start, bucket_list[-1].end
    index = {b.start: i for i, b in enumerate(bucket_list)}

    async def flow(parts: Collection[str]) -> list[Row]:
        return await source.rows(scope, period.grain, first, last, metrics=parts)

    return await _evaluated(
        source,
        scope,
        bucket_list,
        metrics,
        currency,
        flow,
        lambda day: index[period_start(period, day)],
    )


async def kpi_range(
    source: Source, scope: Scope, first: date, last: date, metrics: Sequence[str], currency: str
) -> dict[str, Any]:
    """One bucket from `first` to `last`, whatever the calendar: the months wholly inside it
    from month rows, the days at either end from day rows (a year's total reads 12 rows a
    series, not 365 buckets)."""
    whole = _whole_months(first, last)

    async def flow(parts: Collection[str]) -> list[Row]:
        if whole is None:
            return await source.rows(scope, "d", first, last, metrics=parts)
        rows = await source.rows(scope, "m", whole[0], whole[1], metrics=parts)
        if first < whole[0]:
            rows += await source.rows(scope, "d", first, whole[0] - timedelta(1), metrics=parts)
        end = period_end(Period.MONTH, whole[1])
        if end < last:
            rows += await source.rows(scope, "d", end + timedelta(1), last, metrics=parts)
        return rows

    (bucket,) = await _evaluated(
        source, scope, [Bucket(first, last)], metrics, currency, flow, lambda _: 0
    )
    return bucket


def _whole_months(first: date, last: date) -> tuple[date, date] | None:
    """The first days of the first and last months wholly inside [first, last] (None: none)."""
    start = first if first.day == 1 else period_end(Period.MONTH, first) + timedelta(1)
    end = period_start(Period.MONTH, last)
    if period_end(Period.MONTH, last) != last:
        end = period_start(Period.MONTH, end - timedelta(1))
    return (start, end) if start <= end else None


async def _evaluated(
    source: Source,
    scope: Scope,
    bucket_list: Sequence[Bucket],
    metrics: Sequence[str],
    currency: str,
    flow_rows: Callable[[Collection[str]], Awaitable[list[Row]]],
    place: Callable[[date], int],
) -> list[dict[str, Any]]:
    """The buckets' values: flow metrics from `flow_rows` (each row's day or month `place`d in
    its bucket), stocks at each bucket's end, distinct rates over each bucket."""
    first, last = bucket_list[0].start, bucket_list[-1].end
    values: list[dict[str, Any]] = [{} for _ in bucket_list]

    flow = stored_parts(metrics)
    if flow:
        sums: list[dict[tuple[str, str], Value]] = [defaultdict(int) for _ in bucket_list]
        for bucket, metric, cur, value in await flow_rows(flow):
            sums[place(bucket)][(metric, cur)] += value
        for i in range(len(bucket_list)):
            for name in metrics:
                if CATALOGUE[name].kind not in (Kind.PIPELINE, Kind.DISTINCT_RATE):
                    values[i][name] = derive(name, sums[i], currency)

    if any(CATALOGUE[m].kind is Kind.PIPELINE for m in metrics):
        ends = [b.end for b in bucket_list]
        open_amounts = await cumulative(source, scope, ends, (PIPELINE,))
        org_scope = Scope(Owner(OwnerKind.ORG))
        history = await cumulative(source, org_scope, ends, (CLOSED, WON))
        for i in range(len(bucket_list)):
            by_stage = {
                m.removeprefix(PIPELINE): Decimal(v)
                for (m, cur), v in open_amounts[i].items()
                if cur == currency
            }
            closed = {
                m.removeprefix(CLOSED): int(v)
                for (m, _), v in history[i].items()
                if m.startswith(CLOSED)
            }
            won = {
                m.removeprefix(WON): int(v) for (m, _), v in history[i].items() if m.startswith(WON)
            }
            pipes = pipeline_values(by_stage, win_rate_by_stage(closed, won), currency)
            for name in metrics:
                if name in pipes:
                    values[i][name] = pipes[name]

    if "repeat_purchase_rate" in metrics:
        wins = await source.wins(scope, first, last)
        firsts = await source.first_wins({account for account, _ in wins})
        customers: list[set[str]] = [set() for _ in bucket_list]
        repeat: list[set[str]] = [set() for _ in bucket_list]
        for account, day in wins:
            i = place(day)
            customers[i].add(account)
            if firsts[account] < bucket_list[i].start:
                repeat[i].add(account)
        for i in range(len(bucket_list)):
            values[i]["repeat_purchase_rate"] = distinct_rate(len(customers[i]), len(repeat[i]))

    return [
        {
            "start": b.start.isoformat(),
            "end": b.end.isoformat(),
            "metrics": {name: values[i][name] for name in metrics},
        }
        for i, b in enumerate(bucket_list)
    ]


async def cumulative(
    source: Source, scope: Scope, ends: Sequence[date], prefixes: tuple[str, ...]
) -> list[dict[tuple[str, str], Value]]:
    """For each day in `ends`, the sums of the prefixed metrics over all days up to it: whole
    months from month rows, the rest of the last month from day rows."""
    stocks = await source.stocks(scope, ends, prefixes)
    if stocks is not None:  # who is in the scope depends on the day (a roster)
        return stocks
    first_month = min(ends).replace(day=1)
    last_month = max(ends).replace(day=1)
    months = await source.rows(scope, "m", date.min, last_month, prefixes=prefixes)
    days = await source.rows(scope, "d", first_month, max(ends), prefixes=prefixes)
    return running_totals(months, days, ends)


def running_totals(
    months: Sequence[Row], days: Sequence[Row], ends: Sequence[date]
) -> list[dict[tuple[str, str], Value]]:
    """`cumulative`'s sums in one pass over the rows, whatever the number of ends (a year of
    daily buckets asked for 365 passes over a year of day rows)."""
    months = sorted(months, key=lambda r: r[0])
    days = sorted(days, key=lambda r: r[0])
    out: list[dict[tuple[str, str], Value]] = [{} for _ in ends]
    before: dict[tuple[str, str], Value] = defaultdict(int)  # whole months before `month`
    within: dict[tuple[str, str], Value] = defaultdict(int)  # `month`'s days up to `end`
    m = d = 0
    month: date | None = None
    for i in sorted(range(len(ends)), key=lambda i: ends[i]):
        end = ends[i]
        if end.replace(day=1) != month:
            month = end.replace(day=1)
            within = defaultdict(int)
            while m < len(months) and months[m][0] < month:
                _, metric, cur, value = months[m]
                before[(metric, cur)] += value
                m += 1
            while d < len(days) and days[d][0] < month:
                d += 1
        while d < len(days) and days[d][0] <= end:
            _, metric, cur, value = days[d]
            within[(metric, cur)] += value
            d += 1
        total: dict[tuple[str, str], Value] = defaultdict(int, before)
        for key, value in within.items():
            total[key] += value
        out[i] = total
    return out


async def funnel(source: Source, scope: Scope, first: date, last: date) -> dict[str, Any]:
    """Counts per stage over [first, last] and each step's conversion from the one before."""
    # Day rows, as the range need not be month-aligned.
    sums: dict[str, int] = defaultdict(int)
    fixed = ("new_leads", "opportunities", "deals_opened", "deals_won", "deals_lost")
    for _, metric, _, value in await source.rows(
        scope, "d", first, last, metrics=fixed, prefixes=(STAGE, LOST_REASON)
    ):
        sums[metric] += int(value)
    deal_stages = sorted(
        ((m.removeprefix(STAGE), n) for m, n in sums.items() if m.startswith(STAGE)),
        key=lambda item: (-item[1], item[0]),
    )
    steps = [
        ("leads", sums["new_leads"]),
        ("opportunities", sums["opportunities"]),
        ("deals_opened", sums["deals_opened"]),
        *((f"stage:{stage}", n) for stage, n in deal_stages),
        ("won", sums["deals_won"]),
    ]
    reasons = {m.removeprefix(LOST_REASON): n for m, n in sums.items() if m.startswith(LOST_REASON)}
    return _report(steps, sums["deals_opened"], sums["deals_won"], sums["deals_lost"], reasons)


def _ratio(numerator: int, denominator: int) -> dict[str, Any]:
    return {
        "value": round(numerator / denominator, 6) if denominator else None,
        "numerator": numerator,
        "denominator": denominator,
    }


def _report(
    steps: Sequence[tuple[str, int]], opened: int, won: int, lost: int, reasons: Mapping[str, int]
) -> dict[str, Any]:
    """The steps, each with its conversion from the one before; then `lost` (a share of the
    deals opened, not of the step before) with its reasons, the most frequent first; and the
    win rate."""
    out = []
    previous: int | None = None
    for name, count in steps:
        step: dict[str, Any] = {"step": name, "count": count}
        if previous is not None:
            step["conversion"] = _ratio(count, previous)
        out.append(step)
        previous = count
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    out.append(
        {
            "step": "lost",
            "count": lost,
            "conversion": _ratio(lost, opened),
            "reasons": [{"reason": reason, "count": n} for reason, n in ranked if n],
        }
    )
    return {"steps": out, "win_rate": _ratio(won, won + lost)}


# --------------------------------------------------------------------------- the cohort reading

UNKNOWN_REASON = "unknown"
"""A lost deal's reason when its state was folded before reasons were kept (a rebuild)."""


def _owned(scope: Scope, rep: str, team: str) -> bool:
    owner = scope.owner
    if owner.kind is OwnerKind.REP and rep != owner.id:
        return False
    if owner.kind is OwnerKind.TEAM and team != owner.id:
        return False
    return scope.team is None or team == scope.team


def _deal_steps(deals: Sequence[Deal]) -> tuple[list[tuple[str, int]], int, int, dict[str, int]]:
    """Each stage reached by any of `deals` with how many reached it (the most reached first),
    then how many were won and lost, and the losses by reason."""
    reached: Counter[str] = Counter(stage for d in deals for stage in set(d.stages))
    stages = sorted(reached.items(), key=lambda item: (-item[1], item[0]))
    won = sum(1 for d in deals if d.status == "won")
    lost = [d for d in deals if d.status == "lost"]
    reasons = Counter(d.lost_reason or UNKNOWN_REASON for d in lost)
    return [(f"stage:{stage}", n) for stage, n in stages], won, len(lost), dict(reasons)


def cohort_funnel(
    leads: Mapping[str, Lead],
    deals: Iterable[Deal],
    tiers: Mapping[str, str],
    scope: Scope,
    first: date,
    last: date,
    timezone: ZoneInfo,
) -> dict[str, Any]:
    """The funnel of cohorts: of the leads created in [first, last] (days in `timezone`), how
    many were ever qualified, and how many deals were ever opened from them, reached each
    stage, were won and lost (with reasons); and (`deals`) the same of the deals opened in
    [first, last], whatever lead they came from. "Ever" is up to the states given, whenever
    the later step happened.

    A lead belongs to the scope by its creator and, for the cut, by its channel and its
    account's tier in `tiers` (account → tier); a product line, which a lead has not, cuts its
    deals only. A deal from a cohort lead counts whoever opened it. A deal opened in the range
    belongs to the scope by its opener and its own cut (product line, tier when opened,
    channel), as its `deals_opened` fact does. Steps count deals as the period reading does
    (a lead with two deals counts twice in the deal steps)."""
    cuts = scope.cuts

    def in_range(moment: datetime | None) -> bool:
        return moment is not None and first <= moment.astimezone(timezone).date() <= last

    cohort = {
        key
        for key, lead in leads.items()
        if in_range(lead.created_at)
        and _owned(scope, lead.rep_id, lead.team_id)
        and (cuts.channel is None or lead.channel == cuts.channel)
        and (cuts.tier is None or tiers.get(lead.account_id, "") == cuts.tier)
    }
    qualified = sum(1 for key in cohort if leads[key].qualified)
    opened = [d for d in deals if d.status != UNOPENED]
    from_leads = [
        d
        for d in opened
        if d.lead in cohort and (cuts.product_line is None or d.product_line == cuts.product_line)
    ]
    stages, won, lost, reasons = _deal_steps(from_leads)
    steps = [
        ("leads", len(cohort)),
        ("opportunities", qualified),
        ("deals_opened", len(from_leads)),
        *stages,
        ("won", won),
    ]
    report = _report(steps, len(from_leads), won, lost, reasons)

    in_cohort = [
        d
        for d in opened
        if in_range(d.opened_at)
        and _owned(scope, d.rep_id, d.team_id)
        and (cuts.product_line is None or d.product_line == cuts.product_line)
        and (cuts.tier is None or d.tier == cuts.tier)
        and (cuts.channel is None or d.channel == cuts.channel)
    ]
    stages, won, lost, reasons = _deal_steps(in_cohort)
    steps = [("deals_opened", len(in_cohort)), *stages, ("won", won)]
    return {**report, "deals": _report(steps, len(in_cohort), won, lost, reasons)}
