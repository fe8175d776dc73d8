"""HTTP routes of the scoring service: parse, call one service function, answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.auth import BearerAuth, CurrentUser, Principal
from shared.contracts.scoring import (
    FunnelReport,
    KpiReport,
    Leaderboard,
    MetricCatalogue,
    OrgSettings,
    OrgSettingsSet,
    RebuildStatus,
)
from shared.dates import Day, IsoDatetime
from shared.errors import (
    Forbidden,
    InvalidInput,
    MalformedRequest,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from shared.errors import problem_responses as problems
from shared.events import Channel as Channel_
from shared.events import Tier as Tier_
from shared.pagination import next_link
from shared.responses import JSONResponse

from . import export, service
from .dependencies import Runtime, RuntimeDep
from .domain import CATALOGUE, Period, parse_metrics
from .sources import Cuts

router = APIRouter(prefix="/v1")
_READ_ERRORS = problems(Unauthorized, Forbidden, InvalidInput, UpstreamUnavailable)

ID = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}"  # as event ids (shared/events.py Identifier)
Owner = Annotated[
    str | None,
    Query(description="`rep:ID`, `team:ID` or `org`; default: you (rep), your team (manager) or "
          "the org.", examples=["team:team-north"], pattern=rf"^(org|(rep|team):{ID})$"),
]  # fmt: skip
From = Annotated[
    Day | None,
    Query(alias="from", description="First day (org timezone), 1970-01-01 to 2099-12-31."),
]
To = Annotated[
    Day | None,
    Query(alias="to", description="Last day, inclusive (at most 2099-12-31). Default: the "
          "current period."),
]  # fmt: skip
ProductLine = Annotated[
    str | None, Query(description="Only facts of this product line.", pattern=f"^{ID}$")
]
Tier = Annotated[Tier_ | None, Query(description="Only facts of accounts in this tier.")]
Channel = Annotated[Channel_ | None, Query(description="Only facts of leads from this channel.")]
Currency = Annotated[
    str | None, Query(description="Reporting currency of money metrics; default the org's.")
]
AsOf = Annotated[
    IsoDatetime | None,
    Query(description="Answer as it stood at this moment: events recorded later are ignored "
          "(replays the log; slower)."),
]  # fmt: skip


def _cuts(product_line: str | None, tier: Tier_ | None, channel: Channel_ | None) -> Cuts:
    return Cuts(product_line, tier.value if tier else None, channel.value if channel else None)


class KpiQuery(BaseModel):
    """The query of `GET /v1/kpis`: FastAPI documents it, and the direct route parses it."""

    owner: Owner = None
    period: Annotated[Period, Query(description="Bucket size.")] = Period.MONTH
    first: From = None
    last: To = None
    metrics: Annotated[
        str | None, Query(description="Comma-separated; default all. See `GET /v1/metrics`.")
    ] = None
    product_line: ProductLine = None
    tier: Tier = None
    channel: Channel = None
    currency: Currency = None
    as_of: AsOf = None


_kpi_query = TypeAdapter(KpiQuery)
_reader = BearerAuth()


async def _kpis(user: Principal, runtime: Runtime, q: KpiQuery) -> JSONResponse:
    report = await service.kpis(
        runtime, user, owner=q.owner, period=q.period, first=q.first, last=q.last,
        metrics=parse_metrics(q.metrics), cuts=_cuts(q.product_line, q.tier, q.channel),
        currency=q.currency, as_of=q.as_of,
    )  # fmt: skip
    return JSONResponse(report)


@router.get("/kpis", response_model=KpiReport, tags=["kpis"], responses=_READ_ERRORS,
            summary="KPIs per period for a rep, a team or the org")  # fmt: skip
async def get_kpis(
    user: CurrentUser, runtime: RuntimeDep, query: Annotated[KpiQuery, Query()]
) -> JSONResponse:
    """Buckets of the period (whole days, weeks from Monday, months, quarters, years in the org's
    timezone) that overlap `from`..`to`, each with the metrics asked for."""
    return await _kpis(user, runtime, query)


async def kpis_direct(request: Request) -> Response:
    """`GET /v1/kpis` past FastAPI's routing and dependency layers (shared/direct.py): the
    endpoint dashboards poll. Same query model, same errors. Its answers are kept rendered, by
    caller and query string, while the org stays where it is (answers.py): a dashboard asking
    again gets the same bytes without parsing anything (measured: ~3× the requests a second)."""
    user = await _reader(request)
    runtime: Runtime = request.app.state.runtime

    async def answer() -> bytes:
        try:
            query = _kpi_query.validate_python(dict(request.query_params))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in errors]
            ) from exc
        return bytes((await _kpis(user, runtime, query)).body)

    if "as_of" in request.query_params:  # a replay of the log, not the projection
        body = await answer()
    else:
        standing = await service.standing(runtime, user.org)
        key = ("kpis-raw", user, request.scope["query_string"], *standing)
        body = await runtime.answers.get(key, answer)
    return Response(body, media_type="application/json")


@router.get("/funnel", response_model=FunnelReport, tags=["kpis"], responses=_READ_ERRORS,
            summary="Counts per funnel step and step-to-step conversion")  # fmt: skip
async def get_funnel(
    user: CurrentUser,
    runtime: RuntimeDep,
    owner: Owner = None,
    first: From = None,
    last: To = None,
    product_line: ProductLine = None,
    tier: Tier = None,
    channel: Channel = None,
    as_of: AsOf = None,
) -> JSONResponse:
    """Leads created, qualified, deals opened, each deal stage reached (the most reached first)
    and deals won in the range; each step with its conversion from the one before."""
    report = await service.funnel(
        runtime, user, owner=owner, first=first, last=last,
        cuts=_cuts(product_line, tier, channel), as_of=as_of,
    )  # fmt: skip
    return JSONResponse(report)


@router.get("/leaderboard", response_model=Leaderboard, tags=["kpis"], responses=_READ_ERRORS,
            summary="Reps ranked by a metric")  # fmt: skip
async def get_leaderboard(
    user: CurrentUser,
    runtime: RuntimeDep,
    metric: Annotated[str, Query(description="A count, amount, rate or average metric.")],
    period: Annotated[Period, Query()] = Period.MONTH,
    at: Annotated[
        Day | None,
        Query(description="A day in the period (1970-01-01 to 2099-12-31); default today."),
    ] = None,
    scope: Annotated[
        str | None, Query(description="`team:ID` or `org`.", pattern=rf"^(org|team:{ID})$")
    ] = None,
    currency: Currency = None,
) -> JSONResponse:
    (name,) = parse_metrics(metric, "metric")[:1]
    board = await service.leaderboard(
        runtime, user, metric=name, period=period, at=at, scope=scope, currency=currency
    )
    return JSONResponse(board)


@router.get("/metrics", response_model=MetricCatalogue, tags=["kpis"],
            responses=problems(Unauthorized), summary="The metric catalogue")  # fmt: skip
async def list_metrics(user: CurrentUser) -> JSONResponse:
    """Every metric `/v1/kpis` serves, its kind and definition."""
    return JSONResponse({"items": [
        {"name": m.name, "kind": m.kind.value, "description": m.description}
        for m in CATALOGUE.values()
    ]})  # fmt: skip


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"
    PARQUET = "parquet"


@router.get(
    "/export/kpis",
    tags=["export"],
    response_class=Response,  # its own media types, documented below; not JSON
    summary="Bulk export of the daily KPI rows, for BI tools",
    responses={
        200: {
            "description": "Rows; the `Link` header (rel=next) and `X-Next-Cursor` continue.",
            "content": {"text/csv": {}, "application/x-ndjson": {}, "application/vnd.apache.parquet": {}},
        },
        **_READ_ERRORS,
    },
)  # fmt: skip
async def export_kpis(
    request: Request,
    user: CurrentUser,
    runtime: RuntimeDep,
    format: Annotated[
        ExportFormat, Query(description="csv, ndjson or parquet.")
    ] = ExportFormat.NDJSON,
    cursor: Annotated[
        str | None, Query(description="`X-Next-Cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Rows per page.")] = 10_000,
    owner: Owner = None,
) -> Response:
    """The stored sums per day, rep, team and cut, with stable columns: org_id, day, rep_id,
    team_id, product_line, tier, channel, currency, metric, value (rep_id "" for events logged
    without a rep). Sum `value` over any columns — a team is the sum of its rows, the org of
    all; derive rates from their stored parts (`GET /v1/metrics`)."""
    rows, next_cursor = await service.export_page(
        runtime, user, cursor=cursor, limit=limit, owner=owner
    )
    headers: dict[str, str] = {}
    if next_cursor:
        headers["Link"] = next_link(request.url, "cursor", next_cursor)
        headers["X-Next-Cursor"] = next_cursor
    return export.response(format.value, rows, headers)


@router.get("/settings", response_model=OrgSettings, tags=["settings"],
            responses=problems(Unauthorized), summary="The org's timezone and currency")  # fmt: skip
async def get_settings(user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(await service.get_settings(runtime, user))


@router.put("/settings", response_model=OrgSettingsSet, tags=["settings"],
            responses=problems(Unauthorized, Forbidden, InvalidInput, MalformedRequest,
                               UnsupportedMediaType),
            summary="Set the org's timezone and currency (admin)")  # fmt: skip
async def put_settings(
    user: CurrentUser, runtime: RuntimeDep, body: Annotated[OrgSettings, Body()]
) -> JSONResponse:
    """A new timezone re-buckets every event: the org's projection is rebuilt in the background
    (reads keep answering from the old one until the new one is ready)."""
    return JSONResponse(await service.put_settings(runtime, user, body.timezone, body.currency))


@router.post("/admin/rebuild", response_model=RebuildStatus, status_code=202, tags=["admin"],
             responses=problems(Unauthorized, Forbidden),
             summary="Rebuild the org's projections from the log (admin)")  # fmt: skip
async def rebuild(user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    """Replays the whole log into new tables and swaps them in when caught up; reads stay
    available throughout. Follow it with `GET /v1/admin/rebuild`."""
    return JSONResponse(await service.request_rebuild(runtime, user), status_code=202)


@router.get("/admin/rebuild", response_model=RebuildStatus, tags=["admin"],
            responses=problems(Unauthorized, Forbidden), summary="Progress of a rebuild")  # fmt: skip
async def rebuild_status(user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(await service.rebuild_status(runtime, user))
