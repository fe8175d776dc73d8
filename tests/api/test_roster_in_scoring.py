"""Scoring counts a team's numbers by goals' roster (issue 14): a rep's KPIs follow the rep; a
team's KPIs, leaderboard and goals' progress count each of the rep's days for the team the
roster places the rep in that day, and list every member, a silent one at zero. The roster is
copied from goals over HTTP (services/scoring/rosters.py); a back-dated move changes the answers
at the next read, with nothing replayed.

Ben logs his visits for team north all September (his CRM never heard of the move); the
roster says he moved to team south on the 15th (and later: on the 1st); one visit of his names
no team at all (it counts for the team he is in that day). Cara, in team south, logs nothing.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.scoring.config import ScoringSettings
from services.scoring.rosters import RosterCopies
from tests.api.goals.helpers import create
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, opened, visit
from tests.conftest import TokenFactory

SEPTEMBER = {"period": "month", "from": "2026-09-01", "to": "2026-09-30"}


@pytest.fixture
def copies(scoring_app: FastAPI, goals_app: FastAPI) -> RosterCopies:
    """Scoring's roster copier, asking the goals app in-process (as `salesperf run` wires it)."""
    runtime = scoring_app.state.runtime
    settings = ScoringSettings(
        **{**runtime.settings.model_dump(), "goals_url": "http://goals", "roster_seconds": 0}
    )
    return RosterCopies(
        settings,
        runtime.pool,
        runtime.consumer.token,
        runtime.org_rows.forget,
        transport=httpx.ASGITransport(app=goals_app),
    )


