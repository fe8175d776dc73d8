"""Fixtures of the API tests that need the services together: the activity app and the scoring
app in-process (scoring's consumer follows activity over httpx's ASGI transport), shared by the
scoring and goals tests of a run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.activity.main import create_app as create_activity
from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from tests.api.activity.conftest import activity_settings
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings


@pytest.fixture(scope="session")
async def activity_app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_activity(activity_settings(), database_url=database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def scoring_app(activity_app: FastAPI, database_url: str) -> AsyncIterator[FastAPI]:
    app = create_scoring(
        scoring_settings(),
        database_url=database_url,
        activity_transport=httpx.ASGITransport(app=activity_app),
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def scoring(scoring_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=scoring_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
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
                    "/v1/events/batch",
                    json={"events": events[i : i + 1000]},
                    headers=auth(**auth_kwargs),
                )
                assert answer.status_code in (200, 201), answer.text
                last = max(last, *(r["position"] for r in answer.json()["results"]))
        return last

    return post


@pytest.fixture(scope="session")
async def goals_app(scoring_app: FastAPI, database_url: str) -> AsyncIterator[FastAPI]:
    """The goals app in-process, asking the scoring app above for actuals."""
    app = create_goals(
        goals_settings(),
        database_url=database_url,
        scoring_transport=httpx.ASGITransport(app=scoring_app),
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def goals(goals_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=goals_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://goals") as client:
        yield client
