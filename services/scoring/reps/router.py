"""`GET /v1/reps/{rep}`: the team a rep's own history places them in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from shared.errors import Forbidden, InvalidInput, NotFound, Unauthorized, UpstreamUnavailable
from shared.errors import problem_responses as problems
from shared.events import ID_PATTERN
from shared.responses import JSONResponse

from ..dependencies import Reader, RuntimeDep
from . import service
from .schemas import RepPlacement

router = APIRouter(prefix="/v1")


@router.get(
    "/reps/{rep}",
    response_model=RepPlacement,
    tags=["reps"],
    responses=problems(Unauthorized, Forbidden, NotFound, InvalidInput, UpstreamUnavailable),
    summary="The team a rep's history places them in",
)
async def get_rep(
    user: Reader,
    runtime: RuntimeDep,
    rep: Annotated[
        str, Path(description="The rep's id (`rep_id` of their events).", pattern=f"^{ID_PATTERN}$")
    ],
) -> JSONResponse:
    """The team of the rep's latest day of activity (events voided to nothing do not count),
    and that day. Until a roster exists this is a rep's team: goals asks it before a manager
    sets or reads a rep's goal. A rep sees themselves, a manager their own team's reps, admin,
    bi and service tokens any rep of the org; a rep without activity, or one the caller may
    not see, is a 404 either way."""
    return JSONResponse(await service.placement(runtime, user, rep))
