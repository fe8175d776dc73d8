"""While the consumer is behind the feed it folds pages without scoring the leads, deals and
accounts they change, and scores those once caught up. What it must hold to:

- the scores and health that come out are exactly those that scoring page after page gives;
- meanwhile the scored position stays where scores really stand, and the priority and customer
  answers report it as their `up_to` (the KPIs report the folded position);
- a restart that forgot which keys were left rescores the whole org, with the same result;
- the real follow loop, flushing when caught up or when too many keys are left, ends where a
  rebuild does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.activity.main import create_app as create_activity
from services.scoring.follow import scorer
from services.scoring.follow.consumer import Consumer
from services.scoring.follow.scorer import Unscored
from services.scoring.main import create_app as create_scoring
from shared.auth import issue_token
from shared.db import asyncpg_dsn
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings
from tests.api.scoring.helpers import eventually, rebuild_done, voidless_month
from tests.conftest import JWT_SECRET, running

PAGE = 150


def feed(org: str) -> list[dict[str, Any]]:
    """A month of a small team's events as activity's feed serves them (voids left out: their
    corrections read activity's feed, which is not what this is about)."""
    events = voidless_month(1200)
    return [
        {
            **e,
            "org_id": org,
            "position": i,
            "stream_version": 1,
            "schema_version": 1,
            "recorded_at": e["occurred_at"],
        }
        for i, e in enumerate(events, start=1)
    ]


def pages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "items": items[i : i + PAGE],
            "next": f"cursor-{i + PAGE}",
            "has_more": i + PAGE < len(items),
        }
        for i in range(0, len(items), PAGE)
    ]


async def fold(
    consumer: Consumer, org: str, *, defer_after_first: bool, stop: int | None = None
) -> list[dict[str, Any]]:
    """Fold the feed into `org` (its pages up to `stop`): the first page scored, then a
    whole-org rescore (where a caught-up follower stands), then the other pages scored or left
    to score. Returns all the feed's pages."""
    await consumer._pool.execute("INSERT INTO scoring.orgs (org_id) VALUES ($1)", org)
    folded = pages(feed(org))
    cursor = None
    for n, page in enumerate(folded[:stop]):
        await consumer.apply(org, page, expected=cursor, defer_scores=defer_after_first and n > 0)
        cursor = page["next"]
        if n == 0:
            await consumer.scorer.rescore(consumer._pool, org)
    return folded


async def scored(db: asyncpg.Pool, org: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    scores = await db.fetch(
        "SELECT kind, key, rep_id, team_id, score, tier, next_touch_due, model_version, doc "
        "FROM scoring.scores WHERE org_id = $1 ORDER BY kind, key",
        org,
    )
    health = await db.fetch(
        "SELECT account_id, rep_id, team_id, lifecycle, at_risk, won_12m, doc "
        "FROM scoring.health WHERE org_id = $1 ORDER BY account_id",
        org,
    )
    return [tuple(r) for r in scores], [tuple(r) for r in health]


async def standing(db: asyncpg.Pool, org: str) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT position, scored_position FROM scoring.orgs WHERE org_id = $1", org
    )
    return row["position"], row["scored_position"]


@pytest.fixture
def database_url(own_database: str) -> str:
    """A database of its own: the suite's scoring app follows (and trains) the shared one."""
    return own_database


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    made = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=4)
    yield made
    await made.close()


def consumer(database_url: str, pool: asyncpg.Pool, **settings: Any) -> Consumer:
    return Consumer(
        scoring_settings(consume=False, **settings), asyncpg_dsn(database_url), pool, JWT_SECRET
    )


@pytest.fixture
async def page_by_page(database_url: str, pool: asyncpg.Pool, org: str) -> str:
    """The reference: the same feed scored after every page."""
    reference = f"{org}-ref"
    await fold(consumer(database_url, pool), reference, defer_after_first=False)
    assert (await scored(pool, reference))[0], "the feed has open leads and deals to score"
    return reference


