"""Incentive statements and payouts: what each plan pays a rep for a month or a quarter, as the
log stood at the end of a day, and the payout runs that store it as paid.

- A statement (`GET /v1/incentives/statements`) has one section per plan that applies to the rep
  (`incentive_spec.applies`, with the team the roster places the rep in on the period's last day,
  or on the `as_of` day when that comes first), under the version governing the period: `paid`
  when a payout stored it by `as_of` (served as stored), else `open` (computed now by
  incentive_math from scoring's numbers).
- `as_of` (default today in the org's timezone): scoring is asked as the log stood at the end of
  that day (its `as_of`; today or later: its live projection), and only plan versions and
  payouts recorded by then count, so a statement can be recomputed as of any day. Goals (the
  target and floor of attainment) are read as they stood then (the revision in force).
- The rep's own numbers are asked of scoring with the caller's token (as progress does: scoring's
  rule of who sees what holds). What a rep is compared with (a champion's ranking, the team's
  total and its members' shares of a pool) is asked with goals' service token: a rep may not
  read their team's numbers, yet their bonus depends on them; the statement shows only the
  rep's own line.
- A section is only ever of a plan of the period's kind (a plan's `period` never changes
  across versions): a monthly plan's payout of October is no section of 2026-Q4.
- True-ups outlive a plan: a plan with payouts about the rep within the lookback of the version
  that governed the paid period gets a true-up-only section (when the restatement moved) even
  when it no longer governs or covers the rep in the statement's period (`active: false`, the
  rep moved out of its team).
- Team pools are split among the members eligible (the plan applies to them and the roster
  places them in the team on the day that counts), so their lines add up to the pool; a
  champion bonus goes to the rep ranked first on scoring's board (a first the plan does not
  cover: nobody is paid it).
- A manager reads the statements of a rep in their team while they lead it today (a manager
  the roster has replaced reads none of the team's) and led it on the statement's day, the rep
  being in their team today or on the statement's day (a rep who moved in or out is read by
  either).
- A payout run (`POST /v1/incentives/payouts`, admin) stores every applicable rep's open sections
  of an ended period (the as-of day, default today, on or after its last day: what it stores is
  never changed) in the request's transaction; a section already paid is skipped. The reps are
  those the statement applies plans to: named, every rep the roster places in a named team on
  the period's last day (`left` included: a rep who left during the period is paid for it),
  every rep of the roster for `org`.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.contracts.scoring import METRICS
from shared.errors import InvalidInput
from shared.events import ID_PATTERN
from shared.pagination import bad_cursor, decode_keyset, encode_keyset

from . import repository
from .calendars import org_calendar, today
from .exceptions import (
    NotAStatementOwner,
    NotAStatementPeriod,
    PayoutPeriodNotEnded,
    PayoutsForAdmins,
    PayoutsReadForAdmins,
    StatementOfAnother,
)
from .incentive_math import (
    TRUE_UP,
    UNCOLLECTED_CHAIN,
    GoalBounds,
    Line,
    PlanPeriod,
    Restatement,
    champion_bonus,
    commission,
    governing,
    money,
    parse_period,
    restated_amount,
    spiff,
    team_bonus,
    true_up,
    uncollected,
    uncollected_window,
)
from .incentive_schemas import (
    PayoutIn,
    PayoutOut,
    PayoutPage,
    PayoutRun,
    Statement,
    StatementLine,
    StatementSection,
)
from .incentive_spec import PlanBody, applies
from .models import IncentivePayout, IncentivePlanVersion
from .placement import leads, rep_team, rep_teams
from .progress import total as progress_total
from .scoring import GoalsScoring
from .spec import GoalSpec

PAYOUT_CURSOR = "incentive-payouts"
ORG_REPS = 100_000  # the most reps a payout run of an `org` plan reads from the roster
MAX_LOOKBACK = 12  # the most periods a plan's `clawbacks.lookback_periods` reaches back
FIRST_YEAR, LAST_YEAR = 1970, 2099  # the periods a statement or a payout may be about
_OWNER = re.compile(rf"^rep:({ID_PATTERN})$")
_BEFORE_ANYTHING = "before anything the org recorded"  # scoring's 422 for such an `as_of`


# --------------------------------------------------------------------------- the moment


@dataclass(frozen=True, slots=True)
class Moment:
    """The end of the `as_of` day: what scoring replays up to (None: its live projection) and
    what plan versions and payouts must have been recorded before (None: every one)."""

    day: date
    until: datetime | None


async def moment_of(session: AsyncSession, org: str, as_of: date | None) -> Moment:
    _, tz = await org_calendar(session, org)
    now = today(tz)
    day = as_of or now
    if day >= now:
        return Moment(day, None)
    return Moment(day, datetime.combine(day + timedelta(days=1), time(), tzinfo=tz))


def recorded(moment: Moment, at: datetime) -> bool:
    return moment.until is None or at < moment.until


def period_of(text: str, location: str = "query") -> PlanPeriod:
    try:
        period = parse_period(text)
    except ValueError as exc:
        raise NotAStatementPeriod(str(exc), location) from exc
    if not FIRST_YEAR <= period.start.year <= LAST_YEAR:
        raise NotAStatementPeriod(f"must be from {FIRST_YEAR}-01 to {LAST_YEAR}-12", location)
    return period


def plan_body(version: IncentivePlanVersion) -> PlanBody:
    """A stored version's body as the spec reads it (an `effective_from` kept in it aside)."""
    return PlanBody.model_validate({k: v for k, v in version.body.items() if k != "effective_from"})


