"""shared/db.py: the SQLAlchemy engine and the request-scoped session the other services use."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.db import SessionDep, create_engine, create_sessionmaker


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    engine = create_engine(database_url, pool_size=2)
    app = FastAPI()
    app.state.sessionmaker = create_sessionmaker(engine)

    @app.post("/ok/{value}")
    async def ok(value: str, session: SessionDep) -> dict[str, str]:
        await session.execute(text("INSERT INTO scratch (v) VALUES (:v)"), {"v": value})
        return {"stored": value}

    @app.post("/fail/{value}")
    async def fail(value: str, session: SessionDep) -> dict[str, str]:
        await session.execute(text("INSERT INTO scratch (v) VALUES (:v)"), {"v": value})
        raise RuntimeError("boom")

    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS scratch (v text)"))
    yield app
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE scratch"))
    await engine.dispose()


async def test_a_request_commits_before_its_response_and_rolls_back_on_error(app, db):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/ok/kept")).status_code == 200
        assert await db.fetchval("SELECT count(*) FROM scratch WHERE v = 'kept'") == 1
        assert (await client.post("/fail/lost")).status_code == 500
    assert await db.fetchval("SELECT count(*) FROM scratch WHERE v = 'lost'") == 0
