"""Limits that no schema shows (README "Limits"): a query string over `MAX_QUERY_BYTES` is a 414
problem in every service, and `salesperf run` starts uvicorn with a keep-alive timeout and a
bound on the request head it buffers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from salesperf import runner
from shared.limits import MAX_QUERY_BYTES
from tests.conftest import TokenFactory
from tests.problems import assert_problem


@pytest.fixture
async def activity(activity_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=activity_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://activity") as client:
        yield client


@pytest.mark.parametrize(
    ("service", "path", "param"),
    [
        ("activity", "/v1/events", "types"),
        ("scoring", "/v1/kpis", "metrics"),
        ("goals", "/v1/goals", "cursor"),
    ],
)
async def test_a_query_string_over_the_limit_is_414(
    activity: httpx.AsyncClient,
    scoring: httpx.AsyncClient,
    goals: httpx.AsyncClient,
    auth: TokenFactory,
    service: str,
    path: str,
    param: str,
) -> None:
    client = {"activity": activity, "scoring": scoring, "goals": goals}[service]
    answer = await client.get(path, params={param: "x" * MAX_QUERY_BYTES}, headers=auth())
    assert_problem(answer, 414, "query", location="query")


async def test_a_query_string_at_the_limit_is_read(
    scoring: httpx.AsyncClient, auth: TokenFactory
) -> None:
    answer = await scoring.get(
        "/v1/kpis", params={"pad": "x" * (MAX_QUERY_BYTES - 4)}, headers=auth()
    )
    assert answer.status_code == 200, answer.text


async def test_the_runner_bounds_idle_connections_and_request_heads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[str, object]] = []
    real = runner.uvicorn.Config

    def config(app: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(app, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner.uvicorn, "Config", config)
    monkeypatch.setattr(runner._Server, "serve", _no_serve)
    await runner.serve("postgresql://nobody@127.0.0.1/none")
    assert len(seen) == 3
    for kwargs in seen:
        assert kwargs["timeout_keep_alive"] == runner.KEEP_ALIVE_SECONDS == 5
        assert kwargs["h11_max_incomplete_event_size"] == runner.MAX_HEAD_BYTES == 16 * 1024


async def _no_serve(self: object, sockets: object = None) -> None:
    return None
