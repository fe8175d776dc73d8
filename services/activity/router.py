"""HTTP routes of the activity service: parse, call one service function, answer."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import TypeAdapter

from shared.auth import BearerAuth, CurrentUser
from shared.body import json_body, json_body_openapi
from shared.contracts.activity import EventPage
from shared.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from shared.errors import problem_responses as problems
from shared.events import EXAMPLES, StoredEvent, Stream, new_event_adapter
from shared.pagination import next_link
from shared.responses import JSONResponse

from . import service
from .dependencies import Runtime, RuntimeDep
from .schemas import AppendResult, Backlog, BatchIn, BatchResult, OrgList

router = APIRouter(prefix="/v1", tags=["events"])

_EVENT_EXAMPLES: dict[str, Any] = {t: {"summary": t, "value": v} for t, v in EXAMPLES.items()}
_BATCH_EXAMPLE: dict[str, Any] = {
    "offline-queue": {
        "summary": "A phone uploading its offline queue",
        "value": {"events": [EXAMPLES["lead.created"], EXAMPLES["visit.logged"]]},
    }
}
# The two append routes parse their bodies themselves (shared/body.py): measured ~20 % less CPU
# per append than FastAPI body parameters and dependencies. Their schemas are registered here.
BODY_SCHEMAS: dict[str, Any] = {}
_batch_adapter = TypeAdapter(BatchIn)
require_writer = BearerAuth(write=True)

_READ_ERRORS = problems(Unauthorized, InvalidInput)
_APPEND_ERRORS = problems(
    MalformedRequest,
    Unauthorized,
    Forbidden,
    InvalidInput,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
)

Limit = Annotated[int, Query(ge=1, le=1000, description="Events per page (1–1000).")]
After = Annotated[str | None, Query(description="The `next` cursor of the previous page.")]


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _raw(body: bytes) -> Response:
    """A body that is JSON already (rendered by PostgreSQL)."""
    return Response(body, media_type="application/json")


def _paged(request: Request, page: service.Page) -> Response:
    """A page, with its `next` cursor also in `X-Next-Cursor` (always: a feed is continued from
    it even when it has no more for now) and, while there is more, a `Link` rel=next."""
    headers = {"X-Next-Cursor": page.next}
    if page.has_more:
        headers["Link"] = next_link(request.url, "after", page.next)
    return Response(page.body, media_type="application/json", headers=headers)


_PAGE_HEADERS: dict[str, Any] = {
    "X-Next-Cursor": {
        "description": "The page's `next` cursor, so the next request can leave before this "
        "body is parsed.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'While `has_more`: `<URL of the next page>; rel="next"`.',
        "schema": {"type": "string"},
    },
}
_PAGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"headers": _PAGE_HEADERS, "description": "A page of events"}
}


@router.post(
    "/events",
    status_code=201,
    response_model=AppendResult,
    summary="Append one event",
    openapi_extra=json_body_openapi(BODY_SCHEMAS, "NewEvent", new_event_adapter, _EVENT_EXAMPLES),
    responses={
        200: {"model": AppendResult, "description": "Already stored: the original result"},
        **_APPEND_ERRORS,
    },
)
async def append_event(request: Request) -> JSONResponse:
    """201 with the stored position; the same `event_id` and content again answers 200 with the
    original result; the same `event_id` with other content, or a stale `expected_version`, 409."""
    user = await require_writer(request)
    event = await json_body(request, new_event_adapter)
    runtime: Runtime = request.app.state.runtime
    result, created = await service.append_one(runtime.committer, user, event)
    return _json(result, 201 if created else 200)


@router.post(
    "/events/batch",
    status_code=201,
    response_model=BatchResult,
    summary="Append up to 1,000 events atomically",
    openapi_extra=json_body_openapi(BODY_SCHEMAS, "BatchIn", _batch_adapter, _BATCH_EXAMPLE),
    responses={
        200: {"model": BatchResult, "description": "Every event was already stored"},
        **_APPEND_ERRORS,
    },
)
async def append_batch(request: Request) -> JSONResponse:
    """All stored or none. Each event is idempotent by `event_id`; an error names the item
    (`events[17].data.amount`)."""
    user = await require_writer(request)
    body = await json_body(request, _batch_adapter)
    runtime: Runtime = request.app.state.runtime
    result, created = await service.append_batch(runtime.committer, user, body.events)
    return _json(result, 201 if created else 200)


@router.get(
    "/events",
    response_model=EventPage,
    summary="The feed",
    responses={**_PAGE_RESPONSE, **_READ_ERRORS},
)
async def read_feed(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    after: After = None,
    limit: Limit = 100,
    types: Annotated[str | None, Query(description="Comma-separated event types.")] = None,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Long-poll up to this many seconds.")
    ] = 0,
    about: Annotated[
        str | None,
        Query(
            description="Only the events about any of these entities: comma-separated "
            "`kind:id` (kinds `account`, `deal`, `lead`, `invoice`; at most 500). An event is "
            "about an account, deal or lead whose stream it is on (`account-<id>`, "
            "`deal-<id>`, `lead-<id>`), and about the entity its `data.account_id`, "
            "`data.deal_id`, `data.lead_id` or `data.invoice_id` names. With `types`: both.",
            examples=["account:acc-1042,deal:D-88"],
        ),
    ] = None,
    ids: Annotated[
        str | None,
        Query(
            description="Only these events: comma-separated event ids (at most 200, each "
            "once whatever its case), in the order of their positions; ids the org does not "
            "hold, or the caller may not read, are left out. With `types` or `about`: both "
            "(the query string stays under 8 KB: 200 ids take ~7.8 KB of it). A consumer "
            "learns where events it has not read yet lie (the events that voids name, say) "
            "without reading up to them.",
            examples=["0b7c5c3e-6a0f-4c1e-9a43-5d8e8f1f2a10"],
        ),
    ] = None,
) -> Response:
    """The org's events in order after the cursor. Positions are the org's own (1, 2, 3…, no
    gaps), and an event never appears behind a cursor already handed out, so a consumer that
    stores `next` misses nothing."""
    page = await service.read_feed(
        runtime.pool,
        runtime.notifier,
        user,
        after=after,
        limit=limit,
        types=types,
        wait=wait,
        about=about,
        ids=ids,
    )
    return _paged(request, page)


@router.get(
    "/events/backlog",
    response_model=Backlog,
    summary="How far a consumer is behind",
    responses=problems(Unauthorized, Forbidden, InvalidInput),
)
async def read_backlog(user: CurrentUser, runtime: RuntimeDep, after: After = None) -> JSONResponse:
    """The number of the org's events after `after` and the newest one (service, admin)."""
    return _json(await service.backlog(runtime.pool, user, after))


