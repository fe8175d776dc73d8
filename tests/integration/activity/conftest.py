from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.activity.main import create_app
from tests.api.activity.conftest import activity_settings
from tests.conftest import running


@pytest.fixture(scope="session")
async def replicas(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two independent activity apps (own pools, own group committers) on one database,
    as two replicas behind a load balancer would be."""
    first = create_app(activity_settings(), database_url=database_url)
    second = create_app(activity_settings(), database_url=database_url)
    async with running(first, "activity-1") as a, running(second, "activity-2") as b:
        yield a, b
