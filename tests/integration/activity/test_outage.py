"""When the database goes away: appends, reads, webhook deliveries, import starts and readiness
answer 503 at once (with `Retry-After` and an RFC 9457 problem, issue 11 §6), then recover.

The app reaches PostgreSQL through a small TCP relay on loopback that the test can cut, as a
network fault or a database restart would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook

from services.activity.main import create_app
from tests.api.activity.conftest import activity_settings
from tests.conftest import TokenFactory, make_event, running
from tests.problems import assert_problem


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


def assert_unavailable(answer: httpx.Response) -> None:
    """A 503 problem (RFC 9457) telling when to retry."""
    body = assert_problem(answer, 503)
    assert body["type"] == "urn:salesperf:problem:unavailable", body
    assert body["title"] == "Service unavailable", body
    assert answer.headers["retry-after"].isdigit(), answer.headers


SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
CSV = b"event_id,type,stream,occurred_at\nnot-a-uuid,visit.logged,account-O1,2020-01-01T00:00:00Z\n"


def signed(org: str, payload: object) -> tuple[str, bytes, dict[str, str]]:
    """A Standard Webhooks delivery to the org's generic connector, signed now."""
    body, msg_id, now = json.dumps(payload).encode(), "msg_outage", datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(msg_id, now, body),
    }
    return f"/v1/webhooks/generic/{org}", body, headers


@pytest.fixture
async def relay(database_url: str) -> AsyncIterator[Relay]:
    relay = Relay(database_url)
    await relay.start()
    yield relay
    with contextlib.suppress(Exception):
        await relay.cut()


async def test_an_outage_answers_503_at_once_and_the_service_recovers(
    relay: Relay, database_url: str, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    app = create_app(activity_settings(), database_url=relay.url(database_url))
    async with running(app, "activity") as client:
        assert (
            await client.post("/v1/events", json=make_event(), headers=auth())
        ).status_code == 201

        await relay.cut()
        started = time.monotonic()
        events = [make_event() for _ in range(8)]
        answers = await asyncio.gather(
            *(client.post("/v1/events", json=e, headers=auth()) for e in events)
        )
        for answer in answers:
            assert_unavailable(answer)
        assert time.monotonic() - started < 10, "an outage must not cost a timeout per request"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] is False

        await relay.start()  # the database is back, on the same address
        retried = await client.post("/v1/events", json=events[0], headers=auth())
        assert retried.status_code == 201
        assert (await client.get("/readyz")).status_code == 200
    stored = await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org)
    assert stored == 2


async def test_reads_deliveries_and_imports_answer_503_with_retry_after(
    relay: Relay, database_url: str, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    app = create_app(activity_settings(), database_url=relay.url(database_url))
    async with running(app, "activity") as client:
        connector = {"provider": "generic", "secret": SECRET, "default_currency": "EUR"}
        made = await client.post("/v1/connectors", json=connector, headers=auth())
        assert made.status_code == 201, made.text
        event = make_event(stream="lead-O1")
        stored = await client.post("/v1/events", json=event, headers=auth())
        assert stored.status_code == 201, stored.text
        reads = ("/v1/events", "/v1/streams/lead-O1", f"/v1/events/{event['event_id']}")
        for path in reads:
            assert (await client.get(path, headers=auth())).status_code == 200, path
        visit = {
            "type": "visit.logged",
            "stream": "lead-O2",
            "occurred_at": "2020-01-01T10:00:00Z",
            "rep_id": "r1",
            "data": {"mode": "onsite", "effective": True, "duration_minutes": 5},
        }

        await relay.cut()
        for path in reads:
            assert_unavailable(await client.get(path, headers=auth()))
        url, body, headers = signed(org, [visit])
        assert_unavailable(await client.post(url, content=body, headers=headers))
        imported = await client.post(
            "/v1/imports", content=CSV, headers={**auth(), "Content-Type": "text/csv"}
        )
        assert_unavailable(imported)

        await relay.start()  # the database is back: the same requests succeed
        for path in reads:
            assert (await client.get(path, headers=auth())).status_code == 200, path
        url, body, headers = signed(org, [visit])
        delivered = await client.post(url, content=body, headers=headers)
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["appended"] == 1
    assert await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org) == 2
    assert await db.fetchval("SELECT count(*) FROM activity.imports WHERE org_id = $1", org) == 0
