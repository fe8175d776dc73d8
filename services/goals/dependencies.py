"""Typed dependencies of the goals routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .scoring import GoalsScoring


async def _scoring(request: Request) -> GoalsScoring:
    """Scoring, asked for numbers with the caller's own token (see scoring.py); the route's
    `CurrentUser` has checked that token."""
    scoring: GoalsScoring = request.app.state.scoring
    _, _, token = request.headers.get("authorization", "").partition(" ")
    return scoring.as_caller(token.strip())


ScoringDep = Annotated[GoalsScoring, Depends(_scoring)]
