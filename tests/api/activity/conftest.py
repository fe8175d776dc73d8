from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from services.activity.config import ActivitySettings
from services.activity.main import create_app
from tests.conftest import JWT_SECRET, running


def activity_settings(**overrides: object) -> ActivitySettings:
    return ActivitySettings(jwt_secret=SecretStr(JWT_SECRET), **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def activity(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(activity_settings(), database_url=database_url)
    async with running(app, "activity") as client:
        yield client
