"""Funnel plans (the activity a target needs, from the owner's own conversion rates in scoring)
and progress (actual from scoring, expected to date along working days or the goal's children,
projections, status and the next checkpoint). Scoring down answers 503, never made-up numbers.

Expected numbers are computed here from the README's KPI definitions and the chain in
services/goals/plan.py's docstring, with exact fractions.
"""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction
from typing import Any

import httpx
import pytest

from services.goals.main import create_app
from tests.api.goals.conftest import goals_settings
from tests.api.goals.helpers import (
    assert_problem,
    count_goal,
    create,
    decompose,
    list_all,
    money_goal,
    working_days,
)
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, call, lead, lost, opened, qualified, visit, won
from tests.conftest import running

# --------------------------------------------------------------------------------- funnel plan

PLAN = {
    "owner": "rep:pat",
    "goal": "revenue",
    "target": "100000.00",
    "currency": "EUR",
    "start": "2026-04-01",
    "end": "2026-06-30",
}


def pats_quarter() -> list[dict[str, Any]]:
    """Pat's look-back window (1 January – 31 March 2026, 90 days before 1 April): 10 leads, 5
    qualified, 4 deals opened, 2 won (3,000 + 5,000 EUR), 1 lost, 12 visits, 20 calls; and a
    few events outside the window that must not count."""
    rep, team = "pat", "tp"
    events: list[dict[str, Any]] = []
    for i in range(1, 11):
        events.append(lead(rep, team, f"L{i}", "referral", f"acc-L{i}", at("2026-02-02")))
    for i in range(1, 6):
        events.append(qualified(rep, team, f"L{i}", at("2026-02-05")))
    for deal, amount in (
        ("D1", "3000.00"),
        ("D2", "5000.00"),
        ("D3", "4000.00"),
        ("D4", "2000.00"),
    ):
        events.append(
            opened(rep, team, deal, amount, "EUR", "ovens", f"acc-{deal}", at("2026-02-10"))
        )
    events += [
        won(rep, team, "D1", "3000.00", "EUR", at("2026-02-20")),
        won(rep, team, "D2", "5000.00", "EUR", at("2026-02-21")),
        lost(rep, team, "D3", at("2026-02-22")),
    ]
    events += [visit(rep, team, "acc-L1", at(f"2026-02-{d:02d}")) for d in range(2, 14)]
    events += [call(rep, team, "acc-L2", at(f"2026-03-{d:02d}")) for d in range(1, 21)]
    events += [  # outside the window
        visit(rep, team, "acc-L1", at("2025-12-31")),
        opened(rep, team, "D9", "9000.00", "EUR", "ovens", "acc-D9", at("2026-04-01")),
        won(rep, team, "D9", "9000.00", "EUR", at("2026-04-02")),
        visit("someone-else", team, "acc-L1", at("2026-02-10")),
    ]
    return events


def ceil(value: Fraction) -> int:
    return math.ceil(value)


def steps(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in plan["steps"]}


