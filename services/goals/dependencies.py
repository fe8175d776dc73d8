"""Typed dependencies of the goals routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.clients.scoring import ScoringClient


async def _scoring(request: Request) -> ScoringClient:
    return request.app.state.scoring  # type: ignore[no-any-return]


ScoringDep = Annotated[ScoringClient, Depends(_scoring)]
