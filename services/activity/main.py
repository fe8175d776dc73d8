"""The activity service: the append-only, event-sourced log of everything a sales team does."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI

from shared.body import register_body_schemas
from shared.db import asyncpg_dsn, release_as_is, sync_url
from shared.direct import DirectRoutes
from shared.docs import install_offline_docs
from shared.errors import document_problems_as_problem_json, install_problem_handlers
from shared.limits import BodySizeLimit
from shared.logging import configure_logging
from shared.observability import MetricsMiddleware, ops_router, readiness_route
from shared.pagination import configure_cursors
from shared.responses import JSONResponse

from . import repository
from .config import ActivitySettings
from .connectors.router import router as connectors_router
from .dependencies import Runtime
from .imports.router import router as imports_router
from .imports.service import Importer
from .notifier import FeedNotifier
from .router import BODY_SCHEMAS, append_batch, append_event, router
from .writer import GroupCommitter

DESCRIPTION = """
The append-only event log of salesperf. Front ends and CRM webhooks **append** events
(`POST /v1/events`, `POST /v1/events/batch`); consumers such as scoring **read the feed**
(`GET /v1/events?after=…`) in order of position (the org's own: 1, 2, 3…), with
long-polling. Nothing is ever updated or deleted: a correction is an `event.voided` event.

Authenticate with `Authorization: Bearer <JWT>` (`salesperf token --help`). Errors are
RFC 9457 `application/problem+json` with the fields at fault.
"""


def create_app(
    settings: ActivitySettings | None = None, *, database_url: str | None = None
) -> FastAPI:
    settings = settings or ActivitySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json=settings.log_json)
        url = database_url or sync_url(settings)
        async with contextlib.AsyncExitStack() as stack:
            pool = await asyncpg.create_pool(
                asyncpg_dsn(url),
                min_size=1,
                max_size=settings.pool_size,
                command_timeout=30,
                reset=release_as_is,
                server_settings={
                    "application_name": "activity",
                    # Times rendered by PostgreSQL carry the session time zone: make it UTC.
                    "timezone": "UTC",
                    # A replica that dies holding an org's append lock must not hold it long.
                    "idle_in_transaction_session_timeout": "30000",
                },
            )
            stack.push_async_callback(pool.close)
            notifier = FeedNotifier(asyncpg_dsn(url))
            notifier.start()
            stack.push_async_callback(notifier.stop)
            committer = GroupCommitter(
                pool, max_group_events=settings.max_group_events, on_commit=notifier.wake
            )
            committer.start()
            stack.push_async_callback(committer.stop)  # first to stop: answers pending appends
            importer = Importer(
                pool,
                settings.import_dir,
                chunk_rows=settings.import_chunk_rows,
                max_bytes=settings.import_max_bytes,
                process_bytes=settings.import_process_bytes,
                on_commit=notifier.wake,
            )
            await importer.start()
            stack.push_async_callback(importer.stop)  # before the pool: jobs stop where they are
            app.state.settings = settings
            app.state.jwt_secret = settings.resolved_jwt_secret()
            # Cursors sealed with SALESPERF_CURSOR_KEYS (unset: the shared secret).
            configure_cursors(app.state.jwt_secret, settings)
            app.state.runtime = Runtime(
                pool=pool, committer=committer, notifier=notifier, importer=importer
            )
            app.state.drain = notifier.drain  # what `salesperf run` calls as it begins to stop
            # Everything allocated so far lives as long as the process: keep the cyclic GC from
            # scanning it again and again (measured: ~15% less CPU per append).
            gc.freeze()
            yield

    app = FastAPI(
        title="salesperf activity",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,  # served offline by install_offline_docs
        redoc_url=None,
        # Prometheus (/metrics) is our telemetry; FastAPI's built-in OpenTelemetry hooks would
        # cost a check per request for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    document_problems_as_problem_json(app)
    register_body_schemas(app, BODY_SCHEMAS)
    # Innermost: the two append endpoints skip FastAPI's routing layers (see shared/direct.py).
    app.add_middleware(
        DirectRoutes,
        routes={("POST", "/v1/events"): append_event, ("POST", "/v1/events/batch"): append_batch},
    )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        larger={("POST", "/v1/imports"): settings.import_max_bytes},
    )
    app.add_middleware(MetricsMiddleware, service="activity")
    app.include_router(router)
    app.include_router(connectors_router)
    app.include_router(imports_router)
    install_offline_docs(app)
    app.include_router(ops_router())

    @app.get(
        "/readyz", summary="Readiness: database reachable, writer running", **readiness_route()
    )
    async def readyz() -> JSONResponse:
        runtime: Runtime = app.state.runtime
        checks = {"writer": runtime.committer.running, "feed_listener": runtime.notifier.listening}
        try:
            async with runtime.pool.acquire(timeout=2) as conn:
                await repository.ping(conn)
            checks["database"] = True
        except Exception:
            checks["database"] = False
        ready = checks["database"] and checks["writer"]
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return app