class TestScoresLeftWhileBehind:
    @pytest.mark.parametrize("in_a_worker", [False, True], ids=["in a thread", "in a worker"])
    async def test_come_out_as_scoring_page_after_page_gives(
        self,
        database_url: str,
        pool: asyncpg.Pool,
        org: str,
        page_by_page: str,
        in_a_worker: bool,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        if in_a_worker:  # what a long catch-up leaves: read and scored in a worker process
            monkeypatch.setattr(scorer, "JOB_PROFILES", 10)
        behind = consumer(database_url, pool)
        folded = await fold(behind, org, defer_after_first=True)
        first, head = folded[0]["items"][-1]["position"], folded[-1]["items"][-1]["position"]
        assert await standing(pool, org) == (head, first)
        assert await scored(pool, org) != await scored(pool, page_by_page)
        unscored = behind.upkeep.unscored[org]
        assert unscored.prospects
        assert unscored.customers

        try:
            await behind.upkeep.score_unscored(org, behind.upkeep.unscored.pop(org))
        finally:
            behind.scorer.close()

        assert org not in behind.upkeep.unscored
        assert await standing(pool, org) == (head, head)
        assert await scored(pool, org) == await scored(pool, page_by_page)

    async def test_are_scored_by_key_when_the_rest_is_current(
        self, database_url: str, pool: asyncpg.Pool, org: str, page_by_page: str
    ) -> None:
        behind = consumer(database_url, pool)
        await fold(behind, org, defer_after_first=True)
        # Only the keys that were left, not the whole org: a score row no profile stands
        # behind survives (a whole rescore replaces every row of the org).
        await pool.execute(
            "INSERT INTO scoring.scores (org_id, generation, kind, key, rep_id, team_id, score, "
            "tier, next_touch_due, model_version, doc) SELECT org_id, generation, kind, "
            "'lead-planted', rep_id, team_id, 101, tier, next_touch_due, model_version, doc "
            "FROM scoring.scores WHERE org_id = $1 AND kind = 'lead' LIMIT 1",
            org,
        )
        assert await behind.scorer.score_keys(pool, org, behind.upkeep.unscored.pop(org)) is True
        assert (
            await pool.fetchval(
                "SELECT score FROM scoring.scores WHERE org_id = $1 AND key = 'lead-planted'", org
            )
            == 101
        )
        assert await standing(pool, org) == ((await standing(pool, org))[0],) * 2

    async def test_are_written_while_later_pages_are_folded(
        self, database_url: str, pool: asyncpg.Pool, org: str, page_by_page: str
    ) -> None:
        """What a follower far behind does: scores the keys left so far while it folds the next
        pages, which leave theirs for the next round. The scored position goes as far as the
        pages whose keys were scored, not to the head (nor is the whole org rescored)."""
        behind = consumer(database_url, pool)
        folded = await fold(behind, org, defer_after_first=True, stop=-1)
        before, last = folded[-2], folded[-1]
        middle, head = before["items"][-1]["position"], last["items"][-1]["position"]
        async with pool.acquire() as blocker, blocker.transaction():
            await blocker.execute("LOCK TABLE scoring.scores IN SHARE MODE")  # hold the writes
            scoring = asyncio.create_task(
                behind.scorer.score_keys(pool, org, behind.upkeep.unscored.pop(org))
            )
            await behind.apply(org, last, expected=before["next"], defer_scores=True)
            await asyncio.sleep(0.2)
            assert not scoring.done()
        assert await scoring is True
        assert await standing(pool, org) == (head, middle)
        left = behind.upkeep.unscored.pop(org)  # the last page's
        assert left.prospects

        assert await behind.scorer.score_keys(pool, org, left) is True
        assert await standing(pool, org) == (head, head)
        assert await scored(pool, org) == await scored(pool, page_by_page)

    async def test_a_restart_that_forgot_them_rescores_the_whole_org(
        self, database_url: str, pool: asyncpg.Pool, org: str, page_by_page: str
    ) -> None:
        await fold(consumer(database_url, pool), org, defer_after_first=True)
        restarted = consumer(database_url, pool)
        row = await pool.fetchrow("SELECT * FROM scoring.orgs WHERE org_id = $1", org)
        assert org not in restarted.upkeep.unscored
        assert restarted.scorer.due(row)

        await restarted.scorer.rescore(pool, org)  # what `Upkeep.keep_scored` does when it is due

        position, scored_position = await standing(pool, org)
        assert scored_position == position
        assert await scored(pool, org) == await scored(pool, page_by_page)

    async def test_answers_say_how_far_scores_go(
        self, database_url: str, pool: asyncpg.Pool, org: str
    ) -> None:
        behind = consumer(database_url, pool)
        folded = await fold(behind, org, defer_after_first=True)
        first, head = folded[0]["items"][-1]["position"], folded[-1]["items"][-1]["position"]
        app = create_scoring(scoring_settings(consume=False), database_url=database_url)
        token = issue_token(JWT_SECRET, org=org, role="admin", sub="t")
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as s,
        ):

            async def up_to(path: str) -> int:
                answer = await s.get(path, headers=headers)
                assert answer.status_code == 200, answer.text
                position: int = answer.json()["up_to"]["position"]
                return position

            assert await up_to("/v1/kpis?metrics=visits") == head
            assert await up_to("/v1/leads/priority") == first
            assert await up_to("/v1/accounts/health") == first

            await behind.upkeep.score_unscored(org, behind.upkeep.unscored.pop(org))

            async def caught_up() -> bool:
                return await up_to("/v1/leads/priority") == head

            await eventually(caught_up)
            assert await up_to("/v1/accounts/health") == head


