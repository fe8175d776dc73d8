"""The leading-behind alert: activity goals behind pace while result goals are still on track,
paired by owner, cuts and overlapping period."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals.alerts import LAGGING, LEADING, Alert, Paced, leading_behind

SEPT = (date(2026, 9, 1), date(2026, 9, 30))


def goal(metric: str, status: str, **overrides: Any) -> Paced:
    fields: dict[str, Any] = {
        "goal_id": f"{metric}-{status}",
        "owner": "team:team-north",
        "metric": metric,
        "period": "month",
        "start": SEPT[0],
        "end": SEPT[1],
        "status": status,
        "actual": 120,
        "expected_to_date": 180,
        **overrides,
    }
    return Paced(**fields)


def pairs(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.leading.goal_id, a.lagging.goal_id) for a in alerts]


class TestALeadingGoalBehindWhileTheLaggingOneIsOnTrack:
    def test_is_one_alert_that_says_so_with_the_progress_numbers(self) -> None:
        visits, revenue = goal("visits", "behind"), goal("revenue_won", "on_track", actual="5.00")
        [alert] = leading_behind([visits, revenue])
        assert (alert.kind, alert.owner, alert.leading, alert.lagging) == (
            "leading_behind",
            "team:team-north",
            visits,
            revenue,
        )
        assert alert.message == (
            "Visits are behind pace (120 of 180 expected by now) while revenue is still on "
            "track: the pipeline for next month is thinning."
        )

    def test_at_risk_counts_too_and_says_at_risk(self) -> None:
        [alert] = leading_behind([goal("calls", "at_risk"), goal("deals_won", "on_track")])
        assert alert.message.startswith(
            "Calls are below pace (at risk) (120 of 180 expected by now) while deals won are "
            "still on track"
        )

    def test_large_counts_show_thousands_separators(self) -> None:
        lead = goal("new_leads", "behind", actual=1200, expected_to_date=1805, period="quarter")
        [alert] = leading_behind([lead, goal("collected", "on_track")])
        assert alert.message == (
            "New leads are behind pace (1,200 of 1,805 expected by now) while collections are "
            "still on track: the pipeline for next quarter is thinning."
        )

    def test_cuts_are_named_in_the_message(self) -> None:
        cut = {"product_line": "ovens", "tier": "A"}
        [alert] = leading_behind(
            [goal("visits", "behind", **cut), goal("new_customers", "on_track", **cut)]
        )
        assert alert.message.startswith("Visits (product line ovens, tier A) are behind pace")
        assert "new customers are still on track" in alert.message

    @pytest.mark.parametrize("metric", sorted(LEADING))
    def test_every_leading_metric_counts(self, metric: str) -> None:
        assert len(leading_behind([goal(metric, "behind"), goal("revenue_won", "on_track")])) == 1

    @pytest.mark.parametrize("metric", sorted(LAGGING))
    def test_every_lagging_metric_counts(self, metric: str) -> None:
        assert len(leading_behind([goal("visits", "behind"), goal(metric, "on_track")])) == 1


class TestNoAlert:
    def test_when_both_are_on_track(self) -> None:
        assert leading_behind([goal("visits", "on_track"), goal("revenue_won", "on_track")]) == []

    @pytest.mark.parametrize("lagging", ["behind", "at_risk"])
    def test_when_the_lagging_goal_is_off_track_too_it_is_a_miss_not_a_warning(
        self, lagging: str
    ) -> None:
        assert leading_behind([goal("visits", "behind"), goal("revenue_won", lagging)]) == []

    def test_for_another_owner(self) -> None:
        other = goal("revenue_won", "on_track", owner="team:team-south")
        assert leading_behind([goal("visits", "behind"), other]) == []

    @pytest.mark.parametrize(
        "cut", [{"product_line": "ovens"}, {"tier": "A"}, {"channel": "referral"}]
    )
    def test_for_other_cuts(self, cut: dict[str, str]) -> None:
        assert (
            leading_behind([goal("visits", "behind"), goal("revenue_won", "on_track", **cut)]) == []
        )
        assert (
            leading_behind([goal("visits", "behind", **cut), goal("revenue_won", "on_track")]) == []
        )

    def test_for_periods_that_do_not_overlap(self) -> None:
        october = {"start": date(2026, 10, 1), "end": date(2026, 10, 31)}
        assert (
            leading_behind([goal("visits", "behind"), goal("revenue_won", "on_track", **october)])
            == []
        )

    def test_for_metrics_that_are_neither_leading_nor_lagging(self) -> None:
        assert leading_behind([goal("deals_lost", "behind"), goal("revenue_won", "on_track")]) == []
        assert leading_behind([goal("visits", "behind"), goal("invoiced", "on_track")]) == []

    def test_for_two_leading_or_two_lagging_goals(self) -> None:
        assert leading_behind([goal("visits", "behind"), goal("calls", "on_track")]) == []
        assert leading_behind([goal("deals_won", "behind"), goal("revenue_won", "on_track")]) == []


class TestPairingAndOrder:
    def test_a_yearly_result_pairs_with_a_monthly_activity_inside_it(self) -> None:
        year = goal(
            "revenue_won", "on_track", period="year", start=date(2026, 1, 1), end=date(2026, 12, 31)
        )
        assert pairs(leading_behind([goal("visits", "behind"), year])) == [
            ("visits-behind", "revenue_won-on_track")
        ]

    def test_periods_that_share_one_day_overlap(self) -> None:
        week = goal(
            "revenue_won", "on_track", period="week", start=date(2026, 9, 30), end=date(2026, 10, 6)
        )
        assert len(leading_behind([goal("visits", "behind"), week])) == 1

    def test_every_leading_goal_pairs_with_every_lagging_one(self) -> None:
        found = leading_behind(
            [
                goal("visits", "behind"),
                goal("calls", "at_risk"),
                goal("new_leads", "on_track"),
                goal("revenue_won", "on_track"),
                goal("deals_won", "on_track"),
                goal("collected", "behind"),
            ]
        )
        assert pairs(found) == [
            ("visits-behind", "deals_won-on_track"),
            ("visits-behind", "revenue_won-on_track"),
            ("calls-at_risk", "deals_won-on_track"),
            ("calls-at_risk", "revenue_won-on_track"),
        ]

    def test_behind_comes_before_at_risk_then_by_metric_names(self) -> None:
        found = leading_behind(
            [
                goal("calls", "at_risk"),
                goal("visits", "behind"),
                goal("deals_opened", "behind"),
                goal("revenue_won", "on_track"),
            ]
        )
        assert [(a.leading.status, a.leading.metric) for a in found] == [
            ("behind", "deals_opened"),
            ("behind", "visits"),
            ("at_risk", "calls"),
        ]


STATUSES = st.sampled_from(["on_track", "at_risk", "behind"])
METRICS = st.sampled_from([*LEADING, *LAGGING, "invoiced", "win_rate"])
GOALS = st.lists(
    st.builds(
        lambda i, metric, status, owner, tier: goal(
            metric, status, goal_id=f"g{i}", owner=owner, tier=tier
        ),
        st.integers(0, 10_000),
        METRICS,
        STATUSES,
        st.sampled_from(["rep:a", "rep:b"]),
        st.sampled_from([None, "A"]),
    ),
    max_size=12,
    unique_by=lambda g: g.goal_id,
)


class TestLaws:
    @given(GOALS)
    def test_an_alert_always_pairs_activity_off_pace_with_results_on_track(
        self, goals: list[Paced]
    ) -> None:
        for alert in leading_behind(goals):
            assert alert.leading.metric in LEADING
            assert alert.leading.status != "on_track"
            assert alert.lagging.metric in LAGGING
            assert alert.lagging.status == "on_track"
            assert alert.leading.owner == alert.lagging.owner == alert.owner
            assert alert.leading.cuts == alert.lagging.cuts

    @given(GOALS, st.randoms())
    def test_the_order_of_the_goals_does_not_matter(self, goals: list[Paced], rnd: Any) -> None:
        shuffled = list(goals)
        rnd.shuffle(shuffled)
        assert leading_behind(shuffled) == leading_behind(goals)

    @given(GOALS)
    def test_putting_every_lagging_goal_off_track_silences_every_alert(
        self, goals: list[Paced]
    ) -> None:
        missed = [replace(g, status="behind") if g.metric in LAGGING else g for g in goals]
        assert leading_behind(missed) == []
