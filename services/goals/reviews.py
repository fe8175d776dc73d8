"""Review digests: a day, a week or a month of an owner in one document.

Each loads what goals' progress and scoring's KPIs, funnel, leaderboard, priority and alerts
answer for the question (with the caller's own token), and leaves the rules to review_math.py:
every number shown is one those endpoints give for the same question.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.contracts.priority import Score
from shared.contracts.scoring import Conversion, FunnelReport, FunnelStep, MetricInfo
from shared.errors import DomainError, Forbidden, UpstreamUnavailable
from shared.owners import Owner, OwnerKind

from . import plans
from . import review_math as rm
from .calendar import Calendar, PeriodKind, Span
from .calendars import org_calendar, today
from .domain import can_read, exponent, may_see_rep, parse_owner, render
from .exceptions import (
    NotAReviewMonth,
    NotAWeek,
    RepOfAnotherTeam,
    ReviewOfAnother,
    ReviewOwnerMissing,
)
from .models import Goal, Revision
from .placement import gathered, leads, rep_team
from .progress import (
    PROGRESS_CONCURRENCY,
    current_goals,
    judged_all,
    pace_alerts,
    shape,
    total,
)
from .review_schemas import (
    Attainment,
    CarryOver,
    Champion,
    Champions,
    DailyDigest,
    DailyGoal,
    FirstAction,
    FirstActions,
    FunnelWeek,
    Improved,
    Money,
    MonthlyDigest,
    NextGoal,
    RankedRep,
    RepRank,
    StepComparison,
    WeeklyDigest,
    WinsAndLosses,
)
from .schemas import FunnelPlanIn, ProgressOut
from .scoring import GoalsScoring
from .spec import GoalSpec

PRIORITY_PAGE = 500  # leads a page asked of scoring's lead priority
PRIORITY_MOST = 5000  # leads read at most for first actions (an owner with more: the top ones)
WIN_METRICS = ["deals_won", "revenue_won", "deals_lost"]
ATTAINED_PERIODS = (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)
PLANNED = {"revenue_won": "revenue", "new_customers": "new_customers"}
METRIC_MONEY = MetricInfo(unit="money", additive=True)

Goals = list[tuple[Goal, Revision, GoalSpec]]
COARSE_FIRST = [
    PeriodKind.YEAR,
    PeriodKind.QUARTER,
    PeriodKind.MONTH,
    PeriodKind.WEEK,
    PeriodKind.DAY,
]


def _ordered(goals: Goals) -> Goals:
    """In a stable order (a digest reads the same each time): by start, the longer period
    first, then by metric, cuts and owner."""

    def key(row: tuple[Goal, Revision, GoalSpec]) -> tuple[Any, ...]:
        goal, _, s = row
        cuts = (s.product_line or "", s.tier or "", s.channel or "", s.currency or "")
        return (s.span.start, COARSE_FIRST.index(s.period), s.metric, cuts, str(s.owner), goal.id)

    return sorted(goals, key=key)


# --------------------------------------------------------------------------- who and when


async def _owner(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, owner: str | None
) -> Owner:
    """The owner asked about (default: a rep themselves, a manager their team; others must
    name one), if the caller may read it as `GET /v1/progress/alerts` decides: a rep themselves,
    a manager their team while the roster leaves it theirs and the reps the roster (else their
    history) places in it, admin and bi anyone."""
    if owner is not None:
        who = parse_owner(owner, "owner", "query")
    elif user.role is Role.REP:
        who = Owner(OwnerKind.REP, user.sub)
    elif user.role is Role.MANAGER and user.team:
        who = Owner(OwnerKind.TEAM, user.team)
    else:
        raise ReviewOwnerMissing()
    team = who.id if who.kind == "team" else (user.team if who.kind == "rep" else None)
    if not can_read(user, who, team) or not await leads(session, user):
        raise ReviewOfAnother()
    if who.kind == "rep" and not may_see_rep(
        user, await rep_team(session, scoring, user.org, who.id)
    ):
        raise RepOfAnotherTeam("owner", [who.id])
    return who


def week_span(week: str | None, now: date) -> Span:
    if week is None:
        return rm.week_of(now)
    try:
        return rm.parse_week(week)
    except ValueError as exc:
        raise NotAWeek(str(exc)) from exc


def month_span(month: str | None, now: date) -> Span:
    if month is None:
        return rm.month_of(now)
    try:
        return rm.parse_month(month)
    except ValueError as exc:
        raise NotAReviewMonth(str(exc)) from exc


# --------------------------------------------------------------------------- values


def _show(value: Decimal, info: MetricInfo, currency: str | None) -> int | str:
    """As progress shows a value of the metric: an integer count, else exact to its places."""
    rounded = value.quantize(rm.quantum(exponent(info, currency)))
    return int(rounded) if info.unit == "count" else format(rounded, "f")


def _decimal(value: int | float | str | None) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def _currencies(specs: Iterable[GoalSpec]) -> list[str]:
    return sorted({s.currency for s in specs if s.currency})


async def _wins(
    scoring: GoalsScoring,
    user: Principal,
    who: Owner,
    span: Span,
    funnel: FunnelReport,
    currencies: list[str],
) -> WinsAndLosses:
    """Deals won and lost and revenue won over `span` (scoring's range total; revenue in the
    reporting currency, then in each other currency asked), with the funnel's lost reasons."""
    report = await scoring.kpis(
        user.org,
        owner=str(who),
        period="range",
        first=span.start,
        last=span.end,
        metrics=WIN_METRICS,
    )
    metrics = report.buckets[0].metrics if report.buckets else {}

    def count(name: str) -> int:
        return int(_decimal(metrics[name].value)) if name in metrics else 0

    def amount(value: int | float | str | None, currency: str) -> Money:
        places = exponent(METRIC_MONEY, currency)
        return Money(
            value=format(_decimal(value).quantize(rm.quantum(places)), "f"), currency=currency
        )

    money = [amount(metrics["revenue_won"].value if metrics else None, report.currency)]
    others = [c for c in currencies if c != report.currency]
    for other in await gathered(
        scoring.kpis(
            user.org,
            owner=str(who),
            period="range",
            first=span.start,
            last=span.end,
            metrics=["revenue_won"],
            currency=c,
        )
        for c in others
    ):
        value = other.buckets[0].metrics["revenue_won"].value if other.buckets else None
        money.append(amount(value, other.currency))
    lost = next((s for s in funnel.steps if s.step == "lost"), None)
    return WinsAndLosses(
        deals_won=count("deals_won"),
        revenue_won=money,
        deals_lost=count("deals_lost"),
        lost_reasons=list(lost.reasons or []) if lost else [],
    )