async def put_rep(goals: httpx.AsyncClient, headers: dict[str, str], rep: str, **body: Any) -> None:
    answer = await goals.put(f"/v1/reps/{rep}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


async def visits(scoring: httpx.AsyncClient, headers: dict[str, str], owner: str) -> int:
    answer = await scoring.get(
        "/v1/kpis", params={"owner": owner, "metrics": "visits", **SEPTEMBER}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    (bucket,) = answer.json()["buckets"]
    value: int = bucket["metrics"]["visits"]["value"]
    return value


async def pipeline(scoring: httpx.AsyncClient, headers: dict[str, str], owner: str) -> str:
    answer = await scoring.get(
        "/v1/kpis",
        params={"owner": owner, "metrics": "open_pipeline", "currency": "EUR", **SEPTEMBER},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    (bucket,) = answer.json()["buckets"]
    value: str = bucket["metrics"]["open_pipeline"]["value"]
    return value


async def board(scoring: httpx.AsyncClient, headers: dict[str, str], scope: str) -> list[Any]:
    answer = await scoring.get(
        "/v1/leaderboard",
        params={"metric": "visits", "period": "month", "at": "2026-09-10", "scope": scope},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return [(i["rank"], i["rep_id"], i["value"]) for i in answer.json()["items"]]


async def test_a_team_counts_each_day_for_the_team_the_roster_places_the_rep_in(
    org: str,
    auth: TokenFactory,
    goals: httpx.AsyncClient,
    scoring: httpx.AsyncClient,
    post_events: Any,
    copies: RosterCopies,
    db: asyncpg.Pool,
) -> None:
    admin = auth()
    events = [
        *(visit("rep-ben", "team-north", "acc-1", at(f"2026-09-0{d}")) for d in (2, 3, 4)),
        *(visit("rep-ben", "team-north", "acc-2", at(f"2026-09-{d}")) for d in (18, 22)),
        visit("rep-anna", "team-north", "acc-3", at("2026-09-10")),
        visit("rep-ben", None, "acc-2", at("2026-09-25")),  # no team: the rep's that day
        opened(
            "rep-ben", "team-north", "D-1", "1000.00", "EUR", "ovens", "acc-1", at("2026-09-03")
        ),
    ]
    await settled(scoring, admin, await post_events(events))
    # Before any roster: teams are as the events name them.
    assert await visits(scoring, admin, "team:team-north") == 6
    assert await visits(scoring, admin, "team:team-south") == 0
    assert await pipeline(scoring, admin, "team:team-north") == "1000.00"
    south_goal = await create(
        goals,
        admin,
        {
            "owner": "team:team-south",
            "metric": "visits",
            "period": "month",
            "start": "2026-09-01",
            "target": 10,
        },
    )

    for rep, team in (("rep-anna", "team-north"), ("rep-ben", "team-north")):
        await put_rep(goals, admin, rep, team_id=team, status="active", **{"from": "2026-01-01"})
    await put_rep(goals, admin, "rep-cara", team_id="team-south", **{"from": "2026-01-01"})
    await put_rep(goals, admin, "rep-ben", team_id="team-south", **{"from": "2026-09-15"})
    team = {"name": "South", "manager_id": "mgr-south", "from": "2026-01-01"}
    answer = await goals.put("/v1/teams/team-south", json=team, headers=admin)
    assert answer.status_code == 200, answer.text
    assert await copies.copy(org) is True
    assert await copies.copy(org) is False  # the same version: not read again
    stored = await db.fetch(
        "SELECT rep_id, team_id, first_day::text, last_day::text FROM scoring.roster_periods"
        " WHERE org_id = $1 ORDER BY rep_id, first_day",
        org,
    )
    assert [tuple(r) for r in stored] == [
        ("rep-anna", "team-north", "2026-01-01", None),
        ("rep-ben", "team-north", "2026-01-01", "2026-09-14"),
        ("rep-ben", "team-south", "2026-09-15", None),
        ("rep-cara", "team-south", "2026-01-01", None),
    ]

    assert await visits(scoring, admin, "team:team-north") == 4  # Ben's three before the 15th
    assert await visits(scoring, admin, "team:team-south") == 3  # and three after
    assert await visits(scoring, admin, "rep:rep-ben") == 6  # a rep's KPIs follow the rep
    assert await visits(scoring, admin, "org") == 7
    # A stock goes with the rep: at the end of September Ben's open deal is team south's.
    assert await pipeline(scoring, admin, "team:team-south") == "1000.00"
    assert await pipeline(scoring, admin, "team:team-north") == "0"
    # The same by day: the 18th is team south's.
    answer = await scoring.get(
        "/v1/kpis",
        params={
            "owner": "team:team-south",
            "metrics": "visits",
            "period": "day",
            "from": "2026-09-18",
            "to": "2026-09-18",
        },
        headers=admin,
    )
    assert answer.json()["buckets"][0]["metrics"]["visits"]["value"] == 1
    # A manager of team south sees Ben's days in it, not those before.
    manager = auth("manager", sub="mgr-south", team="team-south")
    assert await visits(scoring, manager, "rep:rep-ben") == 3

    # A manager of team south the roster does not name reads nothing of it (as in goals).
    replaced = auth("manager", sub="mgr-before", team="team-south")
    for path, params in (
        ("/v1/kpis", {"owner": "team:team-south", "metrics": "visits"}),
        ("/v1/leaderboard", {"metric": "visits", "scope": "team:team-south"}),
        ("/v1/funnel", {"owner": "team:team-south"}),
    ):
        refused = await scoring.get(path, params=params, headers=replaced)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "another manager of team 'team-south'" in refused.json()["detail"]
    assert [
        tuple(r)
        for r in await db.fetch(
            "SELECT team_id, manager_id, first_day::text, last_day::text FROM scoring.roster_managers"
            " WHERE org_id = $1",
            org,
        )
    ] == [("team-south", "mgr-south", "2026-01-01", None)]

    # Leaderboards list every member, the silent one at zero.
    assert await board(scoring, admin, "team:team-south") == [
        (1, "rep-ben", 3),
        (2, "rep-cara", 0),
    ]
    assert await board(scoring, admin, "team:team-north") == [
        (1, "rep-ben", 3),
        (2, "rep-anna", 1),
    ]
    assert await board(scoring, admin, "org") == [
        (1, "rep-ben", 6),
        (2, "rep-anna", 1),
        (3, "rep-cara", 0),
    ]

    # Goals' progress of team south's goal reads the same.
    answer = await goals.get(
        f"/v1/goals/{south_goal['id']}/progress", params={"at": "2026-09-30"}, headers=admin
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["actual"] == 3

    # Back-dated to the 1st (recorded now): the next reads move, nothing is replayed.
    generation = await db.fetchval("SELECT generation FROM scoring.orgs WHERE org_id = $1", org)
    await put_rep(goals, admin, "rep-ben", team_id="team-south", **{"from": "2026-09-01"})
    assert await copies.copy(org) is True
    assert await visits(scoring, admin, "team:team-north") == 1
    assert await visits(scoring, admin, "team:team-south") == 6
    assert await board(scoring, admin, "team:team-north") == [(1, "rep-anna", 1)]
    answer = await goals.get(
        f"/v1/goals/{south_goal['id']}/progress", params={"at": "2026-09-30"}, headers=admin
    )
    assert answer.json()["actual"] == 6
    assert (
        await db.fetchval("SELECT generation FROM scoring.orgs WHERE org_id = $1", org)
        == generation
    )


async def test_without_a_roster_teams_are_as_the_events_name_them(
    org: str,
    auth: TokenFactory,
    scoring: httpx.AsyncClient,
    post_events: Any,
    copies: RosterCopies,
) -> None:
    admin = auth()
    await settled(scoring, admin, await post_events([visit("rep-a", "t", "acc", at("2026-09-02"))]))
    assert await copies.copy(org) is False  # version 0 on both sides
    assert await copies.copy("org-scoring-never-saw") is False
    assert await visits(scoring, admin, "team:t") == 1


async def test_the_roster_periods_are_for_the_orgs_readers(
    org: str, auth: TokenFactory, goals: httpx.AsyncClient
) -> None:
    await put_rep(goals, auth(), "rep-a", team_id="t", **{"from": "2026-01-01"})
    answer = await goals.get("/v1/roster/periods", headers=auth("service", sub="scoring"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] > 0
    assert body["items"] == [{"rep_id": "rep-a", "team_id": "t", "from": "2026-01-01", "to": None}]
    assert body["next"] is None
    for role in ("manager", "rep"):
        refused = await goals.get("/v1/roster/periods", headers=auth(role, sub="x", team="t"))
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
