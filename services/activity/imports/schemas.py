"""Response bodies of the import API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.errors import FieldError


class ImportJob(BaseModel):
    id: UUID
    org_id: str
    format: Literal["ndjson", "csv", "parquet"]
    filename: str | None
    size_bytes: int = Field(description="Bytes uploaded.")
    state: Literal["queued", "running", "done", "failed"]
    rows_total: int | None = Field(description="Rows in the file, when the format tells (Parquet).")
    rows_read: int = Field(description="Records read so far (blank NDJSON lines not counted).")
    stored: int = Field(description="Events appended to the log.")
    duplicates: int = Field(description="Events already in the log (same `event_id` and content).")
    rejected: int = Field(description="Records refused; `GET /v1/imports/{id}/errors` lists them.")
    progress: float = Field(ge=0, le=1, description="Share of the file read and decided.")
    error: str | None = Field(description="Why a failed job failed.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportList(BaseModel):
    items: list[ImportJob]
    next: str | None = Field(description="Cursor of the next page (`cursor=`), null at the end.")


class RowError(BaseModel):
    row: int = Field(
        description="The record's number: NDJSON line, CSV data row, Parquet row (from 1)."
    )
    event_id: str | None
    errors: list[FieldError] = Field(
        description="Fields named as in a `POST /v1/events` body (`data.amount`, `occurred_at`)."
    )


class RowErrorList(BaseModel):
    items: list[RowError]
    next: str | None = Field(description="Cursor of the next page (`after=`), null at the end.")