# --------------------------------------------------------------------------- daily


async def _day_actuals(
    scoring: GoalsScoring, user: Principal, specs: list[GoalSpec], day: date
) -> list[Decimal | None]:
    """Scoring's total of each additive goal's metric for `day` alone, with the goal's cuts."""

    async def one(spec: GoalSpec) -> Decimal | None:
        if not spec.info.additive:
            return None
        report = await scoring.kpis(
            user.org,
            owner=str(spec.owner),
            period="range",
            first=day,
            last=day,
            metrics=[spec.metric],
            product_line=spec.product_line,
            tier=spec.tier,
            channel=spec.channel,
            currency=spec.currency,
        )
        return total(report, spec.metric, spec.info)

    return await gathered((one(s) for s in specs), PROGRESS_CONCURRENCY)


async def _daily_goal(
    session: AsyncSession,
    user: Principal,
    goal: Goal,
    spec: GoalSpec,
    progress: ProgressOut,
    calendar: Calendar,
    day: date,
    next_day: date | None,
    actual_today: Decimal | None,
) -> DailyGoal:
    info, currency = spec.info, spec.currency
    if not info.additive or actual_today is None:
        return DailyGoal(progress=progress, day_target=None, day_actual=None, carry_over=None)
    spans, weights, _ = await shape(session, user, goal, spec)
    places = exponent(info, currency)

    def share(on: date) -> Decimal:
        return rm.day_target(spans, weights, spec.target, on, calendar, places)

    carry = None
    if next_day is not None:
        kept = rm.carry_over(
            _decimal(progress.expected_to_date),
            _decimal(progress.actual),
            next_day,
            share(next_day),
        )
        carry = CarryOver(
            day=kept.day,
            in_period=spec.span.contains(kept.day),
            planned=_show(kept.planned, info, currency),
            carried=_show(kept.carried, info, currency),
            total=_show(kept.total, info, currency),
        )
    return DailyGoal(
        progress=progress,
        day_target=_show(share(day), info, currency),
        day_actual=_show(actual_today, info, currency),
        carry_over=carry,
    )


