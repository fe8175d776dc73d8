"""A goal's progress: attainment, expected-to-date, projections and the status rule."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.pace import Progress, progress

D = Decimal
TARGET, FLOOR, STRETCH = D(1_000_000), D(900_000), D(1_200_000)


def pace(
    actual: Decimal | int | str,
    *,
    expected: Decimal | str = "0.5",
    elapsed: Decimal | str = "0.5",
    pipeline: Decimal | int | None = None,
    over: bool = False,
    target: Decimal = TARGET,
    floor: Decimal = FLOOR,
    stretch: Decimal = STRETCH,
) -> Progress:
    return progress(
        target=target,
        floor=floor,
        stretch=stretch,
        actual=D(actual),
        expected_fraction=D(expected),
        elapsed_fraction=D(elapsed),
        weighted_pipeline=None if pipeline is None else D(pipeline),
        period_over=over,
    )


# --------------------------------------------------------------------------- numbers


class TestTheNumbers:
    def test_attainment_of_target_floor_and_stretch_in_percent_to_one_decimal_half_up(self):
        result = pace("332.5", target=D(1000), floor=D(800), stretch=D(1200))
        assert result.attainment_pct == D("33.3")  # 33.25, half up
        assert result.floor_pct == D("41.6")  # 41.5625
        assert result.stretch_pct == D("27.7")  # 27.708…

    def test_no_percentage_of_zero(self):
        result = pace(5, target=D(0), floor=D(0), stretch=D(0))
        assert (result.attainment_pct, result.floor_pct, result.stretch_pct) == (None, None, None)
        assert pace(5, target=D(10), floor=D(0), stretch=D(10)).floor_pct is None

    def test_expected_to_date_follows_the_shape_s_fraction_and_the_gap_is_exact(self):
        third = D(1) / D(3)
        result = pace(300_000, expected=third, elapsed="0.5")
        assert result.expected_to_date == TARGET * third
        assert result.gap == D(300_000) - TARGET * third
        assert result.gap < 0

    def test_the_run_rate_divides_by_the_working_days_elapsed_not_the_expected_share(self):
        result = pace(300_000, expected="0.25", elapsed="0.4")
        assert result.projected_run_rate == D(750_000)
        assert result.expected_to_date == D(250_000)
        assert result.gap == D(50_000)

    def test_with_pipeline_adds_the_weighted_pipeline(self):
        result = pace(300_000, pipeline=450_000)
        assert result.projected_with_pipeline == D(750_000)
        assert pace(300_000).projected_with_pipeline is None

    def test_no_run_rate_before_a_working_day_has_elapsed(self):
        assert pace(0, expected="0", elapsed="0").projected_run_rate is None

    def test_once_the_period_is_over_both_projections_are_the_actual(self):
        result = pace(950_000, expected="1", elapsed="0.9", pipeline=300_000, over=True)
        assert result.projected_run_rate == D(950_000)
        assert result.projected_with_pipeline == D(950_000)
        assert pace(950_000, expected="1", elapsed="1", over=True).projected_with_pipeline is None


# --------------------------------------------------------------------------- status


class TestStatusOnceThePeriodIsOver:
    def test_on_track_at_the_target_exactly(self):
        result = pace(1_000_000, expected="1", elapsed="1", over=True)
        assert result.status == "on_track"
        assert result.rule == "period over: actual 1,000,000 ≥ target 1,000,000"

    def test_at_risk_between_floor_and_target(self):
        result = pace(950_000, expected="1", elapsed="1", over=True)
        assert result.status == "at_risk"
        assert result.rule == "period over: actual 950,000 ≥ floor 900,000 but < target 1,000,000"

    def test_at_risk_at_the_floor_exactly(self):
        assert pace(900_000, expected="1", elapsed="1", over=True).status == "at_risk"

    def test_behind_below_the_floor(self):
        result = pace("899999.99", expected="1", elapsed="1", over=True)
        assert result.status == "behind"
        assert result.rule == "period over: actual 899,999.99 < floor 900,000"

    def test_a_pipeline_no_longer_helps(self):
        result = pace(800_000, expected="1", elapsed="1", pipeline=5_000_000, over=True)
        assert result.status == "behind"


class TestStatusDuringThePeriod:
    def test_on_track_when_actual_reaches_expected_to_date_exactly(self):
        result = pace(500_000, expected="0.5", elapsed="0.6")  # run-rate 833,333: below floor
        assert result.status == "on_track"
        assert result.rule == "actual 500,000 ≥ expected to date 500,000"

    def test_on_track_by_the_shape_even_when_the_run_rate_lags(self):
        # A back-loaded seasonal shape expects 20 % by now while 50 % of working days are gone.
        result = pace(250_000, expected="0.2", elapsed="0.5")
        assert result.projected_run_rate == D(500_000)
        assert result.status == "on_track"

    def test_on_track_when_the_run_rate_reaches_the_target_exactly(self):
        result = pace(450_000, expected="0.5", elapsed="0.45")
        assert result.projected_run_rate == TARGET
        assert result.status == "on_track"
        assert result.rule == (
            "actual 450,000 < expected to date 500,000, but projected 1,000,000 (run-rate) "
            "≥ target 1,000,000"
        )

    def test_at_risk_when_the_projection_reaches_only_the_floor_exactly(self):
        result = pace(450_000, expected="0.5", elapsed="0.5")
        assert result.status == "at_risk"
        assert result.rule == (
            "actual 450,000 < expected to date 500,000 and projected 900,000 (run-rate) "
            "< target 1,000,000, but ≥ floor 900,000"
        )

    def test_behind_when_the_projection_misses_the_floor(self):
        result = pace(400_000, expected="0.5", elapsed="0.5")
        assert result.status == "behind"
        assert result.rule == (
            "actual 400,000 < expected to date 500,000 and projected 800,000 (run-rate) "
            "< floor 900,000"
        )

    def test_the_pipeline_can_put_a_goal_on_track(self):
        result = pace(400_000, expected="0.5", elapsed="0.5", pipeline=600_000)
        assert result.status == "on_track"
        assert result.rule == (
            "actual 400,000 < expected to date 500,000, but projected 1,000,000 "
            "(with pipeline) ≥ target 1,000,000"
        )

    def test_the_pipeline_can_lift_a_goal_to_at_risk(self):
        result = pace(400_000, expected="0.5", elapsed="0.5", pipeline=550_000)
        assert result.status == "at_risk"
        assert "projected 950,000 (with pipeline) < target 1,000,000, but ≥ floor" in result.rule

    def test_the_larger_projection_decides(self):
        result = pace(380_000, expected="0.5", elapsed="0.4", pipeline=100_000)
        assert (result.projected_run_rate, result.projected_with_pipeline) == (D(950_000), 480_000)
        assert result.status == "at_risk"
        assert "projected 950,000 (run-rate)" in result.rule

    def test_only_the_pipeline_projects_before_a_working_day_has_elapsed(self):
        result = pace(0, expected="0.1", elapsed="0", pipeline=950_000)
        assert result.projected_run_rate is None
        assert result.status == "at_risk"
        assert "projected 950,000 (with pipeline)" in result.rule

    def test_nothing_expected_yet_is_on_track(self):
        result = pace(0, expected="0", elapsed="0")
        assert result.status == "on_track"
        assert result.rule == "nothing expected yet: no working day of the period has elapsed"
        assert (result.projected_run_rate, result.projected_with_pipeline) == (None, None)
        assert result.gap == 0

    def test_without_a_projection_reaching_what_is_expected_is_on_track(self):
        result = pace(200_000, expected="0.1", elapsed="0")
        assert result.status == "on_track"
        assert result.rule == "actual 200,000 ≥ expected to date 100,000 (no projection yet)"

    def test_without_a_projection_missing_what_is_expected_is_at_risk(self):
        result = pace(0, expected="0.1", elapsed="0")
        assert result.status == "at_risk"
        assert result.rule == (
            "actual 0 < expected to date 100,000, and no projection yet: no working day of the "
            "period has elapsed"
        )


class TestTheRuleShowsNumbers:
    def test_with_separators_money_decimals_as_given_and_long_ones_to_two_places(self):
        result = pace("1234.5", expected=D(1) / D(3), elapsed="1", target=D(10_000), floor=D(0))
        assert result.rule.startswith("actual 1,234.5 < expected to date 3,333.33")
        result = pace("999999.999", expected="1", elapsed="1", over=True)
        assert result.rule == (
            "period over: actual 999,999.999 ≥ floor 900,000 but < target 1,000,000"
        )

    def test_whole_amounts_without_trailing_zeros(self):
        result = pace(D("950000.00"), expected="1", elapsed="1", over=True, floor=D("900000.00"))
        assert result.rule == "period over: actual 950,000 ≥ floor 900,000 but < target 1,000,000"


class TestBadProgressInput:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"expected": "1.01"}, "expected_fraction"),
            ({"expected": "-0.01"}, "expected_fraction"),
            ({"expected": "NaN"}, "expected_fraction"),
            ({"elapsed": "2"}, "elapsed_fraction"),
            ({"floor": D(1_000_001)}, "floor"),
            ({"stretch": D(999_999)}, "stretch"),
            ({"floor": D(-1)}, "floor"),
        ],
    )
    def test_is_refused(self, kwargs: dict[str, object], field: str):
        with pytest.raises(ValueError, match=field):
            pace(1, **kwargs)


# --------------------------------------------------------------------------- laws

RANK = {"behind": 0, "at_risk": 1, "on_track": 2}
money = st.decimals(min_value=D(0), max_value=D(10) ** 7, places=2)
share = st.decimals(min_value=D(0), max_value=D(1), places=4)


@st.composite
def goals(draw: st.DrawFn) -> dict[str, object]:
    target = draw(money)
    return {
        "target": target,
        "floor": target * draw(share),
        "stretch": target * (1 + draw(share)),
        "expected_fraction": draw(share),
        "elapsed_fraction": draw(share),
        "weighted_pipeline": draw(st.none() | money),
        "period_over": draw(st.booleans()),
    }


class TestProgressLaws:
    @settings(max_examples=300, deadline=None)
    @given(goals(), money, money)
    def test_more_actual_never_worsens_the_status(self, goal, a, b):
        low = progress(actual=min(a, b), **goal)
        high = progress(actual=max(a, b), **goal)
        assert RANK[low.status] <= RANK[high.status]

    @settings(max_examples=200, deadline=None)
    @given(goals(), money)
    def test_gap_and_expected_add_up_to_the_actual(self, goal, actual):
        result = progress(actual=actual, **goal)
        assert result.expected_to_date + result.gap == actual
        assert result.rule

    @settings(max_examples=200, deadline=None)
    @given(goals(), money)
    def test_reaching_the_target_is_always_on_track(self, goal, actual):
        target = goal["target"]
        assert isinstance(target, Decimal)
        result = progress(actual=max(actual, target), **goal)
        assert result.status == "on_track"
