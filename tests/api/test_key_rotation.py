"""Rotating our signing key and the cursor keys, with the three services in-process (scoring's
consumer following activity, goals asking scoring) against real PostgreSQL.

Every token salesperf mints is signed with the current key (`SALESPERF_JWT_KID`'s, its `kid` in
the header), so the secret can change; cursors have keys of their own, and scoring resumes from
the position it stored when no key opens its stored cursor any more (README, "Rotating keys").

Each deployment here reads its settings from the environment, as a real one does, in a database
of its own (no other test's scoring replica leases its orgs).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from salesperf.cli import app as cli
from salesperf.demo import run_demo
from salesperf.import_cli import run_import
from salesperf.scoring_cli import backtest_org, rebuild_org
from services.activity.config import ActivitySettings
from services.activity.main import create_app as create_activity
from services.goals.config import GoalsSettings
from services.goals.main import create_app as create_goals
from services.scoring.config import ScoringSettings
from services.scoring.main import create_app as create_scoring
from shared import pagination
from shared.auth import PLATFORM_ORG, TokenVerifier, issue_token
from shared.db import asyncpg_dsn
from shared.errors import InvalidInput, Unauthorized
from shared.pagination import decode_cursor, is_current
from tests.api.scoring.conftest import settled
from tests.conftest import JWT_SECRET, make_event

OLD = "old-signing-key-" + "o" * 32
NEW = "new-signing-key-" + "n" * 32
SECRET_2 = "the-changed-secret-" + "s" * 32
CURSOR_KEY = "cursor-key-of-its-own-" + "c" * 32
FAST = {"discovery_seconds": 0.05, "election_seconds": 0.2, "long_poll_seconds": 1}
REP, TEAM = "rep-anna", "team-north"


@pytest.fixture(autouse=True)
def cursor_keys_restored() -> Iterator[None]:
    """The cursor keys are the process's: give the other tests' services theirs back."""
    kept = pagination._sealer
    yield
    pagination._sealer = kept


Env = Callable[..., None]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Env:
    """env(secret=…, keys={kid: key}, kid=…, cursor_keys=[…]): the deployment's settings, in the
    environment every service and CLI reads; None leaves a variable unset (no secret: a random
    one of a fresh data directory)."""

    def configure(
        *,
        secret: str | None,
        keys: dict[str, str] | None = None,
        kid: str | None = None,
        cursor_keys: list[str] | None = None,
    ) -> None:
        monkeypatch.setenv("SALESPERF_DATA_DIR", str(tmp_path / secrets.token_hex(4)))
        values = {
            "SALESPERF_JWT_SECRET": secret,
            "SALESPERF_JWT_KEYS": json.dumps(keys) if keys else None,
            "SALESPERF_JWT_KID": kid,
            "SALESPERF_CURSOR_KEYS": json.dumps(cursor_keys) if cursor_keys else None,
        }
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return configure


@dataclass
class Deployment:
    activity_app: FastAPI
    activity: httpx.AsyncClient
    scoring: httpx.AsyncClient
    goals: httpx.AsyncClient
    scoring_app: FastAPI
    goals_app: FastAPI

    def consumer_token(self, org: str) -> str:
        token: str = self.scoring_app.state.runtime.consumer.token(org)
        return token

    def goals_token(self, org: str) -> str:
        token: str = self.goals_app.state.scoring._service_tokens(org)
        return token


def _client(app: FastAPI, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")


@asynccontextmanager
async def deployment(database_url: str) -> AsyncIterator[Deployment]:
    """activity, scoring (following it) and goals (asking scoring), configured from the
    environment, started in-process and stopped at the end (as a restart does)."""
    activity_app = create_activity(ActivitySettings(), database_url=database_url)
    async with activity_app.router.lifespan_context(activity_app):
        scoring_app = create_scoring(
            ScoringSettings(**FAST),  # type: ignore[arg-type]
            database_url=database_url,
            activity_transport=httpx.ASGITransport(app=activity_app),
        )
        async with scoring_app.router.lifespan_context(scoring_app):
            goals_app = create_goals(
                GoalsSettings(),
                database_url=database_url,
                scoring_transport=httpx.ASGITransport(app=scoring_app),
            )
            async with (
                goals_app.router.lifespan_context(goals_app),
                _client(activity_app, "activity") as activity,
                _client(scoring_app, "scoring") as scoring,
                _client(goals_app, "goals") as goals,
            ):
                yield Deployment(activity_app, activity, scoring, goals, scoring_app, goals_app)


def admin(org: str, key: str, kid: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {issue_token(key, org=org, role='admin', sub='ops', kid=kid)}"
    }


async def post_visits(d: Deployment, headers: dict[str, str], n: int) -> int:
    """`n` visits of rep-anna in June 2026: the last position."""
    events = [
        make_event(
            "visit.logged",
            stream=f"lead-L-{i % 5}",
            rep_id=REP,
            team_id=TEAM,
            occurred_at="2026-06-15T09:00:00+00:00",
        )
        for i in range(n)
    ]
    answer = await d.activity.post("/v1/events/batch", json={"events": events}, headers=headers)
    assert answer.status_code == 201, answer.text
    position: int = answer.json()["results"][-1]["position"]
    return position


async def visits(d: Deployment, headers: dict[str, str], position: int) -> int:
    """The org's 2026 visits once scoring has folded the log up to `position`."""
    await settled(d.scoring, headers, position)
    answer = await d.scoring.get(
        "/v1/kpis",
        headers=headers,
        params={"owner": "org", "period": "year", "from": "2026-01-01", "metrics": "visits"},
    )
    assert answer.status_code == 200, answer.text
    value: int = answer.json()["buckets"][0]["metrics"]["visits"]["value"]
    return value


