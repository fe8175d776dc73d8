"""`GET /v1/progress/alerts`: an owner's activity goal behind pace while a result goal is still
on track, with each goal's numbers exactly as its own progress gives them.

March 2026 judged on Friday the 13th: 10 of its 22 working days have elapsed. Every goal is a
rep's March goal of team t1 with its floor at 80 % of target, so (see pace.py's rule):
- a visits or calls goal of 20: expected 20 × 10/22 = 9.09 by now; 5 done projects 11 < floor
  16 (behind), 8 done projects 17.6 ≥ 16 (at risk), 10 done is ahead (on track);
- a revenue goal of 10,000.00 EUR with 6,000.00 won: expected 4,545.45, on track; of
  100,000.00: expected 45,454.55 and projected 13,200 < floor 80,000, behind.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.goals.main import create_app
from tests.api.goals.conftest import goals_settings
from tests.api.goals.helpers import assert_problem, count_goal, create, money_goal
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, call, opened, visit, won
from tests.conftest import running

DAY = "2026-03-13"
BEHIND, AT_RISK, AHEAD = (
    [2, 4, 6, 10, 12],
    [2, 3, 4, 5, 6, 9, 10, 11],
    [2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
)


def visits(rep: str, days: list[int]) -> list[dict[str, Any]]:
    return [visit(rep, "t1", f"acc-{rep}", at(f"2026-03-{d:02d}")) for d in days]


def calls(rep: str, days: list[int]) -> list[dict[str, Any]]:
    return [call(rep, "t1", f"acc-{rep}", at(f"2026-03-{d:02d}")) for d in days]


def sale(rep: str, amount: str = "6000.00") -> list[dict[str, Any]]:
    deal = f"D-{rep}"
    return [
        opened(rep, "t1", deal, amount, "EUR", "ovens", f"acc-{rep}", at("2026-03-02")),
        won(rep, "t1", deal, amount, "EUR", at("2026-03-05")),
    ]


def visits_goal(rep: str) -> dict[str, Any]:
    return count_goal(owner=f"rep:{rep}", team_id="t1", target=20, base_pct=80)


def revenue_goal(rep: str, target: str = "10000.00", **cuts: Any) -> dict[str, Any]:
    return money_goal(
        owner=f"rep:{rep}",
        team_id="t1",
        period="month",
        start="2026-03-01",
        target=target,
        base_pct=80,
        **cuts,
    )


async def seed(scoring: httpx.AsyncClient, post_events: Any, auth: Any, events: list[Any]) -> None:
    await settled(scoring, auth(), await post_events(events))


async def alerts_of(
    goals: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    answer = await goals.get("/v1/progress/alerts", params={"at": DAY, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def progress_of(goals: httpx.AsyncClient, goal_id: str, auth: Any) -> dict[str, Any]:
    answer = await goals.get(f"/v1/goals/{goal_id}/progress", params={"at": DAY}, headers=auth())
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
async def ana(goals, auth, scoring, post_events) -> dict[str, dict[str, Any]]:
    """Ana: 5 visits (behind) and 6,000.00 EUR won (on track). Ben, same team: 5 visits (behind)
    and no result goal — his visits must not pair with Ana's revenue."""
    await seed(
        scoring, post_events, auth, visits("ana", BEHIND) + sale("ana") + visits("ben", BEHIND)
    )
    return {
        "visits": await create(goals, auth(), visits_goal("ana")),
        "revenue": await create(goals, auth(), revenue_goal("ana")),
        "ben": await create(goals, auth(), visits_goal("ben")),
    }