def rates(plan: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    return {r["name"]: (r["value"], r["source"]) for r in plan["rates"]}


@pytest.fixture
async def pat(scoring, post_events, auth) -> None:
    await settled(scoring, auth(), await post_events(pats_quarter()))


class TestTheFunnelPlanUsesTheOwnersOwnRates:
    async def test_every_step_follows_from_the_look_back_totals(self, goals, auth, pat) -> None:
        answer = await goals.post("/v1/plans/funnel", json=PLAN, headers=auth())
        assert answer.status_code == 200, answer.text
        plan = answer.json()
        assert plan["lookback"] == {
            "from": "2026-01-01",
            "to": "2026-03-31",
            "totals": {
                "revenue_won": "8000.00",
                "deals_won": "2",
                "deals_lost": "1",
                "deals_opened": "4",
                "opportunities": "5",
                "new_leads": "10",
                "visits": "12",
                "calls": "20",
                "new_customers": "2",
            },
        }
        # README definitions → rates; plan.py's chain with T = target × challenge (1.1).
        avg, win, o2c = Fraction(8000, 2), Fraction(2, 3), Fraction(3, 4)
        opp2deal, lead2opp, visits_won, calls_won = (
            Fraction(4, 5),
            Fraction(1, 2),
            Fraction(6),
            Fraction(10),
        )
        t = Fraction(100000) * Fraction(11, 10)
        exact = {"deals_won": t / avg}
        exact["deals_closed"] = exact["deals_won"] / win
        exact["deals_opened"] = exact["deals_closed"] / o2c
        exact["opportunities"] = exact["deals_opened"] / opp2deal
        exact["leads"] = exact["opportunities"] / lead2opp
        exact["visits"] = exact["deals_won"] * visits_won
        exact["calls"] = exact["deals_won"] * calls_won
        got = steps(plan)
        assert list(got) == [
            "deals_won",
            "deals_closed",
            "deals_opened",
            "opportunities",
            "leads",
            "visits",
            "calls",
        ]
        assert {k: s["needed"] for k, s in got.items()} == {k: ceil(v) for k, v in exact.items()}
        assert {k: s["needed"] for k, s in got.items()} == {
            "deals_won": 28,
            "deals_closed": 42,
            "deals_opened": 55,
            "opportunities": 69,
            "leads": 138,
            "visits": 165,
            "calls": 275,
        }
        assert {k: s["exact"] for k, s in got.items()} == {
            "deals_won": "27.5",
            "deals_closed": "41.25",
            "deals_opened": "55",
            "opportunities": "68.75",
            "leads": "137.5",
            "visits": "165",
            "calls": "275",
        }
        assert all(s["missing"] is None for s in got.values())
        weeks = Fraction(91, 7)
        days = working_days(date(2026, 4, 1), date(2026, 6, 30))
        assert (plan["weeks"], plan["working_days"], days) == (13.0, 65, 65)
        deals = got["deals_won"]
        assert (deals["per_week"], deals["per_week_whole"]) == ("2.15", ceil(28 / weeks))
        assert (deals["per_working_day"], deals["per_working_day_whole"]) == ("0.43", 1)
        assert got["calls"]["per_working_day"] == "4.23"
        assert (plan["challenge"], plan["stretched_target"]) == ("1.1", "110000")
        assert rates(plan) == {
            "average_deal_size": ("4000", "scoring"),
            "win_rate": ("0.666667", "scoring"),
            "open_to_close": ("0.75", "scoring"),
            "opportunity_to_deal": ("0.8", "scoring"),
            "lead_to_opportunity": ("0.5", "scoring"),
            "visits_per_won": ("6", "scoring"),
            "calls_per_won": ("10", "scoring"),
        }
        assert plan["assumptions"] == []
        assert (plan["owner"], plan["goal"], plan["target"], plan["currency"]) == (
            "rep:pat",
            "revenue",
            "100000.00",
            "EUR",
        )

    async def test_a_new_customer_target_starts_from_the_new_customer_share(
        self, goals, auth, pat
    ) -> None:
        body = {**PLAN, "goal": "new_customers", "target": 5, "challenge": "1"}
        del body["currency"]
        plan = (await goals.post("/v1/plans/funnel", json=body, headers=auth())).json()
        got = steps(plan)
        # share = 2 new customers ÷ 2 deals won = 1; 5 deals won, closed 7.5, opened 10 …
        assert {k: s["needed"] for k, s in got.items()} == {
            "deals_won": 5,
            "deals_closed": 8,
            "deals_opened": 10,
            "opportunities": 13,
            "leads": 25,
            "visits": 30,
            "calls": 50,
        }
        assert rates(plan)["new_customer_share"] == ("1", "scoring")
        assert "average_deal_size" not in rates(plan)

    async def test_an_override_replaces_a_rate_and_is_marked(self, goals, auth, pat) -> None:
        body = {**PLAN, "rates": {"win_rate": "0.5", "average_deal_size": 5500}}
        plan = (await goals.post("/v1/plans/funnel", json=body, headers=auth())).json()
        got = steps(plan)
        # deals won 110000 ÷ 5500 = 20; closed 40; opened 53.3 → 54; opportunities 66.7 → 67 …
        assert {k: s["needed"] for k, s in got.items()} == {
            "deals_won": 20,
            "deals_closed": 40,
            "deals_opened": 54,
            "opportunities": 67,
            "leads": 134,
            "visits": 120,
            "calls": 200,
        }
        assert rates(plan)["win_rate"] == ("0.5", "override")
        assert rates(plan)["average_deal_size"] == ("5500", "override")
        assert rates(plan)["open_to_close"] == ("0.75", "scoring")

    async def test_a_challenge_multiplies_the_target(self, goals, auth, pat) -> None:
        plan = (
            await goals.post("/v1/plans/funnel", json={**PLAN, "challenge": "1.5"}, headers=auth())
        ).json()
        assert plan["stretched_target"] == "150000"
        assert steps(plan)["deals_won"]["exact"] == "37.5"

    async def test_a_team_plans_from_its_reps_together(self, goals, auth, pat) -> None:
        plan = (
            await goals.post("/v1/plans/funnel", json={**PLAN, "owner": "team:tp"}, headers=auth())
        ).json()
        assert plan["lookback"]["totals"]["visits"] == "13"  # someone-else's visit too
        assert steps(plan)["visits"]["exact"] == "178.75"  # 27.5 × 13 ÷ 2

    async def test_an_unknown_rate_is_named_and_nothing_is_divided_by_it(
        self, goals, auth, scoring, post_events
    ) -> None:
        events = [
            lead("quinn", "tq", f"Q{i}", "online", f"acc-Q{i}", at("2026-03-02")) for i in range(4)
        ]
        events += [visit("quinn", "tq", "acc-Q0", at("2026-03-03")) for _ in range(3)]
        await settled(scoring, auth(), await post_events(events))
        body = {**PLAN, "owner": "rep:quinn"}
        plan = (await goals.post("/v1/plans/funnel", json=body, headers=auth())).json()
        got = steps(plan)
        assert all(s["needed"] is None and s["exact"] is None for s in got.values())
        assert all("average_deal_size is unknown" in s["missing"] for s in got.values())
        assert got["deals_won"]["missing"] == (
            "average_deal_size is unknown (no deals won in the look-back window); "
            "pass it in `rates` to plan"
        )

        body["rates"] = {"average_deal_size": "5000"}
        plan = (await goals.post("/v1/plans/funnel", json=body, headers=auth())).json()
        got = steps(plan)
        assert (got["deals_won"]["needed"], got["deals_won"]["missing"]) == (22, None)
        assert got["deals_closed"]["needed"] is None
        assert got["deals_closed"]["missing"] == (
            "win_rate is unknown (no closed deals in the look-back window); "
            "pass it in `rates` to plan"
        )
        assert "lead_to_opportunity is 0 (no opportunities" in got["leads"]["missing"]
        assert "visits_per_won is unknown" in got["visits"]["missing"]
        assert rates(plan)["win_rate"] == (None, "scoring")
        assert rates(plan)["lead_to_opportunity"] == ("0", "scoring")
        assert any("open_to_close is unknown" in a for a in plan["assumptions"])


# --------------------------------------------------------------------------------- progress

MARCH_WORKING_DAYS = working_days(date(2026, 3, 1), date(2026, 3, 31))


def visits_on(rep: str, days: list[int]) -> list[dict[str, Any]]:
    return [visit(rep, "t1", f"acc-{rep}", at(f"2026-03-{d:02d}")) for d in days]


async def progress_of(
    goals: httpx.AsyncClient, headers: dict[str, str], goal: dict[str, Any], day: str
) -> dict[str, Any]:
    answer = await goals.get(
        f"/v1/goals/{goal['id']}/progress", params={"at": day}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
async def march(goals, auth, scoring, post_events) -> dict[str, dict[str, Any]]:
    """Three reps' March visit goals (target 20, floor 16), visits logged 2–12 March:
    ahead 10, close 8, slow 5."""
    events = (
        visits_on("ahead", [2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
        + visits_on("close", [2, 3, 4, 5, 6, 9, 10, 11])
        + visits_on("slow", [2, 4, 6, 10, 12])
        + visits_on("nobody", [20])
    )
    await settled(scoring, auth(), await post_events(events))
    return {
        rep: await create(
            goals, auth(), count_goal(owner=f"rep:{rep}", team_id="t1", target=20, base_pct=80)
        )
        for rep in ("ahead", "close", "slow")
    }


class TestProgressOfAMonthlyCountGoal:
    async def test_ahead_of_the_working_day_pace_is_on_track(self, goals, auth, march) -> None:
        body = await progress_of(goals, auth(), march["ahead"], "2026-03-13")
        assert MARCH_WORKING_DAYS == 22
        # 10 of 22 working days elapsed (2–13 March): 20 × 10/22 = 9.09 expected.
        assert (body["at"], body["actual"], body["expected_to_date"]) == ("2026-03-13", 10, 9)
        assert (body["attainment_pct"], body["floor_pct"], body["stretch_pct"]) == (
            50.0,
            62.5,
            50.0,
        )
        assert body["gap"] == "1"  # 10 − 9.09
        assert body["projected_run_rate"] == 22  # 10 ÷ 10/22
        assert body["projected_with_pipeline"] is None
        assert body["status"] == "on_track"
        assert body["rule"] == "actual 10 ≥ expected to date 9.09"
        assert body["shape"] == "working days of the org calendar"
        assert body["next_checkpoint"] == "2026-03-20"
        assert body["goal"] == march["ahead"]

    async def test_behind_pace_but_projected_above_the_floor_is_at_risk(
        self, goals, auth, march
    ) -> None:
        body = await progress_of(goals, auth(), march["close"], "2026-03-13")
        assert (body["actual"], body["expected_to_date"], body["gap"]) == (8, 9, "-1")
        assert body["projected_run_rate"] == 18  # 8 × 22/10 = 17.6
        assert body["status"] == "at_risk"
        assert body["rule"] == (
            "actual 8 < expected to date 9.09 and projected 17.6 (run-rate) < target 20, "
            "but ≥ floor 16"
        )

    async def test_projected_below_the_floor_is_behind(self, goals, auth, march) -> None:
        body = await progress_of(goals, auth(), march["slow"], "2026-03-13")
        assert (body["actual"], body["projected_run_rate"], body["status"]) == (5, 11, "behind")
        assert body["rule"] == (
            "actual 5 < expected to date 9.09 and projected 11 (run-rate) < floor 16"
        )

    async def test_the_actual_counts_only_up_to_the_day_asked(self, goals, auth, march) -> None:
        body = await progress_of(goals, auth(), march["ahead"], "2026-03-03")
        assert (body["actual"], body["expected_to_date"]) == (4, 2)  # 20 × 2/22 = 1.8
        assert body["next_checkpoint"] == "2026-03-10"

    async def test_before_any_working_day_nothing_is_expected(self, goals, auth, march) -> None:
        body = await progress_of(goals, auth(), march["slow"], "2026-03-01")  # a Sunday
        assert (body["actual"], body["expected_to_date"], body["projected_run_rate"]) == (
            0,
            0,
            None,
        )
        assert body["status"] == "on_track"
        assert body["rule"].startswith("nothing expected yet")
        assert body["next_checkpoint"] == "2026-03-10"

    async def test_before_the_period_nothing_is_asked_of_anyone(self, goals, auth, march) -> None:
        body = await progress_of(goals, auth(), march["slow"], "2026-02-20")
        assert (body["actual"], body["expected_to_date"], body["status"]) == (0, 0, "on_track")
        assert body["next_checkpoint"] == "2026-03-10"

    @pytest.mark.parametrize(
        ("day", "checkpoint"),
        [
            ("2026-03-10", "2026-03-10"),
            ("2026-03-11", "2026-03-20"),
            ("2026-03-21", "2026-03-31"),
            ("2026-03-31", "2026-03-31"),
            ("2026-04-01", None),
        ],
    )
    async def test_the_next_checkpoint_is_the_10th_the_20th_or_the_months_end(
        self, goals, auth, march, day, checkpoint
    ) -> None:
        body = await progress_of(goals, auth(), march["ahead"], day)
        assert body["next_checkpoint"] == checkpoint

    async def test_after_the_period_the_final_status_against_target_and_floor(
        self, goals, auth, march
    ) -> None:
        over = {
            rep: await progress_of(goals, auth(), goal, "2026-04-02") for rep, goal in march.items()
        }
        assert {rep: (b["actual"], b["status"]) for rep, b in over.items()} == {
            "ahead": (10, "behind"),
            "close": (8, "behind"),
            "slow": (5, "behind"),
        }
        assert over["ahead"]["rule"] == "period over: actual 10 < floor 16"
        assert over["ahead"]["expected_to_date"] == 20
        assert over["ahead"]["projected_run_rate"] == 10  # nothing more can land

    async def test_a_met_goal_is_on_track_and_a_floor_met_one_at_risk(
        self, goals, auth, march
    ) -> None:
        met = await create(goals, auth(), count_goal(owner="rep:ahead", team_id="t1", target=10))
        floor_met = await create(
            goals, auth(), count_goal(owner="rep:close", team_id="t1", target=10, floor=8)
        )
        assert (await progress_of(goals, auth(), met, "2026-04-30"))["status"] == "on_track"
        body = await progress_of(goals, auth(), floor_met, "2026-04-30")
        assert (body["status"], body["rule"]) == (
            "at_risk",
            "period over: actual 8 ≥ floor 8 but < target 10",
        )

    async def test_holidays_lower_what_is_expected_to_date(self, goals, auth, march) -> None:
        week_off = [f"2026-03-{d:02d}" for d in range(9, 14)]
        put = await goals.put("/v1/calendar", json={"holidays": week_off}, headers=auth())
        assert put.status_code == 200, put.text
        body = await progress_of(goals, auth(), march["close"], "2026-03-13")
        # 5 of 17 working days elapsed: 20 × 5/17 = 5.88; 8 ≥ 5.88.
        assert (body["expected_to_date"], body["status"]) == (6, "on_track")
        assert body["projected_run_rate"] == 27  # 8 × 17/5 = 27.2

    async def test_the_progress_list_shows_the_owners_goals_on_that_day(
        self, goals, auth, march
    ) -> None:
        answer = await goals.get(
            "/v1/progress", params={"owner": "rep:close", "at": "2026-03-13"}, headers=auth()
        )
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert items == [await progress_of(goals, auth(), march["close"], "2026-03-13")]
        everyone = await goals.get("/v1/progress", params={"at": "2026-03-13"}, headers=auth())
        assert sorted(p["goal"]["owner"] for p in everyone.json()["items"]) == [
            "rep:ahead",
            "rep:close",
            "rep:slow",
        ]
        # Scoring is asked for the goals together: each answer still lands on its own goal.
        listed = {p["goal"]["id"]: p for p in everyone.json()["items"]}
        for goal in march.values():
            assert listed[goal["id"]] == await progress_of(goals, auth(), goal, "2026-03-13")
        assert sorted(p["actual"] for p in listed.values()) == [5, 8, 10]

    async def test_the_progress_list_leaves_out_goals_of_other_periods(
        self, goals, auth, march
    ) -> None:
        await create(goals, auth(), count_goal(owner="rep:close", team_id="t1", start="2025-12-01"))
        answer = await goals.get(
            "/v1/progress", params={"owner": "rep:close", "at": "2026-03-13"}, headers=auth()
        )
        assert [p["goal"]["id"] for p in answer.json()["items"]] == [march["close"]["id"]]

    async def test_every_current_goal_is_listed_however_many_come_before_it(
        self, goals, auth
    ) -> None:
        """A year split into its 365 days: on 20 December the year's goal and that day's are
        current, behind 354 earlier day goals (the list once stopped at the first 200)."""
        year = await create(
            goals,
            auth(),
            count_goal(owner="team:t365", period="year", start="2026-01-01", target=365),
        )
        days = await decompose(
            goals, auth(), year["id"], {"by": "time", "into": "day", "strategy": "even"}
        )
        assert len(days["children"]) == 365
        answer = await goals.get(
            "/v1/progress", params={"owner": "team:t365", "at": "2026-12-20"}, headers=auth()
        )
        assert answer.status_code == 200, answer.text
        listed = [(p["goal"]["period"], p["goal"]["start"]) for p in answer.json()["items"]]
        assert listed == [("year", "2026-01-01"), ("day", "2026-12-20")]
        day = next(c for c in days["children"] if c["start"] == "2026-12-20")
        assert answer.json()["items"][1] == await progress_of(goals, auth(), day, "2026-12-20")


class TestProgressOfADecomposedGoalFollowsItsChildren:
    async def test_expected_to_date_follows_the_seasonal_months(self, goals, auth) -> None:
        shaped = await create(
            goals, auth(), count_goal(period="quarter", start="2026-01-01", target=100)
        )
        plain = await create(
            goals,
            auth(),
            count_goal(owner="team:t2", period="quarter", start="2026-01-01", target=100),
        )
        months = await decompose(
            goals,
            auth(),
            shaped["id"],
            {
                "by": "time",
                "into": "month",
                "strategy": "seasonal",
                "seasonal": {"1": 1, "2": 1, "3": 2},
            },
        )
        assert [c["target"] for c in months["children"]] == [25, 25, 50]
        body = await progress_of(goals, auth(), shaped, "2026-01-31")
        assert (body["expected_to_date"], body["shape"]) == (25, "its month goals (seasonal)")
        q1 = working_days(date(2026, 1, 1), date(2026, 3, 31))
        jan = working_days(date(2026, 1, 1), date(2026, 1, 31))
        assert (jan, q1) == (22, 64)
        other = await progress_of(goals, auth(), plain, "2026-01-31")
        assert (other["expected_to_date"], other["shape"]) == (
            34,
            "working days of the org calendar",
        )  # 100 × 22/64 = 34.4
        # 6 February: January's 25 + 5 of February's 20 working days of its 25.
        assert (await progress_of(goals, auth(), shaped, "2026-02-06"))["expected_to_date"] == 31

    async def test_a_split_across_tiers_keeps_the_calendar_shape(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=22))
        await decompose(goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 1, "B": 1}})
        body = await progress_of(goals, auth(), goal, "2026-03-13")
        assert (body["expected_to_date"], body["shape"]) == (10, "working days of the org calendar")


class TestProgressOfMoneyAndRates:
    async def test_a_revenue_goal_projects_with_its_open_pipeline(
        self, goals, auth, scoring, post_events
    ) -> None:
        rep, team = "mia", "t1"
        events = [
            opened(rep, team, "M1", "2000.00", "EUR", "ovens", "acc-M1", at("2026-03-02")),
            won(rep, team, "M1", "2000.00", "EUR", at("2026-03-05")),
            opened(rep, team, "M2", "1000.00", "EUR", "ovens", "acc-M2", at("2026-03-03")),
            opened(rep, team, "M3", "700.00", "EUR", "mixers", "acc-M3", at("2026-03-03")),
            won(rep, team, "M3", "700.00", "EUR", at("2026-03-04")),
        ]
        await settled(scoring, auth(), await post_events(events))
        goal = await create(
            goals,
            auth(),
            money_goal(
                owner=f"rep:{rep}",
                team_id=team,
                period="month",
                start="2026-03-01",
                target="10000.00",
                product_line="ovens",
            ),
        )
        body = await progress_of(goals, auth(), goal, "2026-03-13")
        assert body["actual"] == "2000.00"  # the mixers deal is another product line
        assert body["attainment_pct"] == 20.0
        kpis = await scoring.get(
            "/v1/kpis",
            headers=auth(),
            params={
                "owner": f"rep:{rep}",
                "period": "day",
                "from": "2026-03-13",
                "to": "2026-03-13",
                "last": "2026-03-13",
                "metrics": "weighted_pipeline",
                "product_line": "ovens",
            },
        )
        pipeline = kpis.json()["buckets"][0]["metrics"]["weighted_pipeline"]["value"]
        # 1,000 open in qualification × the org's win rate of deals that reached it (M1 and
        # M3, both won, whatever their product line): (2 won + 1) ÷ (2 closed + 2)
        assert pipeline == "750.00"
        assert body["projected_with_pipeline"] == "2750.00"
        assert body["projected_run_rate"] == "4400.00"  # 2,000 ÷ 10/22
        assert body["expected_to_date"] == "4545.45"
        assert body["status"] == "behind"

    async def test_a_revenue_goal_without_deals_is_zero_not_missing(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(period="month", start="2026-03-01"))
        body = await progress_of(goals, auth(), goal, "2026-03-13")
        assert (body["actual"], body["projected_with_pipeline"]) == ("0.00", "0.00")

    async def test_a_rate_goal_is_measured_over_the_whole_period(
        self, goals, auth, scoring, post_events
    ) -> None:
        rep, team = "wes", "t1"
        events = []
        for i, outcome in enumerate(["won", "won", "won", "lost"]):
            events.append(
                opened(rep, team, f"W{i}", "100.00", "EUR", "ovens", f"acc-W{i}", at("2026-03-02"))
            )
            events.append(
                won(rep, team, f"W{i}", "100.00", "EUR", at(f"2026-03-0{3 + i}"))
                if outcome == "won"
                else lost(rep, team, f"W{i}", at("2026-03-05"))
            )
        await settled(scoring, auth(), await post_events(events))
        goal = await create(
            goals,
            auth(),
            count_goal(owner=f"rep:{rep}", team_id=team, metric="win_rate", target="0.50"),
        )
        body = await progress_of(goals, auth(), goal, "2026-03-06")
        assert body["actual"] == "0.7500"  # 3 won ÷ 4 closed
        assert body["attainment_pct"] == 150.0

    async def test_a_rate_goal_never_projects_above_1(
        self, goals, auth, scoring, post_events
    ) -> None:
        rep, team = "wes", "t1"
        events = []
        for i in range(3):
            events.append(
                opened(rep, team, f"V{i}", "100.00", "EUR", "ovens", f"acc-V{i}", at("2026-03-02"))
            )
            events.append(won(rep, team, f"V{i}", "100.00", "EUR", at("2026-03-03")))
        events.append(opened(rep, team, "V9", "100.00", "EUR", "ovens", "acc-V9", at("2026-03-02")))
        events.append(lost(rep, team, "V9", at("2026-03-04")))
        await settled(scoring, auth(), await post_events(events))
        goal = await create(
            goals,
            auth(),
            count_goal(owner=f"rep:{rep}", team_id=team, metric="win_rate", target="0.30"),
        )
        body = await progress_of(goals, auth(), goal, "2026-03-06")
        assert body["actual"] == "0.7500"
        projected = body["projected_run_rate"]
        assert projected is None or float(projected) <= 1, projected


# --------------------------------------------------------------------------------- scoring down


class TestScoringDownIsA503NeverMadeUpNumbers:
    async def test_progress_plans_and_last_year_splits_answer_503(self, database_url, auth) -> None:
        app = create_app(
            goals_settings(scoring_url="http://127.0.0.1:9", scoring_timeout=2),
            database_url=database_url,
        )
        async with running(app, "goals-without-scoring") as goals:
            goal = await create(goals, auth(), money_goal(period="month", start="2026-03-01"))
            answers = {
                "progress": await goals.get(
                    f"/v1/goals/{goal['id']}/progress", params={"at": "2026-03-13"}, headers=auth()
                ),
                "progress list": await goals.get(
                    "/v1/progress", params={"at": "2026-03-13"}, headers=auth()
                ),
                "plan": await goals.post("/v1/plans/funnel", json=PLAN, headers=auth()),
                "last year": await goals.post(
                    f"/v1/goals/{goal['id']}/decompose",
                    headers=auth(),
                    json={"by": "time", "into": "week", "strategy": "last_year"},
                ),
                "past share": await goals.post(
                    f"/v1/goals/{goal['id']}/decompose",
                    headers=auth(),
                    json={"by": "rep", "strategy": "past_share", "reps": ["a", "b"]},
                ),
            }
            for name, answer in answers.items():
                body = assert_problem(answer, 503)
                assert "scoring" in body["detail"], (name, body)
                assert not {"actual", "items", "steps", "children"} & set(body), (name, body)
            assert await list_all(goals, auth(), parent_id=goal["id"]) == []
            after = (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json()
            assert after == goal  # no decomposition recorded
            even = await goals.post(
                f"/v1/goals/{goal['id']}/decompose",
                headers=auth(),
                json={"by": "time", "into": "week"},
            )
            assert even.status_code == 201, even.text  # needs no actuals
