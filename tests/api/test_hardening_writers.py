"""Every route of scoring and goals that changes something refuses tokens that may not write:
a platform token (org `*`), whatever its role, and a bi token get 403 and nothing is stored."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from shared.auth import PLATFORM_ORG
from tests.conftest import TokenFactory
from tests.problems import assert_problem

GOAL = str(uuid.uuid4())
SCORING_WRITES = [
    ("PUT", "/v1/settings", {"timezone": "Europe/Berlin", "currency": "EUR"}),
    ("POST", "/v1/admin/rebuild", None),
    ("POST", "/v1/scoring/models/train", None),
]
GOALS_WRITES = [
    (
        "POST",
        "/v1/goals",
        {"owner": "org", "metric": "visits", "period": "month", "start": "2026-03-01", "target": 9},
    ),
    ("PATCH", f"/v1/goals/{GOAL}", {"target": 10}),
    ("DELETE", f"/v1/goals/{GOAL}", None),
    ("POST", f"/v1/goals/{GOAL}/decompose", {"by": "time", "into": "week"}),
    ("PUT", "/v1/calendar", {"timezone": "Europe/Berlin"}),
]


async def rows_of(db: asyncpg.Pool, org: str) -> int:
    """Rows in any table of scoring's and goals' schemas whose `org` column is `org`."""
    tables = await db.fetch(
        "SELECT table_schema, table_name FROM information_schema.columns"
        " WHERE table_schema IN ('scoring', 'goals') AND column_name = 'org'"
    )
    total = 0
    for t in tables:
        total += await db.fetchval(
            f'SELECT count(*) FROM "{t["table_schema"]}"."{t["table_name"]}" WHERE org = $1', org
        )
    return total


class TestAPlatformTokenWritesNothing:
    @pytest.mark.parametrize("role", ["admin", "service"])
    async def test_every_write_route_of_scoring_and_goals_answers_403(
        self,
        role: str,
        scoring: httpx.AsyncClient,
        goals: httpx.AsyncClient,
        auth: TokenFactory,
        db: asyncpg.Pool,
    ) -> None:
        headers = auth(role, org_id=PLATFORM_ORG, sub="platform-1")
        before = await rows_of(db, PLATFORM_ORG)
        for client, routes in ((scoring, SCORING_WRITES), (goals, GOALS_WRITES)):
            for method, path, body in routes:
                answer = await client.request(method, path, json=body, headers=headers)
                assert_problem(answer, 403)
                assert "platform" in answer.json()["detail"], (method, path)
        assert await rows_of(db, PLATFORM_ORG) == before


class TestABiTokenWritesNothing:
    async def test_every_write_route_of_scoring_and_goals_answers_403(
        self,
        scoring: httpx.AsyncClient,
        goals: httpx.AsyncClient,
        auth: TokenFactory,
        org: str,
        db: asyncpg.Pool,
    ) -> None:
        headers = auth("bi", sub="analyst")
        for client, routes in ((scoring, SCORING_WRITES), (goals, GOALS_WRITES)):
            for method, path, body in routes:
                answer = await client.request(method, path, json=body, headers=headers)
                assert_problem(answer, 403)
        assert await rows_of(db, org) == 0
