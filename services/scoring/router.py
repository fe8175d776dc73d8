"""HTTP routes of the scoring service: parse, call one service function, answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.auth import BearerAuth, CurrentUser, Principal
from shared.contracts.priority import (
    AlertReport,
    BacktestReport,
    Health,
    HealthPage,
    ModelList,
    PriorityPage,
    Score,
)
from shared.contracts.scoring import (
    FunnelReading,
    FunnelReport,
    KpiReport,
    Leaderboard,
    MetricCatalogue,
    OrgSettings,
    OrgSettingsSet,
    RebuildStatus,
)
from shared.dates import Day, Moment
from shared.errors import (
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from shared.errors import problem_responses as problems
from shared.events import ID_PATTERN
from shared.events import Channel as Channel_
from shared.events import Tier as Tier_
from shared.owners import OWNER_PATTERN
from shared.pagination import next_link
from shared.responses import JSONResponse

from .answer import alerting, customers, export, priorities, service
from .answer.sources import Cuts
from .dependencies import Reader, Runtime, RuntimeDep, reach
from .domain import CATALOGUE, Period, parse_metrics

router = APIRouter(prefix="/v1")
_READ_ERRORS = problems(Unauthorized, Forbidden, InvalidInput, UpstreamUnavailable)
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Rows; the `Link` header (rel=next) and `X-Next-Cursor` continue.",
        "content": {
            "text/csv": {},
            "application/x-ndjson": {},
            "application/vnd.apache.parquet": {},
        },
    },
    **_READ_ERRORS,
}

Owner = Annotated[
    str | None,
    Query(
        description="`rep:ID`, `team:ID` or `org`; default: you (rep), your team (manager) or "
        "the org.",
        examples=["team:team-north"],
        pattern=OWNER_PATTERN,
    ),
]
From = Annotated[
    Day | None,
    Query(alias="from", description="First day (org timezone), 1970-01-01 to 2099-12-31."),
]
To = Annotated[
    Day | None,
    Query(
        alias="to",
        description="Last day, inclusive (at most 2099-12-31). Default: the current period.",
    ),
]
ProductLine = Annotated[
    str | None, Query(description="Only facts of this product line.", pattern=f"^{ID_PATTERN}$")
]
Tier = Annotated[Tier_ | None, Query(description="Only facts of accounts in this tier.")]
Channel = Annotated[Channel_ | None, Query(description="Only facts of leads from this channel.")]
Currency = Annotated[
    str | None, Query(description="Reporting currency of money metrics; default the org's.")
]
AsOf = Annotated[
    Moment | None,
    Query(
        description="By recorded time, what was known then: the log as recorded up to this "
        "moment is replayed (slower); events recorded later are left out even when they "
        "happened earlier. A moment before the org's first recorded event is refused (422) once it has one."
    ),
]


Metrics = Annotated[
    str | None, Query(description="Comma-separated; default all. See `GET /v1/metrics`.")
]


def _cuts(product_line: str | None, tier: Tier_ | None, channel: Channel_ | None) -> Cuts:
    return Cuts(product_line, tier.value if tier else None, channel.value if channel else None)


class KpiQuery(BaseModel):
    """The query of `GET /v1/kpis`: FastAPI documents it, and the direct route parses it."""

    owner: Owner = None
    period: Annotated[Period, Query(description="Bucket size.")] = Period.MONTH
    first: From = None
    last: To = None
    metrics: Metrics = None
    product_line: ProductLine = None
    tier: Tier = None
    channel: Channel = None
    currency: Currency = None
    as_of: AsOf = None


class KpiTotalQuery(BaseModel):
    """The query of `GET /v1/kpis/total`."""

    owner: Owner = None
    first: Annotated[
        Day, Query(alias="from", description="First day (org timezone), 1970-01-01 to 2099-12-31.")
    ]
    last: Annotated[Day, Query(alias="to", description="Last day, inclusive.")]
    metrics: Metrics = None
    product_line: ProductLine = None
    tier: Tier = None
    channel: Channel = None
    currency: Currency = None
    as_of: AsOf = None


_kpi_query = TypeAdapter(KpiQuery)
_reader = BearerAuth()
WriterUser = Annotated[Principal, Depends(BearerAuth(write=True))]
"""The caller of a route that changes something: platform and bi tokens get 403."""


async def _kpis(user: Principal, runtime: Runtime, q: KpiQuery) -> JSONResponse:
    report = await service.kpis(
        runtime,
        user,
        owner=q.owner,
        period=q.period,
        first=q.first,
        last=q.last,
        metrics=parse_metrics(q.metrics),
        cuts=_cuts(q.product_line, q.tier, q.channel),
        currency=q.currency,
        as_of=q.as_of,
    )
    return JSONResponse(report)


@router.get(
    "/kpis",
    response_model=KpiReport,
    tags=["kpis"],
    responses=_READ_ERRORS,
    summary="KPIs per period for a rep, a team or the org",
)
async def get_kpis(
    user: Reader, runtime: RuntimeDep, query: Annotated[KpiQuery, Query()]
) -> JSONResponse:
    """Buckets of the period (whole days, weeks from Monday, months, quarters, years in the org's
    timezone) that overlap `from`..`to`, each with the metrics asked for."""
    return await _kpis(user, runtime, query)


@router.get(
    "/kpis/total",
    response_model=KpiReport,
    tags=["kpis"],
    responses=_READ_ERRORS,
    summary="KPIs over a range of days, as one bucket",
)
async def get_kpi_total(
    user: Reader, runtime: RuntimeDep, query: Annotated[KpiTotalQuery, Query()]
) -> JSONResponse:
    """One bucket from `from` to `to` exactly (`period` is `range`), whatever the calendar:
    each metric as `/v1/kpis` would give it for a bucket of those days (flows summed, rates and
    averages from their summed parts, the pipeline at the end of `to`). What a goal's progress
    asks: a year's total without 365 daily buckets."""
    report = await service.kpis(
        runtime,
        user,
        owner=query.owner,
        period=None,
        first=query.first,
        last=query.last,
        metrics=parse_metrics(query.metrics),
        cuts=_cuts(query.product_line, query.tier, query.channel),
        currency=query.currency,
        as_of=query.as_of,
    )
    return JSONResponse(report)


