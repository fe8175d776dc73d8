"""HTTP routes of the goals service: parse, call one use case, answer."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query

from shared.auth import BearerAuth, CurrentUser, Principal
from shared.dates import Day, IsoDate
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from shared.errors import problem_responses as problems
from shared.owners import OWNER_PATTERN

from . import calendars, decomposition, goals, plans
from . import progress as judged
from .dependencies import ScoringDep
from .schemas import (
    CalendarIO,
    Decomposed,
    DecomposeIn,
    FunnelPlanIn,
    GoalIn,
    GoalOut,
    GoalPage,
    GoalPatch,
    PaceAlertPage,
    PeriodKind,
    ProgressOut,
    ProgressPage,
    Reconciliation,
    RevisionPage,
)

router = APIRouter(prefix="/v1")
OwnerQuery = Annotated[
    str | None,
    Query(description="`rep:ID`, `team:ID` or `org`.", pattern=OWNER_PATTERN),
]
At = Annotated[
    Day | None,
    Query(
        description="The day to judge progress on, 1970-01-01 to 2099-12-31 (default: today "
        "in the org's timezone)."
    ),
]
_READ = problems(Unauthorized, NotFound, InvalidInput, UpstreamUnavailable)  # 503: see scoring.py
_WRITE = problems(Unauthorized, Forbidden, NotFound, InvalidInput, Conflict)
_GOAL_WRITE = _WRITE | problems(UpstreamUnavailable)  # a rep's team is asked of scoring
_SCORED = problems(Unauthorized, Forbidden, NotFound, InvalidInput, UpstreamUnavailable)
_BODY = problems(MalformedRequest, UnsupportedMediaType)  # a JSON body that is not one
WriterUser = Annotated[Principal, Depends(BearerAuth(write=True))]
"""The caller of a route that stores something: platform and bi tokens get 403."""


@router.post(
    "/goals",
    response_model=GoalOut,
    status_code=201,
    tags=["goals"],
    responses=_GOAL_WRITE | _BODY,
    summary="Set a goal",
)
async def create_goal(
    body: GoalIn, session: SessionDep, user: WriterUser, scoring: ScoringDep
) -> GoalOut:
    """A manager sets their team's and its reps' goals, an admin any of the org's. A rep's team
    is where their own history places them (asked of scoring): a manager may not set the goal
    of a rep placed in another team (403 naming `owner`); a rep with no history yet may be
    given one (in the manager's team). An admin's rep goal goes to the rep's team unless
    `team_id` says otherwise. Floor and stretch: explicit, `buffer_pct` (10 → ±10 %), or
    `base_pct`/`challenge_pct` (80/120)."""
    return await goals.create_goal(session, user, scoring, body)


@router.get(
    "/goals", response_model=GoalPage, tags=["goals"], responses=_READ, summary="Goals, filtered"
)
async def list_goals(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    owner: OwnerQuery = None,
    metric: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,64}$")] = None,
    period: PeriodKind | None = None,
    start_from: Annotated[
        IsoDate | None, Query(alias="from", description="Periods starting on or after.")
    ] = None,
    start_to: Annotated[
        IsoDate | None, Query(alias="to", description="Periods starting on or before.")
    ] = None,
    parent_id: UUID | None = None,
    include_archived: bool = False,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> GoalPage:
    """In period order. Reps see their own, managers their team's (but not the goals of a rep
    whose history places them in another team), the rest the org's."""
    return await goals.list_goals(
        session,
        user,
        scoring,
        owner=owner,
        metric=metric,
        period=period,
        start_from=start_from,
        start_to=start_to,
        parent_id=parent_id,
        include_archived=include_archived,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/goals/{goal_id}",
    response_model=GoalOut,
    tags=["goals"],
    responses=_READ,
    summary="One goal (its current revision)",
)
async def get_goal(
    goal_id: UUID, session: SessionDep, user: CurrentUser, scoring: ScoringDep
) -> GoalOut:
    return await goals.get_goal(session, user, scoring, goal_id)


@router.patch(
    "/goals/{goal_id}",
    response_model=GoalOut,
    tags=["goals"],
    responses=_GOAL_WRITE | _BODY,
    summary="Change a goal (a new revision)",
)
async def patch_goal(
    goal_id: UUID, body: GoalPatch, session: SessionDep, user: WriterUser, scoring: ScoringDep
) -> GoalOut:
    """Nothing is overwritten: every change is a new revision. `expected_revision` answers 409
    if someone changed the goal meanwhile. `archived: true` retires it."""
    return await goals.patch_goal(session, user, scoring, goal_id, body)


@router.delete(
    "/goals/{goal_id}",
    response_model=GoalOut,
    tags=["goals"],
    responses=_GOAL_WRITE,
    summary="Archive a goal (a new revision)",
)
async def archive_goal(
    goal_id: UUID, session: SessionDep, user: WriterUser, scoring: ScoringDep
) -> GoalOut:
    return await goals.patch_goal(
        session, user, scoring, goal_id, GoalPatch(archived=True, reason="archived")
    )


