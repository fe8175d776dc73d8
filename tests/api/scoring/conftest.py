"""The scoring app in-process, with its consumer following the real activity app over an
in-process HTTP transport (httpx.ASGITransport): real HTTP semantics, real database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.activity.main import create_app as create_activity
from services.scoring.config import ScoringSettings
from services.scoring.main import create_app as create_scoring
from tests.api.activity.conftest import activity_settings
from tests.conftest import JWT_SECRET, running


def scoring_settings(**overrides: Any) -> ScoringSettings:
    fast = {"discovery_seconds": 0.05, "election_seconds": 0.2, "long_poll_seconds": 2}
    return ScoringSettings(jwt_secret=SecretStr(JWT_SECRET), **{**fast, **overrides})


@pytest.fixture(scope="session")
async def activity_app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_activity(activity_settings(), database_url=database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def scoring(activity_app: FastAPI, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_scoring(
        scoring_settings(), database_url=database_url,
        activity_transport=httpx.ASGITransport(app=activity_app),
    )  # fmt: skip
    async with running(app, "scoring") as client:
        yield client


@pytest.fixture
async def post_events(
    activity_app: FastAPI, auth: Callable[..., dict[str, str]]
) -> Callable[..., Any]:
    """post_events(events) → the last position stored; in batches of 1,000, as admin."""

    async def post(events: list[dict[str, Any]], **auth_kwargs: Any) -> int:
        last = 0
        transport = httpx.ASGITransport(app=activity_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://activity") as client:
            for i in range(0, len(events), 1000):
                answer = await client.post(
                    "/v1/events/batch", json={"events": events[i : i + 1000]},
                    headers=auth(**auth_kwargs),
                )  # fmt: skip
                assert answer.status_code in (200, 201), answer.text
                last = max(last, *(r["position"] for r in answer.json()["results"]))
        return last

    return post


async def settled(
    scoring: httpx.AsyncClient, headers: dict[str, str], position: int, timeout: float = 15
) -> None:
    """Wait until scoring has folded the org's log up to `position`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await scoring.get("/v1/kpis", params={"metrics": "visits"}, headers=headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["up_to"]["position"] >= position:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"scoring did not reach position {position}: {answer.json()['up_to']}"
            )
        await asyncio.sleep(0.05)
