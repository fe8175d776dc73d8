"""Goals' reach follows the roster where it exists (issue 14).

- A rep's team, for who sees and sets their goals, is the one the roster places them in today
  (their entry in force, `left` included: the team left); for a rep the roster does not know
  today, where their own history places them (scoring), as before the roster.
- A manager whose team the roster gives another manager today sees and sets nothing of it:
  its goals are 404 and left out of lists, progress and alerts, naming it is 403, as for any
  team not theirs.
- Access is decided on the org's today (UTC here), whatever day a progress read asks about;
  a rep goal stays filed in the team it was set in (`team_id`).

The org of each test: r and q work in north by their history (visits in March 2026), s in
south.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.goals.helpers import assert_problem, count_goal, create, decompose, ids, list_all
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, visit
from tests.conftest import TokenFactory

AT = "2026-03-20"
PLAN = {
    "goal": "revenue",
    "target": "10000.00",
    "currency": "EUR",
    "start": "2026-04-01",
    "end": "2026-06-30",
}


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def north(auth: TokenFactory, sub: str = "m-north") -> dict[str, str]:
    return auth("manager", sub=sub, team="north")


def south(auth: TokenFactory) -> dict[str, str]:
    return auth("manager", sub="m-south", team="south")


@pytest.fixture
async def history(scoring: httpx.AsyncClient, auth: TokenFactory, post_events: Any) -> None:
    events = [
        visit("r", "north", "a1", at("2026-03-02")),
        visit("r", "north", "a1", at("2026-03-03")),
        visit("q", "north", "a2", at("2026-03-04")),
        visit("s", "south", "a3", at("2026-03-05")),
    ]
    await settled(scoring, auth(), await post_events(events))


async def put_rep(goals: httpx.AsyncClient, auth: TokenFactory, rep: str, **body: Any) -> None:
    answer = await goals.put(f"/v1/reps/{rep}", json=body, headers=auth(sub="boss"))
    assert answer.status_code == 200, answer.text


async def put_team(goals: httpx.AsyncClient, auth: TokenFactory, team: str, **body: Any) -> None:
    answer = await goals.put(f"/v1/teams/{team}", json=body, headers=auth(sub="boss"))
    assert answer.status_code == 200, answer.text


async def stored(db: asyncpg.Pool, org: str) -> list[tuple[str, str, str | None, int]]:
    rows = await db.fetch(
        "SELECT owner_kind, owner_id, team_id, revision FROM goals.goals WHERE org_id = $1"
        " ORDER BY owner_kind, owner_id, team_id",
        org,
    )
    return [tuple(r) for r in rows]


async def progress_owners(goals: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    answer = await goals.get("/v1/progress", params={"at": AT}, headers=headers)
    assert answer.status_code == 200, answer.text
    return sorted(p["goal"]["owner"] for p in answer.json()["items"])


async def new_goal(goals: httpx.AsyncClient, headers: dict[str, str], owner: str) -> Any:
    return await goals.post("/v1/goals", json=count_goal(owner=owner), headers=headers)


async def plan(goals: httpx.AsyncClient, headers: dict[str, str], owner: str) -> Any:
    return await goals.post("/v1/plans/funnel", json={**PLAN, "owner": owner}, headers=headers)


# --------------------------------------------------------------------------- a rep moved


@pytest.fixture
async def moved(goals, auth, history) -> dict[str, dict[str, Any]]:
    """r's goal set in north by north's manager while r's history placed them there, north's
    team goal; then the roster: r in north from 1 March, in south from 15 March."""
    made = {
        "r": await create(goals, north(auth), count_goal(owner="rep:r")),
        "q": await create(goals, north(auth), count_goal(owner="rep:q")),
        "north": await create(goals, north(auth), count_goal(owner="team:north")),
    }
    assert made["r"]["team_id"] == "north"
    await put_rep(goals, auth, "r", team_id="north", **{"from": "2026-03-01"})
    await put_rep(goals, auth, "r", team_id="south", reason="moved", **{"from": "2026-03-15"})
    return made


class TestARepTheRosterMovedToAnotherTeam:
    async def test_the_new_teams_manager_sets_and_sees_their_goals(
        self, goals, auth, moved
    ) -> None:
        answer = await new_goal(goals, south(auth), "rep:r")
        assert answer.status_code == 201, answer.text
        goal = answer.json()
        assert (goal["owner"], goal["team_id"]) == ("rep:r", "south")
        got = await goals.get(f"/v1/goals/{goal['id']}", headers=south(auth))
        assert got.status_code == 200
        assert got.json() == goal
        assert ids(await list_all(goals, south(auth))) == [goal["id"]]
        assert await progress_owners(goals, south(auth)) == ["rep:r"]
        answer = await plan(goals, south(auth), "rep:r")
        assert answer.status_code == 200, answer.text
        assert answer.json()["owner"] == "rep:r"
        team = await create(goals, south(auth), count_goal(owner="team:south"))
        split = await decompose(goals, south(auth), team["id"], {"by": "rep", "reps": ["r", "s"]})
        assert [(c["owner"], c["team_id"]) for c in split["children"]] == [
            ("rep:r", "south"),
            ("rep:s", "south"),
        ]

    async def test_the_old_teams_manager_sees_nothing_of_them_any_more(
        self, goals, auth, moved, db, org
    ) -> None:
        goal_id = moved["r"]["id"]
        for path in ("", "/revisions", "/progress", "/reconcile"):
            answer = await goals.get(f"/v1/goals/{goal_id}{path}", headers=north(auth))
            assert "There is no goal" in assert_problem(answer, 404)["detail"]
        listed = await list_all(goals, north(auth))
        assert sorted(ids(listed)) == sorted([moved["q"]["id"], moved["north"]["id"]])
        assert await list_all(goals, north(auth), owner="rep:r") == []
        assert await progress_owners(goals, north(auth)) == ["rep:q", "team:north"]
        before = await stored(db, org)
        problem = assert_problem(await new_goal(goals, north(auth), "rep:r"), 403, "owner")
        assert "another team" in problem["detail"]
        assert "south" not in problem["detail"]
        assert_problem(await plan(goals, north(auth), "rep:r"), 403, "owner")
        answer = await goals.post(
            f"/v1/goals/{moved['north']['id']}/decompose",
            json={"by": "rep", "reps": ["q", "r"]},
            headers=north(auth),
        )
        errors = assert_problem(answer, 403, "reps")["errors"]
        assert [e["message"] for e in errors] == ["works in another team: r"]
        assert await stored(db, org) == before

    async def test_an_admin_and_the_rep_still_see_the_goal_set_in_the_old_team(
        self, goals, auth, moved
    ) -> None:
        goal = moved["r"]
        for headers in (auth(), auth("rep", sub="r", team="north")):
            answer = await goals.get(f"/v1/goals/{goal['id']}", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json() == goal

    async def test_an_admins_goal_for_them_goes_to_the_roster_team(
        self, goals, auth, moved
    ) -> None:
        goal = await create(goals, auth(), count_goal(owner="rep:r"))
        assert (goal["owner"], goal["team_id"]) == ("rep:r", "south")

    async def test_a_rep_the_roster_does_not_know_is_placed_by_their_history(
        self, goals, auth, moved
    ) -> None:
        got = await goals.get(f"/v1/goals/{moved['q']['id']}", headers=north(auth))
        assert got.status_code == 200
        assert got.json() == moved["q"]
        assert_problem(await new_goal(goals, south(auth), "rep:q"), 403, "owner")
        assert (await create(goals, auth(), count_goal(owner="rep:q")))["team_id"] == "north"


class TestAMoveNotYetInForce:
    async def test_leaves_the_rep_in_the_old_team_until_its_day(self, goals, auth, history) -> None:
        goal = await create(goals, north(auth), count_goal(owner="rep:r"))
        await put_rep(goals, auth, "r", team_id="north", **{"from": "2026-03-01"})
        await put_rep(goals, auth, "r", team_id="south", **{"from": days_from_today(1)})
        got = await goals.get(f"/v1/goals/{goal['id']}", headers=north(auth))
        assert got.status_code == 200
        assert got.json() == goal
        assert ids(await list_all(goals, north(auth))) == [goal["id"]]
        assert_problem(await new_goal(goals, south(auth), "rep:r"), 403, "owner")

    async def test_a_move_from_today_is_in_force_today(self, goals, auth, history) -> None:
        goal = await create(goals, north(auth), count_goal(owner="rep:r"))
        await put_rep(goals, auth, "r", team_id="south", **{"from": today()})
        assert_problem(await goals.get(f"/v1/goals/{goal['id']}", headers=north(auth)), 404)
        answer = await new_goal(goals, south(auth), "rep:r")
        assert answer.status_code == 201, answer.text
        assert answer.json()["team_id"] == "south"


class TestARepWhoLeft:
    async def test_stays_with_the_team_they_left(self, goals, auth, history) -> None:
        """The roster's own reads show a rep who left to the manager of the team they left."""
        await put_rep(goals, auth, "s", team_id="north", **{"from": "2026-03-01"})
        await put_rep(goals, auth, "s", team_id="north", status="left", **{"from": today()})
        goal = await create(goals, north(auth), count_goal(owner="rep:s"))
        assert goal["team_id"] == "north"
        assert ids(await list_all(goals, north(auth))) == [goal["id"]]
        assert_problem(await new_goal(goals, south(auth), "rep:s"), 403, "owner")


