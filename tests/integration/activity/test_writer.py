"""The group committer: orgs never wait for each other; a lock held too long answers 503;
the log itself refuses to be changed."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from services.activity import repository
from tests.conftest import make_event


class TestOrgsAreIndependent:
    async def test_an_org_appends_while_another_org_s_lock_is_held_elsewhere(
        self, replicas, auth, db, org, monkeypatch
    ):
        activity = replicas[0]
        monkeypatch.setattr(repository, "LOCK_TIMEOUT_MS", 700)
        blocked_org = f"{org}-blocked"
        async with db.acquire() as holder:
            await repository.begin_locked(holder, blocked_org)  # another replica, stuck
            try:
                stuck = asyncio.create_task(
                    activity.post("/v1/events", json=make_event(), headers=auth(org_id=blocked_org))
                )
                await asyncio.sleep(0.1)  # the stuck append is queued first
                free = await asyncio.wait_for(
                    activity.post("/v1/events", json=make_event(), headers=auth()), timeout=5
                )
                assert free.status_code == 201
                assert not stuck.done(), "the free org must not wait behind the stuck one"
                r = await asyncio.wait_for(stuck, timeout=10)
            finally:
                await repository.rollback(holder)
        assert r.status_code == 503
        assert r.json()["type"] == "urn:salesperf:problem:unavailable"
        stored = await db.fetchval(
            "SELECT count(*) FROM activity.events WHERE org_id = $1", blocked_org
        )
        assert stored == 0
        retry = await activity.post(
            "/v1/events", json=make_event(), headers=auth(org_id=blocked_org)
        )
        assert retry.status_code == 201


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE activity.events SET type = 'deal.won' WHERE org_id = $1",
            "DELETE FROM activity.events WHERE org_id = $1",
        ],
    )
    async def test_the_database_refuses_to_change_or_delete_an_event(
        self, replicas, auth, db, org, statement
    ):
        activity = replicas[0]
        await activity.post("/v1/events", json=make_event(), headers=auth())
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(statement, org)
        assert await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org) == 1

    async def test_the_database_refuses_to_truncate_the_log(self, db):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute("TRUNCATE activity.events")


class TestShutdown:
    async def test_appends_still_waiting_at_shutdown_are_answered_503(
        self, database_url, auth, db, org
    ):
        from services.activity.main import create_app
        from tests.api.activity.conftest import activity_settings

        app = create_app(activity_settings(), database_url=database_url)
        transport = httpx.ASGITransport(app=app)
        async with (
            db.acquire() as holder,
            httpx.AsyncClient(transport=transport, base_url="http://activity") as client,
        ):
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
            await repository.begin_locked(holder, org)  # the append below must wait
            try:
                pending = asyncio.create_task(
                    client.post("/v1/events", json=make_event(), headers=auth())
                )
                await asyncio.sleep(0.3)
                assert not pending.done()
                started = time.monotonic()
                await lifespan.__aexit__(None, None, None)  # the process is told to stop
                answer = await asyncio.wait_for(pending, timeout=5)
            finally:
                await repository.rollback(holder)
        assert answer.status_code == 503
        assert time.monotonic() - started < 5
        assert await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org) == 0
