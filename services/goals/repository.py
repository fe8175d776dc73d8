"""Every query of the goals service (SQLAlchemy 2, async session owned by the request)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    Cast,
    DateTime,
    Select,
    Text,
    any_,
    cast,
    func,
    literal,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from .models import (
    Calendar,
    ChannelCost,
    Goal,
    IncentivePayout,
    IncentivePlan,
    IncentivePlanVersion,
    Revision,
    RosterRep,
    RosterTeam,
)


async def ping(conn: AsyncConnection) -> None:
    """The readiness check's round trip to the database."""
    await conn.execute(text("SELECT 1"))


async def get_goal(session: AsyncSession, org_id: str, goal_id: uuid.UUID) -> Goal | None:
    goal = await session.get(Goal, goal_id)
    return goal if goal is not None and goal.org_id == org_id else None


async def lock_goal(session: AsyncSession, org_id: str, goal_id: uuid.UUID) -> Goal | None:
    """The goal, locked until the transaction ends (changes to one goal go one at a time)."""
    result = await session.execute(
        select(Goal).where(Goal.id == goal_id, Goal.org_id == org_id).with_for_update()
    )
    return result.scalar_one_or_none()


async def current_revision(session: AsyncSession, goal: Goal) -> Revision:
    revision = await session.get(Revision, (goal.id, goal.revision))
    assert revision is not None  # a goal's current revision always exists
    return revision


async def add_goal(session: AsyncSession, goal: Goal, revision: Revision) -> None:
    """Store a new goal with its first revision (their server defaults read back)."""
    session.add(goal)
    session.add(revision)
    await session.flush()
    await session.refresh(goal)
    await session.refresh(revision)


async def add_revision(session: AsyncSession, revision: Revision) -> None:
    session.add(revision)
    await session.flush()
    await session.refresh(revision)


async def _with_current(session: AsyncSession, query: Select[Any]) -> list[tuple[Goal, Revision]]:
    """`query`'s goals, each with its current revision (one query)."""
    result = await session.execute(
        query.add_columns(Revision).join(
            Revision, (Revision.goal_id == Goal.id) & (Revision.revision == Goal.revision)
        )
    )
    return [(goal, revision) for goal, revision in result.all()]


def _narrowed(
    query: Select[Any],
    owner: tuple[str, str] | None,
    period_kind: str | None,
    team: str | None,
    rep: str | None,
) -> Select[Any]:
    """`query` kept to an owner's goals, a period kind, a manager's team or a rep's own."""
    if owner is not None:
        query = query.where(Goal.owner_kind == owner[0], Goal.owner_id == owner[1])
    if period_kind is not None:
        query = query.where(Goal.period_kind == period_kind)
    if team is not None:
        query = query.where(Goal.team_id == team)
    if rep is not None:
        query = query.where(Goal.owner_kind == "rep", Goal.owner_id == rep)
    return query


