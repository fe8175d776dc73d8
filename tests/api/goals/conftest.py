"""The goals app in-process, asking the real scoring app (in-process, over httpx's ASGI
transport) for actuals; scoring follows the real activity app the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.goals.config import GoalsSettings
from services.goals.main import create_app as create_goals
from tests.conftest import JWT_SECRET, running


def goals_settings(**overrides: Any) -> GoalsSettings:
    return GoalsSettings(jwt_secret=SecretStr(JWT_SECRET), **overrides)


@pytest.fixture(scope="session")
async def goals(scoring_app: FastAPI, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_goals(
        goals_settings(), database_url=database_url,
        scoring_transport=httpx.ASGITransport(app=scoring_app),
    )  # fmt: skip
    async with running(app, "goals") as client:
        yield client