# --------------------------------------------------------------------------- a manager replaced


@pytest.fixture
async def led(goals, auth, history) -> dict[str, dict[str, Any]]:
    """North's team goal and r's goal, both in north."""
    return {
        "north": await create(goals, auth(), count_goal(owner="team:north")),
        "r": await create(goals, auth(), count_goal(owner="rep:r")),
    }


class TestAManagerTheRosterNoLongerNames:
    @pytest.fixture
    async def replaced(self, goals, auth, led) -> dict[str, dict[str, Any]]:
        await put_team(goals, auth, "north", name="North", manager_id="m-new", **{"from": AT})
        return led

    async def test_every_goal_of_the_team_is_a_404(self, goals, auth, replaced) -> None:
        for goal in replaced.values():
            for path in ("", "/revisions", "/progress", "/reconcile"):
                answer = await goals.get(f"/v1/goals/{goal['id']}{path}", headers=north(auth))
                assert "There is no goal" in assert_problem(answer, 404)["detail"]
            for answer in (
                await goals.patch(
                    f"/v1/goals/{goal['id']}", json={"target": 1}, headers=north(auth)
                ),
                await goals.delete(f"/v1/goals/{goal['id']}", headers=north(auth)),
                await goals.post(
                    f"/v1/goals/{goal['id']}/decompose",
                    json={"by": "time", "into": "week"},
                    headers=north(auth),
                ),
            ):
                assert_problem(answer, 404)
            answer = await goals.get(f"/v1/goals/{goal['id']}", headers=auth())
            assert answer.json() == goal

    async def test_lists_progress_and_alerts_are_empty(self, goals, auth, replaced) -> None:
        assert await list_all(goals, north(auth)) == []
        assert await list_all(goals, north(auth), owner="team:north") == []
        assert await progress_owners(goals, north(auth)) == []
        for params in ({}, {"owner": "rep:r"}):
            answer = await goals.get(
                "/v1/progress/alerts", params={"at": AT, **params}, headers=north(auth)
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["items"] == []

    async def test_naming_the_team_is_a_403_and_nothing_is_stored(
        self, goals, auth, replaced, db, org
    ) -> None:
        before = await stored(db, org)
        answer = await goals.get(
            "/v1/progress/alerts", params={"at": AT, "owner": "team:north"}, headers=north(auth)
        )
        assert "your team" in assert_problem(answer, 403)["detail"]
        for owner in ("team:north", "rep:r"):
            assert_problem(await new_goal(goals, north(auth), owner), 403)
            assert_problem(await plan(goals, north(auth), owner), 403)
        assert await stored(db, org) == before

    async def test_the_manager_it_names_sees_it_all(self, goals, auth, replaced) -> None:
        mine = north(auth, "m-new")
        assert sorted(ids(await list_all(goals, mine))) == sorted(
            g["id"] for g in replaced.values()
        )
        assert await progress_owners(goals, mine) == ["rep:r", "team:north"]
        got = await goals.get(f"/v1/goals/{replaced['r']['id']}", headers=mine)
        assert got.json() == replaced["r"]


class TestAManagerTheRosterStillNames:
    @pytest.mark.parametrize(
        ("manager", "day"),
        [("m-north", "2026-03-01"), (None, "2026-03-01"), ("m-new", "tomorrow")],
    )
    async def test_sees_the_team_as_before(self, goals, auth, led, manager, day) -> None:
        """Named, not named at all, or replaced only from tomorrow."""
        start = days_from_today(1) if day == "tomorrow" else day
        await put_team(goals, auth, "north", name="North", manager_id=manager, **{"from": start})
        assert sorted(ids(await list_all(goals, north(auth)))) == sorted(
            g["id"] for g in led.values()
        )
        got = await goals.get(f"/v1/goals/{led['north']['id']}", headers=north(auth))
        assert got.json() == led["north"]
        assert (await new_goal(goals, north(auth), "rep:r")).status_code == 201
