"""Goals themselves: set, read, list, change (a new revision each time) and their history.
Each use case loads through the repository, decides with the domain, persists (flush, never
commit: the request owns the transaction)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.pagination import bad_cursor, decode_keyset, encode_keyset

from . import repository
from .calendar import PeriodKind
from .domain import (
    Owner,
    bounds,
    changed_fields,
    check_currency,
    check_write,
    goal_period,
    listed_for,
    may_see_rep,
    metric_info,
    parse_owner,
    parse_value,
    team_of,
)
from .exceptions import (
    NotYourTeamsGoal,
    RepOfAnotherTeam,
    RevisionConflict,
)
from .models import Goal, Revision
from .placement import leads, rep_team
from .schemas import GoalIn, GoalOut, GoalPage, GoalPatch, RevisionOut, RevisionPage
from .scoring import GoalsScoring
from .spec import GoalSpec, patched
from .views import goal_out
from .visibility import readable, visible


async def _new_spec(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, data: GoalIn
) -> GoalSpec:
    owner = parse_owner(data.owner)
    info = metric_info(data.metric)
    check_currency(info, data.currency)
    span = goal_period(data.period, data.start)
    target = parse_value(data.target, "target", info, data.currency)
    floor, stretch = bounds(target, info, data.currency, data.model_dump())
    team = team_of(user, owner, data.team_id)
    check_write(user, owner, team)
    if not await leads(session, user):  # the roster names another manager of the team today
        raise NotYourTeamsGoal()
    if owner.kind == "rep" and (user.role is Role.MANAGER or data.team_id is None):
        # Where the rep works today (the roster, else their history asked afresh for a write).
        # An admin's rep goal goes to that team unless the admin names one (an admin may do
        # anything in the org).
        placed = await rep_team(session, scoring, user.org, owner.id, fresh=True)
        if not may_see_rep(user, placed):
            raise RepOfAnotherTeam("owner", [owner.id])
        if user.role is Role.ADMIN:
            team = placed
    return GoalSpec(
        owner=owner,
        team_id=team,
        metric=data.metric,
        period=data.period,
        span=span,
        target=target,
        floor=floor,
        stretch=stretch,
        currency=data.currency,
        product_line=data.product_line,
        tier=data.tier.value if data.tier else None,
        channel=data.channel.value if data.channel else None,
        note=data.note,
    )


async def insert(session: AsyncSession, user: Principal, spec: GoalSpec) -> tuple[Goal, Revision]:
    """A new goal at its first revision."""
    body = spec.to_body()
    goal = Goal(
        id=uuid.uuid4(),
        org_id=user.org,
        parent_id=spec.parent_id,
        revision=1,
        owner_kind=spec.owner.kind,
        owner_id=spec.owner.id,
        team_id=spec.team_id,
        metric=spec.metric,
        period_kind=spec.period.value,
        period_start=spec.span.start,
        archived=False,
        created_by=user.sub,
    )
    revision = Revision(
        goal_id=goal.id,
        revision=1,
        org_id=user.org,
        body=body,
        changed=sorted(body),
        reason=None,
        changed_by=user.sub,
    )
    await repository.add_goal(session, goal, revision)
    return goal, revision


async def revise(
    session: AsyncSession,
    user: Principal,
    goal: Goal,
    before: GoalSpec,
    after: GoalSpec,
    reason: str | None,
) -> Revision:
    """The goal's next revision, holding `after`."""
    body = after.to_body()
    goal.revision += 1
    goal.archived = after.archived
    revision = Revision(
        goal_id=goal.id,
        revision=goal.revision,
        org_id=goal.org_id,
        body=body,
        changed=changed_fields(before.to_body(), body),
        reason=reason,
        changed_by=user.sub,
    )
    await repository.add_revision(session, revision)
    return revision


async def create_goal(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, data: GoalIn
) -> GoalOut:
    spec = await _new_spec(session, user, scoring, data)
    goal, revision = await insert(session, user, spec)
    return goal_out(goal, revision, spec)


async def get_goal(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID
) -> GoalOut:
    goal = await readable(session, user, scoring, goal_id)
    return goal_out(goal, await repository.current_revision(session, goal))


async def patch_goal(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    goal_id: uuid.UUID,
    patch: GoalPatch,
) -> GoalOut:
    goal = await readable(session, user, scoring, goal_id, lock=True)
    check_write(user, Owner(goal.owner_kind, goal.owner_id), goal.team_id)
    if patch.expected_revision is not None and patch.expected_revision != goal.revision:
        raise RevisionConflict(
            f"The goal is at revision {goal.revision}, not {patch.expected_revision}: reload it."
        )
    before = GoalSpec.from_body((await repository.current_revision(session, goal)).body)
    after = patched(before, patch.model_dump(exclude_unset=True))
    revision = await revise(session, user, goal, before, after, patch.reason)
    return goal_out(goal, revision, after)


async def list_goals(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    owner: str | None,
    metric: str | None,
    period: PeriodKind | None,
    start_from: date | None,
    start_to: date | None,
    parent_id: uuid.UUID | None,
    include_archived: bool,
    cursor: str | None,
    limit: int,
) -> GoalPage:
    who = parse_owner(owner, "owner", "query") if owner else None
    if metric is not None:
        metric_info(metric, "query")
    team, rep = listed_for(user)
    after = _decode_cursor(cursor, user.org)
    if not await leads(session, user):  # a manager whose team the roster gave another
        return GoalPage(items=[], next=None)
    goals: list[tuple[Goal, Revision]] = []
    while True:  # a manager's page leaves out the goals of reps placed in other teams
        batch = await repository.list_goals(
            session,
            user.org,
            owner=(who.kind, who.id) if who else None,
            metric=metric,
            period_kind=period.value if period else None,
            start_from=start_from,
            start_to=start_to,
            team=team,
            rep=rep,
            parent_id=parent_id,
            include_archived=include_archived,
            after=after,
            limit=limit + 1,
        )
        kept = set(await visible(session, scoring, user, [g for g, _ in batch]))
        goals += [(g, r) for g, r in batch if g in kept]
        if len(batch) <= limit or len(goals) > limit:
            break
        after = (batch[-1][0].period_start, batch[-1][0].id)
    more = len(goals) > limit
    goals = goals[:limit]
    last = goals[-1][0] if goals and more else None
    return GoalPage(
        items=[goal_out(g, r) for g, r in goals], next=_encode_cursor(last) if last else None
    )


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
) -> RevisionPage:
    goal = await readable(session, user, scoring, goal_id)
    return RevisionPage(
        items=[
            RevisionOut(
                revision=r.revision,
                changed=r.changed,
                reason=r.reason,
                changed_by=r.changed_by,
                changed_at=r.changed_at,
                goal=goal_out(goal, r),
            )
            for r in await repository.revisions(session, goal.id)
        ]
    )
