"""Progress: a goal's actual (from scoring) against its pace on a day, the current goals of an
owner judged together, and the alerts read from them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.contracts.scoring import KpiReport, MetricInfo

from . import alerts, pace, repository
from .calendar import Calendar, PeriodKind, Span, checkpoints
from .calendars import org_calendar, org_day, today
from .decompose import expected_fraction
from .domain import can_read, exponent, listed_for, parse_owner
from .exceptions import AlertsOfAnother
from .models import Goal, Revision
from .placement import gathered, leads
from .schemas import AlertGoal, PaceAlert, PaceAlertPage, ProgressOut, ProgressPage
from .scoring import GoalsScoring
from .spec import GoalSpec
from .views import goal_out
from .visibility import readable, visible

PROGRESS_CONCURRENCY = 8  # scoring questions in flight for one `GET /v1/progress`
LONGEST_PERIOD = timedelta(days=366)  # a year's


async def progress(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    goal_id: uuid.UUID,
    at: date | None,
) -> ProgressOut:
    goal = await readable(session, user, scoring, goal_id)
    revision = await repository.current_revision(session, goal)
    spec = GoalSpec.from_body(revision.body)
    calendar, tz = await org_calendar(session, user.org)
    day = at or today(tz)
    report = await report_to_date(scoring, user, spec, day)
    return await judged(session, user, goal, revision, spec, calendar, day, report)


async def report_to_date(
    scoring: GoalsScoring, user: Principal, spec: GoalSpec, day: date
) -> KpiReport | None:
    """Scoring's total of the goal's metric from its start to `day`, as one bucket (None: it
    has not started), with the weighted pipeline at `day` for a revenue goal."""
    until = min(day, spec.span.end)
    if until < spec.span.start:
        return None
    metrics = [spec.metric]
    if spec.metric == "revenue_won":
        metrics.append("weighted_pipeline")
    return await scoring.kpis(
        user.org,
        owner=str(spec.owner),
        period="range",
        first=spec.span.start,
        last=until,
        metrics=metrics,
        product_line=spec.product_line,
        tier=spec.tier,
        channel=spec.channel,
        currency=spec.currency,
    )


async def shape(
    session: AsyncSession, user: Principal, goal: Goal, spec: GoalSpec
) -> tuple[list[Span], list[Decimal], str]:
    """What expected-to-date follows: the decomposition's own shape when the goal has time
    children, else the working days of the org calendar."""
    split = spec.decomposition
    if split is not None and split.by == "time":
        kids = [
            GoalSpec.from_body(r.body)
            for _, r in await repository.children(session, user.org, goal.id)
        ]
        if kids:
            told = f"its {split.into} goals ({split.strategy})"
            if any(k.target for k in kids):
                return [k.span for k in kids], [k.target for k in kids], told
            return [spec.span], [Decimal(1)], told
    return [spec.span], [Decimal(1)], "working days of the org calendar"


async def judged(
    session: AsyncSession,
    user: Principal,
    goal: Goal,
    revision: Revision,
    spec: GoalSpec,
    calendar: Calendar,
    day: date,
    report: KpiReport | None,
) -> ProgressOut:
    """The goal judged on `day` against scoring's `report` of it (`report_to_date`)."""
    info = spec.info
    actual = Decimal(0)
    pipeline: Decimal | None = None
    if report is not None:
        actual = total(report, spec.metric, info)
        if spec.metric == "revenue_won" and report.buckets:
            pipeline = Decimal(str(report.buckets[-1].metrics["weighted_pipeline"].value or 0))
    spans, weights, followed = await shape(session, user, goal, spec)
    expected = expected_fraction(spans, weights, day, calendar)
    elapsed = expected_fraction([spec.span], [Decimal(1)], day, calendar)
    target, floor, stretch = spec.bounds
    if info.additive:
        result = pace.progress(
            target=target,
            floor=floor,
            stretch=stretch,
            actual=actual,
            expected_fraction=expected,
            elapsed_fraction=elapsed,
            weighted_pipeline=pipeline,
            period_over=day > spec.span.end,
        )
    else:
        result = pace.level(
            target=target,
            floor=floor,
            stretch=stretch,
            actual=actual,
            lower_is_better=info.unit == "days",
        )
        followed = "its level (a rate or an average is not paced)"
    q = Decimal(1).scaleb(-exponent(info, spec.currency))

    def show(value: Decimal | None) -> int | str | None:
        if value is None:
            return None
        rounded = value.quantize(q)
        return int(rounded) if info.unit == "count" else format(rounded, "f")

    def pct(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return ProgressOut.model_validate(
        {
            "goal": goal_out(goal, revision, spec),
            "at": day,
            "actual": show(actual),
            "attainment_pct": pct(result.attainment_pct),
            "floor_pct": pct(result.floor_pct),
            "stretch_pct": pct(result.stretch_pct),
            "expected_to_date": show(result.expected_to_date),
            "gap": format(result.gap.quantize(q), "f"),
            "projected_run_rate": show(result.projected_run_rate),
            "projected_with_pipeline": show(result.projected_with_pipeline),
            "status": result.status,
            "rule": result.rule,
            "next_checkpoint": checkpoints(spec.span, day),
            "shape": followed,
        }
    )


def total(report: KpiReport, metric: str, info: MetricInfo) -> Decimal:
    values = [b.metrics[metric] for b in report.buckets]
    if info.additive:
        return sum((Decimal(str(v.value or 0)) for v in values), Decimal(0))
    # A rate or an average over the whole range: from the summed parts when given.
    num = sum((Decimal(str(v.numerator or 0)) for v in values), Decimal(0))
    den = sum((Decimal(str(v.denominator or 0)) for v in values), Decimal(0))
    if any(v.numerator is not None for v in values):
        if info.unit == "days":
            return (num / den).quantize(Decimal("0.01")) if den else Decimal(0)
        return (num / den).quantize(Decimal("0.0001")) if den else Decimal(0)
    return Decimal(str(values[-1].value or 0)) if values else Decimal(0)


async def current_goals(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    period: PeriodKind | None,
    day: date,
) -> list[tuple[Goal, Revision, GoalSpec]]:
    """The caller's goals (of `owner`) not archived whose period holds `day`, in period order."""
    who = parse_owner(owner, "owner", "query") if owner else None
    team, rep = listed_for(user)
    rows = await repository.current_goals(
        session,
        user.org,
        owner=(who.kind, who.id) if who else None,
        period_kind=period.value if period else None,
        team=team,
        rep=rep,
        day=day,
        longest_days=LONGEST_PERIOD.days,
    )
    held = [(g, r, s) for g, r in rows if (s := GoalSpec.from_body(r.body)).span.contains(day)]
    kept = set(await visible(session, scoring, user, [g for g, _, _ in held]))
    return [(g, r, s) for g, r, s in held if g in kept]


async def progress_list(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    period: PeriodKind | None,
    at: date | None,
) -> ProgressPage:
    calendar, tz = await org_calendar(session, user.org)
    day = at or today(tz)
    goals = await current_goals(session, user, scoring, owner=owner, period=period, day=day)
    return ProgressPage(items=await judged_all(session, user, scoring, goals, calendar, day))


async def judged_all(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    goals: list[tuple[Goal, Revision, GoalSpec]],
    calendar: Calendar,
    day: date,
) -> list[ProgressOut]:
    """Each of `goals` judged on `day`, as `GET /v1/progress` judges them."""
    # Scoring's answers are asked for together (a few at a time): one after another, a list
    # of goals waited for each round trip in turn.
    reports = await gathered(
        (report_to_date(scoring, user, spec, day) for _, _, spec in goals), PROGRESS_CONCURRENCY
    )
    return [
        await judged(session, user, goal, revision, spec, calendar, day, report)
        for (goal, revision, spec), report in zip(goals, reports, strict=True)
    ]


async def progress_alerts(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    at: date | None,
) -> PaceAlertPage:
    """The owner's current goals as `progress_list` judges them, read by `alerts.leading_behind`:
    every number in an alert is the one its goal's progress shows."""
    if owner is not None:
        who = parse_owner(owner, "owner", "query")
        # A manager may name any rep: only the team's reps' goals are listed for them anyway.
        # A team the roster gives another manager today is not theirs to name.
        team = who.id if who.kind == "team" else (user.team if who.kind == "rep" else None)
        if not can_read(user, who, team) or (who.kind == "team" and not await leads(session, user)):
            raise AlertsOfAnother()
    day = await org_day(session, user.org, at)
    listed = await progress_list(session, user, scoring, owner=owner, period=None, at=day)
    return pace_alerts(owner, day, listed.items)


def pace_alerts(owner: str | None, day: date, listed: list[ProgressOut]) -> PaceAlertPage:
    """`alerts.leading_behind` read from goals judged on `day` (as `progress_list` judges
    them): the alerts page of `GET /v1/progress/alerts`."""
    judged = {str(p.goal.id): p for p in listed}
    found = alerts.leading_behind(_paced(p) for p in judged.values())

    def side(paced: alerts.Paced) -> AlertGoal:
        p = judged[paced.goal_id]
        goal = p.goal
        return AlertGoal(
            goal_id=goal.id,
            metric=goal.metric,
            unit=goal.unit,
            period=goal.period,
            start=goal.start,
            end=goal.end,
            currency=goal.currency,
            product_line=goal.product_line,
            tier=goal.tier,
            channel=goal.channel,
            status=p.status,
            actual=p.actual,
            expected_to_date=p.expected_to_date,
            target=goal.target,
            attainment_pct=p.attainment_pct,
            rule=p.rule,
        )

    return PaceAlertPage(
        owner=owner,
        at=day,
        items=[
            PaceAlert(
                kind=a.kind,
                owner=a.owner,
                leading=side(a.leading),
                lagging=side(a.lagging),
                message=a.message,
            )
            for a in found
        ],
    )


def _paced(judged: ProgressOut) -> alerts.Paced:
    goal = judged.goal
    return alerts.Paced(
        goal_id=str(goal.id),
        owner=goal.owner,
        metric=goal.metric,
        period=goal.period.value,
        start=goal.start,
        end=goal.end,
        status=judged.status,
        actual=judged.actual,
        expected_to_date=judged.expected_to_date,
        product_line=goal.product_line,
        tier=goal.tier,
        channel=goal.channel,
    )