def _action(score: Score, why: list[Any]) -> FirstAction:
    return FirstAction(
        id=score.id,
        score=score.score,
        tier=score.tier,
        next_touch_due=score.next_touch_due,
        overdue=score.overdue,
        top_factor=score.factors[0].sentence if score.factors else None,
        why=why,
    )


async def _first_actions(
    scoring: GoalsScoring, user: Principal, who: Owner, due_by: date | None
) -> FirstActions:
    """The owner's tier-A open leads, then the leads whose touch is overdue or due by `due_by`."""
    tier_a, every = await gathered(
        [_open_leads(scoring, user, who, tier="A"), _open_leads(scoring, user, who, tier=None)]
    )

    def touch(score: Score) -> list[Any]:
        if score.overdue:
            return ["overdue"]
        if due_by is not None and score.next_touch_due <= due_by:
            return ["due"]
        return []

    items = [_action(s, ["tier_a", *touch(s)]) for s in tier_a]
    seen = {s.id for s in tier_a}
    items += [_action(s, touch(s)) for s in every if s.id not in seen and touch(s)]
    return FirstActions(due_by=due_by, items=items)


async def _open_leads(
    scoring: GoalsScoring, user: Principal, who: Owner, *, tier: str | None
) -> list[Score]:
    """The owner's open leads (of `tier`), every page of scoring's priority up to
    `PRIORITY_MOST`: a touch due is as likely on a lead scored low as on one scored high."""
    found: list[Score] = []
    cursor: str | None = None
    while len(found) < PRIORITY_MOST:
        page = await scoring.priority(
            user.org, owner=str(who), kind="lead", tier=tier, limit=PRIORITY_PAGE, cursor=cursor
        )
        found += page.items
        if not page.has_more or page.next is None:
            break
        cursor = page.next
    return found[:PRIORITY_MOST]


async def _current_judged(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    who: Owner,
    calendar: Calendar,
    on: date,
) -> tuple[Goals, list[ProgressOut]]:
    """The owner's goals current on `on` (those `GET /v1/progress?at=` lists), in digest order,
    and each judged on `on` as progress judges it."""
    goals = _ordered(
        await current_goals(session, user, scoring, owner=str(who), period=None, day=on)
    )
    return goals, await judged_all(session, user, scoring, goals, calendar, on)


async def daily(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    day: date | None,
) -> DailyDigest:
    calendar, tz = await org_calendar(session, user.org)
    who = await _owner(session, user, scoring, owner)
    on = day or today(tz)
    goals, judged = await _current_judged(session, user, scoring, who, calendar, on)
    specs = [spec for _, _, spec in goals]
    actuals = await _day_actuals(scoring, user, specs, on)
    next_day = rm.next_working_day(calendar, on)
    items = [
        await _daily_goal(session, user, goal, spec, progress, calendar, on, next_day, actual)
        for (goal, _, spec), progress, actual in zip(goals, judged, actuals, strict=True)
    ]
    span = Span(on, on)
    funnel = await scoring.funnel(user.org, owner=str(who), first=on, last=on)
    return DailyDigest(
        owner=str(who),
        day=on,
        timezone=tz.key,
        working_day=calendar.is_working(on),
        goals=items,
        first_actions=(
            None if who.kind == "org" else await _first_actions(scoring, user, who, next_day)
        ),
        wins_and_losses=await _wins(scoring, user, who, span, funnel, _currencies(specs)),
    )


# --------------------------------------------------------------------------- weekly


def _compare(step: str, week: FunnelStep | None, trailing: FunnelStep | None) -> StepComparison:
    return _rates(
        step,
        week.count if week else 0,
        trailing.count if trailing else 0,
        week.conversion if week else None,
        trailing.conversion if trailing else None,
    )


def _rates(
    step: str,
    week_count: int,
    trailing_count: int,
    week: Conversion | None,
    trailing: Conversion | None,
) -> StepComparison:
    w = week.value if week else None
    t = trailing.value if trailing else None
    difference = rm.points_difference(w, t)
    return StepComparison(
        step=step,
        week_count=week_count,
        trailing_count=trailing_count,
        week_conversion=w,
        week_numerator=week.numerator if week else None,
        week_denominator=week.denominator if week else None,
        trailing_conversion=t,
        trailing_numerator=trailing.numerator if trailing else None,
        trailing_denominator=trailing.denominator if trailing else None,
        difference_pp=None if difference is None else float(difference),
    )