async def list_goals(
    session: AsyncSession,
    org_id: str,
    *,
    owner: tuple[str, str] | None,
    metric: str | None,
    period_kind: str | None,
    start_from: date | None,
    start_to: date | None,
    team: str | None,
    rep: str | None,
    parent_id: uuid.UUID | None,
    include_archived: bool,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[tuple[Goal, Revision]]:
    """A page of goals in period order, each with its current revision (one query)."""
    query = _narrowed(select(Goal).where(Goal.org_id == org_id), owner, period_kind, team, rep)
    if metric is not None:
        query = query.where(Goal.metric == metric)
    if start_from is not None:
        query = query.where(Goal.period_start >= start_from)
    if start_to is not None:
        query = query.where(Goal.period_start <= start_to)
    if parent_id is not None:
        query = query.where(Goal.parent_id == parent_id)
    if not include_archived:
        query = query.where(Goal.archived.is_(False))
    if after is not None:
        query = query.where(tuple_(Goal.period_start, Goal.id) > tuple_(*after))
    query = query.order_by(Goal.period_start, Goal.id).limit(limit)
    return await _with_current(session, query)


async def current_goals(
    session: AsyncSession,
    org_id: str,
    *,
    owner: tuple[str, str] | None,
    period_kind: str | None,
    team: str | None,
    rep: str | None,
    day: date,
    longest_days: int,
) -> list[tuple[Goal, Revision]]:
    """The goals not archived that may hold `day` (starting at most `longest_days` before it),
    in period order, each with its current revision (one query; the caller checks each
    period's end)."""
    query = select(Goal).where(
        Goal.org_id == org_id,
        Goal.archived.is_(False),
        Goal.period_start <= day,
        Goal.period_start > day - timedelta(days=longest_days),
    )
    query = _narrowed(query, owner, period_kind, team, rep).order_by(Goal.period_start, Goal.id)
    return await _with_current(session, query)


async def children(
    session: AsyncSession, org_id: str, parent_id: uuid.UUID
) -> list[tuple[Goal, Revision]]:
    """A goal's children not archived, in period order, each with its current revision."""
    query = (
        select(Goal)
        .where(Goal.org_id == org_id, Goal.parent_id == parent_id, Goal.archived.is_(False))
        .order_by(Goal.period_start, Goal.id)
    )
    return await _with_current(session, query)


async def revisions(session: AsyncSession, goal_id: uuid.UUID) -> list[Revision]:
    result = await session.execute(
        select(Revision).where(Revision.goal_id == goal_id).order_by(Revision.revision)
    )
    return list(result.scalars())


async def revisions_as_of(
    session: AsyncSession, goal_ids: Sequence[uuid.UUID], until: datetime
) -> dict[uuid.UUID, Revision]:
    """Each goal's revision in force at `until` (the last one written before it); a goal with
    none (set after `until`) is left out."""
    if not goal_ids:
        return {}
    query = (
        select(Revision)
        .where(
            Revision.goal_id.in_(list(goal_ids)),
            Revision.changed_at < literal(until, DateTime(timezone=True)),
        )
        .ext(distinct_on(Revision.goal_id))
        .order_by(Revision.goal_id, Revision.revision.desc())
    )
    return {r.goal_id: r for r in (await session.execute(query)).scalars()}


async def get_calendar(session: AsyncSession, org_id: str) -> Calendar | None:
    return await session.get(Calendar, org_id)


async def put_calendar(session: AsyncSession, calendar: Calendar) -> Calendar:
    merged = await session.merge(calendar)
    await session.flush()
    return merged


# --------------------------------------------------------------------------- the roster


async def lock_roster(session: AsyncSession, org_id: str) -> None:
    """Writes to an org's roster go one at a time (until the transaction ends): each decides
    what is new against what the one before stored."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"goals.roster:{org_id}"},
    )


def _texts(values: list[str]) -> Cast[Sequence[str]]:
    """A list bound as one text[] parameter (an import names up to 10,000 reps)."""
    return cast(values, ARRAY(Text))


async def rep_entries(session: AsyncSession, org_id: str, reps: list[str]) -> list[RosterRep]:
    """Every entry of these reps, oldest first (by day, then by record)."""
    result = await session.execute(
        select(RosterRep)
        .where(RosterRep.org_id == org_id, RosterRep.rep_id == any_(_texts(reps)))
        .order_by(RosterRep.rep_id, RosterRep.effective_from, RosterRep.recorded_at, RosterRep.id)
    )
    return list(result.scalars())


async def team_entries(session: AsyncSession, org_id: str, teams: list[str]) -> list[RosterTeam]:
    """Every entry of these teams, oldest first (by day, then by record)."""
    result = await session.execute(
        select(RosterTeam)
        .where(RosterTeam.org_id == org_id, RosterTeam.team_id == any_(_texts(teams)))
        .order_by(
            RosterTeam.team_id, RosterTeam.effective_from, RosterTeam.recorded_at, RosterTeam.id
        )
    )
    return list(result.scalars())


async def add_roster_entries(
    session: AsyncSession, entries: list[RosterRep] | list[RosterTeam]
) -> None:
    """Append entries (in one statement a batch)."""
    session.add_all(entries)
    await session.flush()


async def add_roster_entry(session: AsyncSession, entry: RosterRep | RosterTeam) -> None:
    """Append one entry (its id and `recorded_at` read back)."""
    session.add(entry)
    await session.flush()
    await session.refresh(entry)


async def reps_on(
    session: AsyncSession,
    org_id: str,
    day: date,
    *,
    team: str | None,
    status: str | None,
    rep: str | None,
    after: str | None,
    limit: int,
) -> list[RosterRep]:
    """Each rep's entry in force on `day` (the latest effective by then, the latest recorded
    of that day), in rep order, kept to a team, a status, one rep; after the rep `after`."""
    inner = select(RosterRep).where(RosterRep.org_id == org_id, RosterRep.effective_from <= day)
    if rep is not None:
        inner = inner.where(RosterRep.rep_id == rep)
    if team is not None:  # only reps with an entry in the team by then can be in it then
        ever = select(RosterRep.rep_id).where(
            RosterRep.org_id == org_id, RosterRep.team_id == team, RosterRep.effective_from <= day
        )
        inner = inner.where(RosterRep.rep_id.in_(ever))
    if after is not None:
        inner = inner.where(RosterRep.rep_id > after)
    state = (
        inner.ext(distinct_on(RosterRep.rep_id))
        .order_by(
            RosterRep.rep_id,
            RosterRep.effective_from.desc(),
            RosterRep.recorded_at.desc(),
            RosterRep.id.desc(),
        )
        .subquery()
    )
    held = aliased(RosterRep, state)
    query = select(held)
    if team is not None:
        query = query.where(held.team_id == team)
    if status is not None:
        query = query.where(held.status == status)
    result = await session.execute(query.order_by(held.rep_id).limit(limit))
    return list(result.scalars())


async def teams_on(
    session: AsyncSession,
    org_id: str,
    day: date,
    *,
    status: str | None,
    team: str | None,
    after: str | None,
    limit: int,
) -> list[RosterTeam]:
    """Each team's entry in force on `day`, in team order, kept to a status and one team."""
    inner = select(RosterTeam).where(RosterTeam.org_id == org_id, RosterTeam.effective_from <= day)
    if team is not None:
        inner = inner.where(RosterTeam.team_id == team)
    if after is not None:
        inner = inner.where(RosterTeam.team_id > after)
    state = (
        inner.ext(distinct_on(RosterTeam.team_id))
        .order_by(
            RosterTeam.team_id,
            RosterTeam.effective_from.desc(),
            RosterTeam.recorded_at.desc(),
            RosterTeam.id.desc(),
        )
        .subquery()
    )
    held = aliased(RosterTeam, state)
    query = select(held)
    if status is not None:
        query = query.where(held.status == status)
    result = await session.execute(query.order_by(held.team_id).limit(limit))
    return list(result.scalars())


