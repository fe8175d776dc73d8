"""A manager's reach ends at their team, and a rep's team is known, not claimed (issue 11,
sections 5 and 6): until a roster exists, a rep's team is where the rep's own history places
them (scoring's `GET /v1/reps/{rep}`: the team of their latest day of activity).

- A manager may not set the goal of a rep placed in another team, nor split a team goal onto
  one (403 naming the field, nothing stored); a rep without history may be given one.
- A manager sees nothing of such a rep through goals: their goals are 404 and left out of
  lists, progress and reconciliations, and a funnel plan for them is refused. Every number
  goals shows a manager is the one scoring shows that manager (asked with their own token).
- An admin does all of it; a platform token sets no goal and no calendar.

The org of each test: r1 works in t1 (2 visits in March 2026), r2 in t2 (4 visits), r4 worked
in t2 (1 visit on 2 March) and then in t1 (1 visit on 4 March).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import PLATFORM_ORG
from tests.api.goals.helpers import assert_problem, count_goal, create, decompose, ids, list_all
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, visit
from tests.conftest import TokenFactory

DAY = "2026-03-10"
PLAN = {
    "goal": "revenue",
    "target": "10000.00",
    "currency": "EUR",
    "start": "2026-04-01",
    "end": "2026-06-30",
}


def manager(auth: TokenFactory, team: str = "t1") -> dict[str, str]:
    return auth("manager", sub=f"m-{team}", team=team)


@pytest.fixture
async def history(scoring: httpx.AsyncClient, auth: TokenFactory, post_events: Any) -> None:
    events = [
        visit("r1", "t1", "a1", at("2026-03-02")),
        visit("r1", "t1", "a1", at("2026-03-03")),
        *(visit("r2", "t2", "a2", at(f"2026-03-0{d}")) for d in (2, 3, 4, 5)),
        visit("r4", "t2", "a4", at("2026-03-02")),
        visit("r4", "t1", "a4", at("2026-03-04")),
    ]
    await settled(scoring, auth(), await post_events(events))


async def stored(db: asyncpg.Pool, org: str) -> dict[str, Any]:
    """The goals and revisions goals' schema holds for `org`."""
    goals = await db.fetch(
        "SELECT owner_kind, owner_id, team_id, revision FROM goals.goals WHERE org_id = $1"
        " ORDER BY owner_kind, owner_id",
        org,
    )
    revisions = await db.fetchval("SELECT count(*) FROM goals.revisions WHERE org_id = $1", org)
    return {"goals": [tuple(g) for g in goals], "revisions": revisions}


