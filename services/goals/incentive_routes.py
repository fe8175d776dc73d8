"""HTTP routes of incentive plans: parse, call one use case, answer."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from shared.auth import BearerAuth, CurrentUser, Principal
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
from shared.events import ID_PATTERN
from shared.pagination import announce_next, page_response

from . import incentive_plans
from .dependencies import ScoringDep
from .incentive_schemas import PlanOut, PlanPage, PlanVersionPage
from .incentive_spec import PlanIn, PlanPatch

router = APIRouter(prefix="/v1")
WriterUser = Annotated[Principal, Depends(BearerAuth(write=True))]
"""The caller of a route that stores something: platform and bi tokens get 403."""

_READ = problems(Unauthorized, NotFound, InvalidInput, UpstreamUnavailable)  # 503: scoring.py
_BODY = problems(MalformedRequest, UnsupportedMediaType)  # a JSON body that is not one
_CREATE = problems(Unauthorized, Forbidden, InvalidInput) | _BODY
_CHANGE = problems(Unauthorized, Forbidden, NotFound, InvalidInput, Conflict) | _BODY
_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The plan, at version 1",
        "headers": {
            "Location": {"description": "The new plan's URL.", "schema": {"type": "string"}}
        },
    }
}
_PAGED = page_response("plans")


@router.post(
    "/incentives/plans",
    response_model=PlanOut,
    status_code=201,
    tags=["incentives"],
    responses=_CREATED | _CREATE,
    summary="Make an incentive plan (admin)",
)
async def create_plan(
    body: PlanIn, response: Response, session: SessionDep, user: WriterUser
) -> PlanOut:
    """The plan's first version, governing the periods from `effective_from` on: commission
    in marginal tiers (rates never fall, a decelerator below the goal's floor, a cap), spiffs,
    champion and team bonuses and clawbacks, in one currency (amounts with at most its
    decimals), paid per month or quarter to the reps of `applies_to`. Any rule broken is a 422
    naming the field (`commission.tiers[1].rate`); nothing is stored then."""
    plan = await incentive_plans.create_plan(session, user, body)
    response.headers["Location"] = f"/v1/incentives/plans/{plan.id}"
    return plan


@router.get(
    "/incentives/plans",
    response_model=PlanPage,
    tags=["incentives"],
    responses=_PAGED | _READ,
    summary="The incentive plans you may read",
)
async def list_plans(
    request: Request,
    response: Response,
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    applies_to: Annotated[
        str | None,
        Query(
            pattern=rf"^rep:{ID_PATTERN}$",
            description="`rep:ID`: only the plans that concern the rep (naming them, a team the "
            "roster places them in, or `org`) in any version.",
        ),
    ] = None,
    cursor: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PlanPage:
    """Each plan as of its latest version, by id. Admin, bi and service tokens see the org's;
    a manager the plans naming their team (while the roster leaves it theirs), a rep of it or
    `org`; a rep those naming them, a team the roster places (or placed) them in, or `org`."""
    page = await incentive_plans.list_plans(
        session, user, scoring, applies_to=applies_to, cursor=cursor, limit=limit
    )
    announce_next(request, response, page.next)
    return page


@router.get(
    "/incentives/plans/{plan_id}",
    response_model=PlanOut,
    tags=["incentives"],
    responses=_READ,
    summary="One incentive plan (its latest version, or `version`)",
)
async def get_plan(
    plan_id: UUID,
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="A past version (default: latest).")
    ] = None,
) -> PlanOut:
    """404 for a plan the caller may not read (as for one that does not exist), and for a
    version the plan does not have (naming `version`). Where a rep works is the roster's, else
    their history's (scoring: 503 when it is down and the roster does not know them)."""
    return await incentive_plans.get_plan(session, user, scoring, plan_id, version)


@router.patch(
    "/incentives/plans/{plan_id}",
    response_model=PlanOut,
    tags=["incentives"],
    responses=_CHANGE,
    summary="Change an incentive plan (admin): a new version",
)
async def patch_plan(
    plan_id: UUID, body: PlanPatch, session: SessionDep, user: WriterUser
) -> PlanOut:
    """Nothing is overwritten: the new version is the latest one's body with the fields given
    replaced, validated again as a whole (422 naming the field; nothing stored). It governs
    the periods from `effective_from` on (the first day of a period of the plan's kind); for
    each period the highest version whose `effective_from` is on or before its first day
    governs, so a back-dated version supersedes the earlier ones from its date on. `currency`
    and `period` may not change (make a new plan). `expected_version` answers 409 if the plan
    has moved past it."""
    return await incentive_plans.patch_plan(session, user, plan_id, body)


@router.get(
    "/incentives/plans/{plan_id}/versions",
    response_model=PlanVersionPage,
    tags=["incentives"],
    responses=_READ,
    summary="Every version of an incentive plan, whole, oldest first",
)
async def plan_versions(
    plan_id: UUID, session: SessionDep, user: CurrentUser, scoring: ScoringDep
) -> PlanVersionPage:
    return await incentive_plans.plan_versions(session, user, scoring, plan_id)
