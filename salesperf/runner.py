"""Run every salesperf service in one process, each on its own loopback port.

Used by `salesperf run` (and so `make run`): the embedded Postgres is started when
DATABASE_URL is unset, migrations are applied, then the services serve until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from services.activity.config import ActivitySettings
from services.activity.main import create_app as create_activity
from services.goals.config import GoalsSettings
from services.goals.main import create_app as create_goals
from services.scoring.config import ScoringSettings
from services.scoring.main import create_app as create_scoring
from shared.config import ServiceSettings

KEEP_ALIVE_SECONDS = 5
"""An idle keep-alive connection is closed after this long (uvicorn's `timeout_keep_alive`)."""
MAX_HEAD_BYTES = 16 * 1024
"""The longest request line and headers uvicorn's h11 parser buffers before it answers 400."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    settings: Callable[[], ServiceSettings]
    factory: Callable[..., FastAPI]


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("activity", ActivitySettings, create_activity),
    ServiceSpec("scoring", ScoringSettings, create_scoring),
    ServiceSpec("goals", GoalsSettings, create_goals),
)


class _Server(uvicorn.Server):
    """uvicorn.Server without its own signal handling: the runner stops all servers at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _settings(spec: ServiceSpec) -> ServiceSettings:
    """A service's settings, pointed at the services started beside it (wherever their ports
    are) unless their URLs are set explicitly."""
    settings = spec.settings()
    if isinstance(settings, ScoringSettings) and "SCORING_ACTIVITY_URL" not in os.environ:
        activity = ActivitySettings()
        settings = settings.model_copy(
            update={"activity_url": f"http://{activity.host}:{activity.port}"}
        )
    if isinstance(settings, ScoringSettings) and "SCORING_GOALS_URL" not in os.environ:
        goals = GoalsSettings()
        settings = settings.model_copy(update={"goals_url": f"http://{goals.host}:{goals.port}"})
    if isinstance(settings, GoalsSettings) and "GOALS_SCORING_URL" not in os.environ:
        scoring = ScoringSettings()
        settings = settings.model_copy(
            update={"scoring_url": f"http://{scoring.host}:{scoring.port}"}
        )
    return settings


def _drain(app: FastAPI) -> None:
    """Let the app end requests that would hold its graceful shutdown (activity's feed
    long-polls), if it says how (`app.state.drain`, set at startup)."""
    drain = getattr(app.state, "drain", None)
    if drain is not None:
        drain()


async def serve(database_url: str, *, log_level: str = "warning") -> None:
    servers: list[tuple[FastAPI, _Server]] = []
    for spec in SERVICES:
        settings = _settings(spec)
        app = spec.factory(settings, database_url=database_url)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        servers.append((app, _Server(config)))

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    running = [asyncio.create_task(server.serve()) for _, server in servers]

    def stop() -> None:
        if stopping.is_set():  # a second Ctrl-C: now
            for _, server in servers:
                server.should_exit = server.force_exit = True
        stopping.set()

    async def stop_in_order() -> None:
        """Consumers before what they consume (goals reads scoring, scoring reads activity),
        so no service sees the one it follows go away and logs it as an outage."""
        await stopping.wait()
        for (app, server), task in reversed(list(zip(servers, running, strict=True))):
            _drain(app)
            server.should_exit = True
            await asyncio.wait([task])

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    stopper = asyncio.create_task(stop_in_order())
    try:
        await asyncio.gather(*running)
    finally:
        stopper.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def service_urls() -> list[tuple[str, str]]:
    out = []
    for spec in SERVICES:
        settings = spec.settings()
        out.append((spec.name, f"http://{settings.host}:{settings.port}"))
    return out
