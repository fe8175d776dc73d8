"""A follower that folded a burst page by page refreshes the projection's planner statistics
once caught up (follow/statistics.py), as a rebuild does when it swaps: without them, reads of a
young projection were planned as walks over everything (`/v1/kpis` 3–15 s a read on a
2,500-event org under load, until autovacuum came by)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from services.activity.main import create_app as create_activity
from services.scoring.follow.statistics import Growth
from services.scoring.main import create_app as create_scoring
from shared.auth import issue_token
from shared.db import asyncpg_dsn
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings
from tests.api.scoring.helpers import eventually, voidless_month
from tests.conftest import JWT_SECRET, running


def test_growth_is_due_once_the_org_has_grown_by_as_much_again() -> None:
    growth = Growth(base=0)
    growth.add(999)
    assert not growth.due(1000)
    growth.add(1)
    assert growth.due(1000)
    growth.refreshed()
    assert (growth.base, growth.grown) == (1000, 0)
    growth.add(999)
    assert not growth.due(1000)  # as much again as the 1,000 the statistics include
    growth.add(1)
    assert growth.due(1000)
    assert not Growth(base=0, grown=10**6).due(0)  # 0: left to autovacuum


async def _manual_analyses(database_url: str) -> int:
    """ANALYZE commands run on scoring.kpi_values (autovacuum's own are counted apart)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        count: int = await conn.fetchval(
            "SELECT analyze_count FROM pg_stat_user_tables "
            "WHERE schemaname = 'scoring' AND relname = 'kpi_values'"
        )
        return count
    finally:
        await conn.close()


@pytest.mark.parametrize(("after", "analyzed"), [(300, True), (0, False)], ids=["on", "off"])
async def test_a_follower_caught_up_after_a_burst_refreshes_the_statistics(
    own_database: str, after: int, analyzed: bool
) -> None:
    activity = create_activity(activity_settings(), database_url=own_database)
    token = issue_token(JWT_SECRET, org="burst", role="admin", sub="t")
    headers = {"Authorization": f"Bearer {token}"}
    events = voidless_month(600)
    async with running(activity, "activity") as act:
        answer = await act.post("/v1/events/batch", json={"events": events}, headers=headers)
        assert answer.status_code == 201, answer.text
        head = answer.json()["results"][-1]["position"]
        scoring = create_scoring(
            scoring_settings(page_size=100, fold_events=100, analyze_after_events=after),
            database_url=own_database,
            activity_transport=httpx.ASGITransport(app=activity),
        )
        async with running(scoring, "scoring") as s:

            async def folded() -> bool:
                answer = await s.get("/v1/kpis?metrics=visits", headers=headers)
                return bool(answer.json()["up_to"]["position"] == head)

            await eventually(folded, timeout=60)
            if analyzed:

                async def counted() -> int:
                    return await _manual_analyses(own_database)

                assert await eventually(counted, timeout=10) == 1  # once, not once a page
            else:
                await asyncio.sleep(1.5)  # statistics reach pg_stat within a second
                assert await _manual_analyses(own_database) == 0


async def test_pages_go_on_while_the_statistics_are_refreshed(own_database: str) -> None:
    """The refresh runs beside the feed: with ANALYZE held up (another session holds the lock
    it needs, which appends and upserts do not), the follower still folds every page."""
    activity = create_activity(activity_settings(), database_url=own_database)
    token = issue_token(JWT_SECRET, org="burst", role="admin", sub="t")
    headers = {"Authorization": f"Bearer {token}"}
    events = voidless_month(600)
    blocker = await asyncpg.connect(asyncpg_dsn(own_database))
    try:
        async with running(activity, "activity") as act:
            scoring = create_scoring(
                scoring_settings(page_size=100, fold_events=100, analyze_after_events=100),
                database_url=own_database,
                activity_transport=httpx.ASGITransport(app=activity),
            )
            async with running(scoring, "scoring") as s:

                async def up_to() -> int:
                    answer = await s.get("/v1/kpis?metrics=visits", headers=headers)
                    return int(answer.json()["up_to"]["position"])

                first = await act.post(
                    "/v1/events/batch", json={"events": events[:200]}, headers=headers
                )
                assert first.status_code == 201, first.text
                await eventually(lambda: _at(up_to, first.json()["results"][-1]["position"]))
                held = blocker.transaction()
                await held.start()
                await blocker.execute("LOCK scoring.kpi_values IN SHARE UPDATE EXCLUSIVE MODE")
                for part in (events[200:400], events[400:]):  # each past the refresh's floor
                    answer = await act.post(
                        "/v1/events/batch", json={"events": part}, headers=headers
                    )
                    assert answer.status_code == 201, answer.text
                    head = answer.json()["results"][-1]["position"]
                    assert await eventually(lambda h=head: _at(up_to, h), timeout=30)
                waiting = await blocker.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'ANALYZE%'"
                )
                assert waiting == 1  # the refresh is there, held up, and pages went past it
                await held.rollback()

                async def counted() -> int:
                    return await _manual_analyses(own_database)

                assert await eventually(counted, timeout=10) >= 1
    finally:
        await blocker.close()


async def _at(up_to: Callable[[], Awaitable[int]], position: int) -> bool:
    return await up_to() >= position