async def roster_version(session: AsyncSession, org_id: str) -> int:
    """The ids of the org's latest rep and team entries, added (0: none): entries are only
    ever added, so it grows with every one; what a copy of the roster is as of."""
    reps = select(func.coalesce(func.max(RosterRep.id), 0)).where(RosterRep.org_id == org_id)
    teams = select(func.coalesce(func.max(RosterTeam.id), 0)).where(RosterTeam.org_id == org_id)
    latest = await session.scalar(select(reps.scalar_subquery() + teams.scalar_subquery()))
    return int(latest or 0)


async def all_team_entries(session: AsyncSession, org_id: str) -> list[RosterTeam]:
    """Every entry of every team of the org, by team, oldest first."""
    result = await session.execute(
        select(RosterTeam)
        .where(RosterTeam.org_id == org_id)
        .order_by(
            RosterTeam.team_id, RosterTeam.effective_from, RosterTeam.recorded_at, RosterTeam.id
        )
    )
    return list(result.scalars())


async def rep_entries_after(
    session: AsyncSession, org_id: str, after: str | None, reps: int
) -> list[RosterRep]:
    """Every entry of the first `reps` reps (in rep order) after the rep `after`, oldest first."""
    chosen = select(RosterRep.rep_id).where(RosterRep.org_id == org_id).distinct()
    if after is not None:
        chosen = chosen.where(RosterRep.rep_id > after)
    chosen = chosen.order_by(RosterRep.rep_id).limit(reps)
    result = await session.execute(
        select(RosterRep)
        .where(RosterRep.org_id == org_id, RosterRep.rep_id.in_(chosen.scalar_subquery()))
        .order_by(RosterRep.rep_id, RosterRep.effective_from, RosterRep.recorded_at, RosterRep.id)
    )
    return list(result.scalars())


