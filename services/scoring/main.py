"""The scoring service: the activity log replayed into KPIs, funnels and leaderboards."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI

from shared.contracts.scoring import ScoringReadiness
from shared.db import asyncpg_dsn, release_as_is, sync_url
from shared.direct import DirectRoutes
from shared.docs import install_offline_docs
from shared.errors import document_problems_as_problem_json, install_problem_handlers
from shared.limits import BodySizeLimit, max_body_bytes
from shared.logging import configure_logging
from shared.observability import MetricsMiddleware, ops_router, readiness_route
from shared.pagination import configure_cursors
from shared.responses import JSONResponse

from . import repository
from .answer.answers import Answers
from .answer.org_views import OrgRows
from .answer.replays import Replays
from .config import ScoringSettings
from .dependencies import Runtime, feed_client
from .follow.consumer import Consumer
from .reps.router import router as reps_router
from .rosters import RosterCopies
from .router import kpis_direct, router, score_direct

DESCRIPTION = """
KPIs, funnels and leaderboards, folded from the activity log. Scoring follows activity's feed
(orgs are leased to the consuming replicas; every replica serves reads), so numbers are fresh within about
a second and can be rebuilt from the log at any time. `as_of` answers as the log stood at a
moment. Money is a decimal string with its currency; every rate comes with its numerator and
denominator.

Authenticate with `Authorization: Bearer <JWT>` (`salesperf token --help`). Errors are
RFC 9457 `application/problem+json` with the fields at fault.
"""


def create_app(
    settings: ScoringSettings | None = None,
    *,
    database_url: str | None = None,
    activity_transport: httpx.AsyncBaseTransport | None = None,
    goals_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`activity_transport` and `goals_transport` let tests run activity and goals in the same
    process (httpx.ASGITransport)."""
    settings = settings or ScoringSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json=settings.log_json)
        dsn = asyncpg_dsn(database_url or sync_url(settings))
        async with contextlib.AsyncExitStack() as stack:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=settings.pool_size,
                command_timeout=60,
                server_settings={"application_name": "scoring", "timezone": "UTC"},
                reset=release_as_is,
            )
            stack.push_async_callback(pool.close)
            secret = settings.resolved_jwt_secret()
            consumer = Consumer(settings, dsn, pool, secret, transport=activity_transport)
            stack.callback(consumer.scorer.close)  # training, rescores, backtests
            if settings.consume:
                consumer.start()
                stack.push_async_callback(consumer.stop)
            org_rows = OrgRows(dsn, pool)
            org_rows.start()
            stack.push_async_callback(org_rows.stop)
            rosters = RosterCopies(
                settings, pool, consumer.token, org_rows.forget, transport=goals_transport
            )
            if settings.consume:
                rosters.start()
                stack.push_async_callback(rosters.stop)
            app.state.rosters = rosters
            activity = feed_client(settings, consumer.token, activity_transport)  # as_of replays
            stack.push_async_callback(activity.aclose)
            app.state.settings = settings
            app.state.jwt_secret = secret
            configure_cursors(secret, settings)  # SALESPERF_CURSOR_KEYS, else the shared secret
            app.state.runtime = Runtime(
                pool=pool,
                settings=settings,
                consumer=consumer,
                answers=Answers(settings.answer_cache_size),
                org_rows=org_rows,
                activity=activity,
                replays=Replays(settings.as_of_replays, settings.as_of_replay_events),
            )
            # Everything allocated so far lives as long as the process: keep the cyclic GC from
            # scanning it again and again (as activity does).
            gc.freeze()
            yield

    app = FastAPI(
        title="salesperf scoring",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,  # served offline by install_offline_docs
        redoc_url=None,
        # Prometheus (/metrics) is our telemetry; FastAPI's OpenTelemetry hooks would cost a
        # check per request for nothing (as in activity).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    document_problems_as_problem_json(app)
    # Innermost: dashboards' polling of /v1/kpis skips FastAPI's routing layers (shared/direct.py).
    app.add_middleware(
        DirectRoutes,
        routes={("GET", "/v1/kpis"): kpis_direct},
        patterns={("GET", "/v1/leads/{id}/score"): score_direct},
    )
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes(settings))  # SCORING_MAX_BODY_BYTES
    app.add_middleware(MetricsMiddleware, service="scoring")
    app.include_router(router)
    app.include_router(reps_router)
    install_offline_docs(app)
    app.include_router(ops_router("scoring"))

    @app.get(
        "/readyz",
        summary="Readiness: database reachable; the consumer's lag behind the feed",
        **readiness_route(ScoringReadiness),
    )
    async def readyz() -> JSONResponse:
        runtime: Runtime = app.state.runtime
        try:
            async with runtime.pool.acquire(timeout=2) as conn:
                await repository.ping(conn)
            database = True
        except Exception:
            database = False
        state = runtime.consumer.state
        lag = list(state.lag.values())
        consumer = {
            "enabled": settings.consume,
            "leading": state.leading,
            "replicas": state.replicas if state.connected else 0,
            "leases": len(state.leased),
            "lag": {
                "events": sum(x.events for x in lag),
                "seconds": max((x.seconds for x in lag), default=0.0),
            }
            if state.leading
            else None,
            "orgs": len(lag),
        }
        return JSONResponse(
            {
                "ready": database,
                # org_listener false: reads still answer, each asking the database where the
                # org stands (see answer/org_views.py).
                "checks": {"database": database, "org_listener": runtime.org_rows.listening},
                "consumer": consumer,
            },
            status_code=200 if database else 503,
        )

    return app