@router.get(
    "/orgs",
    response_model=OrgList,
    summary="Orgs with events (platform service tokens)",
    responses=problems(Unauthorized, Forbidden),
)
async def list_orgs(user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    """Every org that has events and the cursor of its newest one. Only a platform service token
    (`org` claim `*`, role service) may ask: it is how scoring finds the feeds to follow."""
    return _json(await service.list_orgs(runtime.pool, user))


@router.get(
    "/events/{event_id}",
    response_model=StoredEvent,
    summary="One event",
    responses=problems(Unauthorized, NotFound, InvalidInput),
)
async def get_event(event_id: UUID, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return _raw(await service.get_event(runtime.pool, user, event_id))


@router.get(
    "/streams/{stream}",
    response_model=EventPage,
    summary="One lead's, deal's or account's timeline",
    responses={**_PAGE_RESPONSE, **problems(Unauthorized, NotFound, InvalidInput)},
)
async def read_stream(
    request: Request,
    stream: Annotated[Stream, Path(description="e.g. `deal-D-88`")],
    user: CurrentUser,
    runtime: RuntimeDep,
    after: After = None,
    limit: Limit = 100,
) -> Response:
    page = await service.read_stream(runtime.pool, user, stream, after=after, limit=limit)
    return _paged(request, page)
