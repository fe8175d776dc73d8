"""HTTP routes of bulk imports: upload a file of events, follow its job, read its rejections."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request

from shared.auth import BearerAuth, CurrentUser, Principal
from shared.errors import (
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from shared.errors import problem_responses as problems
from shared.pagination import bad_cursor, decode_keyset, encode_keyset, next_link
from shared.responses import JSONResponse

from ..dependencies import RuntimeDep
from .exceptions import UnknownFileType
from .formats import MEDIA_TYPES, Format
from .schemas import ImportJob, ImportList, RowError, RowErrorList

router = APIRouter(prefix="/v1", tags=["imports"])

_READ = problems(Unauthorized, Forbidden, InvalidInput)
_ONE = problems(Unauthorized, Forbidden, NotFound, InvalidInput)
_KEYSET = "imports"
Writer = Annotated[Principal, Depends(BearerAuth(write=True))]


@router.post(
    "/imports",
    status_code=202,
    response_model=ImportJob,
    summary="Import a file of events (admin, service)",
    responses={
        **problems(
            MalformedRequest,
            Unauthorized,
            Forbidden,
            InvalidInput,
            PayloadTooLarge,
            UnsupportedMediaType,
        ),
        202: {
            "description": "Queued: follow it at the `Location`",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
async def create_import(
    request: Request,
    user: Writer,
    runtime: RuntimeDep,
    format: Annotated[
        Format | None, Query(description="The file's format, if the Content-Type does not say.")
    ] = None,
    filename: Annotated[
        str | None,
        Query(
            max_length=255, pattern=r"^[^\x00-\x1f]+$", description="A name to show with the job."
        ),
    ] = None,
) -> JSONResponse:
    """The body is the file itself: NDJSON (one event a line, as `POST /v1/events` takes it),
    CSV (a header naming envelope fields; `data` and `metadata` as JSON) or Parquet (the same
    columns). The file is checked as a whole (readable, known columns) before the job is
    queued; its rows are then appended in the background, in chunks, each chunk whole or not
    at all, idempotent by `event_id`. Rows that fail validation or the append rules are
    rejected with their row number and field errors; the rest are stored."""
    fmt = format or _format_of(request.headers.get("content-type", ""))
    job = await runtime.importer.create(user, request.stream(), fmt, filename)
    return JSONResponse(
        ImportJob.model_validate(dict(job)).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/v1/imports/{job['id']}"},
    )


def _format_of(content_type: str) -> Format:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in MEDIA_TYPES:
        return MEDIA_TYPES[media]
    raise UnknownFileType(media, MEDIA_TYPES)


@router.get(
    "/imports",
    response_model=ImportList,
    summary="The org's imports, newest first",
    responses=_READ,
)
async def list_imports(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(description="`next` of the page before.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JSONResponse:
    before = None
    if cursor is not None:
        created, id = decode_keyset(_KEYSET, cursor, 2, user.org)
        try:
            before = (datetime.fromisoformat(created), UUID(id))
        except ValueError:
            raise bad_cursor() from None
    jobs = await runtime.importer.jobs(user, before, limit + 1)
    more = len(jobs) > limit
    jobs = jobs[:limit]
    next_cursor = (
        encode_keyset(_KEYSET, [jobs[-1]["created_at"].isoformat(), str(jobs[-1]["id"])], user.org)
        if more
        else None
    )
    body = ImportList(items=[ImportJob.model_validate(dict(j)) for j in jobs], next=next_cursor)
    headers = {"Link": next_link(request.url, "cursor", next_cursor)} if next_cursor else None
    return JSONResponse(body.model_dump(mode="json"), headers=headers)


@router.get(
    "/imports/{import_id}",
    response_model=ImportJob,
    summary="One import's progress",
    responses=_ONE,
)
async def get_import(import_id: UUID, user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    job = await runtime.importer.get(user, import_id)
    return JSONResponse(ImportJob.model_validate(dict(job)).model_dump(mode="json"))


@router.get(
    "/imports/{import_id}/errors",
    response_model=RowErrorList,
    summary="The rows an import rejected, in file order",
    responses=_ONE,
)
async def list_import_errors(
    request: Request,
    import_id: UUID,
    user: CurrentUser,
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, description="The last row number of the page before.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """The first 10,000 rejected rows of a job are kept (`rejected` counts them all)."""
    rows = await runtime.importer.errors(user, import_id, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        RowError.model_validate(
            {"row": r["row_number"], "event_id": r["event_id"], "errors": orjson.loads(r["errors"])}
        )
        for r in rows
    ]
    next_after = str(rows[-1]["row_number"]) if more else None
    body = RowErrorList(items=items, next=next_after)
    headers = {"Link": next_link(request.url, "after", next_after)} if next_after else None
    return JSONResponse(body.model_dump(mode="json", by_alias=True), headers=headers)
