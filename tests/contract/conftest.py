"""The real activity app, for clients of other services to be tested against."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.activity.main import create_app
from shared.auth import issue_token
from shared.clients.activity import ActivityClient
from tests.api.activity.conftest import activity_settings
from tests.conftest import JWT_SECRET


@pytest.fixture(scope="package")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(activity_settings(), database_url=database_url)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, org: str, **kwargs: object) -> ActivityClient:
    token = issue_token(JWT_SECRET, org=org, role="service", sub="scoring")
    transport = kwargs.pop("transport", None) or httpx.ASGITransport(app=app)
    return ActivityClient("http://activity", token, transport=transport, **kwargs)  # type: ignore[arg-type]
