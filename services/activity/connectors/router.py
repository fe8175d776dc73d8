"""HTTP routes of the CRM connectors: admin management, webhook deliveries, dead letters.

Deliveries (`POST /v1/webhooks/{provider}/{org}`) carry no bearer token: they are verified by
the provider's signature against the org's connector secrets (current or previous), and
anything unverified — bad, missing or stale signature — is answered 401 with nothing stored.
A verified delivery is translated into our events and appended through activity's batch append
(all or nothing, idempotent by the event id derived from the provider's ids), and only then
answered 200; a delivery stored already answers 200 again with `duplicates`.

Order of deliveries. Providers promise none: a `won` may come before the stage change that
preceded it (or before the deal's creation), an amount change after the close. Events are
appended as they come (the log stays in arrival order), each with the CRM's own `occurred_at`,
and everything that reads them reads a deal by those times: scoring's fold takes a deal's stage
and amount from its latest change by `occurred_at`, counts a stage reached before the close
whenever it arrives, and keeps a close that comes before the deal's opening until the opening
(`services/scoring/projections/kpis.py`, "deals"); the connectors remember a deal's amount and
stage with the time of their change, so an older change does not replace a newer one
(`domain.DealFacts`). Tests: tests/unit/scoring/test_fold_out_of_order.py and the HubSpot and
Pipedrive webhook tests. What cannot be translated yet (an unmapped stage or owner, a won deal
whose amount never came, an event our models refuse) is a dead letter, listed and replayed by
admins once the mapping is fixed; the rest of the same delivery is appended.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from shared.auth import CurrentUser
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
from shared.events import ID_PATTERN
from shared.responses import JSONResponse

from ..dependencies import RuntimeDep
from . import generic, salesforce, service
from .schemas import (
    ConnectorCreate,
    ConnectorList,
    ConnectorRead,
    ConnectorUpdate,
    DeadLetterList,
    DeliveryResult,
    ReplayResult,
)

router = APIRouter(prefix="/v1", tags=["connectors"])

OrgPath = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
_ADMIN = problems(Unauthorized, Forbidden, NotFound, InvalidInput)
_ADMIN_BODY = problems(
    Unauthorized, Forbidden, NotFound, InvalidInput, MalformedRequest, UnsupportedMediaType
)
_DELIVERY = problems(
    MalformedRequest,
    Unauthorized,
    NotFound,
    InvalidInput,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
)


def _json(body: object, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


@router.post(
    "/connectors",
    status_code=201,
    response_model=ConnectorRead,
    summary="Configure a CRM connector (admin)",
    responses=problems(
        Unauthorized, Forbidden, InvalidInput, Conflict, MalformedRequest, UnsupportedMediaType
    ),
)
async def create_connector(
    body: ConnectorCreate, user: CurrentUser, runtime: RuntimeDep
) -> ConnectorRead:
    """One per provider and org. The secret is write-only: answers show its fingerprint."""
    return ConnectorRead.model_validate(await service.create_connector(runtime.pool, user, body))


@router.get(
    "/connectors",
    response_model=ConnectorList,
    summary="The org's connectors (admin)",
    responses=problems(Unauthorized, Forbidden),
)
async def list_connectors(user: CurrentUser, runtime: RuntimeDep) -> ConnectorList:
    return ConnectorList.model_validate(await service.list_connectors(runtime.pool, user))


@router.get(
    "/connectors/{connector_id}",
    response_model=ConnectorRead,
    summary="One connector (admin)",
    responses=_ADMIN,
)
async def get_connector(
    connector_id: UUID, user: CurrentUser, runtime: RuntimeDep
) -> ConnectorRead:
    return ConnectorRead.model_validate(
        await service.get_connector(runtime.pool, user, connector_id)
    )


@router.patch(
    "/connectors/{connector_id}",
    response_model=ConnectorRead,
    summary="Change mappings, defaults or rotate the secret (admin)",
    responses=_ADMIN_BODY,
)
async def update_connector(
    connector_id: UUID, body: ConnectorUpdate, user: CurrentUser, runtime: RuntimeDep
) -> ConnectorRead:
    """A new `secret` becomes `current` and the old one `previous`: both verify until
    `drop_previous_secret: true`, so the CRM side can be switched without losing deliveries."""
    return ConnectorRead.model_validate(
        await service.update_connector(runtime.pool, user, connector_id, body)
    )


@router.delete(
    "/connectors/{connector_id}",
    status_code=204,
    summary="Remove a connector (admin)",
    responses=_ADMIN,
)
async def delete_connector(connector_id: UUID, user: CurrentUser, runtime: RuntimeDep) -> Response:
    await service.delete_connector(runtime.pool, user, connector_id)
    return Response(status_code=204)


@router.get(
    "/connectors/{connector_id}/dead-letters",
    response_model=DeadLetterList,
    summary="Deliveries that could not be translated (admin)",
    responses=_ADMIN,
)
async def list_dead_letters(
    connector_id: UUID,
    user: CurrentUser,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    return _json(await service.list_dead_letters(runtime.pool, user, connector_id, limit))


@router.post(
    "/connectors/{connector_id}/dead-letters/replay",
    response_model=ReplayResult,
    summary="Translate the dead letters again and append what now maps (admin)",
    responses=_ADMIN,
)
async def replay_dead_letters(
    connector_id: UUID, user: CurrentUser, runtime: RuntimeDep
) -> JSONResponse:
    return _json(await service.replay_dead_letters(runtime, user, connector_id))


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _called_uri(request: Request) -> str:
    """The full URI the CRM called: `ACTIVITY_PUBLIC_URL` + the path and query when it is set
    (behind a TLS-terminating proxy the service sees http://internal-host…), else the URL the
    service sees."""
    settings = getattr(request.app.state, "settings", None)
    base: str | None = getattr(settings, "public_url", None)
    if not base:
        return str(request.url)
    query = request.url.query
    return base + request.url.path + (f"?{query}" if query else "")


@router.post(
    "/webhooks/hubspot/{org}",
    response_model=DeliveryResult,
    summary="HubSpot webhook deliveries (v3 signature)",
    responses=_DELIVERY,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "maxItems": 100, "items": {"type": "object"}}
                }
            },
        }
    },
)
async def hubspot_webhook(org: OrgPath, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """`X-HubSpot-Signature-v3` over method, the full URI this was called at (behind a proxy:
    `ACTIVITY_PUBLIC_URL` + path and query), body and `X-HubSpot-Request-Timestamp` (at most
    five minutes old); up to 100 events."""
    body = await request.body()
    return _json(
        await service.receive_hubspot(
            runtime,
            org,
            method=request.method,
            uri=_called_uri(request),
            headers=_headers(request),
            body=body,
        )
    )


_GENERIC_EVENT = {
    "type": "object",
    "description": "One event, shaped like ours: `type`, `stream`, `occurred_at`, `rep_id` or "
    "a mapped `owner`, `team_id`, `data`.",
    "example": {
        "type": "visit.logged",
        "stream": "lead-L-17",
        "occurred_at": "2026-11-20T10:30:00+01:00",
        "owner": "u-7",
        "data": {"mode": "onsite", "effective": True, "duration_minutes": 45},
    },
}
_GENERIC_BODY = {
    "oneOf": [
        _GENERIC_EVENT,
        {
            "type": "array",
            "minItems": 1,
            "maxItems": generic.MAX_EVENTS,
            "items": _GENERIC_EVENT,
            "description": f"A list of 1 to {generic.MAX_EVENTS} events.",
        },
    ]
}


@router.post(
    "/webhooks/generic/{org}",
    response_model=DeliveryResult,
    summary="Standard Webhooks deliveries",
    responses=_DELIVERY,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _GENERIC_BODY}},
        }
    },
)
async def generic_webhook(org: OrgPath, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """`webhook-id`, `webhook-timestamp`, `webhook-signature` (whsec_ secret); the body is one
    event or a list of up to 1,000 (see services/activity/connectors/generic.py). An event
    that cannot be stored (an unmapped owner or stage, a field our models refuse) is a dead
    letter: the rest of the delivery is appended."""
    body = await request.body()
    return _json(await service.receive_generic(runtime, org, headers=_headers(request), body=body))


@router.post(
    "/webhooks/pipedrive/{org}",
    response_model=DeliveryResult,
    summary="Pipedrive webhook deliveries (v2, HTTP Basic auth)",
    responses=_DELIVERY,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "required": ["meta"]}}},
        }
    },
)
async def pipedrive_webhook(org: OrgPath, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """`Authorization: Basic` with the connector's `user:password` (Pipedrive's webhook HTTP
    auth); one v2 delivery: `meta`, `data`, `previous` (services/activity/connectors/pipedrive.py)."""
    body = await request.body()
    return _json(
        await service.receive_pipedrive(runtime, org, headers=_headers(request), body=body)
    )


_ACK_EXAMPLE = salesforce.ACK.decode()


@router.post(
    "/webhooks/salesforce/{org}/{token}",
    response_class=Response,
    summary="Salesforce outbound messages (SOAP; path token and organization id)",
    responses={
        200: {
            "description": "Salesforce's `Ack`, sent once the events are stored.",
            "content": {"text/xml": {"example": _ACK_EXAMPLE}},
        },
        **_DELIVERY,
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/xml": {"schema": {"type": "string"}}}}
    },
)
async def salesforce_webhook(
    org: OrgPath,
    token: Annotated[str, Path(max_length=500)],
    request: Request,
    runtime: RuntimeDep,
) -> Response:
    """The outbound message's endpoint URL ends with the connector's secret token; its
    `OrganizationId` must be the connector's `salesforce_org_id`. Up to 100 notifications of
    Opportunity (services/activity/connectors/salesforce.py)."""
    body = await request.body()
    ack = await service.receive_salesforce(
        runtime, org, token, headers=_headers(request), body=body
    )
    return Response(content=ack, media_type="text/xml; charset=utf-8")