async def rep_goal(d: Deployment, headers: dict[str, str]) -> str:
    """A June visits goal of rep-anna set by an admin naming no team: goals asks scoring where
    the rep works, with its own service token (201 only if scoring took that token)."""
    answer = await d.goals.post(
        "/v1/goals",
        headers=headers,
        json={
            "owner": f"rep:{REP}",
            "metric": "visits",
            "period": "month",
            "start": "2026-06-01",
            "target": 100,
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["team_id"] == TEAM
    goal_id: str = answer.json()["id"]
    return goal_id


async def actual(d: Deployment, headers: dict[str, str], goal_id: str) -> int:
    answer = await d.goals.get(
        f"/v1/goals/{goal_id}/progress", headers=headers, params={"at": "2026-06-30"}
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["actual"])


async def stored_cursor(database_url: str, org: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        cursor: str = await conn.fetchval("SELECT cursor FROM scoring.orgs WHERE org_id = $1", org)
    finally:
        await conn.close()
    return cursor


def kid_of(token: str) -> str | None:
    kid: str | None = jwt.get_unverified_header(token).get("kid")
    return kid


async def verified_without_the_secret(token: str) -> None:
    """The token carries the new key's kid, verifies with that key under a secret it never knew,
    and is refused by a verifier that has only the secret it was minted beside."""
    assert kid_of(token) == "new"
    await TokenVerifier(secrets.token_urlsafe(48), keys={"new": NEW}).verify(token)
    with pytest.raises(Unauthorized):
        await TokenVerifier(JWT_SECRET).verify(token)


class TestEveryTokenWeMintCarriesTheCurrentKid:
    def test_the_clis_sign_with_the_current_key(self, env: Env, tmp_path: Path) -> None:
        env(secret=JWT_SECRET, keys={"old": OLD, "new": NEW}, kid="new")
        sent: list[str] = []

        def server(request: httpx.Request) -> httpx.Response:
            """Answers as activity and scoring would, keeping the token each request sent."""
            sent.append(request.headers["authorization"].removeprefix("Bearer "))
            path = request.url.path
            if path == "/v1/imports":
                job = {
                    "state": "done",
                    "rows_read": 0,
                    "stored": 0,
                    "duplicates": 0,
                    "rejected": 0,
                    "progress": 1.0,
                }
                return httpx.Response(202, json=job, headers={"location": "/v1/imports/1"})
            if path == "/v1/admin/rebuild":
                return httpx.Response(
                    202 if request.method == "POST" else 200,
                    json={
                        "generation": 1 if request.method == "POST" else 2,
                        "state": "done",
                        "done": 0,
                        "total": 0,
                    },
                )
            return httpx.Response(200, json={})

        data = tmp_path / "events.ndjson"
        data.write_text("{}\n")
        run_import("http://activity", "acme", data, transport=httpx.MockTransport(server))
        rebuild_org("http://scoring", "acme", show=False, transport=httpx.MockTransport(server))
        backtest_org(
            "http://scoring",
            "acme",
            cutoff="2026-06-01",
            horizon_days=30,
            transport=httpx.MockTransport(server),
        )
        result = CliRunner().invoke(cli, ["token", "--org", "acme", "--role", "rep", "--sub", "r"])
        assert result.exit_code == 0, result.output
        sent.append(result.output.strip())
        assert len(sent) == 5
        assert {kid_of(t) for t in sent} == {"new"}

    async def test_with_the_secret_gone_the_services_and_the_demo_run_on_the_kid(
        self, env: Env, own_database: str, org: str
    ) -> None:
        # No SALESPERF_JWT_SECRET: a random one nobody signs with; the key `new` signs.
        env(secret=None, keys={"new": NEW}, kid="new")
        sent: list[str] = []

        async def keep(request: httpx.Request) -> None:
            sent.append(request.headers["authorization"].removeprefix("Bearer "))

        async with deployment(own_database) as d:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=d.activity_app),
                base_url="http://activity",
                event_hooks={"request": [keep]},
            ) as demo_client:
                demo = await run_demo(org=org, scale=0.1, days=3, client=demo_client)
            assert demo.created == demo.posted > 0
            headers = admin(org, NEW, "new")
            answer = await d.activity.get("/v1/events", params={"limit": 1000}, headers=headers)
            head = answer.json()["items"][-1]["position"]
            # Scoring's consumer listed the orgs and read the whole feed with its own tokens.
            await settled(d.scoring, headers, head)
            assert await rep_goal(d, headers)  # goals' service token, taken by scoring
            for token in {
                *sent,
                d.consumer_token(org),
                d.consumer_token(PLATFORM_ORG),
                d.goals_token(org),
            }:
                await verified_without_the_secret(token)


async def test_a_full_rotation_keeps_scoring_following_and_goals_asking(
    env: Env, own_database: str, org: str
) -> None:
    # 1. The old key signs; cursors are sealed with the secret (no cursor keys yet).
    env(secret=JWT_SECRET, keys={"old": OLD}, kid="old")
    old_admin = admin(org, OLD, "old")
    async with deployment(own_database) as d:
        first = await post_visits(d, old_admin, 30)
        assert await visits(d, old_admin, first) == 30
        goal = await rep_goal(d, old_admin)
        assert await actual(d, old_admin, goal) == 30
        assert kid_of(d.consumer_token(org)) == kid_of(d.goals_token(org)) == "old"
        before = await stored_cursor(own_database, org)
        page = (await d.activity.get("/v1/events", headers=old_admin)).json()

    # 2. The new key added and made current; the secret changed; cursors get a key of their
    #    own, the old secret still listed so the cursors sealed with it open.
    env(
        secret=SECRET_2,
        keys={"old": OLD, "new": NEW},
        kid="new",
        cursor_keys=[CURSOR_KEY, JWT_SECRET],
    )
    new_admin = admin(org, NEW, "new")
    async with deployment(own_database) as d:
        assert decode_cursor(before, org) == first  # scoring's cursor from before opens
        answer = await d.activity.get(
            "/v1/events", params={"after": page["next"]}, headers=old_admin
        )
        assert answer.status_code == 200
        assert answer.json()["items"] == []
        # The old key's tokens still verify; a kid-less one of the old secret no longer does.
        kidless = admin(org, JWT_SECRET)
        assert (await d.activity.get("/v1/events", headers=kidless)).status_code == 401
        await post_visits(d, old_admin, 20)
        second = await post_visits(d, new_admin, 20)
        assert await visits(d, new_admin, second) == 70
        assert kid_of(d.consumer_token(org)) == kid_of(d.goals_token(org)) == "new"
        assert await rep_goal(d, new_admin)
        assert await actual(d, new_admin, goal) == 70
        assert is_current(await stored_cursor(own_database, org), org)

    # 3. The old key dropped; the secret retired (unset); the old cursor key dropped.
    env(secret=None, keys={"new": NEW}, kid="new", cursor_keys=[CURSOR_KEY])
    async with deployment(own_database) as d:
        assert (await d.activity.get("/v1/events", headers=old_admin)).status_code == 401
        answer = await d.activity.get(
            "/v1/events", params={"after": page["next"]}, headers=new_admin
        )
        assert answer.status_code == 422  # a cursor of the dropped key: refused, as a forged one
        third = await post_visits(d, new_admin, 10)
        assert await visits(d, new_admin, third) == 80
        assert await rep_goal(d, new_admin)
        assert await actual(d, new_admin, goal) == 80


async def test_a_stored_cursor_no_key_opens_any_more_resumes_from_its_stored_position(
    env: Env, own_database: str, org: str
) -> None:
    env(secret=JWT_SECRET)
    headers = admin(org, JWT_SECRET)
    async with deployment(own_database) as d:
        first = await post_visits(d, headers, 25)
        assert await visits(d, headers, first) == 25
    before = await stored_cursor(own_database, org)

    # The secret changed without listing it as a cursor key: nothing opens scoring's cursor.
    env(secret=SECRET_2)
    headers = admin(org, SECRET_2)
    async with deployment(own_database) as d:
        with pytest.raises(InvalidInput):
            decode_cursor(before, org)
        second = await post_visits(d, headers, 15)
        assert await visits(d, headers, second) == 40  # nothing skipped, nothing counted twice
        assert is_current(await stored_cursor(own_database, org), org)