@router.get(
    "/goals/{goal_id}/revisions",
    response_model=RevisionPage,
    tags=["goals"],
    responses=_READ,
    summary="Who changed what, and when",
)
async def revisions(
    goal_id: UUID, session: SessionDep, user: CurrentUser, scoring: ScoringDep
) -> RevisionPage:
    return await goals.revisions(session, user, scoring, goal_id)


@router.post(
    "/goals/{goal_id}/decompose",
    response_model=Decomposed,
    status_code=201,
    tags=["goals"],
    responses=_WRITE | _SCORED | _BODY,
    summary="Split a goal into child goals",
)
async def decompose(
    goal_id: UUID, body: DecomposeIn, session: SessionDep, user: WriterUser, scoring: ScoringDep
) -> Decomposed:
    """In time (into quarters, months, weeks or days: even, by working days, by seasonal
    weights per month, or by last year's actuals) or across tiers, product lines or a team's
    reps (by weights, evenly, or by their past share). Children sum exactly to the parent
    (money in minor units, largest remainder) and carry floor and stretch too."""
    return await decomposition.decompose(session, user, scoring, goal_id, body)


@router.get(
    "/goals/{goal_id}/reconcile",
    response_model=Reconciliation,
    tags=["goals"],
    responses=_READ,
    summary="The goal against the sum of its children",
)
async def reconcile(
    goal_id: UUID, session: SessionDep, user: CurrentUser, scoring: ScoringDep
) -> Reconciliation:
    return await decomposition.reconcile(session, user, scoring, goal_id)


@router.get(
    "/goals/{goal_id}/progress",
    response_model=ProgressOut,
    tags=["progress"],
    responses=_SCORED,
    summary="Actual, pace, projection and status",
)
async def progress(
    goal_id: UUID, session: SessionDep, user: CurrentUser, scoring: ScoringDep, at: At = None
) -> ProgressOut:
    """Actuals come from scoring; if it is down the answer is 503, never made-up numbers."""
    return await judged.progress(session, user, scoring, goal_id, at)


@router.get(
    "/progress",
    response_model=ProgressPage,
    tags=["progress"],
    responses=_SCORED,
    summary="Progress of an owner's current goals",
)
async def progress_list(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    owner: OwnerQuery = None,
    period: PeriodKind | None = None,
    at: At = None,
) -> ProgressPage:
    return await judged.progress_list(session, user, scoring, owner=owner, period=period, at=at)


@router.get(
    "/progress/alerts",
    response_model=PaceAlertPage,
    tags=["progress"],
    responses=_SCORED,
    summary="Where a miss starts: activity behind pace, results still on track",
)
async def progress_alerts(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    owner: OwnerQuery = None,
    at: At = None,
) -> PaceAlertPage:
    """Among the owner's current goals (those of `GET /v1/progress`, judged the same way): a
    goal on a leading metric (visits, effective_visits, calls, connected_calls, new_leads,
    opportunities, deals_opened, engagements) that is `behind` or `at_risk`, paired with a goal
    on a lagging metric (revenue_won, deals_won, new_customers, collected) that is still
    `on_track`, of the same owner, with the same product line, tier and channel, and an
    overlapping period. Once the lagging goal is off track too it is a miss, not a warning,
    and no alert is given.

    Each side shows its goal's numbers exactly as `GET /v1/goals/{id}/progress` gives them on
    the same day. Alerts come `behind` first, then by leading and lagging metric. Without
    `owner`: every owner the caller may read (pairs never cross owners). A rep may ask only
    about themselves and a manager only about their team and its reps (403 otherwise).
    Actuals come from scoring; if it is down the answer is 503."""
    return await judged.progress_alerts(session, user, scoring, owner=owner, at=at)


@router.post(
    "/plans/funnel",
    tags=["plans"],
    responses=_SCORED | _BODY,
    summary="Deals, opportunities, leads, calls and visits needed",
)
async def funnel_plan(
    body: FunnelPlanIn, session: SessionDep, user: CurrentUser, scoring: ScoringDep
) -> dict[str, Any]:
    """From a revenue or new-customer target, the owner's own conversion rates over the
    look-back window (scoring; each overridable) and a challenge factor (default 1.1). A rate
    that is zero or unknown is named, never divided by."""
    return await plans.funnel_plan(session, user, scoring, body)


@router.get(
    "/calendar",
    response_model=CalendarIO,
    tags=["calendar"],
    responses=problems(Unauthorized),
    summary="The org's working calendar",
)
async def get_calendar(session: SessionDep, user: CurrentUser) -> CalendarIO:
    return await calendars.get_calendar(session, user)


@router.put(
    "/calendar",
    response_model=CalendarIO,
    tags=["calendar"],
    responses=_WRITE | _BODY,
    summary="Set the org's working calendar (admin)",
)
async def put_calendar(
    body: Annotated[CalendarIO, Body()], session: SessionDep, user: WriterUser
) -> CalendarIO:
    """Timezone, weekend days, public holidays and make-up working days: what working-day
    decomposition and pacing count."""
    return await calendars.put_calendar(session, user, body)
