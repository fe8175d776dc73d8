"""Decomposition: a goal split into child goals in time (even, by working days, by seasonal
weights, by last year's actuals) or across tiers, product lines and a team's reps (weights,
even, past share). Children always sum exactly to the parent (largest remainder, money in minor
units), carry floor and stretch with floor ≤ target ≤ stretch in each, point at their parent,
and reconcile shows any drift once a child is changed.

The expected numbers are computed here, independently (tests/api/goals/helpers.py).
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any

from tests.api.goals.helpers import (
    assert_problem,
    cents,
    count_goal,
    create,
    decompose,
    ids,
    largest_remainder,
    list_all,
    minor,
    money_goal,
    month_spans,
    working_days,
)
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, opened, won


def columns(children: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(c[k] for k in keys) for c in children]


def ordered(children: list[dict[str, Any]], *, money: bool = False) -> None:
    """floor ≤ target ≤ stretch in every child."""
    for child in children:
        values = [child[k] for k in ("floor", "target", "stretch")]
        if money:
            values = [minor(v) for v in values]
        assert values[0] <= values[1] <= values[2], child


def deal_won(rep: str, team: str, deal: str, amount: str, day: str) -> list[dict[str, Any]]:
    """A deal opened and won on `day` (a won counts only for an open deal)."""
    return [
        opened(rep, team, deal, amount, "EUR", "ovens", f"acc-{deal}", at(day, "09:00:00")),
        won(rep, team, deal, amount, "EUR", at(day, "15:00:00")),
    ]


class TestEvenlyInTime:
    async def test_a_year_splits_into_four_equal_quarters_with_floor_and_stretch(
        self, goals, auth
    ) -> None:
        goal = await create(
            goals, auth(), count_goal(period="year", start="2026-01-01", target=1000, buffer_pct=10)
        )
        split = await decompose(goals, auth(), goal["id"], {"by": "time", "into": "quarter"})
        children = split["children"]
        assert columns(children, "period", "start", "end") == [
            ("quarter", "2026-01-01", "2026-03-31"),
            ("quarter", "2026-04-01", "2026-06-30"),
            ("quarter", "2026-07-01", "2026-09-30"),
            ("quarter", "2026-10-01", "2026-12-31"),
        ]
        assert columns(children, "floor", "target", "stretch") == [(225, 250, 275)] * 4

    async def test_100_visits_over_three_months_are_34_33_33(self, goals, auth) -> None:
        goal = await create(
            goals,
            auth(),
            count_goal(
                period="quarter", start="2026-01-01", target=100, base_pct=90, challenge_pct=110
            ),
        )
        children = (
            await decompose(
                goals, auth(), goal["id"], {"by": "time", "into": "month", "strategy": "even"}
            )
        )["children"]
        assert [c["target"] for c in children] == [34, 33, 33]
        assert [c["floor"] for c in children] == [30, 30, 30]
        assert [c["stretch"] for c in children] == [37, 37, 36]
        assert [c["start"] for c in children] == ["2026-01-01", "2026-02-01", "2026-03-01"]
        ordered(children)

    async def test_a_month_splits_into_weeks_clipped_to_the_month(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=100))
        children = (await decompose(goals, auth(), goal["id"], {"by": "time", "into": "week"}))[
            "children"
        ]
        assert columns(children, "start", "end") == [
            ("2026-03-01", "2026-03-01"),
            ("2026-03-02", "2026-03-08"),
            ("2026-03-09", "2026-03-15"),
            ("2026-03-16", "2026-03-22"),
            ("2026-03-23", "2026-03-29"),
            ("2026-03-30", "2026-03-31"),
        ]
        assert [c["target"] for c in children] == largest_remainder(100, [1] * 6)
        assert [c["target"] for c in children] == [17, 17, 17, 17, 16, 16]

    async def test_money_splits_in_cents_and_sums_exactly(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="1000000.01"))
        children = (await decompose(goals, auth(), goal["id"], {"by": "time", "into": "month"}))[
            "children"
        ]
        expected = [cents(u) for u in largest_remainder(100000001, [1] * 12)]
        assert [c["target"] for c in children] == expected
        assert expected[:2] == ["83333.34", "83333.34"]
        assert expected[-1] == "83333.33"
        assert sum(minor(c["target"]) for c in children) == 100000001

    async def test_the_parent_records_its_decomposition_as_a_revision(self, goals, auth) -> None:
        goal = await create(goals, auth(sub="alice"), count_goal(target=100))
        split = await decompose(goals, auth(sub="bob"), goal["id"], {"by": "time", "into": "day"})
        parent, children = split["parent"], split["children"]
        assert len(children) == 31
        assert parent["revision"] == 2
        assert parent["updated_by"] == "bob"
        assert parent["decomposition"] == {
            "by": "time",
            "into": "day",
            "strategy": "even",
            "children": ids(children),
        }
        assert all(c["parent_id"] == goal["id"] for c in children)
        assert all(
            (c["owner"], c["metric"], c["revision"]) == ("team:t1", "visits", 1) for c in children
        )
        assert ids(await list_all(goals, auth(), parent_id=goal["id"])) == ids(children)
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        last = history["items"][-1]
        assert (last["revision"], last["changed"], last["reason"]) == (
            2,
            ["decomposition"],
            "decomposed by time",
        )
        assert (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json() == parent

    async def test_a_child_can_be_split_again(self, goals, auth) -> None:
        goal = await create(
            goals, auth(), count_goal(period="quarter", start="2026-01-01", target=90)
        )
        months = (await decompose(goals, auth(), goal["id"], {"by": "time", "into": "month"}))[
            "children"
        ]
        weeks = (await decompose(goals, auth(), months[1]["id"], {"by": "time", "into": "week"}))[
            "children"
        ]
        assert (weeks[0]["start"], weeks[-1]["end"]) == ("2026-02-01", "2026-02-28")
        assert sum(w["target"] for w in weeks) == 30
        assert all(w["parent_id"] == months[1]["id"] for w in weeks)


CALENDAR = {
    "timezone": "Europe/Berlin",
    "holidays": ["2026-01-01", "2026-05-01", "2026-05-25", "2026-12-25", "2026-12-26"],
    "workdays": ["2026-02-14"],  # a make-up Saturday
}


class TestByWorkingDays:
    async def test_holidays_shrink_a_months_share_and_a_make_up_saturday_grows_it(
        self, goals, auth
    ) -> None:
        put = await goals.put("/v1/calendar", json=CALENDAR, headers=auth())
        assert put.status_code == 200, put.text
        goal = await create(
            goals, auth(), count_goal(period="year", start="2026-01-01", target=10000)
        )
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {"by": "time", "into": "month", "strategy": "working_days"},
            )
        )["children"]
        holidays = [date.fromisoformat(d) for d in CALENDAR["holidays"]]
        workdays = [date.fromisoformat(d) for d in CALENDAR["workdays"]]
        days = [
            working_days(a, b, holidays=holidays, workdays=workdays) for a, b in month_spans(2026)
        ]
        plain = [working_days(a, b) for a, b in month_spans(2026)]
        assert (days[1], plain[1]) == (21, 20)  # February gains its Saturday
        assert (days[4], plain[4]) == (19, 21)  # May loses two holidays
        assert (days[11], plain[11]) == (22, 23)  # 26 December is a Saturday anyway
        expected = largest_remainder(10000, days)
        assert [c["target"] for c in children] == expected
        without_calendar = largest_remainder(10000, plain)
        assert children[1]["target"] > without_calendar[1]
        assert children[4]["target"] < without_calendar[4]
        assert sum(c["target"] for c in children) == 10000

    async def test_without_a_calendar_saturday_and_sunday_are_off(self, goals, auth) -> None:
        goal = await create(
            goals, auth(), count_goal(period="quarter", start="2026-04-01", target=1000)
        )
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {"by": "time", "into": "month", "strategy": "working_days"},
            )
        )["children"]
        days = [working_days(a, b) for a, b in month_spans(2026, (4, 5, 6))]
        assert days == [22, 21, 22]
        assert [c["target"] for c in children] == largest_remainder(1000, days)

    async def test_a_weekend_of_friday_and_saturday_counts_sundays(self, goals, auth) -> None:
        await goals.put("/v1/calendar", json={"weekend": [4, 5]}, headers=auth())
        goal = await create(goals, auth(), count_goal(period="week", start="2026-03-02", target=50))
        children = (
            await decompose(
                goals, auth(), goal["id"], {"by": "time", "into": "day", "strategy": "working_days"}
            )
        )["children"]
        assert [c["target"] for c in children] == [10, 10, 10, 10, 0, 0, 10]  # Mon … Sun


class TestBySeasonalWeights:
    async def test_peak_months_get_more(self, goals, auth) -> None:
        weights = {str(m): 1 for m in range(1, 11)} | {"11": 3, "12": 4}
        goal = await create(goals, auth(), money_goal(target="17000.00"))
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {
                    "by": "time",
                    "into": "quarter",
                    "strategy": "seasonal",
                    "seasonal": weights,
                },
            )
        )["children"]
        assert [c["target"] for c in children] == ["3000.00", "3000.00", "3000.00", "8000.00"]

    async def test_weeks_across_two_months_weigh_each_day_by_its_month(self, goals, auth) -> None:
        weights = {"1": 1, "2": 2, "3": "1.5"}
        goal = await create(
            goals, auth(), count_goal(period="quarter", start="2026-01-01", target=10000)
        )
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {
                    "by": "time",
                    "into": "week",
                    "strategy": "seasonal",
                    "seasonal": weights,
                },
            )
        )["children"]
        per_day = {1: Fraction(1, 31), 2: Fraction(2, 28), 3: Fraction(3, 2 * 31)}
        expected = []
        for child in children:
            first, last = date.fromisoformat(child["start"]), date.fromisoformat(child["end"])
            expected.append(
                sum(
                    per_day[date.fromordinal(o).month]
                    for o in range(first.toordinal(), last.toordinal() + 1)
                )
            )
        assert [c["target"] for c in children] == largest_remainder(10000, expected)
        assert children[4]["start"] == "2026-01-26"  # Mon 26 Jan – Sun 1 Feb, both months
        assert children[5]["target"] > children[3]["target"]  # February weeks are the peak


class TestByLastYear:
    async def test_children_follow_last_years_monthly_shape(
        self, goals, auth, scoring, post_events
    ) -> None:
        events = [
            *deal_won("r1", "t1", "LY1", "10000.00", "2025-03-10"),
            *deal_won("r2", "t1", "LY2", "30000.00", "2025-06-15"),
            *deal_won("r1", "t1", "LY3", "60000.00", "2025-11-20"),
            *deal_won("r5", "t2", "LY4", "99000.00", "2025-08-01"),  # another team's
        ]
        await settled(scoring, auth(), await post_events(events))
        goal = await create(goals, auth(), money_goal(target="120000.00", buffer_pct=10))
        children = (
            await decompose(
                goals, auth(), goal["id"], {"by": "time", "into": "month", "strategy": "last_year"}
            )
        )["children"]
        targets = {c["start"][5:7]: c["target"] for c in children}
        assert targets == {f"{m:02d}": "0.00" for m in range(1, 13)} | {
            "03": "12000.00",
            "06": "36000.00",
            "11": "72000.00",
        }
        assert [c["floor"] for c in children if c["target"] != "0.00"] == [
            "10800.00",
            "32400.00",
            "64800.00",
        ]
        assert [c["stretch"] for c in children if c["target"] != "0.00"] == [
            "13200.00",
            "39600.00",
            "79200.00",
        ]
        parent = (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json()
        assert parent["decomposition"]["strategy"] == "last_year"

    async def test_no_actuals_last_year_is_refused(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal())
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "time", "into": "quarter", "strategy": "last_year"},
            headers=auth(),
        )
        assert_problem(answer, 422)
        assert await list_all(goals, auth(), parent_id=goal["id"]) == []


class TestAcrossTiersAndProductLines:
    async def test_tier_weights_60_30_10_split_target_floor_and_stretch(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="1000.01", buffer_pct=10))
        assert (goal["floor"], goal["stretch"]) == ("900.01", "1100.01")
        split = await decompose(
            goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 60, "B": 30, "C": 10}}
        )
        children = split["children"]
        assert columns(children, "tier", "floor", "target", "stretch") == [
            ("A", "540.01", "600.01", "660.01"),
            ("B", "270.00", "300.00", "330.00"),
            ("C", "90.00", "100.00", "110.00"),
        ]
        for key in ("target", "floor", "stretch"):
            assert sum(minor(c[key]) for c in children) == minor(goal[key])
        assert all((c["period"], c["start"]) == ("year", "2026-01-01") for c in children)
        assert split["parent"]["decomposition"]["strategy"] == "weights"
        ordered(children, money=True)

    async def test_a_child_keeps_floor_below_target_where_plain_rounding_would_not(
        self, goals, auth
    ) -> None:
        # Weights 7:5:3: 8 splits 4/3/1 but 7 alone would split 3/2/2 (C's floor above target).
        goal = await create(goals, auth(), count_goal(target=8, floor=7, stretch=8))
        children = (
            await decompose(
                goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 7, "B": 5, "C": 3}}
            )
        )["children"]
        assert [c["target"] for c in children] == [4, 3, 1]
        assert [c["floor"] for c in children] == [3, 3, 1]
        assert [c["stretch"] for c in children] == [4, 3, 1]
        ordered(children)

    async def test_a_child_keeps_stretch_above_target_where_plain_rounding_would_not(
        self, goals, auth
    ) -> None:
        # 7 splits 3/2/2 but 8 alone would split 4/3/1 (C's stretch below target).
        goal = await create(goals, auth(), count_goal(target=7, stretch=8))
        children = (
            await decompose(
                goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 7, "B": 5, "C": 3}}
            )
        )["children"]
        assert [c["target"] for c in children] == [3, 2, 2]
        assert [c["stretch"] for c in children] == [4, 2, 2]
        assert sum(c["floor"] for c in children) == 7
        ordered(children)

    async def test_product_lines_by_weights(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=101))
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {
                    "by": "product_line",
                    "strategy": "weights",
                    "weights": {"ovens": 3, "fridges": "1", "mixers": "0"},
                },
            )
        )["children"]
        assert columns(children, "product_line", "target", "tier") == [
            ("ovens", 76, None),
            ("fridges", 25, None),
            ("mixers", 0, None),
        ]


class TestAcrossATeamsReps:
    async def test_evenly(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=100))
        children = (
            await decompose(
                goals, auth(), goal["id"], {"by": "rep", "reps": ["anna", "ben", "cleo"]}
            )
        )["children"]
        assert columns(children, "owner", "team_id", "target") == [
            ("rep:anna", "t1", 34),
            ("rep:ben", "t1", 33),
            ("rep:cleo", "t1", 33),
        ]
        rep_view = await list_all(goals, auth("rep", sub="ben", team="t1"))
        assert ids(rep_view) == [children[1]["id"]]

    async def test_by_weights_naming_the_reps(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="900.00"))
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {
                    "by": "rep",
                    "strategy": "weights",
                    "weights": {"anna": 2, "ben": 1},
                },
            )
        )["children"]
        assert columns(children, "owner", "target") == [
            ("rep:anna", "600.00"),
            ("rep:ben", "300.00"),
        ]

    async def test_by_past_share_of_the_period_before(
        self, goals, auth, scoring, post_events
    ) -> None:
        events = [
            *deal_won("anna", "t1", "P1", "2000.00", "2026-02-03"),
            *deal_won("anna", "t1", "P2", "1000.00", "2026-02-20"),
            *deal_won("ben", "t1", "P3", "1000.00", "2026-02-27"),
            *deal_won("cleo", "t1", "P4", "5000.00", "2026-03-05"),  # in the goal's own month
            *deal_won("cleo", "t1", "P5", "5000.00", "2025-12-15"),  # long before
        ]
        await settled(scoring, auth(), await post_events(events))
        goal = await create(
            goals, auth(), money_goal(period="month", start="2026-03-01", target="8000.00")
        )
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {
                    "by": "rep",
                    "strategy": "past_share",
                    "reps": ["anna", "ben", "cleo"],
                },
            )
        )["children"]
        assert columns(children, "owner", "target") == [
            ("rep:anna", "6000.00"),
            ("rep:ben", "2000.00"),
            ("rep:cleo", "0.00"),
        ]

    async def test_past_share_of_a_month_goal_reads_the_whole_previous_month(
        self, goals, auth, scoring, post_events
    ) -> None:
        events = [
            *deal_won("anna", "t1", "J1", "1000.00", "2026-01-02"),
            *deal_won("ben", "t1", "J2", "1000.00", "2026-01-20"),
        ]
        await settled(scoring, auth(), await post_events(events))
        goal = await create(
            goals, auth(), money_goal(period="month", start="2026-02-01", target="8000.00")
        )
        children = (
            await decompose(
                goals,
                auth(),
                goal["id"],
                {
                    "by": "rep",
                    "strategy": "past_share",
                    "reps": ["anna", "ben"],
                },
            )
        )["children"]
        assert [c["target"] for c in children] == ["4000.00", "4000.00"]

    async def test_past_share_without_any_past_actual_is_refused(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(metric="deals_won", target=10))
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "rep", "strategy": "past_share", "reps": ["anna", "ben"]},
            headers=auth(),
        )
        assert_problem(answer, 422)
        assert await list_all(goals, auth(), parent_id=goal["id"]) == []


class TestReconcile:
    async def test_balanced_after_decomposing_then_the_drift_of_a_changed_child(
        self, goals, auth
    ) -> None:
        goal = await create(
            goals,
            auth(),
            count_goal(period="quarter", start="2026-01-01", target=100, buffer_pct=10),
        )
        children = (await decompose(goals, auth(), goal["id"], {"by": "time", "into": "month"}))[
            "children"
        ]
        answer = await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())
        assert answer.status_code == 200, answer.text
        rec = answer.json()
        assert {
            k: rec[k]
            for k in (
                "goal_id",
                "target",
                "children_target",
                "difference",
                "floor",
                "children_floor",
                "stretch",
                "children_stretch",
                "balanced",
            )
        } == {
            "goal_id": goal["id"],
            "target": 100,
            "children_target": 100,
            "difference": 0,
            "floor": 90,
            "children_floor": 90,
            "stretch": 110,
            "children_stretch": 110,
            "balanced": True,
        }
        assert ids(rec["children"]) == ids(children)

        patched = await goals.patch(
            f"/v1/goals/{children[0]['id']}",
            headers=auth(),
            json={"target": 40, "reason": "January fair"},
        )
        assert patched.status_code == 200, patched.text
        rec = (await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())).json()
        assert (rec["target"], rec["children_target"], rec["difference"], rec["balanced"]) == (
            100,
            106,
            -6,
            False,
        )
        assert rec["children"][0]["target"] == 40
        assert rec["children"][0]["revision"] == 2

    async def test_money_drift_is_a_signed_decimal_string(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="1000.00"))
        children = (
            await decompose(goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 1, "B": 1}})
        )["children"]
        await goals.patch(
            f"/v1/goals/{children[1]['id']}", json={"target": "400.50"}, headers=auth()
        )
        rec = (await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())).json()
        assert (rec["children_target"], rec["difference"], rec["balanced"]) == (
            "900.50",
            "99.50",
            False,
        )
        await goals.patch(
            f"/v1/goals/{children[1]['id']}", json={"target": "600.00"}, headers=auth()
        )
        rec = (await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())).json()
        assert (rec["children_target"], rec["difference"]) == ("1100.00", "-100.00")

    async def test_an_archived_child_no_longer_counts(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=10))
        children = (
            await decompose(goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 7, "B": 3}})
        )["children"]
        await goals.delete(f"/v1/goals/{children[1]['id']}", headers=auth())
        rec = (await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())).json()
        assert (rec["children_target"], rec["difference"], rec["balanced"]) == (7, 3, False)
        assert ids(rec["children"]) == [children[0]["id"]]

    async def test_a_goal_without_children_is_not_balanced(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=10))
        rec = (await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())).json()
        assert (rec["children_target"], rec["difference"], rec["balanced"], rec["children"]) == (
            0,
            10,
            False,
            [],
        )

    async def test_after_archiving_its_children_a_goal_can_be_split_again(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), count_goal(target=10))
        children = (
            await decompose(goals, auth(), goal["id"], {"by": "tier", "weights": {"A": 1, "B": 1}})
        )["children"]
        for child in children:
            assert (
                await goals.delete(f"/v1/goals/{child['id']}", headers=auth())
            ).status_code == 200
        again = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "time", "into": "week"},
            headers=auth(),
        )
        assert again.status_code == 201, again.text