class TestVisitsBehindWhileRevenueIsOnTrack:
    async def test_is_one_alert_with_the_numbers_and_a_message(self, goals, auth, ana) -> None:
        body = await alerts_of(goals, auth(), owner="rep:ana")
        assert (body["owner"], body["at"]) == ("rep:ana", DAY)
        [alert] = body["items"]
        assert (alert["kind"], alert["owner"]) == ("leading_behind", "rep:ana")
        leading, lagging = alert["leading"], alert["lagging"]
        assert (leading["goal_id"], lagging["goal_id"]) == (
            ana["visits"]["id"],
            ana["revenue"]["id"],
        )
        assert {k: leading[k] for k in ("metric", "period", "start", "end", "status")} == {
            "metric": "visits",
            "period": "month",
            "start": "2026-03-01",
            "end": "2026-03-31",
            "status": "behind",
        }
        assert (leading["actual"], leading["expected_to_date"], leading["target"]) == (5, 9, 20)
        assert (lagging["metric"], lagging["status"], lagging["currency"]) == (
            "revenue_won",
            "on_track",
            "EUR",
        )
        assert (lagging["actual"], lagging["expected_to_date"], lagging["target"]) == (
            "6000.00",
            "4545.45",
            "10000.00",
        )
        assert alert["message"] == (
            "Visits are behind pace (5 of 9 expected by now) while revenue is still on track: "
            "the pipeline for next month is thinning."
        )

    async def test_the_numbers_are_each_goals_own_progress(self, goals, auth, ana) -> None:
        [alert] = (await alerts_of(goals, auth(), owner="rep:ana"))["items"]
        for side in (alert["leading"], alert["lagging"]):
            progress = await progress_of(goals, side["goal_id"], auth)
            goal = progress["goal"]
            assert side == {
                "goal_id": goal["id"],
                "metric": goal["metric"],
                "unit": goal["unit"],
                "period": goal["period"],
                "start": goal["start"],
                "end": goal["end"],
                "currency": goal["currency"],
                "product_line": goal["product_line"],
                "tier": goal["tier"],
                "channel": goal["channel"],
                "status": progress["status"],
                "actual": progress["actual"],
                "expected_to_date": progress["expected_to_date"],
                "target": goal["target"],
                "attainment_pct": progress["attainment_pct"],
                "rule": progress["rule"],
            }

    async def test_without_an_owner_every_readable_owner_is_judged_alone(
        self, goals, auth, ana
    ) -> None:
        body = await alerts_of(goals, auth())
        assert body["owner"] is None
        assert [(a["owner"], a["leading"]["goal_id"]) for a in body["items"]] == [
            ("rep:ana", ana["visits"]["id"])
        ]  # Ben's visits are behind too, but Ana's revenue is not his
        assert (await alerts_of(goals, auth(), owner="rep:ben"))["items"] == []

    async def test_behind_comes_before_at_risk(self, goals, auth, scoring, post_events) -> None:
        await seed(
            scoring, post_events, auth, visits("cy", BEHIND) + calls("cy", AT_RISK) + sale("cy")
        )
        calls_goal = await create(goals, auth(), {**visits_goal("cy"), "metric": "calls"})
        visits_id = (await create(goals, auth(), visits_goal("cy")))["id"]
        await create(goals, auth(), revenue_goal("cy"))
        items = (await alerts_of(goals, auth(), owner="rep:cy"))["items"]
        assert [(a["leading"]["goal_id"], a["leading"]["status"]) for a in items] == [
            (visits_id, "behind"),
            (calls_goal["id"], "at_risk"),
        ]
        assert items[1]["message"].startswith(
            "Calls are below pace (at risk) (8 of 9 expected by now) while revenue is still"
        )


class TestNoAlert:
    async def test_when_both_are_on_track(self, goals, auth, scoring, post_events) -> None:
        await seed(scoring, post_events, auth, visits("dee", AHEAD) + sale("dee"))
        lead = await create(goals, auth(), visits_goal("dee"))
        lag = await create(goals, auth(), revenue_goal("dee"))
        assert (await progress_of(goals, lead["id"], auth))["status"] == "on_track"
        assert (await progress_of(goals, lag["id"], auth))["status"] == "on_track"
        assert (await alerts_of(goals, auth(), owner="rep:dee"))["items"] == []

    async def test_when_revenue_is_behind_too_that_is_a_miss_not_a_warning(
        self, goals, auth, scoring, post_events
    ) -> None:
        await seed(scoring, post_events, auth, visits("eve", BEHIND) + sale("eve"))
        lead = await create(goals, auth(), visits_goal("eve"))
        lag = await create(goals, auth(), revenue_goal("eve", target="100000.00"))
        assert (await progress_of(goals, lead["id"], auth))["status"] == "behind"
        assert (await progress_of(goals, lag["id"], auth))["status"] == "behind"
        assert (await alerts_of(goals, auth(), owner="rep:eve"))["items"] == []

    async def test_when_the_result_goal_has_other_cuts(
        self, goals, auth, scoring, post_events
    ) -> None:
        await seed(scoring, post_events, auth, visits("fay", BEHIND) + sale("fay"))
        await create(goals, auth(), visits_goal("fay"))
        ovens = await create(goals, auth(), revenue_goal("fay", product_line="ovens"))
        assert (await progress_of(goals, ovens["id"], auth))["status"] == "on_track"
        assert (await alerts_of(goals, auth(), owner="rep:fay"))["items"] == []

    async def test_for_an_owner_without_goals(self, goals, auth) -> None:
        assert await alerts_of(goals, auth(), owner="team:nobody") == {
            "owner": "team:nobody",
            "at": DAY,
            "items": [],
        }


