"""The goals use cases: load through the repository, ask the domain, persist (flush, never
commit: the request owns the transaction), and ask scoring for actuals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.contracts.scoring import KpiReport, MetricInfo
from shared.dates import FIRST_DAY, LAST_DAY
from shared.errors import Forbidden, InvalidInput, field_error
from shared.pagination import bad_cursor, decode_keyset, encode_keyset

from . import alerts, pace, plan, repository
from .calendar import Calendar, PeriodKind, Span, checkpoints, children, period_of, period_span
from .decompose import (
    InvalidField,
    Targets,
    across_weights,
    expected_fraction,
    from_minor,
    split_targets,
    time_weights,
    to_minor,
)
from .domain import (
    Owner,
    bounds,
    can_read,
    changed_fields,
    check_write,
    exponent,
    may_see_rep,
    metric_info,
    parse_owner,
    parse_value,
    render,
    team_of,
)
from .exceptions import (
    AlreadyDecomposed,
    GoalNotFound,
    NotDecomposable,
    RepOfAnotherTeam,
    RevisionConflict,
)
from .models import Calendar as CalendarRow
from .models import Goal, Revision
from .schemas import CalendarIO, DecomposeIn, FunnelPlanIn, GoalIn, GoalPatch
from .scoring import GoalsScoring

# --------------------------------------------------------------------------- goals


def _span(kind: PeriodKind, start: date) -> Span:
    try:
        span = period_span(kind, start)
    except ValueError as exc:
        raise InvalidInput(
            f"`start` {start} does not begin a {kind.value}.",
            errors=[
                field_error("start", f"must be the first day of a {kind.value}", "period_start")
            ],
        ) from exc
    if span.end > LAST_DAY:  # scoring answers for days up to LAST_DAY only
        raise InvalidInput(
            f"The {kind.value} starting {start} ends after {LAST_DAY}.",
            errors=[field_error("start", f"the period must end by {LAST_DAY}", "out_of_range")],
        )
    return span


def _needs_currency(info: MetricInfo, currency: str | None) -> None:
    if info.unit == "money" and currency is None:
        raise InvalidInput(
            "A money goal needs its `currency`.",
            errors=[field_error("currency", "required for a money metric", "missing")],
        )
    if info.unit != "money" and currency is not None:
        raise InvalidInput(
            "Only money goals carry a currency.",
            errors=[field_error("currency", "only for money metrics", "extra")],
        )


def _out(goal: Goal, revision: Revision, first: Revision | None = None) -> dict[str, Any]:
    body = revision.body
    info = metric_info(body["metric"])
    currency = body.get("currency")

    def value(key: str) -> int | str:
        return render(Decimal(body[key]), info, currency)

    return {
        "id": str(goal.id), "revision": revision.revision,
        "parent_id": str(goal.parent_id) if goal.parent_id else None,
        "owner": body["owner"], "team_id": body.get("team_id"), "metric": body["metric"],
        "unit": info.unit, "period": body["period"], "start": body["start"], "end": body["end"],
        "target": value("target"), "floor": value("floor"), "stretch": value("stretch"),
        "currency": currency, "product_line": body.get("product_line"),
        "tier": body.get("tier"), "channel": body.get("channel"), "note": body.get("note"),
        "archived": body.get("archived", False), "decomposition": body.get("decomposition"),
        "created_at": goal.created_at.isoformat(), "created_by": goal.created_by,
        "updated_at": revision.changed_at.isoformat(), "updated_by": revision.changed_by,
    }  # fmt: skip


async def _body(user: Principal, scoring: GoalsScoring, data: GoalIn) -> dict[str, Any]:
    owner = parse_owner(data.owner)
    info = metric_info(data.metric)
    _needs_currency(info, data.currency)
    span = _span(data.period, data.start)
    target = parse_value(data.target, "target", info, data.currency)
    floor, stretch = bounds(target, info, data.currency, data.model_dump())
    team = team_of(user, owner, data.team_id)
    check_write(user, owner, team)
    if owner.kind == "rep" and (user.role is Role.MANAGER or data.team_id is None):
        # Where the rep's history places them, asked afresh for a write. An admin's rep goal
        # goes to that team unless the admin names one (an admin may do anything in the org).
        placed = await scoring.rep_team(user.org, owner.id, fresh=True)
        if not may_see_rep(user, placed):
            raise _other_team("owner", [owner.id])
        if user.role is Role.ADMIN:
            team = placed
    return {
        "owner": str(owner), "team_id": team, "metric": data.metric,
        "period": data.period.value, "start": span.start.isoformat(), "end": span.end.isoformat(),
        "target": str(target), "floor": str(floor), "stretch": str(stretch),
        "currency": data.currency, "product_line": data.product_line,
        "tier": data.tier.value if data.tier else None,
        "channel": data.channel.value if data.channel else None, "note": data.note,
        "archived": False, "decomposition": None, "parent_id": None,
    }  # fmt: skip


async def _insert(
    session: AsyncSession, user: Principal, body: dict[str, Any], parent_id: uuid.UUID | None
) -> tuple[Goal, Revision]:
    owner = parse_owner(body["owner"])
    goal = Goal(
        id=uuid.uuid4(), org_id=user.org, parent_id=parent_id, revision=1,
        owner_kind=owner.kind, owner_id=owner.id, team_id=body["team_id"],
        metric=body["metric"], period_kind=body["period"],
        period_start=date.fromisoformat(body["start"]), archived=False, created_by=user.sub,
    )  # fmt: skip
    revision = Revision(goal_id=goal.id, revision=1, org_id=user.org, body=body,
                        changed=sorted(body), reason=None, changed_by=user.sub)  # fmt: skip
    repository.add_goal(session, goal, revision)
    await session.flush()
    await session.refresh(goal)
    await session.refresh(revision)
    return goal, revision


async def create_goal(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, data: GoalIn
) -> dict[str, Any]:
    goal, revision = await _insert(session, user, await _body(user, scoring, data), None)
    return _out(goal, revision)


# --------------------------------------------------------------------------- reps' teams

TEAM_QUESTIONS = 8  # questions to scoring in flight at once about where reps work
T = TypeVar("T")


def _other_team(field: str, reps: Sequence[str]) -> RepOfAnotherTeam:
    named = ", ".join(reps)
    return RepOfAnotherTeam(
        f"The history of {named} places {'them' if len(reps) > 1 else 'the rep'} in another "
        "team: a manager sees, plans and sets the goals of their own team's reps only (and of "
        "reps with no history yet).",
        errors=[field_error(field, f"works in another team: {named}", "other_team")],
    )


async def _gathered(calls: Iterable[Awaitable[T]]) -> list[T]:
    """`calls` awaited together, a few at a time."""
    gate = asyncio.Semaphore(TEAM_QUESTIONS)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


async def _hidden_reps(scoring: GoalsScoring, user: Principal, goals: Sequence[Goal]) -> set[str]:
    """The reps owning some of `goals` whom the caller may not see: for a manager, those whose
    history places them in another team (as scoring said within the last few seconds)."""
    if user.role is not Role.MANAGER:
        return set()
    reps = sorted({g.owner_id for g in goals if g.owner_kind == "rep"})
    teams = await _gathered(scoring.rep_team(user.org, rep) for rep in reps)
    return {rep for rep, team in zip(reps, teams, strict=True) if not may_see_rep(user, team)}


def _shown(goals: Sequence[Goal], hidden: set[str]) -> list[Goal]:
    return [g for g in goals if not (g.owner_kind == "rep" and g.owner_id in hidden)]


async def _readable(session: AsyncSession, user: Principal, scoring: GoalsScoring,
                    goal_id: uuid.UUID, *, lock: bool = False) -> Goal:  # fmt: skip
    """The goal, if the caller may see it; else 404, as for a goal that does not exist."""
    load = repository.lock_goal if lock else repository.get_goal
    goal = await load(session, user.org, goal_id)
    if (
        goal is None
        or not can_read(user, Owner(goal.owner_kind, goal.owner_id), goal.team_id)
        or await _hidden_reps(scoring, user, [goal])
    ):
        raise GoalNotFound(f"There is no goal {goal_id}.")
    return goal


async def get_goal(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID
) -> dict[str, Any]:
    goal = await _readable(session, user, scoring, goal_id)
    revision = await session.get(Revision, (goal.id, goal.revision))
    assert revision is not None
    return _out(goal, revision)


async def _revise(
    session: AsyncSession, user: Principal, goal: Goal, body: dict[str, Any], reason: str | None
) -> Revision:
    before = await repository.current_body(session, goal)
    changed = changed_fields(before, body)
    goal.revision += 1
    goal.archived = bool(body.get("archived"))
    revision = Revision(goal_id=goal.id, revision=goal.revision, org_id=goal.org_id, body=body,
                        changed=changed, reason=reason, changed_by=user.sub)  # fmt: skip
    repository.add_revision(session, revision)
    await session.flush()
    await session.refresh(revision)
    return revision


async def patch_goal(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID,
    patch: GoalPatch,
) -> dict[str, Any]:  # fmt: skip
    goal = await _readable(session, user, scoring, goal_id, lock=True)
    owner = Owner(goal.owner_kind, goal.owner_id)
    check_write(user, owner, goal.team_id)
    if patch.expected_revision is not None and patch.expected_revision != goal.revision:
        raise RevisionConflict(
            f"The goal is at revision {goal.revision}, not {patch.expected_revision}: reload it."
        )
    body = dict(await repository.current_body(session, goal))
    info = metric_info(body["metric"])
    currency = body.get("currency")
    given = patch.model_dump(exclude_unset=True)
    if "target" in given and patch.target is not None:
        body["target"] = str(parse_value(patch.target, "target", info, currency))
    target = Decimal(body["target"])
    bound_keys = ("floor", "stretch", "buffer_pct", "base_pct", "challenge_pct")
    if any(given.get(k) is not None for k in bound_keys):
        explicit = {k: given.get(k) for k in ("floor", "stretch")}
        if (explicit["floor"] is None) != (
            explicit["stretch"] is None
        ):  # one bound: keep the other
            kept = "stretch" if explicit["floor"] is not None else "floor"
            given = {**given, kept: render(Decimal(body[kept]), info, currency)}
        floor, stretch = bounds(target, info, currency, given)
        body["floor"], body["stretch"] = str(floor), str(stretch)
    elif "target" in given:  # keep the floor and stretch as the same share of the target
        old = Decimal((await repository.current_body(session, goal))["target"])
        if old:
            places = exponent(info, currency)
            q = Decimal(1).scaleb(-places)
            body["floor"] = str((Decimal(body["floor"]) * target / old).quantize(q))
            body["stretch"] = str((Decimal(body["stretch"]) * target / old).quantize(q))
        else:
            body["floor"] = body["stretch"] = str(target)
    if "note" in given:
        body["note"] = patch.note
    if patch.archived is not None:
        body["archived"] = patch.archived
    revision = await _revise(session, user, goal, body, patch.reason)
    return _out(goal, revision)


async def list_goals(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, *, owner: str | None,
    metric: str | None,
    period: PeriodKind | None, start_from: date | None, start_to: date | None,
    parent_id: uuid.UUID | None, include_archived: bool, cursor: str | None, limit: int,
) -> dict[str, Any]:  # fmt: skip
    who = parse_owner(owner, "owner", "query") if owner else None
    if metric is not None:
        metric_info(metric, "query")
    team = rep = None
    if user.role is Role.REP:
        rep = user.sub
    elif user.role is Role.MANAGER:
        team = user.team
    after = _decode_cursor(cursor, user.org)
    goals: list[Goal] = []
    while True:  # a manager's page leaves out the goals of reps placed in other teams
        batch = await repository.list_goals(
            session, user.org, owner=(who.kind, who.id) if who else None, metric=metric,
            period_kind=period.value if period else None, start_from=start_from,
            start_to=start_to, team=team, rep=rep, parent_id=parent_id,
            include_archived=include_archived, after=after, limit=limit + 1,
        )  # fmt: skip
        goals += _shown(batch, await _hidden_reps(scoring, user, batch))
        if len(batch) <= limit or len(goals) > limit:
            break
        after = (batch[-1].period_start, batch[-1].id)
    more = len(goals) > limit
    goals = goals[:limit]
    revisions = await repository.bodies(session, goals)
    items = [_out(g, revisions[g.id]) for g in goals]
    last = goals[-1] if goals and more else None
    return {"items": items, "next": _encode_cursor(last) if last else None}


def _encode_cursor(goal: Goal) -> str:
    return encode_keyset("g1", [goal.period_start.isoformat(), str(goal.id)], goal.org_id)


def _decode_cursor(cursor: str | None, org: str) -> tuple[date, uuid.UUID] | None:
    if not cursor:
        return None
    day, ident = decode_keyset("g1", cursor, 2, org)
    try:
        return date.fromisoformat(day), uuid.UUID(ident)
    except ValueError as exc:
        raise bad_cursor() from exc


async def revisions(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID
) -> dict[str, Any]:
    goal = await _readable(session, user, scoring, goal_id)
    items = []
    for r in await repository.revisions(session, goal.id):
        items.append({
            "revision": r.revision, "changed": r.changed, "reason": r.reason,
            "changed_by": r.changed_by, "changed_at": r.changed_at.isoformat(),
            "goal": _out(goal, r),
        })  # fmt: skip
    return {"items": items}


# --------------------------------------------------------------------------- calendar


def _calendar(row: CalendarRow | None) -> tuple[Calendar, ZoneInfo]:
    if row is None:
        return Calendar(), ZoneInfo("UTC")
    calendar = Calendar(weekend=frozenset(row.weekend), holidays=frozenset(row.holidays),
                        workdays=frozenset(row.workdays))  # fmt: skip
    return calendar, ZoneInfo(row.timezone)


def _calendar_out(row: CalendarRow | None) -> dict[str, Any]:
    if row is None:
        return CalendarIO().model_dump(mode="json")
    return {
        "timezone": row.timezone, "weekend": sorted(row.weekend),
        "holidays": sorted(d.isoformat() for d in row.holidays),
        "workdays": sorted(d.isoformat() for d in row.workdays),
    }  # fmt: skip


async def get_calendar(session: AsyncSession, user: Principal) -> dict[str, Any]:
    return _calendar_out(await repository.get_calendar(session, user.org))


async def put_calendar(session: AsyncSession, user: Principal, data: CalendarIO) -> dict[str, Any]:
    if user.role is not Role.ADMIN:
        raise Forbidden("Only an admin sets the org's calendar.")
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"`timezone` {data.timezone!r} is not an IANA timezone.",
            errors=[
                field_error(
                    "timezone", "must be an IANA timezone such as Europe/Berlin", "timezone"
                )
            ],
        ) from exc
    row = CalendarRow(org_id=user.org, timezone=data.timezone, weekend=sorted(set(data.weekend)),
                      holidays=sorted(set(data.holidays)), workdays=sorted(set(data.workdays)))  # fmt: skip
    return _calendar_out(await repository.put_calendar(session, row))


def _today(tz: ZoneInfo) -> date:
    return datetime.now(UTC).astimezone(tz).date()


# --------------------------------------------------------------------------- decomposition


async def _actuals(
    scoring: GoalsScoring, org: str, body: dict[str, Any], spans: Sequence[Span],
    *, owner: str | None = None,
) -> list[Decimal]:  # fmt: skip
    """The goal's metric over each span, from scoring (one call)."""
    report = await scoring.kpis(
        org, owner=owner or body["owner"], period="day",  # days: any span sums exactly
        first=spans[0].start, last=spans[-1].end, metrics=[body["metric"]],
        product_line=body.get("product_line"), tier=body.get("tier"),
        channel=body.get("channel"), currency=body.get("currency"),
    )  # fmt: skip
    by_start = {b.start: b.metrics[body["metric"]].value for b in report.buckets}
    out = []
    for span in spans:
        value = sum(
            (Decimal(str(v or 0)) for s, v in by_start.items() if span.start <= s <= span.end),
            Decimal(0),
        )
        out.append(value)
    return out