# --------------------------------------------------------------------------- scoring's numbers


class Numbers:
    """Scoring's totals and rankings for one statement (or one payout run), each asked once."""

    def __init__(
        self, org: str, caller: GoalsScoring, service: GoalsScoring, moment: Moment
    ) -> None:
        self.org, self.caller, self.service, self.moment = org, caller, service, moment
        self._totals: dict[tuple[Any, ...], Decimal] = {}
        self._rankings: dict[tuple[Any, ...], dict[str, Decimal]] = {}

    async def total(
        self,
        owner: str,
        first: date,
        last: date,
        metric: str,
        currency: str,
        *,
        tier: str | None = None,
        product_line: str | None = None,
        channel: str | None = None,
        peer: bool = False,
    ) -> Decimal:
        """`metric` of `owner` over `first..last` (0 for an empty range); `peer`: asked with
        goals' service token (someone the caller is compared with)."""
        if last < first:
            return Decimal(0)
        key = (owner, first, last, metric, currency, tier, product_line, channel, peer)
        if key in self._totals:
            return self._totals[key]
        client = self.service if peer else self.caller
        try:
            report = await client.kpis(
                self.org,
                owner=owner,
                period="range",
                first=first,
                last=last,
                metrics=[metric],
                tier=tier,
                product_line=product_line,
                channel=channel,
                currency=currency,
                as_of=self.moment.until,
            )
        except InvalidInput as exc:
            # Nothing was recorded by then: the log as it stood held nothing.
            if self.moment.until is None or _BEFORE_ANYTHING not in str(exc):
                raise
            value = Decimal(0)
        else:
            value = progress_total(report, metric, METRICS[metric])
        self._totals[key] = value
        return value

    async def ranking(
        self, metric: str, scope: str, period: PlanPeriod, currency: str
    ) -> dict[str, Decimal]:
        """Each rep of `scope` (`team:ID` or `org`, as scoring's leaderboard places them) and
        their `metric` over the period; as of a past day each is asked again as of then (the
        leaderboard has no `as_of`)."""
        key = (metric, scope, period, currency)
        if key in self._rankings:
            return self._rankings[key]
        board = await self.service.leaderboard(
            self.org,
            metric=metric,
            period=period.kind,
            at=period.start,
            scope=scope,
            currency=currency,
        )
        ranking = {i.rep_id: Decimal(str(i.value or 0)) for i in board.items}
        if self.moment.until is not None:
            for rep in ranking:
                ranking[rep] = await self.total(
                    f"rep:{rep}", period.start, period.end, metric, currency, peer=True
                )
        self._rankings[key] = ranking
        return ranking


# --------------------------------------------------------------------------- sections