async def kpis_direct(request: Request) -> Response:
    """`GET /v1/kpis` past FastAPI's routing and dependency layers (shared/direct.py): the
    endpoint dashboards poll. Same query model, same errors. Its answers are kept rendered, by
    caller and query string, while the org stays where it is (answer/answers.py): a dashboard
    asking again gets the same bytes without parsing anything (measured: ~3× the requests a
    second)."""
    runtime: Runtime = request.app.state.runtime
    user = await reach(runtime, await _reader(request))

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


@router.get(
    "/funnel",
    response_model=FunnelReport,
    tags=["kpis"],
    responses=_READ_ERRORS,
    summary="Counts per funnel step and step-to-step conversion",
)
async def get_funnel(
    user: Reader,
    runtime: RuntimeDep,
    owner: Owner = None,
    first: From = None,
    last: To = None,
    product_line: ProductLine = None,
    tier: Tier = None,
    channel: Channel = None,
    as_of: AsOf = None,
    reading: Annotated[
        FunnelReading,
        Query(
            description="`period` (default): the steps that happened in the range. `cohort`: "
            "of the leads created in the range, how many were ever qualified and how many "
            "deals opened from them ever reached each stage, were won or lost, whenever that "
            "happened; and under `deals` the same of the deals opened in the range."
        ),
    ] = FunnelReading.PERIOD,
) -> JSONResponse:
    """Leads created, qualified, deals opened, each deal stage reached (the most reached first)
    and deals won in the range; each step with its conversion from the one before. Then the
    deals lost in the range, with their share of the deals opened and their reasons (the most
    frequent first). With `reading=cohort`, the same steps of the leads created in the range,
    whenever each step came, and `deals`: those of the deals opened in the range."""
    report = await service.funnel(
        runtime,
        user,
        owner=owner,
        first=first,
        last=last,
        cuts=_cuts(product_line, tier, channel),
        as_of=as_of,
        reading=reading,
    )
    return JSONResponse(report)