# --------------------------------------------------------------------------- channel costs


async def put_channel_costs(
    session: AsyncSession, org_id: str, recorded_by: str, costs: list[tuple[str, date, Any, str]]
) -> list[ChannelCost]:
    """Store (channel, month, amount, currency) rows, each replacing the org's amount of that
    channel and month (one statement); the rows as stored, by month then channel."""
    statement = pg_insert(ChannelCost).values(
        [
            {
                "org_id": org_id,
                "channel": channel,
                "month": month,
                "amount": amount,
                "currency": currency,
                "recorded_by": recorded_by,
            }
            for channel, month, amount, currency in costs
        ]
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[ChannelCost.org_id, ChannelCost.channel, ChannelCost.month],
        set_={
            "amount": statement.excluded.amount,
            "currency": statement.excluded.currency,
            "recorded_by": statement.excluded.recorded_by,
            "recorded_at": func.now(),
        },
    ).returning(ChannelCost)
    result = await session.execute(
        select(ChannelCost).from_statement(upsert).execution_options(populate_existing=True)
    )
    return sorted(result.scalars(), key=lambda c: (c.month, c.channel))


async def channel_costs(
    session: AsyncSession, org_id: str, first: date | None, last: date | None
) -> list[ChannelCost]:
    """The org's costs of the months `first`..`last` (first days; None: unbounded), by month
    then channel."""
    query = select(ChannelCost).where(ChannelCost.org_id == org_id)
    if first is not None:
        query = query.where(ChannelCost.month >= first)
    if last is not None:
        query = query.where(ChannelCost.month <= last)
    result = await session.execute(query.order_by(ChannelCost.month, ChannelCost.channel))
    return list(result.scalars())


async def add_plan(
    session: AsyncSession, org_id: str, plan_id: uuid.UUID, created_by: str
) -> IncentivePlan:
    """A new plan's index row, not stored before its first version (`add_plan_version`, which
    numbers it 1 and stores both: the table holds no plan at version 0)."""
    plan = IncentivePlan(id=plan_id, org_id=org_id, version=0, created_by=created_by)
    session.add(plan)
    return plan


