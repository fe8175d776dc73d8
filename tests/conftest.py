"""Fixtures shared by every test: a real, freshly migrated PostgreSQL database per run.

Without DATABASE_URL the embedded pgserver (under .data/) is used; with it, that server. Either
way the suite creates its own scratch database, migrates it with Alembic, and drops it at the end,
so it never touches the development data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from shared.auth import issue_token
from shared.config import CommonSettings
from shared.db import asyncpg_dsn, run_migrations, sync_url
from shared.events import EXAMPLES

JWT_SECRET = "test-secret-" + "x" * 32


@pytest.fixture(scope="session")
def base_url() -> str:
    return sync_url(CommonSettings())


@asynccontextmanager
async def scratch_database(
    base_url: str, prefix: str, revision: str | None = "head"
) -> AsyncIterator[str]:
    """A database of its own, migrated to `revision` (None: not at all), dropped afterwards:
    for tests that run the services as processes (so no other test's scoring replica takes part
    in their consumer election), and for tests of a migration."""
    name = f"salesperf_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(asyncpg_dsn(base_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        if revision is not None:
            await asyncio.to_thread(run_migrations, url, revision)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(base_url: str) -> AsyncIterator[str]:
    """The run's own database (never the development one), migrated once."""
    async with scratch_database(base_url, "test") as url:
        yield url


@pytest.fixture
async def own_database(base_url: str) -> AsyncIterator[str]:
    async with scratch_database(base_url, "own") as url:
        yield url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A plain asyncpg pool on the test database, for asserting stored rows."""
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=8)
    yield pool
    await pool.close()


@asynccontextmanager
async def running(app: FastAPI, name: str) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and give an HTTP client speaking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            yield client


@pytest.fixture
def org() -> str:
    """A fresh tenant per test: tests never see each other's events."""
    return f"org-{uuid.uuid4().hex[:10]}"


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth(org: str) -> TokenFactory:
    """Authorization headers: auth() is an admin of `org`; auth("rep", sub="rep-1", team="t")…"""

    def make(
        role: str = "admin",
        *,
        sub: str = "user-1",
        team: str | None = None,
        org_id: str | None = None,
        ttl: int = 3600,
        secret: str = JWT_SECRET,
    ) -> dict[str, str]:
        token = issue_token(
            secret, org=org_id or org, role=role, sub=sub, team=team, ttl_seconds=ttl
        )
        return {"Authorization": f"Bearer {token}"}

    return make


def make_event(event_type: str = "visit.logged", **overrides: Any) -> dict[str, Any]:
    """A valid event of `event_type` with a fresh event_id; top-level fields overridable."""
    event = {**EXAMPLES[event_type], "event_id": str(uuid.uuid4())}
    event.update(overrides)
    return event
