"""What goals answers that other services read: the roster as periods of membership (scoring
copies it to count a team's numbers by who was in it each day)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class RosterPeriod(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    rep_id: str
    team_id: str
    from_: date = Field(alias="from")
    to: date | None = Field(description="The last day in the team; null: still there.")


class ManagerPeriod(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    team_id: str
    manager_id: str
    from_: date = Field(alias="from")
    to: date | None = Field(description="The last day they manage it; null: still.")


class RosterPeriodPage(BaseModel):
    version: int = Field(
        description="The roster as of its latest entry (grows with every entry recorded): a "
        "copy at this version need not be read again."
    )
    items: list[RosterPeriod] = Field(description="By rep id, then oldest first.")
    managers: list[ManagerPeriod] = Field(
        description="Every team's periods with a named manager, by team, oldest first: on the "
        "first page (empty on the next ones)."
    )
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")
