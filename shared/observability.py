"""Prometheus metrics for HTTP traffic and the `/healthz`, `/metrics` endpoints every service has."""

from __future__ import annotations

import functools
import time
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contracts.operations import Readiness

HTTP_REQUESTS = Counter(
    "salesperf_http_requests_total",
    "HTTP requests answered.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "salesperf_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class MetricsMiddleware:
    """Counts requests and their latency by route template (not raw path: no label explosion)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            requests, latency = _children(self.service, scope["method"], template, status)
            requests.inc()
            latency.observe(time.perf_counter() - started)


@functools.lru_cache(maxsize=1024)
def _children(service: str, method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled metrics of one kind of request (label lookups cost more than the counts)."""
    return (
        HTTP_REQUESTS.labels(service, method, route, str(status)),
        HTTP_LATENCY.labels(service, method, route),
    )


def readiness_route(model: type[Readiness] = Readiness) -> dict[str, Any]:
    """Keyword arguments for a service's `/readyz` route: its model, documented for 503 too."""
    return {
        "tags": ["operations"],
        "response_model": model,
        "responses": {503: {"model": model, "description": "Not ready: the same body"}},
    }


def ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