@dataclass
class Context:
    session: AsyncSession
    org: str
    numbers: Numbers
    moment: Moment
    versions: dict[uuid.UUID, list[IncentivePlanVersion]]
    # Each plan's kind of period (month, quarter), from any of its versions: it never changes.
    kinds: dict[uuid.UUID, str] = field(default_factory=dict)
    # A payout run reads every payout stored by now, whatever its `as_of`: paid is paid.
    every_payout: bool = False
    bodies: dict[tuple[uuid.UUID, int], PlanBody] = field(default_factory=dict)
    members: dict[tuple[str, date], list[str]] = field(default_factory=dict)

    def body(self, version: IncentivePlanVersion) -> PlanBody:
        key = (version.plan_id, version.version)
        if key not in self.bodies:
            self.bodies[key] = plan_body(version)
        return self.bodies[key]

    def governing(
        self, plan_id: uuid.UUID, period: PlanPeriod
    ) -> tuple[IncentivePlanVersion, PlanBody] | None:
        """The version governing `period` and its body, when it is active and of the period's
        kind."""
        version = governing(self.versions.get(plan_id, []), period.start)
        if version is None:
            return None
        body = self.body(version)
        if not body.active or body.period != period.kind:
            return None
        return version, body

    def governed_by(
        self, plan_id: uuid.UUID, period: PlanPeriod
    ) -> tuple[IncentivePlanVersion, PlanBody] | None:
        """The version governing `period` and its body, active or not."""
        version = governing(self.versions.get(plan_id, []), period.start)
        return None if version is None else (version, self.body(version))


async def load_context(
    session: AsyncSession,
    org: str,
    caller: GoalsScoring,
    service: GoalsScoring,
    as_of: date | None,
) -> Context:
    moment = await moment_of(session, org, as_of)
    versions: dict[uuid.UUID, list[IncentivePlanVersion]] = defaultdict(list)
    kinds: dict[uuid.UUID, str] = {}
    for v in await repository.plan_versions(session, org):
        kinds.setdefault(v.plan_id, str(v.body.get("period")))
        if recorded(moment, v.created_at):
            versions[v.plan_id].append(v)
    return Context(
        session, org, Numbers(org, caller, service, moment), moment, dict(versions), kinds
    )


async def team_members(ctx: Context, team: str, day: date, board: Iterable[str]) -> list[str]:
    """The reps placed in `team` on `day` (the roster's entry in force, `left` included; for a
    rep the roster does not know, their history in scoring), among those on scoring's board of
    the team and those the roster places there, as a statement decides a rep's team."""
    key = (team, day)
    if key not in ctx.members:
        roster = await repository.reps_on(
            ctx.session,
            ctx.org,
            day,
            team=team,
            status=None,
            rep=None,
            after=None,
            limit=ORG_REPS,
        )
        candidates = set(board) | {r.rep_id for r in roster}
        teams = await rep_teams(ctx.session, ctx.numbers.service, ctx.org, candidates, day)
        ctx.members[key] = sorted(r for r, t in teams.items() if t == team)
    return ctx.members[key]


async def goal_bounds(
    ctx: Context, owner: tuple[str, str], metric: str, period: PlanPeriod, currency: str
) -> GoalBounds | None:
    """The owner's goal on `metric` for exactly this period, uncut, in the plan's currency (the
    newest when several), as it stood at the statement's moment: a goal set or changed since
    (a new target, archived) counts as it was then."""
    until = ctx.moment.until
    rows = await repository.list_goals(
        ctx.session,
        ctx.org,
        owner=owner,
        metric=metric,
        period_kind=period.kind,
        start_from=period.start,
        start_to=period.start,
        team=None,
        rep=None,
        parent_id=None,
        include_archived=until is not None,  # archived since, maybe: in force then
        after=None,
        limit=100,
    )
    if until is not None:
        then = await repository.revisions_as_of(ctx.session, [g.id for g, _ in rows], until)
        rows = [(g, then[g.id]) for g, _ in rows if g.id in then]
    found = [
        (goal, spec)
        for goal, revision in rows
        if not (spec := GoalSpec.from_body(revision.body)).archived
        and spec.product_line is None
        and spec.tier is None
        and spec.channel is None
        and spec.currency in (None, currency)
        and (spec.currency is not None or spec.info.unit != "money")
    ]
    if not found:
        return None
    _, spec = max(found, key=lambda f: (f[0].created_at, f[0].id))
    return GoalBounds(spec.target, spec.floor)