@router.get(
    "/leaderboard",
    response_model=Leaderboard,
    tags=["kpis"],
    responses=_READ_ERRORS,
    summary="Reps ranked by a metric",
)
async def get_leaderboard(
    user: Reader,
    runtime: RuntimeDep,
    metric: Annotated[str, Query(description="A count, amount, rate or average metric.")],
    period: Annotated[Period, Query()] = Period.MONTH,
    at: Annotated[
        Day | None,
        Query(description="A day in the period (1970-01-01 to 2099-12-31); default today."),
    ] = None,
    scope: Annotated[
        str | None, Query(description="`team:ID` or `org`.", pattern=rf"^(org|team:{ID_PATTERN})$")
    ] = None,
    currency: Currency = None,
) -> JSONResponse:
    (name,) = parse_metrics(metric, "metric")[:1]
    board = await service.leaderboard(
        runtime, user, metric=name, period=period, at=at, scope=scope, currency=currency
    )
    return JSONResponse(board)


@router.get(
    "/metrics",
    response_model=MetricCatalogue,
    tags=["kpis"],
    responses=problems(Unauthorized),
    summary="The metric catalogue",
)
async def list_metrics(user: CurrentUser) -> JSONResponse:
    """Every metric `/v1/kpis` serves, its kind and definition."""
    return JSONResponse(
        {
            "items": [
                {
                    "name": m.name,
                    "kind": m.kind.value,
                    "description": m.description,
                    "rounding": m.kind.rounding,
                }
                for m in CATALOGUE.values()
            ]
        }
    )


