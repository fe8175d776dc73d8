"""What the activity service answers that other services read."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.events import StoredEvent


class EventPage(BaseModel):
    """A page of the feed or of a stream, in order."""

    items: list[StoredEvent]
    next: str = Field(
        description="Pass as `after` to continue; the same cursor when nothing is new."
    )
    has_more: bool = Field(description="More events are already available after `next`.")


class OrgHead(BaseModel):
    org_id: str
    head: str = Field(description="The cursor of the org's newest event.")
    head_recorded_at: datetime


class OrgList(BaseModel):
    items: list[OrgHead]


class Backlog(BaseModel):
    events: int = Field(description="Events after the cursor given.")
    head: str = Field(description="The cursor of the newest event (the one given if none).")
    head_recorded_at: datetime | None