async def restated_lines(
    ctx: Context, rep: str, body: PlanBody, period: PlanPeriod
) -> tuple[list[Line], Decimal | None]:
    """The lines a restatement recomputes (commission after cap, spiffs) and the commission's
    value."""
    n, cur, label = ctx.numbers, body.currency, period.label
    lines: list[Line] = []
    value: Decimal | None = None
    if (c := body.commission) is not None:
        value = await n.total(f"rep:{rep}", period.start, period.end, c.metric, cur)
        goal = await goal_bounds(ctx, ("rep", rep), c.metric, period, cur)
        lines += commission(c, value, goal, cur, label)
    for s in body.spiffs:
        units = await n.total(
            f"rep:{rep}",
            period.start,
            period.end,
            s.metric,
            cur,
            tier=s.tier,
            product_line=s.product_line,
            channel=s.channel,
        )
        if units:
            lines.append(spiff(s, units, cur, label))
    return lines, value


async def period_lines(
    ctx: Context,
    rep: str,
    team: str | None,
    plan_id: uuid.UUID,
    body: PlanBody,
    period: PlanPeriod,
    day: date,
) -> list[Line]:
    """Every line the plan pays the rep about the period itself (`day`: the one the rep's
    `team` is read on)."""
    n, cur, label = ctx.numbers, body.currency, period.label
    lines, _ = await restated_lines(ctx, rep, body, period)
    for b in body.champion_bonuses:
        scope = "org" if b.scope == "org" else f"team:{team}" if team else None
        if scope is None:
            continue
        ranking = await n.ranking(b.metric, scope, period, cur)
        if (line := champion_bonus(b, ranking, rep, cur, label)) is not None:
            lines.append(line)
    for t in body.team_bonuses:
        if team is None:
            continue
        team_value = await n.total(
            f"team:{team}", period.start, period.end, t.metric, cur, peer=True
        )
        goal = await goal_bounds(ctx, ("team", team), t.metric, period, cur)
        board = await n.ranking(t.share_by, f"team:{team}", period, cur)
        # The pool is split among the members it pays: covered by the plan, in the team then.
        members = await team_members(ctx, team, day, [*board, rep])
        eligible = [m for m in members if applies(body.applies_to, m, team)]
        shares = {m: board.get(m, Decimal(0)) for m in eligible}
        target = goal.target if goal else None
        if (line := team_bonus(t, team_value, target, shares, rep, cur, label)) is not None:
            lines.append(line)
    if (u := body.clawbacks.uncollected) is not None:
        first, last = uncollected_window(period, u.days, earlier_days(ctx, plan_id, period))
        invoiced = await n.total(f"rep:{rep}", first, last, "invoiced", cur)
        collected = await n.total(f"rep:{rep}", first, period.end, "collected", cur)
        if (line := uncollected(u, invoiced, collected, (first, last), cur, label)) is not None:
            lines.append(line)
    return lines


def earlier_days(ctx: Context, plan_id: uuid.UUID, period: PlanPeriod) -> list[int | None]:
    """The uncollected `days` of the versions governing the periods before `period`, the
    latest first, up to the first without an uncollected rule (None)."""
    days: list[int | None] = []
    for back in range(1, UNCOLLECTED_CHAIN[period.kind] + 1):
        held = ctx.governing(plan_id, period.shifted(-back))
        rule = held[1].clawbacks.uncollected if held is not None else None
        days.append(rule.days if rule is not None else None)
        if rule is None:
            break
    return days


def _then(payouts: Iterable[IncentivePayout], about: str, metric: str | None) -> Decimal | None:
    """The commission value last paid on about `about` (its payout's, or the latest true-up's)."""
    value: Decimal | None = None
    for p in sorted(payouts, key=lambda p: p.paid_at):
        for line in map(Line.from_json, p.lines):
            if (
                line.about == about
                and line.metric == metric
                and line.kind in ("commission", TRUE_UP)
            ):
                value = line.kpi_value
    return value


async def restatement(
    ctx: Context,
    rep: str,
    plan_id: uuid.UUID,
    earlier: PlanPeriod,
    mine: Sequence[IncentivePayout],
    currency: str,
) -> Line | None:
    """The true-up of `earlier` (paid at least once): recomputed under its governing version,
    minus everything paid about it in `mine` (the plan's payouts to the rep)."""
    held = ctx.governing(plan_id, earlier)
    now_lines: list[Line] = []
    value: Decimal | None = None
    metric = None
    if held is not None:
        now_lines, value = await restated_lines(ctx, rep, held[1], earlier)
        metric = held[1].commission.metric if held[1].commission else None
    paid = sum(
        (restated_amount(map(Line.from_json, p.lines), earlier.label) for p in mine),
        Decimal(0),
    )
    amount_now = sum((line.amount for line in now_lines), Decimal(0))
    restated = Restatement(
        earlier.label, amount_now, paid, metric, _then(mine, earlier.label, metric), value
    )
    return true_up(restated, currency)