def _year_earlier(span: Span) -> Span:
    def back(day: date) -> date:
        try:
            return day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            return day.replace(year=day.year - 1, day=28)

    return Span(back(span.start), back(span.end))


async def decompose(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID,
    data: DecomposeIn,
) -> dict[str, Any]:  # fmt: skip
    goal = await _readable(session, user, scoring, goal_id, lock=True)
    check_write(user, Owner(goal.owner_kind, goal.owner_id), goal.team_id)
    body = dict(await repository.current_body(session, goal))
    info = metric_info(body["metric"])
    if not info.additive:
        raise NotDecomposable(
            f"`{body['metric']}` does not add up over periods or owners; set each part's own goal.",
            errors=[field_error("by", "the goal's metric is a rate or an average", "not_additive")],
        )
    if body.get("decomposition"):
        if await repository.children(session, user.org, goal.id):
            raise AlreadyDecomposed("The goal is decomposed already; archive its children first.")
        body["decomposition"] = None  # every child archived: it may be split again
    kind = PeriodKind(body["period"])
    parent_span = Span(date.fromisoformat(body["start"]), date.fromisoformat(body["end"]))
    row = await repository.get_calendar(session, user.org)
    calendar, _ = _calendar(row)
    children_bodies: list[dict[str, Any]] = []
    try:
        if data.by == "time":
            if data.into is None:
                raise _invalid("into", "by=time needs `into` (quarter, month, week or day)")
            try:
                spans = children(parent_span, kind, data.into)
            except ValueError as exc:
                raise _invalid("into", str(exc)) from exc
            if data.strategy not in ("even", "working_days", "seasonal", "last_year"):
                raise _invalid(
                    "strategy", "by=time splits even, by working_days, seasonal or last_year"
                )
            strategy: str = data.strategy
            last_year = None
            if strategy == "last_year":
                earlier = [_year_earlier(s) for s in spans]
                last_year = await _actuals(scoring, user.org, body, earlier)
            seasonal = ({m: _weight(w, f"seasonal.{m}") for m, w in data.seasonal.items()}
                        if data.seasonal else None)  # fmt: skip
            weights = time_weights(spans, strategy, calendar=calendar, seasonal=seasonal,
                                   last_year=last_year)  # fmt: skip
            for span in spans:
                children_bodies.append({**body, "period": data.into.value,
                                        "start": span.start.isoformat(), "end": span.end.isoformat()})  # fmt: skip
        elif data.by in ("tier", "product_line"):
            if not data.weights:
                raise _invalid("weights", f'by={data.by} needs `weights`, e.g. {{"A": 60}}')
            if body.get(data.by):
                raise _invalid("by", f"the goal is already cut by {data.by}")
            if data.by == "tier":
                unknown = [k for k in data.weights if k not in ("A", "B", "C")]
                if unknown:
                    raise _invalid("weights", f"tiers are A, B and C, not {', '.join(unknown)}")
            keys = list(data.weights)
            weights = across_weights(
                keys, {k: _weight(v, f"weights.{k}") for k, v in data.weights.items()}
            )
            strategy = "weights"
            for key in keys:
                children_bodies.append({**body, data.by: key})
        else:  # by rep
            if body["owner"].split(":")[0] != "team":
                raise _invalid("by", "only a team's goal splits across its reps")
            reps = data.reps or (list(data.weights) if data.weights else None)
            if not reps:
                raise _invalid("reps", "by=rep needs the team's `reps`")
            if len(set(reps)) != len(reps):
                raise _invalid("reps", "a rep is named twice")
            if data.strategy not in ("even", "weights", "past_share"):
                raise _invalid("strategy", "by=rep splits even, by weights or by past_share")
            strategy = data.strategy
            team = body["owner"].split(":", 1)[1]
            if user.role is Role.MANAGER:  # each rep's team as their history places them, now
                placed = await _gathered(
                    scoring.rep_team(user.org, rep, fresh=True) for rep in reps
                )
                elsewhere = [r for r, t in zip(reps, placed, strict=True) if t not in (None, team)]
                if elsewhere:
                    raise _other_team("reps" if data.reps else "weights", elsewhere)
            past = None
            if strategy == "past_share":  # the period before, of the same kind
                before = period_of(kind, parent_span.start - timedelta(days=1))
                past = {
                    rep: (await _actuals(scoring, user.org, body, [before], owner=f"rep:{rep}"))[0]
                    for rep in reps
                }  # fmt: skip
            given = {k: _weight(v, f"weights.{k}") for k, v in (data.weights or {}).items()}
            weights = across_weights(reps, given or None, strategy, past)
            for rep in reps:
                children_bodies.append({**body, "owner": f"rep:{rep}", "team_id": team})
    except InvalidField as exc:
        raise _invalid(exc.field, exc.detail) from exc
    except ValueError as exc:
        raise _invalid("strategy", str(exc)) from exc

    places = exponent(info, body.get("currency"))
    parent = Targets(*(to_minor(Decimal(body[k]), places) for k in ("target", "floor", "stretch")))
    parts = split_targets(parent, weights)
    created = []
    for child, part in zip(children_bodies, parts, strict=True):
        child = {**child, "target": str(from_minor(part.target, places)),
                 "floor": str(from_minor(part.floor, places)),
                 "stretch": str(from_minor(part.stretch, places)),
                 "decomposition": None, "parent_id": str(goal.id),
                 "note": f"{data.by} part of {goal.id}"}  # fmt: skip
        created.append(await _insert(session, user, child, goal.id))
    body["decomposition"] = {"by": data.by, "into": data.into.value if data.into else None,
                             "strategy": strategy, "children": [str(g.id) for g, _ in created]}  # fmt: skip
    revision = await _revise(session, user, goal, body, f"decomposed by {data.by}")
    return {"parent": _out(goal, revision), "children": [_out(g, r) for g, r in created]}


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"`{field}`: {message}.", errors=[field_error(field, message, "decompose")])


