"""The answer of `GET /v1/reps/{rep}`."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from shared.contracts.scoring import Freshness


class RepPlacement(BaseModel):
    rep: str
    team: str = Field(description="The team of the rep's latest day of activity.")
    last_seen: date = Field(description="That day (org timezone).")
    up_to: Freshness