async def true_ups(
    ctx: Context,
    rep: str,
    plan_id: uuid.UUID,
    body: PlanBody,
    period: PlanPeriod,
    payouts: Sequence[IncentivePayout],
) -> list[Line]:
    """The restatement of each earlier period in the lookback already paid at least once."""
    if not body.clawbacks.restate:
        return []
    mine = [p for p in payouts if p.plan_id == plan_id]
    paid_periods = {p.period_start for p in mine}
    lines: list[Line] = []
    for back in range(body.clawbacks.lookback_periods, 0, -1):
        earlier = period.shifted(-back)
        if earlier.start not in paid_periods:
            continue  # never paid: its own payout pays it
        if (line := await restatement(ctx, rep, plan_id, earlier, mine, body.currency)) is not None:
            lines.append(line)
    return lines


async def orphan_true_ups(
    ctx: Context,
    rep: str,
    plan_id: uuid.UUID,
    period: PlanPeriod,
    payouts: Sequence[IncentivePayout],
) -> list[Line]:
    """The true-ups of a plan that no longer pays the rep for `period` (inactive, or the rep no
    longer covered): each earlier paid period whose governing version restates it and whose
    lookback reaches `period`."""
    mine = [p for p in payouts if p.plan_id == plan_id and p.period_start < period.start]
    lines: list[Line] = []
    for start in sorted({p.period_start for p in mine}):
        earlier = PlanPeriod(period.kind, start)
        held = ctx.governed_by(plan_id, earlier)
        if held is None or not held[1].clawbacks.restate:
            continue
        if start < period.shifted(-held[1].clawbacks.lookback_periods).start:
            continue
        line = await restatement(ctx, rep, plan_id, earlier, mine, held[1].currency)
        if line is not None:
            lines.append(line)
    return lines


def _line_out(line: dict[str, Any]) -> StatementLine:
    return StatementLine.model_validate(line)


def _section(
    plan_id: uuid.UUID,
    version: int,
    name: str,
    currency: str,
    status: str,
    lines: list[dict[str, Any]],
    total: Decimal,
    paid_at: datetime | None = None,
) -> StatementSection:
    return StatementSection(
        plan_id=plan_id,
        version=version,
        name=name,
        currency=currency,
        status=status,
        lines=[_line_out(line) for line in lines],
        total=format(money(total, currency), "f"),
        paid_at=paid_at,
    )


@dataclass
class Computed:
    """A section computed now, with what a payout would store."""

    section: StatementSection
    lines: list[Line]


async def sections(
    ctx: Context, rep: str, period: PlanPeriod
) -> tuple[str | None, list[StatementSection], list[Computed]]:
    """The rep's team on the day that counts, every section of the statement (paid and open, by
    plan id) and the open ones as computed."""
    day = min(period.end, ctx.moment.day)
    team = await rep_team(ctx.session, ctx.numbers.service, ctx.org, rep, day)
    payouts = [
        p
        for p in await repository.rep_payouts(ctx.session, ctx.org, rep)
        if ctx.every_payout or recorded(ctx.moment, p.paid_at)
    ]
    stored = {(p.plan_id, p.period_start): p for p in payouts}
    out: list[StatementSection] = []
    open_: list[Computed] = []
    for plan_id in sorted(set(ctx.versions) | {p.plan_id for p in payouts}):
        if ctx.kinds.get(plan_id) != period.kind:
            continue  # a plan of the other kind: its payouts are about its own periods
        paid = stored.get((plan_id, period.start))
        if paid is not None:
            versions = [v for v in ctx.versions.get(plan_id, []) if v.version == paid.version]
            name = ctx.body(versions[0]).name if versions else ""
            out.append(
                _section(
                    plan_id,
                    paid.version,
                    name,
                    paid.currency,
                    "paid",
                    paid.lines,
                    Decimal(paid.total),
                    paid.paid_at,
                )
            )
            continue
        held = ctx.governing(plan_id, period)
        if held is not None and applies(held[1].applies_to, rep, team):
            version, body = held
            lines = await period_lines(ctx, rep, team, plan_id, body, period, day)
            lines += await true_ups(ctx, rep, plan_id, body, period, payouts)
        else:
            # No longer paying the rep: what it paid before is still restated (true-ups only).
            governed = ctx.governed_by(plan_id, period)
            if governed is None:
                continue
            version, body = governed
            lines = await orphan_true_ups(ctx, rep, plan_id, period, payouts)
            if not lines:
                continue
        total = sum((line.amount for line in lines), Decimal(0))
        section = _section(
            plan_id,
            version.version,
            body.name,
            body.currency,
            "open",
            [line.to_json() for line in lines],
            total,
        )
        out.append(section)
        open_.append(Computed(section, lines))
    return team, out, open_


