"""Request and response bodies of the activity API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.activity import Backlog, OrgHead, OrgList
from shared.events import NewEvent

__all__ = ["Backlog", "OrgHead", "OrgList"]

MAX_BATCH = 1000


class AppendResult(BaseModel):
    event_id: UUID
    position: int = Field(
        description="Place in the org's own log: its events are numbered 1, 2, 3… with no gaps."
    )
    stream_version: int
    recorded_at: datetime


class AppendStatus(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"


class BatchItemResult(AppendResult):
    status: AppendStatus


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[NewEvent] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResult(BaseModel):
    created: int
    duplicates: int
    results: list[BatchItemResult] = Field(description="One per event, in the order sent.")
