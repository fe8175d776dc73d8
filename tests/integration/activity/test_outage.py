"""When the database goes away: appends and readiness answer 503 at once, then recover.

The app reaches PostgreSQL through a small TCP relay on loopback that the test can cut, as a
network fault or a database restart would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from services.activity.main import create_app
from tests.api.activity.conftest import activity_settings
from tests.conftest import make_event, running


class Relay:
    """Forwards TCP connections on 127.0.0.1 to the database; `cut()` drops them all."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        socket_dir = url.query.get("host")
        self._unix = (
            str(Path(str(socket_dir)) / f".s.PGSQL.{url.port or 5432}") if socket_dir else None
        )
        self._target = (url.host or "127.0.0.1", url.port or 5432)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._unix:
            return await asyncio.open_unix_connection(self._unix)
        return await asyncio.open_connection(*self._target)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await self._open()
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()

    def url(self, database_url: str) -> str:
        url = make_url(database_url)
        query = {k: v for k, v in url.query.items() if k != "host"}
        url = url.set(host="127.0.0.1", port=self.port, query=query)
        return url.render_as_string(hide_password=False)


@pytest.fixture
async def relay(database_url: str) -> AsyncIterator[Relay]:
    relay = Relay(database_url)
    await relay.start()
    yield relay
    with contextlib.suppress(Exception):
        await relay.cut()


async def test_an_outage_answers_503_at_once_and_the_service_recovers(
    relay, database_url, auth, db, org
):
    app = create_app(activity_settings(), database_url=relay.url(database_url))
    async with running(app, "activity") as client:
        assert (
            await client.post("/v1/events", json=make_event(), headers=auth())
        ).status_code == 201

        await relay.cut()
        started = time.monotonic()
        events = [make_event() for _ in range(8)]
        answers = await asyncio.gather(*(
            client.post("/v1/events", json=e, headers=auth()) for e in events
        ))  # fmt: skip
        assert [a.status_code for a in answers] == [503] * 8
        assert answers[0].json()["type"] == "urn:salesperf:problem:unavailable"
        assert time.monotonic() - started < 10, "an outage must not cost a timeout per request"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False

        await relay.start()  # the database is back, on the same address
        retried = await client.post("/v1/events", json=events[0], headers=auth())
        assert retried.status_code == 201
        assert (await client.get("/readyz")).status_code == 200
    stored = await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org)
    assert stored == 2
