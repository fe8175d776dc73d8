"""Who sees and sets which goal: a rep reads only their own and sets none; a manager reads and
sets their team's and its reps'; an admin everything; bi reads everything and sets nothing;
another org's token finds nothing (404, never 403: it must not learn that an id exists).

Each test gets a fresh org holding six goals set by an admin:

    team:t1, rep:r1 (t1), rep:r2 (t1), team:t2, rep:r3 (t2), org
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.goals.helpers import assert_problem, count_goal, create, ids, list_all

REP = {"role": "rep", "sub": "r1", "team": "t1"}
MANAGER = {"role": "manager", "sub": "m", "team": "t1"}
BI = {"role": "bi", "sub": "analyst"}


def as_(auth: Any, who: dict[str, Any]) -> dict[str, str]:
    who = dict(who)
    return auth(who.pop("role"), **who)  # type: ignore[no-any-return]


@pytest.fixture
async def six(goals: httpx.AsyncClient, auth: Any) -> dict[str, dict[str, Any]]:
    bodies = {
        "t1": count_goal(owner="team:t1"),
        "r1": count_goal(owner="rep:r1", team_id="t1", target=30),
        "r2": count_goal(owner="rep:r2", team_id="t1", target=40),
        "t2": count_goal(owner="team:t2"),
        "r3": count_goal(owner="rep:r3", team_id="t2", target=50),
        "org": count_goal(owner="org", target=500),
    }
    return {name: await create(goals, auth(), body) for name, body in bodies.items()}


async def unchanged(goals: httpx.AsyncClient, auth: Any, six: dict[str, dict[str, Any]]) -> None:
    """Nothing was added, changed or archived."""
    stored = await list_all(goals, auth(), include_archived="true")
    assert sorted(ids(stored)) == sorted(g["id"] for g in six.values())
    assert {g["id"]: g for g in stored} == {g["id"]: g for g in six.values()}


class TestARepSeesOnlyTheirOwnGoals:
    async def test_the_list_holds_only_their_goal(self, goals, auth, six) -> None:
        assert ids(await list_all(goals, as_(auth, REP))) == [six["r1"]["id"]]
        assert await list_all(goals, as_(auth, REP), owner="rep:r2") == []
        assert await list_all(goals, as_(auth, REP), owner="team:t1") == []

    async def test_their_goal_and_its_history_are_readable(self, goals, auth, six) -> None:
        mine = six["r1"]["id"]
        answer = await goals.get(f"/v1/goals/{mine}", headers=as_(auth, REP))
        assert answer.status_code == 200
        assert answer.json() == six["r1"]
        history = await goals.get(f"/v1/goals/{mine}/revisions", headers=as_(auth, REP))
        assert history.status_code == 200
        assert len(history.json()["items"]) == 1
        progress = await goals.get(
            f"/v1/goals/{mine}/progress", params={"at": "2026-03-10"}, headers=as_(auth, REP)
        )
        assert progress.status_code == 200, progress.text
        assert progress.json()["goal"]["id"] == mine

    @pytest.mark.parametrize("other", ["r2", "t1", "t2", "r3", "org"])
    async def test_every_other_goal_is_a_404(self, goals, auth, six, other) -> None:
        goal_id = six[other]["id"]
        for path in ("", "/revisions", "/reconcile", "/progress"):
            answer = await goals.get(f"/v1/goals/{goal_id}{path}", headers=as_(auth, REP))
            assert_problem(answer, 404)
        assert_problem(
            await goals.patch(f"/v1/goals/{goal_id}", json={"target": 1}, headers=as_(auth, REP)),
            404,
        )
        assert_problem(await goals.delete(f"/v1/goals/{goal_id}", headers=as_(auth, REP)), 404)
        await unchanged(goals, auth, six)

    async def test_the_progress_list_holds_only_their_goal(self, goals, auth, six) -> None:
        answer = await goals.get(
            "/v1/progress", params={"at": "2026-03-10"}, headers=as_(auth, REP)
        )
        assert answer.status_code == 200, answer.text
        assert [p["goal"]["id"] for p in answer.json()["items"]] == [six["r1"]["id"]]

    async def test_a_rep_sets_no_goal_not_even_their_own(self, goals, auth, six) -> None:
        headers = as_(auth, REP)
        mine = six["r1"]["id"]
        answers = [
            await goals.post(
                "/v1/goals", json=count_goal(owner="rep:r1", team_id="t1"), headers=headers
            ),
            await goals.patch(f"/v1/goals/{mine}", json={"target": 1}, headers=headers),
            await goals.delete(f"/v1/goals/{mine}", headers=headers),
            await goals.post(
                f"/v1/goals/{mine}/decompose", json={"by": "time", "into": "week"}, headers=headers
            ),
            await goals.put("/v1/calendar", json={"timezone": "Europe/Berlin"}, headers=headers),
        ]
        for answer in answers:
            assert_problem(answer, 403)
        await unchanged(goals, auth, six)

    async def test_a_rep_plans_their_own_funnel_only(self, goals, auth) -> None:
        plan = {"goal": "new_customers", "target": 5, "start": "2026-04-01", "end": "2026-06-30"}
        mine = await goals.post(
            "/v1/plans/funnel", json={**plan, "owner": "rep:r1"}, headers=as_(auth, REP)
        )
        assert mine.status_code == 200, mine.text
        assert mine.json()["owner"] == "rep:r1"
        for owner in ("rep:r2", "team:t1", "org"):
            answer = await goals.post(
                "/v1/plans/funnel", json={**plan, "owner": owner}, headers=as_(auth, REP)
            )
            assert_problem(answer, 403)


class TestAManagerRunsTheirOwnTeam:
    async def test_sets_the_teams_goal_and_its_reps(self, goals, auth, six) -> None:
        headers = as_(auth, MANAGER)
        team = await create(goals, headers, count_goal(owner="team:t1", start="2026-04-01"))
        assert (team["team_id"], team["created_by"]) == ("t1", "m")
        rep = await create(goals, headers, count_goal(owner="rep:r9"))
        assert (rep["owner"], rep["team_id"]) == ("rep:r9", "t1")
        explicit = await create(goals, headers, count_goal(owner="rep:r1", team_id="t1"))
        assert explicit["team_id"] == "t1"

    @pytest.mark.parametrize(
        "body",
        [
            count_goal(owner="team:t2"),
            count_goal(owner="org"),
            count_goal(owner="rep:r3", team_id="t2"),
        ],
        ids=["another team", "the org", "a rep of another team"],
    )
    async def test_cannot_set_goals_outside_the_team(self, goals, auth, six, body) -> None:
        answer = await goals.post("/v1/goals", json=body, headers=as_(auth, MANAGER))
        assert_problem(answer, 403)
        await unchanged(goals, auth, six)

    async def test_sees_only_the_teams_goals(self, goals, auth, six) -> None:
        listed = await list_all(goals, as_(auth, MANAGER))
        assert sorted(ids(listed)) == sorted(six[k]["id"] for k in ("t1", "r1", "r2"))
        assert await list_all(goals, as_(auth, MANAGER), owner="team:t2") == []
        for other in ("t2", "r3", "org"):
            answer = await goals.get(f"/v1/goals/{six[other]['id']}", headers=as_(auth, MANAGER))
            assert_problem(answer, 404)

    async def test_changes_archives_and_splits_the_teams_goals(self, goals, auth, six) -> None:
        headers = as_(auth, MANAGER)
        patched = await goals.patch(
            f"/v1/goals/{six['r2']['id']}", json={"target": 45}, headers=headers
        )
        assert patched.status_code == 200
        assert patched.json()["updated_by"] == "m"
        split = await goals.post(
            f"/v1/goals/{six['t1']['id']}/decompose",
            json={"by": "rep", "reps": ["r1", "r2"]},
            headers=headers,
        )
        assert split.status_code == 201, split.text
        assert [c["owner"] for c in split.json()["children"]] == ["rep:r1", "rep:r2"]
        assert {c["team_id"] for c in split.json()["children"]} == {"t1"}
        archived = await goals.delete(f"/v1/goals/{six['r1']['id']}", headers=headers)
        assert archived.status_code == 200
        assert archived.json()["archived"] is True

    async def test_cannot_touch_another_teams_goals(self, goals, auth, six) -> None:
        headers = as_(auth, MANAGER)
        for other in ("t2", "r3", "org"):
            goal_id = six[other]["id"]
            assert_problem(
                await goals.patch(f"/v1/goals/{goal_id}", json={"target": 1}, headers=headers),
                404,
            )
            assert_problem(await goals.delete(f"/v1/goals/{goal_id}", headers=headers), 404)
            assert_problem(
                await goals.post(
                    f"/v1/goals/{goal_id}/decompose",
                    json={"by": "time", "into": "week"},
                    headers=headers,
                ),
                404,
            )
        await unchanged(goals, auth, six)

    async def test_plans_the_teams_funnel_but_not_another_teams(self, goals, auth) -> None:
        plan = {"goal": "new_customers", "target": 5, "start": "2026-04-01", "end": "2026-06-30"}
        ok = await goals.post(
            "/v1/plans/funnel", json={**plan, "owner": "team:t1"}, headers=as_(auth, MANAGER)
        )
        assert ok.status_code == 200, ok.text
        other = await goals.post(
            "/v1/plans/funnel", json={**plan, "owner": "team:t2"}, headers=as_(auth, MANAGER)
        )
        assert_problem(other, 403)

    async def test_does_not_set_the_calendar(self, goals, auth) -> None:
        answer = await goals.put(
            "/v1/calendar", json={"timezone": "Europe/Berlin"}, headers=as_(auth, MANAGER)
        )
        assert_problem(answer, 403)
        assert (await goals.get("/v1/calendar", headers=as_(auth, MANAGER))).json()[
            "timezone"
        ] == "UTC"


class TestAnAdminDoesEverything:
    async def test_sees_every_goal_and_changes_any(self, goals, auth, six) -> None:
        assert sorted(ids(await list_all(goals, auth()))) == sorted(g["id"] for g in six.values())
        for goal in six.values():
            answer = await goals.patch(
                f"/v1/goals/{goal['id']}", json={"note": "seen"}, headers=auth()
            )
            assert answer.status_code == 200
            assert answer.json()["revision"] == 2

    async def test_sets_the_calendar(self, goals, auth) -> None:
        answer = await goals.put(
            "/v1/calendar",
            json={"timezone": "Europe/Berlin", "holidays": ["2026-10-03"]},
            headers=auth(),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "timezone": "Europe/Berlin",
            "weekend": [5, 6],
            "holidays": ["2026-10-03"],
            "workdays": [],
        }


class TestBiReadsEverythingAndWritesNothing:
    async def test_reads_every_goal(self, goals, auth, six) -> None:
        headers = as_(auth, BI)
        assert sorted(ids(await list_all(goals, headers))) == sorted(g["id"] for g in six.values())
        for goal in six.values():
            answer = await goals.get(f"/v1/goals/{goal['id']}", headers=headers)
            assert answer.status_code == 200
            assert answer.json() == goal
        progress = await goals.get(
            "/v1/progress", params={"owner": "org", "at": "2026-03-10"}, headers=headers
        )
        assert progress.status_code == 200, progress.text
        assert [p["goal"]["id"] for p in progress.json()["items"]] == [six["org"]["id"]]

    async def test_every_write_is_a_403_and_stores_nothing(self, goals, auth, six) -> None:
        headers = as_(auth, BI)
        goal_id = six["t1"]["id"]
        answers = [
            await goals.post("/v1/goals", json=count_goal(), headers=headers),
            await goals.patch(f"/v1/goals/{goal_id}", json={"target": 1}, headers=headers),
            await goals.delete(f"/v1/goals/{goal_id}", headers=headers),
            await goals.post(
                f"/v1/goals/{goal_id}/decompose",
                json={"by": "time", "into": "week"},
                headers=headers,
            ),
            await goals.put("/v1/calendar", json={"timezone": "Europe/Berlin"}, headers=headers),
        ]
        for answer in answers:
            assert_problem(answer, 403)
        await unchanged(goals, auth, six)


class TestAnotherOrgFindsNothing:
    @pytest.mark.parametrize("role", ["admin", "rep"])
    async def test_every_route_answers_404_for_this_orgs_ids(
        self, goals, auth, org, six, role
    ) -> None:
        headers = auth(role, sub="r1", team="t1", org_id=f"{org}-elsewhere")
        for goal in six.values():
            goal_id = goal["id"]
            for path in ("", "/revisions", "/reconcile", "/progress"):
                assert_problem(await goals.get(f"/v1/goals/{goal_id}{path}", headers=headers), 404)
            assert_problem(
                await goals.patch(f"/v1/goals/{goal_id}", json={"note": "x"}, headers=headers),
                404,
            )
            assert_problem(await goals.delete(f"/v1/goals/{goal_id}", headers=headers), 404)
            assert_problem(
                await goals.post(
                    f"/v1/goals/{goal_id}/decompose",
                    json={"by": "time", "into": "week"},
                    headers=headers,
                ),
                404,
            )
        assert await list_all(goals, headers) == []
        await unchanged(goals, auth, six)