def totals(items: Iterable[StatementSection]) -> dict[str, str]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for s in items:
        sums[s.currency] += Decimal(s.total)
    return {cur: format(money(amount, cur), "f") for cur, amount in sorted(sums.items())}


# --------------------------------------------------------------------------- statements


def _rep_of(owner: str) -> str:
    if (match := _OWNER.match(owner)) is None:
        raise NotAStatementOwner()
    return match[1]


async def _check_reader(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, rep: str, day: date
) -> None:
    if user.role is Role.REP and user.sub != rep:
        raise StatementOfAnother()
    if user.role is not Role.MANAGER:
        return
    # A manager the roster has replaced sees nothing of the team (as plans and digests decide);
    # the rep is in their team today or on the statement's day.
    if (
        user.team is None
        or not await leads(session, user)
        or not await leads(session, user, day)
        or (
            await rep_team(session, scoring, user.org, rep) != user.team
            and await rep_team(session, scoring, user.org, rep, day) != user.team
        )
    ):
        raise StatementOfAnother()


async def statement(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    service: GoalsScoring,
    *,
    owner: str,
    period: str,
    as_of: date | None,
) -> Statement:
    rep = _rep_of(owner)
    span = period_of(period)
    ctx = await load_context(session, user.org, scoring, service, as_of)
    await _check_reader(session, user, scoring, rep, min(span.end, ctx.moment.day))
    team, items, _ = await sections(ctx, rep, span)
    return Statement(
        owner=f"rep:{rep}",
        period=span.label,
        start=span.start,
        end=span.end,
        as_of=ctx.moment.day,
        team=team,
        sections=items,
        totals=totals(items),
    )


# --------------------------------------------------------------------------- payouts


async def _paid_reps(ctx: Context, period: PlanPeriod) -> list[str]:
    """The reps the plans governing `period` apply to: named, members of the named teams on
    the period's last day (`left` included, as a statement places them), every rep of the
    roster for `org`; and the reps paid before under a plan of the period's kind (true-ups)."""
    reps: set[str] = set()
    for plan_id in ctx.versions:
        held = ctx.governing(plan_id, period)
        if held is None:
            continue
        for owner in held[1].applies_to:
            kind, _, ident = owner.partition(":")
            if kind == "rep":
                reps.add(ident)
                continue
            rows = await repository.reps_on(
                ctx.session,
                ctx.org,
                period.end,
                team=ident if kind == "team" else None,
                status=None,
                rep=None,
                after=None,
                limit=ORG_REPS,
            )
            reps.update(r.rep_id for r in rows)
    # A plan that stopped paying still owes the true-ups of what it paid (orphan_true_ups).
    since = period.shifted(-MAX_LOOKBACK).start
    for rep, plan_id in await repository.payout_reps(ctx.session, ctx.org, since, period.start):
        if ctx.kinds.get(plan_id) == period.kind:
            reps.add(rep)
    return sorted(reps)


def _not_ended(body: PayoutIn, period: PlanPeriod, now: date) -> None:
    """Refuse a period whose last day has not come by the as-of day (and today)."""
    if body.as_of is not None and body.as_of < period.end:
        raise PayoutPeriodNotEnded(period.label, period.end, "as_of")
    if now < period.end:
        raise PayoutPeriodNotEnded(period.label, period.end, "period")


