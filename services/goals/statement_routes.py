"""HTTP routes of incentive statements and payouts: parse, call one use case, answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from shared.auth import BearerAuth, CurrentUser, Principal
from shared.dates import Day
from shared.db import SessionDep
from shared.errors import (
    Forbidden,
    InvalidInput,
    MalformedRequest,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from shared.errors import problem_responses as problems
from shared.events import ID_PATTERN
from shared.pagination import announce_next, page_response

from . import statements
from .dependencies import ScoringDep
from .incentive_schemas import PLAN_PERIOD_PATTERN, PayoutIn, PayoutPage, PayoutRun, Statement
from .scoring import GoalsScoring

router = APIRouter(prefix="/v1")
WriterUser = Annotated[Principal, Depends(BearerAuth(write=True))]


async def _service_scoring(request: Request) -> GoalsScoring:
    """Scoring asked with goals' own service token: for the numbers a rep is compared with
    (rankings, the team's total), which the caller may not read (statements.py)."""
    scoring: GoalsScoring = request.app.state.scoring
    return scoring


ServiceScoringDep = Annotated[GoalsScoring, Depends(_service_scoring)]
PlanPeriodQuery = Annotated[
    str,
    Query(
        description="A month (2026-11: the plans of kind month) or a quarter (2026-Q4: of kind "
        "quarter).",
        pattern=PLAN_PERIOD_PATTERN,
    ),
]
_STATEMENT = problems(Unauthorized, Forbidden, InvalidInput, UpstreamUnavailable)
_PAYOUTS = problems(Unauthorized, Forbidden, InvalidInput)
_BODY = problems(MalformedRequest, UnsupportedMediaType)  # a JSON body that is not one
_PAGED = page_response("payouts")


@router.get(
    "/incentives/statements",
    response_model=Statement,
    tags=["incentives"],
    responses=_STATEMENT,
    summary="A rep's incentive statement for a month or a quarter",
)
async def get_statement(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    service: ServiceScoringDep,
    owner: Annotated[
        str, Query(description="`rep:ID`: whose statement.", pattern=rf"^rep:{ID_PATTERN}$")
    ],
    period: PlanPeriodQuery,
    as_of: Annotated[
        Day | None,
        Query(
            description="As the log stood at the end of this day in the org's timezone, with "
            "the plan versions and payouts recorded by then (default today)."
        ),
    ] = None,
) -> Statement:
    """One section per plan that applies to the rep, under the version governing the period:
    `paid` as a payout stored it, else `open`, computed from scoring's numbers. A rep reads
    their own, a manager their team's reps', admin and bi anyone's."""
    return await statements.statement(
        session, user, scoring, service, owner=owner, period=period, as_of=as_of
    )


@router.post(
    "/incentives/payouts",
    response_model=PayoutRun,
    status_code=201,
    tags=["incentives"],
    responses=_STATEMENT
    | _BODY
    | {200: {"description": "Nothing new to store: every section was paid."}},
    summary="Store a period's open statements as paid (admin)",
)
async def run_payouts(
    body: PayoutIn,
    response: Response,
    session: SessionDep,
    user: WriterUser,
    scoring: ScoringDep,
    service: ServiceScoringDep,
) -> PayoutRun:
    """Each applicable rep's open sections of an ended period (422 before its last day, by
    `as_of` or today: what is stored is never changed), stored as paid in one transaction
    (201); a section already paid is skipped and listed as such (200 when nothing was new)."""
    run, stored = await statements.run_payouts(session, user, scoring, service, body)
    if not stored:
        response.status_code = 200
    return run


@router.get(
    "/incentives/payouts",
    response_model=PayoutPage,
    tags=["incentives"],
    responses=_PAYOUTS | _PAGED,
    summary="What the payout runs stored for a period (admin, bi, service)",
)
async def list_payouts(
    request: Request,
    response: Response,
    session: SessionDep,
    user: CurrentUser,
    period: PlanPeriodQuery,
    rep: Annotated[
        str | None, Query(pattern=rf"^{ID_PATTERN}$", description="Only this rep's.")
    ] = None,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> PayoutPage:
    """By rep then plan, `limit` a page (`next`, also in `Link` and `X-Next-Cursor`): the
    payouts of plans of the period's kind (a month's of monthly plans, a quarter's of
    quarterly ones)."""
    page = await statements.list_payouts(session, user, period, rep=rep, cursor=cursor, limit=limit)
    announce_next(request, response, page.next)
    return page