def _funnel_week(
    week: FunnelReport, trailing: FunnelReport | None, trailing_span: Span | None
) -> FunnelWeek:
    before = {s.step: s for s in trailing.steps} if trailing else {}
    now = {s.step: s for s in week.steps}
    names = rm.merged_order(list(now), list(before))
    won = week.win_rate
    return FunnelWeek(
        trailing_from=trailing_span.start if trailing_span else None,
        trailing_to=trailing_span.end if trailing_span else None,
        steps=[_compare(n, now.get(n), before.get(n)) for n in names],
        win_rate=_rates(
            "win_rate",
            won.numerator,
            trailing.win_rate.numerator if trailing else 0,
            won,
            trailing.win_rate if trailing else None,
        ),
    )


async def weekly(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    week: str | None,
) -> WeeklyDigest:
    calendar, tz = await org_calendar(session, user.org)
    now = today(tz)
    span = week_span(week, now)
    who = await _owner(session, user, scoring, owner)
    on = rm.as_of_day(span, now)
    goals, judged = await _current_judged(session, user, scoring, who, calendar, on)
    before = rm.trailing_span(span)
    week_funnel = await scoring.funnel(user.org, owner=str(who), first=span.start, last=span.end)
    trailing = (
        await scoring.funnel(user.org, owner=str(who), first=before.start, last=before.end)
        if before
        else None
    )
    alerts = await scoring.alerts(user.org, owner=str(who), first=span.start, last=span.end)
    # The week's goals as judged above are those `GET /v1/progress/alerts` reads (the same
    # owner's current goals on the same day): its alerts without asking scoring again.
    pace = pace_alerts(str(who), on, judged)
    specs = [spec for _, _, spec in goals]
    return WeeklyDigest(
        owner=str(who),
        week=rm.week_name(span.start),
        start=span.start,
        end=span.end,
        as_of_day=on,
        timezone=tz.key,
        goals=judged,
        funnel=_funnel_week(week_funnel, trailing, before),
        wins_and_losses=await _wins(scoring, user, who, span, week_funnel, _currencies(specs)),
        scoring_alerts=alerts.items,
        pace_alerts=pace.items,
    )


# --------------------------------------------------------------------------- monthly


def _attainment(spec: GoalSpec, progress: ProgressOut, on: date) -> Attainment:
    goal = progress.goal
    actual = _decimal(progress.actual)
    floor_reached, target_reached, stretch_reached = rm.bounds_reached(
        actual, spec.floor, spec.target, spec.stretch, lower_is_better=spec.info.unit == "days"
    )
    return Attainment(
        goal_id=str(goal.id),
        metric=goal.metric,
        unit=goal.unit,
        period=goal.period,
        start=goal.start,
        end=goal.end,
        currency=goal.currency,
        as_of_day=on,
        actual=progress.actual,
        target=goal.target,
        floor=goal.floor,
        stretch=goal.stretch,
        attainment_pct=progress.attainment_pct,
        status=progress.status,
        floor_reached=floor_reached,
        target_reached=target_reached,
        stretch_reached=stretch_reached,
    )


def _values(items: Iterable[Any]) -> dict[str, Decimal]:
    return {i.rep_id: _decimal(i.value) for i in items}


async def _champions(scoring: GoalsScoring, user: Principal, who: Owner, month: Span) -> Champions:
    scope = str(who)
    previous = rm.previous_month(month)

    async def board(metric: str, at: date) -> Any:
        return await scoring.leaderboard(
            user.org, metric=metric, period="month", at=at, scope=scope
        )

    revenue = await board("revenue_won", month.start)
    customers = await board("new_customers", month.start)
    before = await board("revenue_won", previous.start) if previous else None
    shown = {i.rep_id: i.value for i in revenue.items}
    # Without a month before (1970-01) nobody improved on anything.
    improved = rm.most_improved(_values(revenue.items), _values(before.items)) if before else []
    customer_values = {i.rep_id: i.value for i in customers.items}
    places = exponent(METRIC_MONEY, revenue.currency)

    def money(value: Decimal) -> str:
        return format(value.quantize(rm.quantum(places)), "f")

    return Champions(
        scope=scope,
        currency=revenue.currency,
        ranking=[
            RankedRep(rank=i.rank, rep_id=i.rep_id, value=money(_decimal(i.value)))
            for i in revenue.items
        ],
        revenue=[
            Champion(rep_id=r, value=money(_decimal(shown[r])))
            for r in rm.champions(_values(revenue.items))
        ],
        new_customers=[
            Champion(rep_id=r, value=customer_values[r] or 0)
            for r in rm.champions(_values(customers.items))
        ],
        most_improved=[
            Improved(
                rep_id=i.rep,
                before=money(i.before),
                after=money(i.after),
                increase=money(i.increase),
            )
            for i in improved
        ],
    )


