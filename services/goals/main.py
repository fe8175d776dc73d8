"""The goals service: goals, their decomposition, funnel plans, progress and the roster."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from shared.auth import service_token
from shared.db import create_engine, create_sessionmaker, sync_url
from shared.docs import install_offline_docs
from shared.errors import document_problems_as_problem_json, install_problem_handlers
from shared.limits import BodySizeLimit, max_body_bytes
from shared.logging import configure_logging
from shared.observability import MetricsMiddleware, ops_router, readiness_route
from shared.pagination import configure_cursors
from shared.responses import JSONResponse

from . import repository
from .config import GoalsSettings
from .incentive_routes import router as incentive_router
from .review_routes import review_router
from .router import router
from .scoring import GoalsScoring
from .statement_routes import router as statement_router

DESCRIPTION = """
Goals on any KPI scoring serves — for a rep, a team or the org, with a floor and a stretch —
their decomposition (in time, or across tiers, product lines and reps; children always sum
to the parent), funnel plans, and progress: actual (from scoring), pace against the goal's own
shape, projection and status. Every change is a revision; nothing is overwritten. The roster:
who is in which team, since when (effective-dated entries, kept, never overwritten).

Authenticate with `Authorization: Bearer <JWT>` (`salesperf token --help`). Errors are
RFC 9457 `application/problem+json` with the fields at fault; 503 when scoring is down.
"""
TOKEN_TTL = 3600  # goals' service tokens to scoring


def create_app(
    settings: GoalsSettings | None = None,
    *,
    database_url: str | None = None,
    scoring_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or GoalsSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json=settings.log_json)
        engine = create_engine(
            database_url or sync_url(settings),
            pool_size=settings.pool_size,
            application_name="goals",
        )
        secret = settings.resolved_jwt_secret()

        def token(org: str) -> str:
            """Goals' service token for `org`: signed with the current key, short-lived, asked
            for at each call to scoring and re-minted before it expires (shared/auth.py)."""
            return service_token(
                settings, org=org, sub="goals", ttl_seconds=TOKEN_TTL, secret=secret
            )

        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(engine.dispose)
            scoring = GoalsScoring(
                settings.scoring_url,
                token,
                timeout=settings.scoring_timeout,
                transport=scoring_transport,
                rep_team_seconds=settings.rep_team_seconds,
            )
            stack.push_async_callback(scoring.aclose)
            app.state.settings = settings
            app.state.jwt_secret = secret
            configure_cursors(secret, settings)  # SALESPERF_CURSOR_KEYS, else the secret
            app.state.engine = engine
            app.state.sessionmaker = create_sessionmaker(engine)
            app.state.scoring = scoring
            yield

    # docs_url/redoc_url: served offline by install_offline_docs, below.
    app = FastAPI(
        title="salesperf goals",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    document_problems_as_problem_json(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes(settings))  # GOALS_MAX_BODY_BYTES
    app.add_middleware(MetricsMiddleware, service="goals")
    app.include_router(router)
    app.include_router(statement_router)
    app.include_router(incentive_router)
    app.include_router(review_router)
    install_offline_docs(app)
    app.include_router(ops_router("goals"))

    @app.get("/readyz", summary="Readiness: database reachable", **readiness_route())
    async def readyz() -> JSONResponse:
        try:
            async with app.state.engine.connect() as conn:
                await repository.ping(conn)
            ok = True
        except Exception:
            ok = False
        return JSONResponse(
            {"ready": ok, "checks": {"database": ok}}, status_code=200 if ok else 503
        )

    return app
