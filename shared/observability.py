"""Prometheus metrics for HTTP traffic and the `/healthz`, `/metrics` endpoints every service has."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contracts.operations import Readiness

_SERVICE_KEY = "salesperf_metrics_service"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """One service's own Prometheus registry and its HTTP metrics: when the three services run
    in one process (`salesperf run`), each `/metrics` shows only its own service's counters."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "salesperf_http_requests_total",
            "HTTP requests answered.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "salesperf_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # The process-wide registry keeps the process's own collectors and the metrics a
        # service declares at module level under its prefix (`salesperf_activity_…`).
        self.shared = _OwnShare(service)
        self.children = functools.lru_cache(maxsize=1024)(self._children)

    def _children(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The labelled metrics of one kind of request (label lookups cost more than counts)."""
        return (
            self.requests.labels(self.service, method, route, str(status)),
            self.latency.labels(self.service, method, route),
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry) + generate_latest(self.shared)


class _OwnShare:
    """The default registry without the other services' `salesperf_*` metrics."""

    def __init__(self, service: str) -> None:
        self.prefix = f"salesperf_{service}_"

    def collect(self) -> Iterator[Metric]:
        for metric in REGISTRY.collect():
            if not metric.name.startswith("salesperf_") or metric.name.startswith(self.prefix):
                yield metric


_services: dict[str, ServiceMetrics] = {}


def service_metrics(service: str) -> ServiceMetrics:
    """The metrics of `service` in this process (one registry per service, made once)."""
    if service not in _services:
        _services[service] = ServiceMetrics(service)
    return _services[service]


class MetricsMiddleware:
    """Counts requests and their latency by route template (not raw path: no label explosion)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self.metrics = service_metrics(service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        scope.setdefault("state", {})[_SERVICE_KEY] = self.service  # whose /metrics this is

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
            requests, latency = self.metrics.children(scope["method"], template, status)
            requests.inc()
            latency.observe(time.perf_counter() - started)


def readiness_route(model: type[Readiness] = Readiness) -> dict[str, Any]:
    """Keyword arguments for a service's `/readyz` route: its model, documented for 503 too."""
    return {
        "tags": ["operations"],
        "response_model": model,
        "responses": {503: {"model": model, "description": "Not ready: the same body"}},
    }


def ops_router(service: str | None = None) -> APIRouter:
    """`/healthz` and `/metrics`; `/metrics` shows `service`'s registry (by default, that of the
    service whose `MetricsMiddleware` the request came through)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        name = service or getattr(request.state, _SERVICE_KEY, None)
        body = service_metrics(name).exposition() if name else generate_latest()
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