def _weight(raw: int | str, field: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except ArithmeticError as exc:
        raise _invalid(field, "is not a number") from exc
    if not value.is_finite() or value < 0:
        raise _invalid(field, "must be a number ≥ 0")
    return value


async def reconcile(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID
) -> dict[str, Any]:
    goal = await _readable(session, user, scoring, goal_id)
    revision = await session.get(Revision, (goal.id, goal.revision))
    assert revision is not None
    body = revision.body
    info = metric_info(body["metric"])
    currency = body.get("currency")
    kids = await repository.children(session, user.org, goal.id)
    kid_revisions = await repository.bodies(session, kids)
    sums = {k: sum((Decimal(kid_revisions[c.id].body[k]) for c in kids), Decimal(0))
            for k in ("target", "floor", "stretch")}  # fmt: skip
    parent = {k: Decimal(body[k]) for k in sums}
    return {
        "goal_id": str(goal.id),
        "target": render(parent["target"], info, currency),
        "children_target": render(sums["target"], info, currency),
        "difference": render_signed(parent["target"] - sums["target"], info, currency),
        "floor": render(parent["floor"], info, currency),
        "children_floor": render(sums["floor"], info, currency),
        "stretch": render(parent["stretch"], info, currency),
        "children_stretch": render(sums["stretch"], info, currency),
        "balanced": bool(kids) and all(parent[k] == sums[k] for k in sums),
        # The sums are the parent's split; a manager is not shown the goal of a rep placed in
        # another team since (it adds to the sums, as it did when split).
        "children": [
            _out(c, kid_revisions[c.id])
            for c in _shown(kids, await _hidden_reps(scoring, user, kids))
        ],
    }


def render_signed(value: Decimal, info: MetricInfo, currency: str | None) -> int | str:
    if value >= 0:
        return render(value, info, currency)
    shown = render(-value, info, currency)
    return -shown if isinstance(shown, int) else f"-{shown}"


# --------------------------------------------------------------------------- progress


async def progress(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID,
    at: date | None,
) -> dict[str, Any]:  # fmt: skip
    goal = await _readable(session, user, scoring, goal_id)
    revision = await session.get(Revision, (goal.id, goal.revision))
    assert revision is not None
    row = await repository.get_calendar(session, user.org)
    today = at or _today(_calendar(row)[1])
    report = await _report_to_date(scoring, user, revision.body, today)
    return await _progress(session, user, goal, revision, row, today, report)


PROGRESS_CONCURRENCY = 8  # scoring questions in flight for one `GET /v1/progress`


async def _report_to_date(
    scoring: GoalsScoring, user: Principal, body: dict[str, Any], today: date
) -> KpiReport | None:
    """Scoring's daily buckets of the goal's metric from its start to `today` (None: it has
    not started), with the weighted pipeline for a revenue goal."""
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    until = min(today, end)
    if until < start:
        return None
    metrics = [body["metric"]]
    if body["metric"] == "revenue_won":
        metrics.append("weighted_pipeline")
    return await scoring.kpis(
        user.org, owner=body["owner"], period="day", first=start, last=until, metrics=metrics,
        product_line=body.get("product_line"), tier=body.get("tier"),
        channel=body.get("channel"), currency=body.get("currency"),
    )  # fmt: skip


async def _progress(
    session: AsyncSession, user: Principal, goal: Goal, revision: Revision,
    row: CalendarRow | None, today: date, report: KpiReport | None,
) -> dict[str, Any]:  # fmt: skip
    """The goal judged on `today` against scoring's `report` of it (`_report_to_date`)."""
    body = revision.body
    info = metric_info(body["metric"])
    currency = body.get("currency")
    calendar, _ = _calendar(row)
    span = Span(date.fromisoformat(body["start"]), date.fromisoformat(body["end"]))
    actual = Decimal(0)
    pipeline: Decimal | None = None
    if report is not None:
        actual = _total(report, body["metric"], info)
        if body["metric"] == "revenue_won" and report.buckets:
            pipeline = Decimal(str(report.buckets[-1].metrics["weighted_pipeline"].value or 0))
    # Expected-to-date follows the decomposition's own shape when the goal has time children.
    kids = await repository.children(session, user.org, goal.id)
    decomposition = body.get("decomposition") or {}
    if kids and decomposition.get("by") == "time":
        kid_revisions = await repository.bodies(session, kids)
        spans = [Span(date.fromisoformat(kid_revisions[k.id].body["start"]),
                      date.fromisoformat(kid_revisions[k.id].body["end"])) for k in kids]  # fmt: skip
        weights = [Decimal(kid_revisions[k.id].body["target"]) for k in kids]
        shape = f"its {decomposition.get('into')} goals ({decomposition.get('strategy')})"
    else:
        spans, weights = [span], [Decimal(1)]
        shape = "working days of the org calendar"
    if not any(weights):
        spans, weights = [span], [Decimal(1)]
    expected = expected_fraction(spans, weights, today, calendar)
    elapsed = expected_fraction([span], [Decimal(1)], today, calendar)
    target, floor, stretch = (Decimal(body[k]) for k in ("target", "floor", "stretch"))
    if info.additive:
        result = pace.progress(
            target=target, floor=floor, stretch=stretch, actual=actual,
            expected_fraction=expected, elapsed_fraction=elapsed, weighted_pipeline=pipeline,
            period_over=today > span.end,
        )  # fmt: skip
    else:
        result = pace.level(target=target, floor=floor, stretch=stretch, actual=actual,
                            lower_is_better=info.unit == "days")  # fmt: skip
        shape = "its level (a rate or an average is not paced)"
    places = exponent(info, currency)

    def show(value: Decimal | None) -> int | str | None:
        if value is None:
            return None
        q = Decimal(1).scaleb(-places)
        rounded = value.quantize(q)
        return int(rounded) if info.unit == "count" else format(rounded, "f")

    def pct(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
        "goal": _out(goal, revision), "at": today.isoformat(), "actual": show(actual),
        "attainment_pct": pct(result.attainment_pct), "floor_pct": pct(result.floor_pct),
        "stretch_pct": pct(result.stretch_pct),
        "expected_to_date": show(result.expected_to_date),
        "gap": format(result.gap.quantize(Decimal(1).scaleb(-places)), "f"),
        "projected_run_rate": show(result.projected_run_rate),
        "projected_with_pipeline": show(result.projected_with_pipeline),
        "status": result.status, "rule": result.rule,
        "next_checkpoint": (c.isoformat() if (c := checkpoints(span, today)) else None),
        "shape": shape,
    }  # fmt: skip


def _total(report: Any, metric: str, info: MetricInfo) -> Decimal:
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


async def progress_list(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, *, owner: str | None,
    period: PeriodKind | None, at: date | None,
) -> dict[str, Any]:  # fmt: skip
    page = await list_goals(session, user, scoring, owner=owner, metric=None, period=period,
                            start_from=None, start_to=None, parent_id=None,
                            include_archived=False, cursor=None, limit=200)  # fmt: skip
    row = await repository.get_calendar(session, user.org)
    _, tz = _calendar(row)
    today = at or _today(tz)
    goals: list[tuple[Goal, Revision]] = []
    for item in page["items"]:
        if not date.fromisoformat(item["start"]) <= today <= date.fromisoformat(item["end"]):
            continue  # only the goals whose period holds the day
        goal = await repository.get_goal(session, user.org, uuid.UUID(item["id"]))
        assert goal is not None
        revision = await session.get(Revision, (goal.id, goal.revision))
        assert revision is not None
        goals.append((goal, revision))
    # Scoring's answers are asked for together (a few at a time): one after another, a list
    # of goals waited for each round trip in turn.
    gate = asyncio.Semaphore(PROGRESS_CONCURRENCY)

    async def actuals(revision: Revision) -> KpiReport | None:
        async with gate:
            return await _report_to_date(scoring, user, revision.body, today)

    reports = await asyncio.gather(*(actuals(revision) for _, revision in goals))
    return {
        "items": [
            await _progress(session, user, goal, revision, row, today, report)
            for (goal, revision), report in zip(goals, reports, strict=True)
        ]
    }


async def progress_alerts(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, *, owner: str | None,
    at: date | None,
) -> dict[str, Any]:  # fmt: skip
    """The owner's current goals as `progress_list` judges them, read by `alerts.leading_behind`:
    every number in an alert is the one its goal's progress shows."""
    if owner is not None:
        who = parse_owner(owner, "owner", "query")
        # A manager may name any rep: only the team's reps' goals are listed for them anyway.
        team = who.id if who.kind == "team" else (user.team if who.kind == "rep" else None)
        if not can_read(user, who, team):
            raise Forbidden("You may see the alerts of yourself (rep) or your team (manager).")
    today = at or _today(_calendar(await repository.get_calendar(session, user.org))[1])
    listed = await progress_list(session, user, scoring, owner=owner, period=None, at=today)
    judged = {p["goal"]["id"]: p for p in listed["items"]}
    found = alerts.leading_behind(_paced(p) for p in judged.values())

    def side(paced: alerts.Paced) -> dict[str, Any]:
        p = judged[paced.goal_id]
        goal = p["goal"]
        return {
            "goal_id": goal["id"], "metric": goal["metric"], "unit": goal["unit"],
            "period": goal["period"], "start": goal["start"], "end": goal["end"],
            "currency": goal["currency"], "product_line": goal["product_line"],
            "tier": goal["tier"], "channel": goal["channel"], "status": p["status"],
            "actual": p["actual"], "expected_to_date": p["expected_to_date"],
            "target": goal["target"], "attainment_pct": p["attainment_pct"], "rule": p["rule"],
        }  # fmt: skip

    return {
        "owner": owner, "at": today.isoformat(),
        "items": [
            {"kind": a.kind, "owner": a.owner, "leading": side(a.leading),
             "lagging": side(a.lagging), "message": a.message}
            for a in found
        ],
    }  # fmt: skip


def _paced(judged: dict[str, Any]) -> alerts.Paced:
    goal = judged["goal"]
    return alerts.Paced(
        goal_id=goal["id"], owner=goal["owner"], metric=goal["metric"], period=goal["period"],
        start=date.fromisoformat(goal["start"]), end=date.fromisoformat(goal["end"]),
        status=judged["status"], actual=judged["actual"],
        expected_to_date=judged["expected_to_date"], product_line=goal["product_line"],
        tier=goal["tier"], channel=goal["channel"],
    )  # fmt: skip


# --------------------------------------------------------------------------- funnel plan


async def funnel_plan(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, data: FunnelPlanIn
) -> dict[str, Any]:
    owner = parse_owner(data.owner)
    if not can_read(
        user,
        owner,
        owner.id if owner.kind == "team" else (user.team if user.role is Role.MANAGER else None),
    ):
        raise Forbidden("You may plan for yourself (rep) or your team (manager).")
    if owner.kind == "rep" and not may_see_rep(user, await scoring.rep_team(user.org, owner.id)):
        raise _other_team("owner", [owner.id])
    if data.end < data.start:
        raise _invalid("end", "must not be before `start`")
    metric = "revenue_won" if data.goal == "revenue" else "new_customers"
    info = metric_info(metric)
    _needs_currency(info, data.currency)
    target = parse_value(data.target, "target", info, data.currency)
    try:
        challenge = Decimal(str(data.challenge))
    except ArithmeticError as exc:
        raise _invalid("challenge", "is not a number") from exc
    if not challenge.is_finite() or not Decimal("0.1") <= challenge <= Decimal(10):
        raise _invalid("challenge", "must be between 0.1 and 10")
    if data.start <= FIRST_DAY:
        raise _invalid("start", f"must leave days to look back on after {FIRST_DAY}")
    lookback_end = data.start - timedelta(days=1)
    lookback_start = max(FIRST_DAY, data.start - timedelta(days=data.lookback_days))
    names = ["revenue_won", "deals_won", "deals_lost", "deals_opened", "opportunities",
             "new_leads", "visits", "calls", "new_customers"]  # fmt: skip
    report = await scoring.kpis(user.org, owner=str(owner), period="day", first=lookback_start,
                                last=lookback_end, metrics=names, currency=data.currency)  # fmt: skip
    sums: dict[str, Decimal] = {}
    for name in names:
        sums[name] = sum((Decimal(str(b.metrics[name].value or 0)) for b in report.buckets),
                         Decimal(0))  # fmt: skip
    rates = plan.rates_from_kpis(sums)
    overrides = {k: _weight(v, f"rates.{k}") for k, v in data.rates.items()}
    try:
        rates = plan.apply_overrides(rates, overrides)
    except plan.InvalidPlanInput as exc:
        raise _invalid(f"rates.{exc.field}", exc.message) from exc
    row = await repository.get_calendar(session, user.org)
    calendar, _ = _calendar(row)
    span = Span(data.start, data.end)
    working = calendar.working_days(span)
    weeks = Decimal(span.days) / Decimal(7)
    result = plan.funnel_plan(data.goal, target, rates, challenge=challenge, weeks=weeks,
                              working_days=working)  # fmt: skip
    return {
        "owner": str(owner), "goal": data.goal, "target": render(target, info, data.currency),
        "currency": data.currency, "start": data.start.isoformat(), "end": data.end.isoformat(),
        "weeks": float(round(weeks, 2)), "working_days": working,
        "lookback": {"from": lookback_start.isoformat(), "to": lookback_end.isoformat(),
                     "totals": {k: format(v, "f") for k, v in sums.items()}},
        **plan.to_json(result),
    }  # fmt: skip