async def _rank(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, rep: str, month: Span, on: date
) -> RepRank:
    team = await rep_team(session, scoring, user.org, rep, on)
    if team is None:
        return RepRank(
            scope=None, rank=None, of=None, value=None, unavailable="the rep is in no team"
        )
    scope = f"team:{team}"
    try:
        board = await scoring.leaderboard(
            user.org, metric="revenue_won", period="month", at=month.start, scope=scope
        )
    except Forbidden:
        return RepRank(
            scope=scope,
            rank=None,
            of=None,
            value=None,
            unavailable="scoring shows the leaderboard to managers and above, not to reps",
        )
    mine = next((i for i in board.items if i.rep_id == rep), None)
    if mine is None:
        return RepRank(
            scope=scope,
            rank=None,
            of=len(board.items),
            value=None,
            unavailable="the rep is not on the team's board this month",
        )
    return RepRank(
        scope=scope,
        rank=mine.rank,
        of=len(board.items),
        value=format(
            _decimal(mine.value).quantize(rm.quantum(exponent(METRIC_MONEY, board.currency))), "f"
        ),
        unavailable=None,
    )


async def _next_goal(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal: Goal, spec: GoalSpec
) -> NextGoal:
    info = spec.info
    plan: dict[str, Any] | None = None
    missing: list[str] = []
    unavailable: str | None = None
    if spec.metric in PLANNED:
        body = FunnelPlanIn.model_validate(
            {
                "owner": str(spec.owner),
                "goal": PLANNED[spec.metric],
                "target": render(spec.target, info, spec.currency),
                "currency": spec.currency,
                "start": spec.span.start,
                "end": spec.span.end,
            }
        )
        try:
            plan = await plans.funnel_plan(session, user, scoring, body)
        except UpstreamUnavailable:
            raise
        except DomainError as exc:
            unavailable = exc.detail
        else:
            missing = rm.distinct(s["missing"] for s in plan["steps"] if s.get("missing"))
    else:
        unavailable = f"funnel plans are made for revenue_won and new_customers, not {spec.metric}"
    return NextGoal(
        id=str(goal.id),
        metric=spec.metric,
        period=spec.period,
        start=spec.span.start,
        end=spec.span.end,
        currency=spec.currency,
        target=render(spec.target, info, spec.currency),
        floor=render(spec.floor, info, spec.currency),
        stretch=render(spec.stretch, info, spec.currency),
        plan=plan,
        plan_missing=missing,
        plan_unavailable=unavailable,
    )


async def monthly(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    month: str | None,
) -> MonthlyDigest:
    calendar, tz = await org_calendar(session, user.org)
    now = today(tz)
    span = month_span(month, now)
    who = await _owner(session, user, scoring, owner)
    on = rm.as_of_day(span, now)
    ending = _ordered(
        [
            (g, r, s)
            for g, r, s in await current_goals(
                session, user, scoring, owner=str(who), period=None, day=span.end
            )
            if s.period in ATTAINED_PERIODS and s.span.end == span.end
        ]
    )
    judged = await judged_all(session, user, scoring, ending, calendar, on)
    after = rm.next_month(span)
    coming: Goals = []
    if after is not None:
        coming = _ordered(
            [
                (g, r, s)
                for g, r, s in await current_goals(
                    session, user, scoring, owner=str(who), period=PeriodKind.MONTH, day=after.start
                )
                if s.span == after
            ]
        )
    return MonthlyDigest(
        owner=str(who),
        month=f"{span.start:%Y-%m}",
        start=span.start,
        end=span.end,
        as_of_day=on,
        timezone=tz.key,
        attainment=[
            _attainment(spec, p, on) for (_, _, spec), p in zip(ending, judged, strict=True)
        ],
        champions=(
            await _champions(scoring, user, who, span) if who.kind != OwnerKind.REP else None
        ),
        rank=(
            await _rank(session, user, scoring, who.id, span, on)
            if who.kind == OwnerKind.REP
            else None
        ),
        next_month=[await _next_goal(session, user, scoring, g, s) for g, _, s in coming],
    )