async def progress(goals: httpx.AsyncClient, headers: dict[str, str], goal_id: str) -> Any:
    answer = await goals.get(f"/v1/goals/{goal_id}/progress", params={"at": DAY}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


class TestAManagerSetsNoGoalForAnotherTeamsRep:
    @pytest.mark.parametrize("claimed", [{}, {"team_id": "t1"}])
    async def test_a_goal_for_them_is_a_403_naming_owner_and_nothing_is_stored(
        self, goals, auth, history, db, org, claimed
    ) -> None:
        body = count_goal(owner="rep:r2", **claimed)
        answer = await goals.post("/v1/goals", json=body, headers=manager(auth))
        problem = assert_problem(answer, 403, "owner", location="body")
        assert "another team" in problem["detail"]
        assert "t2" not in problem["detail"]
        assert await stored(db, org) == {"goals": [], "revisions": 0}

    async def test_splitting_a_team_goal_onto_them_is_a_403_naming_reps(
        self, goals, auth, history, db, org
    ) -> None:
        team = await create(goals, manager(auth), count_goal(owner="team:t1"))
        before = await stored(db, org)
        for body, field in (
            ({"by": "rep", "reps": ["r1", "r2"], "strategy": "even"}, "reps"),
            ({"by": "rep", "reps": ["r1", "r2"], "strategy": "past_share"}, "reps"),
            ({"by": "rep", "weights": {"r1": 1, "r2": 1}, "strategy": "weights"}, "weights"),
        ):
            answer = await goals.post(
                f"/v1/goals/{team['id']}/decompose", json=body, headers=manager(auth)
            )
            problem = assert_problem(answer, 403, field)
            assert "r2" in problem["detail"]
            assert "r1" not in problem["detail"]
        assert (
            await stored(db, org) == before == {"goals": [("team", "t1", "t1", 1)], "revisions": 1}
        )

    async def test_their_own_reps_and_reps_without_history_are_theirs_to_set(
        self, goals, auth, history, db, org
    ) -> None:
        mine = await create(goals, manager(auth), count_goal(owner="rep:r1"))
        moved = await create(goals, manager(auth), count_goal(owner="rep:r4"))
        new = await create(goals, manager(auth), count_goal(owner="rep:newcomer"))
        assert [g["team_id"] for g in (mine, moved, new)] == ["t1", "t1", "t1"]
        team = await create(goals, manager(auth), count_goal(owner="team:t1"))
        split = await decompose(
            goals, manager(auth), team["id"], {"by": "rep", "reps": ["r1", "r4", "newcomer"]}
        )
        assert [c["owner"] for c in split["children"]] == ["rep:r1", "rep:r4", "rep:newcomer"]

    async def test_the_other_teams_manager_sets_the_reps_goal(self, goals, auth, history) -> None:
        theirs = await create(goals, manager(auth, "t2"), count_goal(owner="rep:r2"))
        assert theirs["team_id"] == "t2"
        assert (await progress(goals, manager(auth, "t2"), theirs["id"]))["actual"] == 4

    async def test_an_admin_sets_it_in_the_team_the_history_places_the_rep(
        self, goals, auth, history
    ) -> None:
        goal = await create(goals, auth(), count_goal(owner="rep:r2"))
        assert goal["team_id"] == "t2"
        assert (await progress(goals, auth(), goal["id"]))["actual"] == 4
        team = await create(goals, auth(), count_goal(owner="team:t1"))
        split = await decompose(goals, auth(), team["id"], {"by": "rep", "reps": ["r1", "r2"]})
        assert [c["owner"] for c in split["children"]] == ["rep:r1", "rep:r2"]


@pytest.fixture
async def planted(goals, auth, history) -> dict[str, dict[str, Any]]:
    """Goals stored under t1 for r1, r4 and r2 (r2's as the attacker's manager once managed to
    store it; here by an admin, who may), and t1's goal split by an admin onto r1 and r2."""
    made = {
        name: await create(goals, auth(), count_goal(owner=f"rep:{name}", team_id="t1"))
        for name in ("r1", "r2", "r4")
    }
    team = await create(goals, auth(), count_goal(owner="team:t1"))
    split = await decompose(goals, auth(), team["id"], {"by": "rep", "reps": ["r1", "r2"]})
    made["team"] = team
    made["r1-part"], made["r2-part"] = split["children"]
    return made


class TestAManagerSeesNothingOfAnotherTeamsRep:
    @pytest.mark.parametrize("goal", ["r2", "r2-part"])
    async def test_their_goal_is_a_404_everywhere(self, goals, auth, planted, goal) -> None:
        goal_id = planted[goal]["id"]
        for path in ("", "/revisions", "/reconcile", "/progress"):
            answer = await goals.get(f"/v1/goals/{goal_id}{path}", headers=manager(auth))
            assert_problem(answer, 404)
        for answer in (
            await goals.patch(f"/v1/goals/{goal_id}", json={"target": 1}, headers=manager(auth)),
            await goals.delete(f"/v1/goals/{goal_id}", headers=manager(auth)),
            await goals.post(
                f"/v1/goals/{goal_id}/decompose",
                headers=manager(auth),
                json={"by": "time", "into": "week"},
            ),
        ):
            assert_problem(answer, 404)
        assert (await goals.get(f"/v1/goals/{goal_id}", headers=auth())).json() == planted[goal]

    async def test_lists_leave_their_goals_out(self, goals, auth, planted) -> None:
        visible = {planted[n]["id"] for n in ("r1", "r4", "team", "r1-part")}
        assert set(ids(await list_all(goals, manager(auth)))) == visible
        assert set(ids(await list_all(goals, manager(auth), limit=1))) == visible
        assert await list_all(goals, manager(auth), owner="rep:r2") == []
        children = await list_all(goals, manager(auth), parent_id=planted["team"]["id"])
        assert ids(children) == [planted["r1-part"]["id"]]
        assert len(await list_all(goals, auth())) == 6

    async def test_progress_shows_none_of_their_actuals(self, goals, auth, planted) -> None:
        answer = await goals.get("/v1/progress", params={"at": DAY}, headers=manager(auth))
        assert answer.status_code == 200, answer.text
        shown = {p["goal"]["owner"] for p in answer.json()["items"]}
        assert shown == {"rep:r1", "rep:r4", "team:t1"}
        answer = await goals.get(
            "/v1/progress", params={"at": DAY, "owner": "rep:r2"}, headers=manager(auth)
        )
        assert answer.status_code == 200
        assert answer.json()["items"] == []
        answer = await goals.get(
            "/v1/progress/alerts", params={"at": DAY, "owner": "rep:r2"}, headers=manager(auth)
        )
        assert answer.status_code == 200
        assert answer.json()["items"] == []

    async def test_the_reconciliation_shows_their_part_to_an_admin_only(
        self, goals, auth, planted
    ) -> None:
        path = f"/v1/goals/{planted['team']['id']}/reconcile"
        theirs = (await goals.get(path, headers=manager(auth))).json()
        everything = (await goals.get(path, headers=auth())).json()
        assert ids(theirs["children"]) == [planted["r1-part"]["id"]]
        assert set(ids(everything["children"])) == {
            planted[n]["id"] for n in ("r1-part", "r2-part")
        }
        assert theirs["balanced"]
        assert everything["balanced"]

    async def test_a_funnel_plan_for_them_is_a_403_naming_owner(self, goals, auth, history) -> None:
        answer = await goals.post(
            "/v1/plans/funnel", json={**PLAN, "owner": "rep:r2"}, headers=manager(auth)
        )
        problem = assert_problem(answer, 403, "owner")
        assert "lookback" not in problem

    async def test_an_admin_and_the_reps_own_manager_see_their_actuals(
        self, goals, auth, planted
    ) -> None:
        assert (await progress(goals, auth(), planted["r2"]["id"]))["actual"] == 4
        for headers in (auth(), manager(auth, "t2")):
            answer = await goals.post(
                "/v1/plans/funnel", json={**PLAN, "owner": "rep:r2"}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["lookback"]["totals"]["visits"] == "4"


class TestAManagerSeesTheirOwnReps:
    async def test_progress_and_plans_show_their_actuals(self, goals, auth, planted) -> None:
        assert (await progress(goals, manager(auth), planted["r1"]["id"]))["actual"] == 2
        answer = await goals.post(
            "/v1/plans/funnel", json={**PLAN, "owner": "rep:r1"}, headers=manager(auth)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["lookback"]["totals"]["visits"] == "2"

    async def test_a_rep_who_moved_in_shows_only_their_work_in_the_team(
        self, goals, auth, planted
    ) -> None:
        """As scoring answers the same manager: a rep's numbers only while in their team."""
        goal_id = planted["r4"]["id"]
        assert (await progress(goals, manager(auth), goal_id))["actual"] == 1
        assert (await progress(goals, auth(), goal_id))["actual"] == 2


class TestAPlatformTokenSetsNothing:
    @pytest.mark.parametrize("role", ["admin", "manager", "service"])
    async def test_no_goal_and_no_calendar(self, goals, auth, db, role) -> None:
        headers = auth(role, org_id=PLATFORM_ORG, sub="platform-1", team="t1")
        for method, path, body in (
            ("POST", "/v1/goals", count_goal(owner="team:t1")),
            ("POST", "/v1/goals", count_goal(owner="org")),
            ("PUT", "/v1/calendar", {"timezone": "Europe/Berlin"}),
        ):
            answer = await goals.request(method, path, json=body, headers=headers)
            assert "platform" in assert_problem(answer, 403)["detail"]
        for table in ("goals", "revisions", "calendars"):
            count = f"SELECT count(*) FROM goals.{table} WHERE org_id = $1"
            assert await db.fetchval(count, PLATFORM_ORG) == 0