REP_ANA = {"role": "rep", "sub": "ana", "team": "t1"}
REP_BEN = {"role": "rep", "sub": "ben", "team": "t1"}
MANAGER = {"role": "manager", "sub": "m", "team": "t1"}
OTHER_MANAGER = {"role": "manager", "sub": "m2", "team": "t2"}
BI = {"role": "bi", "sub": "analyst"}


def as_(auth: Any, who: dict[str, Any]) -> dict[str, str]:
    who = dict(who)
    return auth(who.pop("role"), **who)  # type: ignore[no-any-return]


class TestAccess:
    async def test_a_rep_sees_their_own_alerts(self, goals, auth, ana) -> None:
        everyone = await alerts_of(goals, auth())
        assert (await alerts_of(goals, as_(auth, REP_ANA)))["items"] == everyone["items"]
        assert (await alerts_of(goals, as_(auth, REP_ANA), owner="rep:ana"))["items"] == everyone[
            "items"
        ]
        assert (await alerts_of(goals, as_(auth, REP_BEN)))["items"] == []

    @pytest.mark.parametrize("owner", ["rep:ben", "team:t1", "org"])
    async def test_a_rep_asking_about_anyone_else_is_a_403(self, goals, auth, ana, owner) -> None:
        answer = await goals.get(
            "/v1/progress/alerts", params={"owner": owner, "at": DAY}, headers=as_(auth, REP_ANA)
        )
        assert_problem(answer, 403)

    async def test_a_manager_sees_their_teams_reps(self, goals, auth, ana) -> None:
        [alert] = (await alerts_of(goals, as_(auth, MANAGER), owner="rep:ana"))["items"]
        assert alert["leading"]["goal_id"] == ana["visits"]["id"]
        assert len((await alerts_of(goals, as_(auth, MANAGER)))["items"]) == 1
        assert (await alerts_of(goals, as_(auth, OTHER_MANAGER)))["items"] == []
        assert (await alerts_of(goals, as_(auth, OTHER_MANAGER), owner="rep:ana"))["items"] == []

    @pytest.mark.parametrize("owner", ["team:t2", "org"])
    async def test_a_manager_asking_about_another_team_or_the_org_is_a_403(
        self, goals, auth, owner
    ) -> None:
        answer = await goals.get(
            "/v1/progress/alerts", params={"owner": owner, "at": DAY}, headers=as_(auth, MANAGER)
        )
        assert_problem(answer, 403)

    async def test_bi_reads_any_owner(self, goals, auth, ana) -> None:
        assert len((await alerts_of(goals, as_(auth, BI), owner="rep:ana"))["items"]) == 1

    async def test_another_org_finds_nothing(self, goals, auth, org, ana) -> None:
        elsewhere = auth(org_id=f"{org}-elsewhere")
        assert (await alerts_of(goals, elsewhere, owner="rep:ana"))["items"] == []

    async def test_no_token_is_a_401(self, goals) -> None:
        assert_problem(await goals.get("/v1/progress/alerts", params={"at": DAY}), 401)


class TestBadInput:
    @pytest.mark.parametrize("bad", ["yesterday", "2026-02-30", "1969-12-31", "1795046400"])
    async def test_a_bad_day_is_a_422_naming_at(self, goals, auth, bad) -> None:
        answer = await goals.get("/v1/progress/alerts", params={"at": bad}, headers=auth())
        assert_problem(answer, 422, "at", location="query")

    async def test_a_bad_owner_is_a_422_naming_it(self, goals, auth) -> None:
        answer = await goals.get("/v1/progress/alerts", params={"owner": "boss"}, headers=auth())
        assert_problem(answer, 422, "owner", location="query")

    async def test_the_route_declares_its_errors(self, goals) -> None:
        spec = (await goals.get("/openapi.json")).json()
        route = spec["paths"]["/v1/progress/alerts"]["get"]
        assert {"401", "403", "422", "503"} <= set(route["responses"])
        assert "leading" in route["description"]
        assert "lagging" in route["description"]


class TestScoringDownIsA503:
    async def test_never_made_up_numbers(self, database_url, auth) -> None:
        app = create_app(
            goals_settings(scoring_url="http://127.0.0.1:9", scoring_timeout=2),
            database_url=database_url,
        )
        async with running(app, "goals-without-scoring") as goals:
            await create(goals, auth(), visits_goal("ana"))
            answer = await goals.get("/v1/progress/alerts", params={"at": DAY}, headers=auth())
            body = assert_problem(answer, 503)
            assert "scoring" in body["detail"]
            assert "items" not in body