class ExportFormat(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"
    PARQUET = "parquet"


@router.get(
    "/export/kpis",
    tags=["export"],
    response_class=Response,  # its own media types (_EXPORT_RESPONSES); not JSON
    summary="Bulk export of the daily KPI rows, for BI tools",
    responses=_EXPORT_RESPONSES,
)
async def export_kpis(
    request: Request,
    user: Reader,
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


@router.get(
    "/settings",
    response_model=OrgSettings,
    tags=["settings"],
    responses=problems(Unauthorized),
    summary="The org's timezone and currency",
)
async def get_settings(user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(await service.get_settings(runtime, user))


@router.put(
    "/settings",
    response_model=OrgSettingsSet,
    tags=["settings"],
    responses=problems(
        Unauthorized, Forbidden, InvalidInput, MalformedRequest, UnsupportedMediaType
    ),
    summary="Set the org's timezone and currency (admin)",
)
async def put_settings(
    user: WriterUser, runtime: RuntimeDep, body: Annotated[OrgSettings, Body()]
) -> JSONResponse:
    """A new timezone re-buckets every event: the org's projection is rebuilt in the background
    (reads keep answering from the old one until the new one is ready)."""
    return JSONResponse(await service.put_settings(runtime, user, body.timezone, body.currency))


@router.post(
    "/admin/rebuild",
    response_model=RebuildStatus,
    status_code=202,
    tags=["admin"],
    responses=problems(Unauthorized, Forbidden),
    summary="Rebuild the org's projections from the log (admin)",
)
async def rebuild(user: WriterUser, runtime: RuntimeDep) -> JSONResponse:
    """Replays the whole log into new tables and swaps them in when caught up; reads stay
    available throughout. Follow it with `GET /v1/admin/rebuild`."""
    return JSONResponse(await service.request_rebuild(runtime, user), status_code=202)


@router.get(
    "/admin/rebuild",
    response_model=RebuildStatus,
    tags=["admin"],
    responses=problems(Unauthorized, Forbidden),
    summary="Progress of a rebuild",
)
async def rebuild_status(user: Reader, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(await service.rebuild_status(runtime, user))


# --------------------------------------------------------------------------- what to do next

StreamId = Annotated[
    str,
    Path(
        description="The lead's or deal's stream, e.g. `lead-L-2026-0117` or `deal-D-88`.",
        pattern=rf"^(lead|deal)-{ID_PATTERN}$",
    ),
]
PageCursor = Annotated[
    str | None, Query(description="`next` (or `X-Next-Cursor`) of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (1–500).")]


class ProspectKind(StrEnum):
    LEAD = "lead"
    DEAL = "deal"


class KnownBy(StrEnum):
    RECORDED = "recorded"
    OCCURRED = "occurred"


class TierLetter(StrEnum):
    A = "A"
    B = "B"
    C = "C"


def _paged(request: Request, body: dict[str, Any]) -> JSONResponse:
    headers: dict[str, str] = {}
    if body.get("next"):
        headers["Link"] = next_link(request.url, "cursor", body["next"])
        headers["X-Next-Cursor"] = body["next"]
    return JSONResponse(body, headers=headers)


@router.get(
    "/leads/priority",
    response_model=PriorityPage,
    tags=["priority"],
    responses=_READ_ERRORS,
    summary="Open leads or deals, highest win probability first",
)
async def get_priority(
    request: Request,
    user: Reader,
    runtime: RuntimeDep,
    owner: Owner = None,
    kind: Annotated[ProspectKind, Query(description="lead or deal.")] = ProspectKind.LEAD,
    tier: Annotated[TierLetter | None, Query(description="Only this tier.")] = None,
    cursor: PageCursor = None,
    limit: Limit = 100,
    as_of: AsOf = None,
) -> JSONResponse:
    """Every open lead (or deal) of the owner, ordered by score (then id), each with its win
    probability, tier, the factors that made it, and when its next touch is due. A rep sees
    their own, a manager their team's."""
    body = await priorities.priority(
        runtime,
        user,
        owner=owner,
        kind=kind.value,
        tier=tier.value if tier else None,
        cursor=cursor,
        limit=limit,
        as_of=as_of,
    )
    return _paged(request, body)


@router.get(
    "/leads/{id}/score",
    response_model=Score,
    tags=["priority"],
    responses=problems(Unauthorized, Forbidden, InvalidInput, NotFound),
    summary="One open lead's or deal's score, with its factors",
)
async def get_score(
    user: Reader, runtime: RuntimeDep, id: StreamId, as_of: AsOf = None
) -> JSONResponse:
    """404 when it is not open (closed, unknown) or not yours to see."""
    return JSONResponse(await priorities.score_of(runtime, user, id, as_of=as_of))


class ScoreQuery(BaseModel):
    """`GET /v1/leads/{id}/score`'s parameters, for the direct route (the same types)."""

    id: StreamId
    as_of: AsOf = None


_score_query = TypeAdapter(ScoreQuery)


async def score_direct(request: Request) -> Response:
    """`GET /v1/leads/{id}/score` past FastAPI's routing and dependency layers (as /v1/kpis):
    a front end asks it for every lead a rep opens. Same parameters, same errors."""
    runtime: Runtime = request.app.state.runtime
    user = await reach(runtime, await _reader(request))
    raw = {"id": request.scope["path_params"]["id"], **request.query_params}
    try:
        query = _score_query.validate_python(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [
                {**e, "loc": ("path" if e["loc"][:1] == ("id",) else "query", *e["loc"])}
                for e in errors
            ]
        ) from exc
    answer = await priorities.score_of(runtime, user, query.id, as_of=query.as_of)
    return JSONResponse(answer)


@router.get(
    "/scoring/models",
    response_model=ModelList,
    tags=["priority"],
    responses=problems(Unauthorized, Forbidden),
    summary="The org's models",
)
async def get_models(user: Reader, runtime: RuntimeDep) -> JSONResponse:
    """Every version learnt for the org's leads and deals, newest first, with how it was chosen
    (its held-out AUC, Brier score, log loss and calibration) and which is active."""
    return JSONResponse(await priorities.list_models(runtime, user))


@router.post(
    "/scoring/models/train",
    response_model=ModelList,
    status_code=201,
    tags=["priority"],
    responses=problems(Unauthorized, Forbidden, NotFound),
    summary="Train the org's lead and deal models now (admin)",
)
async def post_train(user: WriterUser, runtime: RuntimeDep) -> JSONResponse:
    """Learns from the org's closed leads and deals (in a worker thread: reads go on), stores a
    new version of each, makes them active and rescores every open lead and deal. Training also
    runs by itself, after enough new outcomes and on a schedule."""
    return JSONResponse(await priorities.train(runtime, user), status_code=201)


@router.get(
    "/scoring/backtest",
    response_model=BacktestReport,
    tags=["priority"],
    responses=_READ_ERRORS,
    summary="How well the scores predict (admin, bi)",
)
async def get_backtest(
    user: Reader,
    runtime: RuntimeDep,
    cutoff: Annotated[
        Moment,
        Query(
            description="Learn only from what was recorded before "
            "this moment; evaluate what was created from it on."
        ),
    ],
    horizon_days: Annotated[
        int, Query(ge=1, le=365, description="Score each lead from its first N days only.")
    ] = 14,
    known_by: Annotated[
        KnownBy,
        Query(
            description="recorded (default): an event is known "
            "from when it was recorded; occurred: from when it "
            "occurred, for history imported in bulk."
        ),
    ] = (KnownBy.RECORDED),
) -> JSONResponse:
    """AUC, Brier score, log loss and a calibration table for the org's model and, computed the
    same way, the stage-only win rate and the time-weighted naive Bayes."""
    report = await priorities.backtest(
        runtime,
        user,
        cutoff=cutoff,
        horizon_days=horizon_days,
        known_by=known_by.value,
    )
    return JSONResponse(report)


@router.get(
    "/export/scores",
    tags=["export"],
    response_class=Response,
    summary="Bulk export of the open leads' and deals' scores, for BI tools",
    responses=_EXPORT_RESPONSES,
)
async def export_scores(
    request: Request,
    user: Reader,
    runtime: RuntimeDep,
    format: Annotated[
        ExportFormat, Query(description="csv, ndjson or parquet.")
    ] = ExportFormat.NDJSON,
    cursor: PageCursor = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Rows per page.")] = 10_000,
) -> Response:
    """Columns: org_id, kind, id, rep_id, team_id, score, win_probability, tier,
    next_touch_due, overdue, scored_for, model_version, model_kind, factors (JSON)."""
    rows, next_cursor = await priorities.export_scores(runtime, user, cursor=cursor, limit=limit)
    headers: dict[str, str] = {}
    if next_cursor:
        headers["Link"] = next_link(request.url, "cursor", next_cursor)
        headers["X-Next-Cursor"] = next_cursor
    return export.response(format.value, rows, headers, scores=True)


class Lifecycle(StrEnum):
    PROSPECT = "prospect"
    NEW = "new"
    GROWING = "growing"
    MATURE = "mature"
    DECLINING = "declining"


@router.get(
    "/accounts/health",
    response_model=HealthPage,
    tags=["health"],
    responses=_READ_ERRORS,
    summary="Accounts' health: lifecycle, risk, tier suggestion",
)
async def get_accounts_health(
    request: Request,
    user: Reader,
    runtime: RuntimeDep,
    owner: Owner = None,
    risk: Annotated[bool | None, Query(description="true: only accounts at risk.")] = None,
    stage: Annotated[Lifecycle | None, Query(description="Only this lifecycle stage.")] = None,
    cursor: PageCursor = None,
    limit: Limit = 100,
) -> JSONResponse:
    """Accounts by id, each with its lifecycle stage, the tier its revenue suggests beside the
    tier it has, and every risk signal with its evidence. A rep sees the accounts they own."""
    body = await customers.accounts(
        runtime,
        user,
        owner=owner,
        risk=risk,
        lifecycle=stage.value if stage else None,
        cursor=cursor,
        limit=limit,
    )
    return _paged(request, body)


@router.get(
    "/accounts/{id}/health",
    response_model=Health,
    tags=["health"],
    responses=problems(Unauthorized, Forbidden, InvalidInput, NotFound),
    summary="One account's health",
)
async def get_account_health(
    user: Reader,
    runtime: RuntimeDep,
    id: Annotated[
        str, Path(description="The account id (without `account-`).", pattern=f"^{ID_PATTERN}$")
    ],
) -> JSONResponse:
    return JSONResponse(await customers.account(runtime, user, id))


@router.get(
    "/alerts",
    response_model=AlertReport,
    tags=["alerts"],
    responses=_READ_ERRORS,
    summary="Rates that fell against the owner's recent past",
)
async def get_alerts(
    user: Reader,
    runtime: RuntimeDep,
    owner: Owner = None,
    first: Annotated[
        Day | None, Query(alias="from", description="First day; default: 6 days before `to`.")
    ] = None,
    last: Annotated[
        Day | None,
        Query(
            alias="to", description="Last day, inclusive; default: today (or 6 days after `from`)."
        ),
    ] = None,
    currency: Currency = None,
) -> JSONResponse:
    """Each watched rate (lead → opportunity, each stage step, win rate, connected calls,
    collections, effective visits) that fell by at least the configured share against the mean
    of the four periods of the same length before, with enough volume to mean something; each
    alert with the numbers that raised it."""
    body = await alerting.alerts(
        runtime, user, owner=owner, first=first, last=last, currency=currency
    )
    return JSONResponse(body)