def _payout_out(p: IncentivePayout, period: PlanPeriod, status: str) -> PayoutOut:
    return PayoutOut(
        rep_id=p.rep_id,
        plan_id=p.plan_id,
        version=p.version,
        period=period.label,
        currency=p.currency,
        total=format(money(Decimal(p.total), p.currency), "f"),
        lines=[_line_out(line) for line in p.lines],
        paid_by=p.paid_by,
        paid_at=p.paid_at,
        status=status,
    )


async def run_payouts(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    service: GoalsScoring,
    body: PayoutIn,
) -> tuple[PayoutRun, bool]:
    """Store each rep's open sections of the period as paid; (what was stored and skipped,
    whether anything was stored)."""
    if user.role is not Role.ADMIN:
        raise PayoutsForAdmins()
    period = period_of(body.period, "body")
    _, tz = await org_calendar(session, user.org)
    _not_ended(body, period, today(tz))
    # One run of an org at a time: a run for the next period reads this one's payouts before
    # paying the difference about an earlier period (true-ups), never beside it.
    await repository.lock_payouts(session, user.org)
    ctx = await load_context(session, user.org, scoring, service, body.as_of)
    ctx.every_payout = True
    reps = sorted(set(body.reps)) if body.reps is not None else await _paid_reps(ctx, period)
    rows: list[dict[str, Any]] = []
    skipped: list[PayoutOut] = []
    for rep in reps:
        _, items, open_ = await sections(ctx, rep, period)
        paid = {s.plan_id for s in items if s.status == "paid"}
        for p in await repository.rep_payouts(session, user.org, rep):
            if p.period_start == period.start and p.plan_id in paid:
                skipped.append(_payout_out(p, period, "skipped"))
        for c in open_:
            rows.append(
                {
                    "org_id": user.org,
                    "rep_id": rep,
                    "plan_id": c.section.plan_id,
                    "period_start": period.start,
                    "version": c.section.version,
                    "currency": c.section.currency,
                    "total": Decimal(c.section.total),
                    "lines": [line.to_json() for line in c.lines],
                    "paid_by": user.sub,
                }
            )
    stored = await repository.add_payouts(session, rows)
    done = {(p.rep_id, p.plan_id) for p in stored}
    for row in rows:  # stored by a run at the same time: paid once, by that one
        if (row["rep_id"], row["plan_id"]) not in done:
            for p in await repository.rep_payouts(session, user.org, row["rep_id"]):
                if p.period_start == period.start and p.plan_id == row["plan_id"]:
                    skipped.append(_payout_out(p, period, "skipped"))
    run = PayoutRun(
        period=period.label,
        stored=[_payout_out(p, period, "stored") for p in sorted(stored, key=_order)],
        skipped=sorted(skipped, key=lambda p: (p.rep_id, str(p.plan_id))),
    )
    return run, bool(stored)


def _order(p: IncentivePayout) -> tuple[str, str]:
    return p.rep_id, str(p.plan_id)


async def list_payouts(
    session: AsyncSession,
    user: Principal,
    period: str,
    *,
    rep: str | None = None,
    cursor: str | None = None,
    limit: int = 500,
) -> PayoutPage:
    """What payout runs stored for the period (of `rep` only, when given), by rep then plan,
    `limit` a page."""
    if user.role in (Role.REP, Role.MANAGER):
        raise PayoutsReadForAdmins()
    span = period_of(period)
    after = _payout_cursor(cursor, user.org, span.label)
    rows = await repository.period_payouts(
        session, user.org, span.start, kind=span.kind, rep=rep, after=after, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return PayoutPage(
        period=span.label,
        items=[_payout_out(r, span, "stored") for r in rows],
        next=encode_keyset(
            PAYOUT_CURSOR, [span.label, rows[-1].rep_id, str(rows[-1].plan_id)], user.org
        )
        if more
        else None,
    )


def _payout_cursor(cursor: str | None, org: str, period: str) -> tuple[str, uuid.UUID] | None:
    """A page's `next`, as (rep, plan) after which the next page starts; one of another period
    is refused (422 naming `cursor`)."""
    if not cursor:
        return None
    of, rep, plan = decode_keyset(PAYOUT_CURSOR, cursor, 3, org)
    if of != period:
        raise bad_cursor()
    try:
        return rep, uuid.UUID(plan)
    except ValueError as exc:
        raise bad_cursor() from exc
