"""Splitting a goal into child goals, and reconciling a goal with its children."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role

from . import repository
from .calendar import Span
from .calendars import org_calendar
from .domain import Owner, check_write, render
from .exceptions import (
    AlreadyDecomposed,
    InvalidField,
    NotDecomposable,
    RefusedField,
    RepOfAnotherTeam,
)
from .goals import insert, revise
from .parts import Split, decomposed, parts, planned
from .placement import rep_teams
from .schemas import Decomposed, DecomposeIn, Reconciliation
from .scoring import GoalsScoring
from .spec import GoalSpec
from .views import goal_out, render_signed
from .visibility import readable, visible


async def actuals(
    scoring: GoalsScoring,
    org: str,
    spec: GoalSpec,
    spans: Sequence[Span],
    *,
    owner: str | None = None,
) -> list[Decimal]:
    """The goal's metric over each span (for `owner`, else the goal's own), from scoring (one
    call)."""
    report = await scoring.kpis(
        org,
        owner=owner or str(spec.owner),
        period="day",  # days: any span sums exactly
        first=spans[0].start,
        last=spans[-1].end,
        metrics=[spec.metric],
        product_line=spec.product_line,
        tier=spec.tier,
        channel=spec.channel,
        currency=spec.currency,
    )
    by_start = {b.start: b.metrics[spec.metric].value for b in report.buckets}
    return [
        sum(
            (Decimal(str(v or 0)) for s, v in by_start.items() if span.start <= s <= span.end),
            Decimal(0),
        )
        for span in spans
    ]


async def _checked_reps(
    session: AsyncSession, scoring: GoalsScoring, user: Principal, split: Split
) -> None:
    """A manager splits a team's goal across reps working in the team today (the roster, else
    their history asked afresh) or nowhere yet."""
    if user.role is not Role.MANAGER:
        return
    placed = await rep_teams(session, scoring, user.org, split.keys, fresh=True)
    elsewhere = [r for r in split.keys if placed[r] not in (None, split.team)]
    if elsewhere:
        raise RepOfAnotherTeam(split.reps_field, elsewhere)


async def _children(
    scoring: GoalsScoring,
    user: Principal,
    goal_id: uuid.UUID,
    spec: GoalSpec,
    request: DecomposeIn,
    session: AsyncSession,
) -> tuple[Split, list[GoalSpec]]:
    try:
        split = planned(spec, request)
        history = actuals_by_rep = None
        if request.by == "rep":
            await _checked_reps(session, scoring, user, split)
            if split.history:
                actuals_by_rep = {
                    rep: (
                        await actuals(scoring, user.org, spec, split.history, owner=f"rep:{rep}")
                    )[0]
                    for rep in split.keys
                }
        elif split.history:
            history = await actuals(scoring, user.org, spec, split.history)
        calendar, _ = await org_calendar(session, user.org)
        return split, parts(goal_id, spec, split, calendar, history, actuals_by_rep)
    except InvalidField as exc:
        raise RefusedField(exc.field, exc.detail) from exc
    except ValueError as exc:
        raise RefusedField("strategy", str(exc)) from exc


async def decompose(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    goal_id: uuid.UUID,
    request: DecomposeIn,
) -> Decomposed:
    goal = await readable(session, user, scoring, goal_id, lock=True)
    check_write(user, Owner(goal.owner_kind, goal.owner_id), goal.team_id)
    before = GoalSpec.from_body((await repository.current_revision(session, goal)).body)
    if not before.info.additive:
        raise NotDecomposable(before.metric)
    spec = before
    if before.decomposition:
        if await repository.children(session, user.org, goal.id):
            raise AlreadyDecomposed("The goal is decomposed already; archive its children first.")
        spec = before.replace(decomposition=None)  # every child archived: it may be split again
    split, kids = await _children(scoring, user, goal.id, spec, request, session)
    created = [(kid, *await insert(session, user, kid)) for kid in kids]
    after = decomposed(spec, split, [g.id for _, g, _ in created])
    revision = await revise(session, user, goal, before, after, f"decomposed by {request.by}")
    return Decomposed(
        parent=goal_out(goal, revision, after),
        children=[goal_out(g, r, kid) for kid, g, r in created],
    )


async def reconcile(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, goal_id: uuid.UUID
) -> Reconciliation:
    goal = await readable(session, user, scoring, goal_id)
    revision = await repository.current_revision(session, goal)
    spec = GoalSpec.from_body(revision.body)
    info, currency = spec.info, spec.currency
    kids = await repository.children(session, user.org, goal.id)
    specs = [GoalSpec.from_body(r.body) for _, r in kids]
    parent = dict(zip(("target", "floor", "stretch"), spec.bounds, strict=True))
    sums = {k: sum((getattr(s, k) for s in specs), Decimal(0)) for k in parent}
    # The sums are the parent's split; a manager is not shown the goal of a rep placed in
    # another team since (it adds to the sums, as it did when split).
    shown = set(await visible(session, scoring, user, [g for g, _ in kids]))
    return Reconciliation(
        goal_id=goal.id,
        target=render(parent["target"], info, currency),
        children_target=render(sums["target"], info, currency),
        difference=render_signed(parent["target"] - sums["target"], info, currency),
        floor=render(parent["floor"], info, currency),
        children_floor=render(sums["floor"], info, currency),
        stretch=render(parent["stretch"], info, currency),
        children_stretch=render(sums["stretch"], info, currency),
        balanced=bool(kids) and all(parent[k] == sums[k] for k in sums),
        children=[goal_out(g, r, s) for (g, r), s in zip(kids, specs, strict=True) if g in shown],
    )
