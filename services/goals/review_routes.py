"""HTTP routes of the review digests: parse, call one use case, answer JSON or Markdown."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from shared.auth import CurrentUser
from shared.dates import Day
from shared.db import SessionDep
from shared.errors import Forbidden, InvalidInput, Unauthorized, UpstreamUnavailable
from shared.errors import problem_responses as problems
from shared.owners import OWNER_PATTERN

from . import review_markdown, reviews
from .dependencies import ScoringDep
from .review_math import WEEK_PATTERN
from .review_schemas import DailyDigest, MonthlyDigest, WeeklyDigest
from .schemas import MONTH_PATTERN

review_router = APIRouter(prefix="/v1")

MARKDOWN = "text/markdown; charset=utf-8"
_ERRORS = problems(Unauthorized, Forbidden, InvalidInput, UpstreamUnavailable)
_AS_MARKDOWN: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The digest: JSON, or Markdown with `format=markdown`.",
        "content": {"text/markdown": {"schema": {"type": "string"}}},
    }
}
OwnerQuery = Annotated[
    str | None,
    Query(description="`rep:ID`, `team:ID` or `org`.", pattern=OWNER_PATTERN),
]
Format = Annotated[
    Literal["json", "markdown"],
    Query(alias="format", description="`json` (default) or `markdown`."),
]


def _answer(digest: BaseModel, fmt: str, text: str) -> Any:
    if fmt == "markdown":
        return Response(text, media_type=MARKDOWN)
    return digest


@review_router.get(
    "/reviews/daily",
    response_model=DailyDigest,
    tags=["reviews"],
    responses=_ERRORS | _AS_MARKDOWN,
    summary="A day of an owner: goals, the day's target and carry-over, first actions, wins",
)
async def daily_review(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    owner: OwnerQuery = None,
    day: Annotated[
        Day | None,
        Query(description="The day, 1970-01-01 to 2099-12-31 (default: today, org timezone)."),
    ] = None,
    fmt: Format = "json",
) -> Any:
    """For each of the owner's current goals (as `GET /v1/progress?at=day` lists them): its
    progress that day, the day's share of its target along its own shape against the day's
    actual, and the shortfall carried to the next working day of the org calendar (rates and
    averages: their level only). Then, for a rep or a team, tomorrow's first actions (tier-A
    open leads and the leads whose touch is overdue or due by the next working day) and the
    day's deals won and lost, revenue won and loss reasons.

    `owner`: default yourself (rep) or your team (manager), required for other roles (422). A
    rep may ask only about themselves, a manager about their team and its reps, admin and bi
    about anyone (403 otherwise). Scoring is asked with your token; scoring down: 503.
    `format=markdown`: the same digest as `text/markdown`."""
    digest = await reviews.daily(session, user, scoring, owner=owner, day=day)
    return _answer(digest, fmt, review_markdown.daily(digest) if fmt == "markdown" else "")


@review_router.get(
    "/reviews/weekly",
    response_model=WeeklyDigest,
    tags=["reviews"],
    responses=_ERRORS | _AS_MARKDOWN,
    summary="An ISO week of an owner: goals, funnel against four weeks, wins, alerts",
)
async def weekly_review(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    owner: OwnerQuery = None,
    week: Annotated[
        str | None,
        Query(description="ISO week, `2026-W49` (default: the current one).", pattern=WEEK_PATTERN),
    ] = None,
    fmt: Format = "json",
) -> Any:
    """The owner's goals judged on the week's last day (today while it runs), the week's
    funnel with each step's conversion against the 28 days before (pooled) in percentage
    points, deals won and lost with reasons, scoring's rate alerts for the week and goals' own
    pace alerts.

    Owner, access, 503 and `format=markdown` as for the daily review."""
    digest = await reviews.weekly(session, user, scoring, owner=owner, week=week)
    return _answer(digest, fmt, review_markdown.weekly(digest) if fmt == "markdown" else "")


@review_router.get(
    "/reviews/monthly",
    response_model=MonthlyDigest,
    tags=["reviews"],
    responses=_ERRORS | _AS_MARKDOWN,
    summary="A month of an owner: attainment, champions or rank, next month's goals and plans",
)
async def monthly_review(
    session: SessionDep,
    user: CurrentUser,
    scoring: ScoringDep,
    owner: OwnerQuery = None,
    month: Annotated[
        str | None,
        Query(description="`2026-11` (default: the current month).", pattern=MONTH_PATTERN),
    ] = None,
    fmt: Format = "json",
) -> Any:
    """Attainment of the owner's month, quarter and year goals ending in the month (judged on
    its last day, or today while it runs); for a team or the org the revenue and new-customer
    champions and the most improved (scoring's leaderboards); for a rep their rank in their
    team's board (managers and above: scoring shows no leaderboard to reps); then next month's
    goals with the funnel plan of a revenue or new-customer goal.

    Owner, access, 503 and `format=markdown` as for the daily review."""
    digest = await reviews.monthly(session, user, scoring, owner=owner, month=month)
    return _answer(digest, fmt, review_markdown.monthly(digest) if fmt == "markdown" else "")