def test_unscored_counts_its_keys() -> None:
    unscored = Unscored(generation=1)
    unscored.add(["lead-1", "deal-1"], ["acc-1"])
    unscored.add(["lead-1"], ["acc-2"])
    assert (unscored.prospects, unscored.customers, len(unscored)) == (
        {"lead-1", "deal-1"},
        {"acc-1", "acc-2"},
        4,
    )


@pytest.mark.parametrize("unscored_keys", [20_000, 10], ids=["once caught up", "every 10 keys"])
async def test_a_follower_behind_scores_once_caught_up(
    own_database: str, unscored_keys: int
) -> None:
    """The real follow loop, pages of 20 over real HTTP: a backlog of 600 events is folded
    ahead with scoring left for later (scored once caught up, or whenever `unscored_keys` are
    left), and then the scores reach the head and equal what a rebuild computes."""
    activity = create_activity(activity_settings(), database_url=own_database)
    token = issue_token(JWT_SECRET, org="behind", role="admin", sub="t")
    headers = {"Authorization": f"Bearer {token}"}
    events = voidless_month(600)
    async with running(activity, "activity") as act:
        answer = await act.post("/v1/events/batch", json={"events": events}, headers=headers)
        assert answer.status_code == 201, answer.text
        head = answer.json()["results"][-1]["position"]
        scoring = create_scoring(
            scoring_settings(page_size=20, fold_events=20, unscored_keys=unscored_keys),
            database_url=own_database,
            activity_transport=httpx.ASGITransport(app=activity),
        )
        async with running(scoring, "scoring") as s:

            async def scored_to_head() -> dict[str, Any] | None:
                """The priorities once scored up to the head with the models the org trained
                when it caught up (a new org trains at once: read before that, the scores
                carry the prior that a rebuild after the training no longer uses)."""
                models = (await s.get("/v1/scoring/models", headers=headers)).json()["items"]
                active = {m["kind"]: m["version"] for m in models if m["active"]}
                answer = await s.get("/v1/leads/priority?limit=200", headers=headers)
                body: dict[str, Any] = answer.json()
                current = active and all(
                    item["model"]["version"] == active[item["kind"]] for item in body["items"]
                )
                return body if current and body["up_to"]["position"] == head else None

            live = await eventually(scored_to_head, timeout=60)
            folded = await s.get("/v1/kpis?metrics=visits", headers=headers)
            assert folded.json()["up_to"]["position"] == head
            generation = (await s.get("/v1/admin/rebuild", headers=headers)).json()["generation"]
            assert (await s.post("/v1/admin/rebuild", headers=headers)).status_code == 202
            await rebuild_done(s, headers, after_generation=generation)
            rebuilt = (await s.get("/v1/leads/priority?limit=200", headers=headers)).json()
    assert live["items"]
    assert live["items"] == rebuilt["items"]
