"""With PostgreSQL gone, scoring and goals answer 503 with `Retry-After` and a problem body,
not a 500: the database is reached through a TCP proxy that the test takes down (every open
connection cut, new ones refused), or through a port nobody listens on."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import TokenFactory, running
from tests.problems import assert_problem


class DatabaseProxy:
    """A TCP port in front of the test database that can be taken down at once."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.url = url
        host = url.query.get("host") or url.host or "127.0.0.1"
        self.upstream_host = host if isinstance(host, str) else host[0]
        self.upstream_port = url.port or 5432
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream_host.startswith("/"):
            path = f"{self.upstream_host}/.s.PGSQL.{self.upstream_port}"
            return await asyncio.open_unix_connection(path)
        return await asyncio.open_connection(self.upstream_host, self.upstream_port)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._open_upstream()
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        url = self.url.set(host="127.0.0.1", port=port, query={})
        return url.render_as_string(hide_password=False)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()


def closed_port_url(database_url: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nobody listens there
    url = make_url(database_url).set(host="127.0.0.1", port=port, query={})
    return url.render_as_string(hide_password=False)


def assert_unavailable(answer: httpx.Response) -> None:
    assert_problem(answer, 503)
    assert answer.headers["retry-after"].isdigit(), answer.headers
    assert answer.json()["title"] == "Service unavailable"


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    proxy = DatabaseProxy(database_url)
    yield proxy
    if proxy.server is not None and proxy.server.is_serving():
        await proxy.stop()


class TestScoringWithTheDatabaseDown:
    async def test_reads_answer_503_with_retry_after(
        self, proxy: DatabaseProxy, auth: TokenFactory
    ) -> None:
        url = await proxy.start()
        app = create_scoring(scoring_settings(consume=False), database_url=url)
        async with running(app, "scoring") as scoring:
            up = await scoring.get("/v1/settings", headers=auth())
            assert up.status_code == 200, up.text
            await proxy.stop()
            for path in ("/v1/settings", "/v1/kpis", "/v1/funnel", "/v1/leaderboard?metric=visits"):
                assert_unavailable(await scoring.get(path, headers=auth()))
            assert_unavailable(await scoring.post("/v1/admin/rebuild", headers=auth()))


class TestGoalsWithTheDatabaseDown:
    async def test_reads_and_writes_answer_503_with_retry_after(
        self, proxy: DatabaseProxy, auth: TokenFactory
    ) -> None:
        url = await proxy.start()
        async with running(create_goals(goals_settings(), database_url=url), "goals") as goals:
            up = await goals.get("/v1/goals", headers=auth())
            assert up.status_code == 200, up.text
            await proxy.stop()
            assert_unavailable(await goals.get("/v1/goals", headers=auth()))
            assert_unavailable(await goals.get("/v1/calendar", headers=auth()))
            calendar = {"timezone": "Europe/Berlin"}
            assert_unavailable(await goals.put("/v1/calendar", json=calendar, headers=auth()))

    async def test_a_closed_port_answers_503(self, database_url: str, auth: TokenFactory) -> None:
        app = create_goals(goals_settings(), database_url=closed_port_url(database_url))
        async with running(app, "goals") as goals:
            assert_unavailable(await goals.get("/v1/goals", headers=auth()))
            assert_unavailable(await goals.get("/v1/calendar", headers=auth()))