async def get_plan(
    session: AsyncSession, org_id: str, plan_id: uuid.UUID, *, lock: bool = False
) -> IncentivePlan | None:
    """The org's plan (None: no such plan in the org); `lock`: held until the transaction ends,
    so two new versions of one plan are numbered one after the other."""
    query = select(IncentivePlan).where(IncentivePlan.id == plan_id, IncentivePlan.org_id == org_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def add_plan_version(
    session: AsyncSession,
    plan: IncentivePlan,
    *,
    effective_from: date,
    body: dict[str, Any],
    reason: str | None,
    created_by: str,
) -> IncentivePlanVersion:
    """The plan's next version (the plan row locked by the caller: `get_plan(lock=True)`)."""
    plan.version += 1
    version = IncentivePlanVersion(
        plan_id=plan.id,
        version=plan.version,
        org_id=plan.org_id,
        effective_from=effective_from,
        body=body,
        reason=reason,
        created_by=created_by,
    )
    session.add(version)
    await session.flush()
    await session.refresh(version, ["created_at"])
    return version


async def plan_versions(
    session: AsyncSession, org_id: str, plan_ids: Sequence[uuid.UUID] | None = None
) -> list[IncentivePlanVersion]:
    """Every version of the org's plans (of `plan_ids` only, when given), by plan then version.
    Plans are few and small: statements read them all and decide in incentive_math."""
    query = select(IncentivePlanVersion).where(IncentivePlanVersion.org_id == org_id)
    if plan_ids is not None:
        query = query.where(IncentivePlanVersion.plan_id.in_(list(plan_ids)))
    result = await session.execute(
        query.order_by(IncentivePlanVersion.plan_id, IncentivePlanVersion.version)
    )
    return list(result.scalars())


async def list_plans(
    session: AsyncSession, org_id: str, *, after: uuid.UUID | None, limit: int
) -> list[IncentivePlan]:
    """The org's plans by id, after the cursor's id, at most `limit`."""
    query = select(IncentivePlan).where(IncentivePlan.org_id == org_id)
    if after is not None:
        query = query.where(IncentivePlan.id > after)
    result = await session.execute(query.order_by(IncentivePlan.id).limit(limit))
    return list(result.scalars())


# --------------------------------------------------------------------------- incentive payouts

PAYOUT_ROWS = 1_000  # rows per INSERT of payouts (asyncpg: at most 32,767 parameters)


async def lock_payouts(session: AsyncSession, org_id: str) -> None:
    """Payout runs of an org go one at a time (until the transaction ends): each pays what the
    one before left to pay."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"goals.payouts:{org_id}"},
    )


async def rep_payouts(session: AsyncSession, org_id: str, rep_id: str) -> list[IncentivePayout]:
    """Every payout of a rep (every plan, every period), oldest first: statements read what was
    paid about earlier periods from them (true-ups)."""
    result = await session.execute(
        select(IncentivePayout)
        .where(IncentivePayout.org_id == org_id, IncentivePayout.rep_id == rep_id)
        .order_by(IncentivePayout.period_start, IncentivePayout.paid_at, IncentivePayout.plan_id)
    )
    return list(result.scalars())


async def add_payouts(session: AsyncSession, rows: list[dict[str, Any]]) -> list[IncentivePayout]:
    """Store payouts; a (rep, plan, period) already stored is left as it is (not returned): a
    payout run is idempotent, and two runs at once pay each section once."""
    stored: list[IncentivePayout] = []
    # asyncpg binds at most 32,767 parameters per statement: 1,000 rows (9 columns) at a time.
    for at in range(0, len(rows), PAYOUT_ROWS):
        statement = (
            pg_insert(IncentivePayout)
            .values(rows[at : at + PAYOUT_ROWS])
            .on_conflict_do_nothing(index_elements=["org_id", "rep_id", "plan_id", "period_start"])
            .returning(IncentivePayout)
        )
        result = await session.execute(statement)
        stored += result.scalars()
    return stored


async def payout_reps(
    session: AsyncSession, org_id: str, since: date, before: date
) -> list[tuple[str, uuid.UUID]]:
    """Each (rep, plan) with a payout of a period starting from `since` to before `before`."""
    result = await session.execute(
        select(IncentivePayout.rep_id, IncentivePayout.plan_id)
        .where(
            IncentivePayout.org_id == org_id,
            IncentivePayout.period_start >= since,
            IncentivePayout.period_start < before,
        )
        .distinct()
        .order_by(IncentivePayout.rep_id, IncentivePayout.plan_id)
    )
    return [(rep, plan) for rep, plan in result.all()]


async def period_payouts(
    session: AsyncSession,
    org_id: str,
    period_start: date,
    *,
    kind: str | None = None,
    rep: str | None = None,
    after: tuple[str, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[IncentivePayout]:
    """The org's payouts of the periods starting `period_start` (of plans of `kind`, month or
    quarter, when given; of `rep` only), by rep then plan, after `after` (rep, plan), at most
    `limit`."""
    query = select(IncentivePayout).where(
        IncentivePayout.org_id == org_id, IncentivePayout.period_start == period_start
    )
    if kind is not None:
        query = query.join(
            IncentivePlanVersion,
            (IncentivePlanVersion.plan_id == IncentivePayout.plan_id)
            & (IncentivePlanVersion.version == IncentivePayout.version),
        ).where(IncentivePlanVersion.body["period"].astext == kind)
    if rep is not None:
        query = query.where(IncentivePayout.rep_id == rep)
    if after is not None:
        query = query.where(tuple_(IncentivePayout.rep_id, IncentivePayout.plan_id) > after)
    query = query.order_by(IncentivePayout.rep_id, IncentivePayout.plan_id)
    if limit is not None:
        query = query.limit(limit)
    result = await session.execute(query)
    return list(result.scalars())
