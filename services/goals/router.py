"""HTTP routes of the goals service: parse, call one use case, answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from shared.auth import BearerAuth, CurrentUser, Principal
from shared.contracts.goals import RosterPeriodPage
from shared.dates import Day, IsoDate
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from shared.errors import problem_responses as problems
from shared.events import ID_PATTERN
from shared.owners import OWNER_PATTERN

from . import calendars, channels, decomposition, goals, plans, roster, roster_periods
from . import progress as judged
from .dependencies import ScoringDep
from .schemas import (
    MONTH_PATTERN,
    CalendarIO,
    ChannelCostPage,
    ChannelCostsIn,
    ChannelReport,
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
    RepEntryIn,
    RepPage,
    RepRecord,
    RevisionPage,
    RosterImported,
    TeamEntryIn,
    TeamPage,
    TeamRecord,
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


# --------------------------------------------------------------------------- channel ROI

MonthQuery = Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM.")]


@router.put(
    "/channels/costs",
    response_model=ChannelCostPage,
    tags=["channels"],
    responses=_WRITE | _BODY,
    summary="Record what lead channels cost per month (admin), all or nothing",
)
async def put_channel_costs(
    body: ChannelCostsIn, session: SessionDep, user: WriterUser
) -> ChannelCostPage:
    """1 to 500 costs, each a channel (referral, cold_visit, exhibition, online, inbound,
    other), a month (`YYYY-MM`), a non-negative amount (a decimal string with at most the
    currency's decimals) and a currency. Each replaces what was recorded for its channel and
    month. Any bad item refuses them all (422 naming it: `costs[2].amount`); nothing is stored
    then. Answers the costs as stored."""
    return await channels.put_costs(session, user, body)


@router.get(
    "/channels/costs",
    response_model=ChannelCostPage,
    tags=["channels"],
    responses=problems(Unauthorized, Forbidden, InvalidInput),
    summary="What lead channels cost per month (admin, bi, managers)",
)
async def list_channel_costs(
    session: SessionDep,
    user: CurrentUser,
    first: Annotated[MonthQuery, Query(alias="from")] = None,
    last: Annotated[MonthQuery, Query(alias="to")] = None,
) -> ChannelCostPage:
    """The org's costs of the months `from`..`to` (both included; default all), by month then
    channel. Reps get 403."""
    return await channels.list_costs(session, user, first, last)


@router.get(
    "/channels",
    response_model=ChannelReport,
    tags=["channels"],
    responses=_SCORED,
    summary="Channel ROI: leads, conversions, revenue and cost per lead channel",
)
async def channel_roi(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    first: Annotated[Day, Query(alias="from", description="First day (org timezone).")],
    last: Annotated[Day, Query(alias="to", description="Last day, inclusive.")],
    owner: OwnerQuery = None,
    currency: Annotated[
        str | None,
        Query(pattern="^[A-Z]{3}$", description="Reporting currency; default the org's."),
    ] = None,
) -> ChannelReport:
    """For each of the six channels, over `from`..`to`: new leads, opportunities, deals won,
    revenue won, lead-to-opportunity and win rates and the average sales cycle (scoring's
    totals cut by the lead's channel, with their numerators and denominators); and, for the
    org only, the channel's cost (monthly costs pro-rated by day, exact in minor units), cost
    per lead, cost per won deal and revenue per cost. Owner: default yourself (rep), your team
    (manager) or the org; a rep may ask only about themselves, a manager about their team and
    its reps (403 otherwise). Costs in another currency than the report's are listed apart,
    never converted. Scoring down: 503."""
    return await channels.channel_roi(
        session, user, scoring, owner=owner, first=first, last=last, currency=currency
    )


# --------------------------------------------------------------------------- the roster

RepId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$", description="The rep's id.")]
TeamId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$", description="The team's id.")]
On = Annotated[
    Day | None,
    Query(
        description="The day to see the roster on, 1970-01-01 to 2099-12-31 (default: today "
        "in the org's timezone)."
    ),
]
Cursor = Annotated[str | None, Query(description="`next` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=1000)]
_ROSTER_READ = problems(Unauthorized, NotFound, InvalidInput)
_ROSTER_WRITE = problems(Unauthorized, Forbidden, InvalidInput, Conflict)


def _status(value: str) -> str | None:
    return None if value == "any" else value


@router.put(
    "/reps/{rep_id}",
    response_model=RepRecord,
    tags=["roster"],
    responses=_ROSTER_WRITE | _BODY,
    summary="Put a rep in a team from a day (admin)",
)
async def put_rep(
    rep_id: RepId, body: RepEntryIn, session: SessionDep, user: WriterUser
) -> RepRecord:
    """A new entry of the rep's history: team, manager and status (`active`, `left`) from
    `from` on. Nothing is overwritten: a back-dated entry is added beside what was known, and
    the record shows both (the one replaced `superseded`). The same entry again (what the
    roster already says on that day) adds nothing. A rep cannot join a team the roster has
    closed on that day (422 naming `team_id`). Answers the rep's record today."""
    return await roster.put_rep(session, user, rep_id, body)


@router.get(
    "/reps",
    response_model=RepPage,
    tags=["roster"],
    responses=_ROSTER_READ,
    summary="The reps on a day (a team's members)",
)
async def list_reps(
    session: SessionDep,
    user: CurrentUser,
    team: Annotated[
        str | None, Query(pattern=rf"^{ID_PATTERN}$", description="Only this team's reps.")
    ] = None,
    on: On = None,
    status: Annotated[
        Literal["active", "left", "any"],
        Query(description="`active` (default): the members on the day."),
    ] = "active",
    cursor: Cursor = None,
    limit: Limit = 100,
) -> RepPage:
    """Each rep's entry in force on the day, in rep id order. Managers see their team's reps
    (nothing when the roster names another manager of the team that day), reps themselves,
    admin, bi and service tokens the org."""
    return await roster.list_reps(
        session, user, team=team, on=on, status=_status(status), cursor=cursor, limit=limit
    )


@router.get(
    "/reps/{rep_id}",
    response_model=RepRecord,
    tags=["roster"],
    responses=_ROSTER_READ,
    summary="A rep's state on a day, periods and history",
)
async def get_rep(
    rep_id: RepId, session: SessionDep, user: CurrentUser, on: On = None
) -> RepRecord:
    """404 for a rep the roster does not know or the caller may not see (a manager: a rep
    outside their team on the day; a rep: anyone else)."""
    return await roster.get_rep(session, user, rep_id, on)


@router.put(
    "/teams/{team_id}",
    response_model=TeamRecord,
    tags=["roster"],
    responses=_ROSTER_WRITE | _BODY,
    summary="Name, manager and status of a team from a day (admin)",
)
async def put_team(
    team_id: TeamId, body: TeamEntryIn, session: SessionDep, user: WriterUser
) -> TeamRecord:
    """A new entry of the team's history; the same again adds nothing. A team is not closed
    on a day some rep is still an active member of it (409 naming `status`)."""
    return await roster.put_team(session, user, team_id, body)


@router.get(
    "/teams",
    response_model=TeamPage,
    tags=["roster"],
    responses=_ROSTER_READ,
    summary="The teams on a day",
)
async def list_teams(
    session: SessionDep,
    user: CurrentUser,
    on: On = None,
    status: Annotated[
        Literal["active", "closed", "any"], Query(description="`active` by default.")
    ] = "active",
    cursor: Cursor = None,
    limit: Limit = 100,
) -> TeamPage:
    """Each team's entry in force on the day, in team id order: a manager sees their team, a
    rep the team the roster places them in, admin, bi and service tokens the org."""
    return await roster.list_teams(
        session, user, on=on, status=_status(status), cursor=cursor, limit=limit
    )


@router.get(
    "/roster/periods",
    response_model=RosterPeriodPage,
    tags=["roster"],
    responses=problems(Unauthorized, Forbidden, InvalidInput),
    summary="Every rep's periods in each team (admin, bi, service)",
)
async def list_roster_periods(
    session: SessionDep, user: CurrentUser, cursor: Cursor = None, limit: Limit = 500
) -> RosterPeriodPage:
    """The roster as periods of membership (rep, team, first and last day), `limit` reps a
    page, with the roster's `version`: what scoring copies to count a team's numbers by who
    was in it each day."""
    return await roster_periods.list_periods(session, user, cursor=cursor, limit=limit)


@router.get(
    "/teams/{team_id}",
    response_model=TeamRecord,
    tags=["roster"],
    responses=_ROSTER_READ,
    summary="A team's state on a day and history",
)
async def get_team(
    team_id: TeamId, session: SessionDep, user: CurrentUser, on: On = None
) -> TeamRecord:
    return await roster.get_team(session, user, team_id, on)


@router.post(
    "/roster/import",
    response_model=RosterImported,
    tags=["roster"],
    responses=_ROSTER_WRITE | problems(MalformedRequest, UnsupportedMediaType, PayloadTooLarge),
    summary="Import rep entries from a CSV file (admin), all or nothing",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "rep_id,team_id,from,manager_id,status,reason\n"
                    "rep-anna,team-north,2026-03-16,,active,moved\n",
                }
            },
        }
    },
)
async def import_roster(request: Request, session: SessionDep, user: WriterUser) -> RosterImported:
    """The body is the file (`Content-Type: text/csv`): a header `rep_id,team_id,from`, and
    optionally `manager_id,status,reason`, then one entry a row, as `PUT /v1/reps/{rep_id}`
    takes it. Any bad row refuses the whole file (422, every row named: `rows[3].from`, rows
    counted from 0 under the header); nothing is stored then. At most 10,000 rows (413)."""
    body = await request.body()
    return await roster.import_roster(session, user, request.headers.get("content-type", ""), body)
