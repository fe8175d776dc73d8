"""What the activity service answers that other services read."""

from __future__ import annotations

from pydantic import BaseModel, Field

from shared.events import StoredEvent


class EventPage(BaseModel):
    """A page of the feed or of a stream, in order."""

    items: list[StoredEvent]
    next: str = Field(
        description="Pass as `after` to continue; the same cursor when nothing is new."
    )
    has_more: bool = Field(description="More events are already available after `next`.")
