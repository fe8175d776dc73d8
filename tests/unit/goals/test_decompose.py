"""Decomposition: money in minor units, largest-remainder splits, floor and stretch, weights in
time and across, and the expected share for pacing. Examples are worked out by hand (2026 starts
on a Thursday and has 261 weekdays); the laws are checked by Hypothesis."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.goals.calendar import FINER, Calendar, PeriodKind, Span, children, period_of
from services.goals.decompose import (
    Targets,
    across_weights,
    expected_fraction,
    floor_and_stretch,
    from_minor,
    minor_units,
    split,
    split_targets,
    time_weights,
    to_minor,
    to_targets,
)
from services.goals.exceptions import InvalidField

LAW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def dec(*values: int | str) -> list[Decimal]:
    return [Decimal(v) for v in values]


YEAR_2026 = Span(d(1, 1), d(12, 31))
JULY_2026 = Span(d(7, 1), d(7, 31))
Q3_2026 = Span(d(7, 1), d(9, 30))


def field_of(error: pytest.ExceptionInfo[ValueError]) -> str:
    assert isinstance(error.value, InvalidField)
    assert str(error.value).startswith(f"{error.value.field}: ")
    return error.value.field


# --------------------------------------------------------------------------- money


class TestEachCurrencyHasItsMinorUnits:
    @pytest.mark.parametrize(
        ("currency", "exponent"),
        [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("XOF", 0), ("KWD", 3), ("TND", 3)],
    )
    def test_the_iso_4217_exponent(self, currency, exponent):
        assert minor_units(currency) == exponent

    def test_a_count_has_no_decimals(self):
        assert minor_units(None) == 0

    def test_a_lower_case_code_is_read_as_upper_case(self):
        assert minor_units("jpy") == 0

    def test_a_code_that_is_not_three_letters_is_refused(self):
        with pytest.raises(InvalidField) as error:
            minor_units("EURO")
        assert field_of(error) == "currency"


class TestAmountsBecomeMinorUnitsExactly:
    def test_euros_become_cents(self):
        assert to_minor(Decimal("12.50"), 2) == 1250
        assert to_minor(Decimal("12.5"), 2) == 1250
        assert to_minor(Decimal("12.3400"), 2) == 1234
        assert to_minor(Decimal("1E+3"), 2) == 100000
        assert to_minor(Decimal("1000000.00"), 2) == 100_000_000

    def test_yen_have_no_minor_units(self):
        assert to_minor(Decimal("1000000"), 0) == 1_000_000

    def test_more_decimals_than_the_currency_has_are_refused(self):
        with pytest.raises(ValueError, match="more than 2 decimals"):
            to_minor(Decimal("12.345"), 2)
        with pytest.raises(ValueError, match="more than 0 decimals"):
            to_minor(Decimal("0.5"), 0)

    def test_not_a_number_is_refused(self):
        with pytest.raises(ValueError, match="not a finite amount"):
            to_minor(Decimal("NaN"), 2)

    def test_a_large_amount_stays_exact(self):
        assert to_minor(Decimal("123456789012345678901234567890.1234"), 4) == (
            1234567890123456789012345678901234
        )

    def test_minor_units_come_back_with_the_currency_s_decimals(self):
        assert from_minor(1250, 2) == Decimal("12.50")
        assert str(from_minor(1250, 2)) == "12.50"
        assert str(from_minor(0, 2)) == "0.00"
        assert str(from_minor(-1250, 2)) == "-12.50"
        assert str(from_minor(333334, 0)) == "333334"
        assert str(from_minor(5, 3)) == "0.005"

    @given(st.integers(-(10**20), 10**20), st.integers(0, 4))
    def test_minor_units_survive_the_round_trip(self, units, exponent):
        assert to_minor(from_minor(units, exponent), exponent) == units


# --------------------------------------------------------------------------- split


class TestSplitUsesTheLargestRemainder:
    def test_a_hundred_in_three_equal_parts(self):
        assert split(100, dec(1, 1, 1)) == [34, 33, 33]

    def test_ties_go_to_the_earlier_part(self):
        assert split(2, dec(1, 1, 1, 1)) == [1, 1, 0, 0]
        assert split(5, dec(1, 1)) == [3, 2]

    def test_the_largest_remainder_wins_over_position(self):
        assert split(10, dec(1, 1, 2)) == [3, 2, 5]  # 2.5, 2.5, 5
        assert split(7, dec(1, 3, 3)) == [1, 3, 3]
        assert split(4, dec(1, 3, 3)) == [0, 2, 2]  # 0.571, 1.714, 1.714

    def test_weights_are_relative(self):
        assert split(1000, dec(60, 30, 10)) == split(1000, dec(6, 3, 1)) == [600, 300, 100]
        assert split(1000, dec("0.6", "0.3", "0.1")) == [600, 300, 100]

    def test_a_zero_weight_gets_nothing(self):
        assert split(5, dec(0, 1, 1)) == [0, 3, 2]

    def test_nothing_splits_into_zeros_and_one_part_takes_all(self):
        assert split(0, dec(1, 2)) == [0, 0]
        assert split(17, dec(3)) == [17]

    def test_a_million_euros_by_the_working_days_of_2026(self):
        months = children(YEAR_2026, PeriodKind.YEAR, PeriodKind.MONTH)
        weights = time_weights(months, "working_days")
        assert weights == dec(22, 20, 22, 22, 21, 22, 23, 21, 22, 22, 21, 23)  # 261 in all
        parts = split(to_minor(Decimal("1000000.00"), minor_units("EUR")), weights)
        # 22/261 of it is 84,291.18774…, 23/261 is 88,122.60536…, 21/261 is 80,459.77011…,
        # 20/261 is 76,628.35249…; the six cents left over go to the six 22-day months.
        assert [str(from_minor(p, 2)) for p in parts] == [
            "84291.19",
            "76628.35",
            "84291.19",
            "84291.19",
            "80459.77",
            "84291.19",
            "88122.60",
            "80459.77",
            "84291.19",
            "84291.19",
            "80459.77",
            "88122.60",
        ]
        assert sum(parts) == 100_000_000

    def test_yen_split_in_whole_yen(self):
        parts = split(to_minor(Decimal("1000000"), minor_units("JPY")), dec(1, 1, 1))
        assert [str(from_minor(p, 0)) for p in parts] == ["333334", "333333", "333333"]

    @pytest.mark.parametrize(
        ("total", "weights", "field"),
        [
            (-1, dec(1, 1), "total"),
            (Decimal(10), dec(1, 1), "total"),
            (True, dec(1, 1), "total"),
            (10, dec(0, 0), "weights"),
            (10, [], "weights"),
            (10, dec(1, -1), "weights"),
            (10, dec(1, "NaN"), "weights"),
            (10, dec(1, "Infinity"), "weights"),
        ],
    )
    def test_bad_totals_and_weights_are_refused(self, total, weights, field):
        with pytest.raises(InvalidField) as error:
            split(total, weights)
        assert field_of(error) == field


# --------------------------------------------------------------------------- targets


class TestTargetsKeepFloorBelowAndStretchAbove:
    def test_a_consistent_triple_is_accepted(self):
        assert Targets(target=100, floor=80, stretch=120).floor == 80

    @pytest.mark.parametrize(
        ("target", "floor", "stretch", "field"),
        [(100, 101, 120, "floor"), (100, -1, 120, "floor"), (100, 80, 99, "stretch")],
    )
    def test_an_inconsistent_triple_is_refused(self, target, floor, stretch, field):
        with pytest.raises(InvalidField) as error:
            Targets(target, floor, stretch)
        assert field_of(error) == field


class TestSplitTargetsKeepsEveryColumnExactAndEveryChildInOrder:
    def test_each_column_is_split_by_the_same_weights(self):
        assert split_targets(Targets(100, 80, 120), dec(1, 1, 1)) == [
            Targets(34, 27, 40),
            Targets(33, 27, 40),
            Targets(33, 26, 40),
        ]

    def test_a_floor_that_plain_largest_remainder_would_lift_above_its_target(self):
        # 1:3:3 splits a target of 4 as 0/2/2 but a floor of 3 as 1/1/1
        assert split(4, dec(1, 3, 3)) == [0, 2, 2]
        assert split(3, dec(1, 3, 3)) == [1, 1, 1]
        assert split_targets(Targets(4, 3, 4), dec(1, 3, 3)) == [
            Targets(0, 0, 0),
            Targets(2, 2, 2),
            Targets(2, 1, 2),
        ]

    def test_a_stretch_that_plain_largest_remainder_would_drop_below_its_target(self):
        # 1:3:3 splits a target of 3 as 1/1/1 but a stretch of 4 as 0/2/2
        assert split_targets(Targets(3, 3, 4), dec(1, 3, 3)) == [
            Targets(1, 1, 1),
            Targets(1, 1, 2),
            Targets(1, 1, 1),
        ]

    def test_equal_floor_target_and_stretch_stay_equal(self):
        children_ = split_targets(Targets(10, 10, 10), dec(1, 2, 3, 4, 5))
        assert all(c.floor == c.target == c.stretch for c in children_)

    def test_a_zero_weight_child_gets_zeros(self):
        assert split_targets(Targets(10, 5, 20), dec(0, 1))[0] == Targets(0, 0, 0)


# --------------------------------------------------------------------------- floor and stretch


class TestFloorAndStretchComeInOneOfThreeStyles:
    def test_without_a_style_both_equal_the_target(self):
        assert floor_and_stretch(Decimal(100)) == (Decimal(100), Decimal(100))

    def test_explicit_floor_and_stretch(self):
        assert floor_and_stretch(Decimal(100), floor=Decimal(70), stretch=Decimal(150)) == (
            Decimal(70),
            Decimal(150),
        )

    def test_an_explicit_floor_alone_leaves_the_stretch_at_the_target(self):
        assert floor_and_stretch(Decimal(100), floor=Decimal(70)) == (Decimal(70), Decimal(100))
        assert floor_and_stretch(Decimal(100), stretch=Decimal(130)) == (
            Decimal(100),
            Decimal(130),
        )

    def test_a_buffer_of_ten_percent_on_either_side(self):
        assert floor_and_stretch(Decimal(100), buffer_pct=Decimal(10)) == (
            Decimal(90),
            Decimal(110),
        )

    def test_base_and_challenge_percentages(self):
        assert floor_and_stretch(
            Decimal(100), base_pct=Decimal(80), challenge_pct=Decimal(120)
        ) == (Decimal(80), Decimal(120))
        assert floor_and_stretch(Decimal(100), base_pct=Decimal(80)) == (
            Decimal(80),
            Decimal(100),
        )

    def test_nothing_is_rounded(self):
        floor, stretch = floor_and_stretch(Decimal("33.33"), buffer_pct=Decimal(10))
        assert (floor, stretch) == (Decimal("29.997"), Decimal("36.663"))

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"floor": Decimal(101)}, "floor"),
            ({"floor": Decimal(-1)}, "floor"),
            ({"stretch": Decimal(99)}, "stretch"),
            ({"floor": Decimal(110), "stretch": Decimal(90)}, "floor"),
            ({"buffer_pct": Decimal(101)}, "buffer_pct"),
            ({"buffer_pct": Decimal(-5)}, "buffer_pct"),
            ({"base_pct": Decimal(120)}, "base_pct"),
            ({"base_pct": Decimal(-1)}, "base_pct"),
            ({"challenge_pct": Decimal(90)}, "challenge_pct"),
            ({"floor": Decimal(90), "buffer_pct": Decimal(10)}, "buffer_pct"),
            ({"buffer_pct": Decimal(10), "challenge_pct": Decimal(120)}, "challenge_pct"),
            ({"stretch": Decimal("NaN")}, "stretch"),
        ],
    )
    def test_an_impossible_or_mixed_style_names_its_field(self, kwargs, field):
        with pytest.raises(InvalidField) as error:
            floor_and_stretch(Decimal(100), **kwargs)
        assert field_of(error) == field

    def test_a_negative_target_is_refused(self):
        with pytest.raises(InvalidField) as error:
            floor_and_stretch(Decimal(-1))
        assert field_of(error) == "target"

    def test_to_targets_rounds_floor_and_stretch_but_never_the_target(self):
        floor, stretch = floor_and_stretch(Decimal("1000.05"), buffer_pct=Decimal("12.5"))
        assert (floor, stretch) == (Decimal("875.04375"), Decimal("1125.05625"))
        assert to_targets(Decimal("1000.05"), floor, stretch, 2) == Targets(100005, 87504, 112506)
        with pytest.raises(InvalidField) as error:
            to_targets(Decimal("0.5"), Decimal(0), Decimal(1), 0)
        assert field_of(error) == "target"


# --------------------------------------------------------------------------- weights in time


class TestTimeWeights:
    q3_months = children(Q3_2026, PeriodKind.QUARTER, PeriodKind.MONTH)
    july_weeks = children(JULY_2026, PeriodKind.MONTH, PeriodKind.WEEK)

    def test_even_weighs_every_span_alike(self):
        assert time_weights(self.july_weeks, "even") == dec(1, 1, 1, 1, 1)

    def test_working_days_follow_the_calendar(self):
        assert time_weights(self.q3_months, "working_days") == dec(23, 21, 22)
        calendar = Calendar(holidays=frozenset({d(7, 14)}), workdays=frozenset({d(8, 8)}))
        weights = time_weights(self.q3_months, "working_days", calendar=calendar)
        assert weights == dec(22, 22, 22)
        assert time_weights(self.july_weeks, "working_days") == dec(3, 5, 5, 5, 5)

    def test_a_period_without_a_working_day_cannot_be_split_by_working_days(self):
        weekend = children(Span(d(7, 4), d(7, 5)), PeriodKind.WEEK, PeriodKind.DAY)
        with pytest.raises(ValueError, match="no working day"):
            time_weights(weekend, "working_days")

    def test_seasonal_months_weigh_what_the_caller_says(self):
        months = children(YEAR_2026, PeriodKind.YEAR, PeriodKind.MONTH)
        seasonal = {
            m: Decimal(w) for m, w in zip(range(1, 10), (5, 5, 8, 8, 8, 10, 12, 3, 10), strict=True)
        }
        seasonal |= {10: Decimal("9.5"), 11: Decimal(12), 12: Decimal(20)}
        assert time_weights(months, "seasonal", seasonal=seasonal) == [
            seasonal[m] for m in range(1, 13)
        ]

    def test_seasonal_weights_share_a_month_between_its_partial_weeks_by_days(self):
        assert time_weights(self.july_weeks, "seasonal", seasonal={7: Decimal(31)}) == dec(
            5, 7, 7, 7, 5
        )
        # the week of 29 June to 5 July 2026: 2 of June's 30 days and 5 of July's 31
        weeks = children(YEAR_2026, PeriodKind.YEAR, PeriodKind.WEEK)
        week = next(w for w in weeks if w.start == d(6, 29))
        seasonal = {6: Decimal(30), 7: Decimal(62)}
        assert time_weights([week], "seasonal", seasonal=seasonal) == dec(12)

    @pytest.mark.parametrize(
        ("seasonal", "words"),
        [
            ({7: Decimal(1)}, "no weight for month 8"),
            ({7: Decimal(1), 8: Decimal(1), 9: Decimal(1), 13: Decimal(1)}, "13 is not a month"),
            ({7: Decimal(1), 8: Decimal(-1), 9: Decimal(1)}, "month 8"),
            ({7: Decimal(0), 8: Decimal(0), 9: Decimal(0)}, "all zero"),
            (None, "a weight per month"),
        ],
    )
    def test_seasonal_weights_must_cover_every_month(self, seasonal, words):
        with pytest.raises(ValueError, match=words) as error:
            time_weights(self.q3_months, "seasonal", seasonal=seasonal)
        assert field_of(error) == "seasonal"

    def test_last_year_gives_last_year_s_actuals(self):
        actuals = dec("120.50", "80", "0")
        assert time_weights(self.q3_months, "last_year", last_year=actuals) == actuals

    @pytest.mark.parametrize(
        ("last_year", "words"),
        [
            (dec(0, 0, 0), "no actuals last year"),
            (dec(1, 2), "2 actuals given for 3 periods"),
            (dec(1, -2, 3), "actual 1"),
            (None, "needed"),
        ],
    )
    def test_last_year_needs_an_actual_per_span_and_some_above_zero(self, last_year, words):
        with pytest.raises(ValueError, match=words) as error:
            time_weights(self.q3_months, "last_year", last_year=last_year)
        assert field_of(error) == "last_year"

    def test_an_unknown_strategy_or_no_span_is_refused(self):
        with pytest.raises(InvalidField) as error:
            time_weights(self.q3_months, "weekly")
        assert field_of(error) == "strategy"
        with pytest.raises(InvalidField, match="nothing to split into"):
            time_weights([], "even")


# --------------------------------------------------------------------------- weights across


class TestAcrossWeights:
    def test_customer_tiers_by_percentages(self):
        weights = across_weights(["A", "B", "C"], {"A": Decimal(60), "B": Decimal(30), "C": 10})
        assert split(to_minor(Decimal("50000.00"), 2), weights) == [3_000_000, 1_500_000, 500_000]

    def test_percentages_need_not_add_up_to_a_hundred(self):
        weights = {"hardware": Decimal(3), "service": Decimal(1), "licences": Decimal(1)}
        keys = ["hardware", "service", "licences"]
        assert split(100, across_weights(keys, weights)) == [60, 20, 20]

    def test_even_ignores_weights(self):
        assert across_weights(["anna", "ben"], None, "even") == dec(1, 1)

    def test_past_share_follows_last_period_and_a_missing_rep_had_nothing(self):
        past = {"anna": Decimal(30), "ben": Decimal(10), "left-the-team": Decimal(99)}
        weights = across_weights(["anna", "ben", "cara"], None, "past_share", past)
        assert weights == dec(30, 10, 0)
        assert split(100, weights) == [75, 25, 0]

    @pytest.mark.parametrize(
        ("keys", "weights", "strategy", "past", "field", "words"),
        [
            (["A", "B"], {"A": Decimal(1)}, "weights", None, "weights", "no weight for 'B'"),
            (["A"], {"A": Decimal(1), "D": Decimal(1)}, "weights", None, "weights", "'D'"),
            (["A"], None, "weights", None, "weights", "needed"),
            (["A", "B"], {"A": 0, "B": 0}, "weights", None, "weights", "all zero"),
            (["A", "B"], {"A": 1, "B": Decimal(-1)}, "weights", None, "weights", "'B'"),
            (["A", "A"], None, "even", None, "keys", "twice"),
            ([], None, "even", None, "keys", "nothing"),
            (["a"], None, "past_share", {"a": Decimal(0)}, "past", "no actuals"),
            (["a"], None, "past_share", None, "past", "needed"),
            (["a"], None, "by_mood", None, "strategy", "not one of"),
        ],
    )
    def test_missing_unknown_or_empty_weights_are_refused(
        self, keys, weights, strategy, past, field, words
    ):
        with pytest.raises(ValueError, match=words) as error:
            across_weights(keys, weights, strategy, past)
        assert field_of(error) == field


# --------------------------------------------------------------------------- pacing


class TestExpectedFractionFollowsTheDecomposition:
    q3_months = children(Q3_2026, PeriodKind.QUARTER, PeriodKind.MONTH)
    weights = dec(1, 1, 2)  # September counts double

    def at(self, today: date, **kwargs: bool) -> Decimal:
        return expected_fraction(self.q3_months, self.weights, today, Calendar(), **kwargs)

    def test_nothing_is_expected_before_the_first_span(self):
        assert self.at(d(6, 30)) == 0

    def test_a_finished_month_counts_whole(self):
        assert self.at(d(7, 31)) == Decimal("0.25")

    def test_the_current_month_counts_by_its_working_days_elapsed(self):
        # July (1/4) + 10 of August's 21 working days × 1/4
        assert self.at(d(8, 14)) == Decimal(31) / Decimal(84)
        assert self.at(d(8, 15)) == self.at(d(8, 16)) == self.at(d(8, 14))  # a weekend

    def test_or_by_calendar_days(self):
        assert self.at(d(8, 14), by_working_days=False) == Decimal(45) / Decimal(124)

    def test_everything_is_expected_from_the_last_day(self):
        assert self.at(d(9, 30)) == 1
        assert self.at(d(12, 31)) == 1

    def test_a_holiday_is_not_an_elapsed_working_day(self):
        calendar = Calendar(holidays=frozenset({d(7, 14)}))
        fraction = expected_fraction([JULY_2026], dec(1), d(7, 14), calendar)
        assert fraction == Decimal(9) / Decimal(22)

    def test_a_span_without_working_days_counts_calendar_days(self):
        weekend = Span(d(7, 4), d(7, 5))
        assert expected_fraction([weekend], dec(1), d(7, 4), Calendar()) == Decimal("0.5")

    def test_weights_must_match_the_spans(self):
        with pytest.raises(InvalidField) as error:
            expected_fraction(self.q3_months, dec(1, 1), d(8, 1), Calendar())
        assert field_of(error) == "weights"


# --------------------------------------------------------------------------- laws

WEIGHT = st.one_of(
    st.just(Decimal(0)),
    st.builds(
        lambda units, places: Decimal(units).scaleb(-places),
        st.integers(0, 10**12),
        st.integers(0, 6),
    ),
)
WEIGHTS = st.lists(WEIGHT, min_size=1, max_size=400)
TOTALS = st.integers(0, 10**15)
NEAR = st.dates(date(2025, 1, 1), date(2027, 12, 31))
CALENDARS = st.builds(
    Calendar,
    weekend=st.frozensets(st.integers(0, 6), max_size=7),
    holidays=st.frozensets(NEAR, max_size=40),
    workdays=st.frozensets(NEAR, max_size=20),
)


@st.composite
def triples(draw: st.DrawFn) -> Targets:
    """Floor ≤ target ≤ stretch, far apart or a few units apart (where rounding collides)."""
    target = draw(TOTALS | st.integers(0, 1000))
    small = st.integers(0, 50)
    below = draw(small | st.integers(0, target)) if target else 0
    above = draw(small | st.integers(0, 10**15))
    return Targets(target, max(target - below, 0), target + above)


@st.composite
def time_splits(
    draw: st.DrawFn,
) -> tuple[list[Span], str, Calendar, dict[int, Decimal], list[Decimal]]:
    kind = draw(
        st.sampled_from((PeriodKind.YEAR, PeriodKind.QUARTER, PeriodKind.MONTH, PeriodKind.WEEK))
    )
    into = draw(st.sampled_from(FINER[kind]))
    spans = children(period_of(kind, draw(NEAR)), kind, into)
    strategy = draw(st.sampled_from(("even", "working_days", "seasonal", "last_year")))
    seasonal = {m: draw(WEIGHT) for m in range(1, 13)}
    last_year = [draw(WEIGHT) for _ in spans]
    return spans, strategy, draw(CALENDARS), seasonal, last_year


def share(total: int, weights: list[Decimal], i: int) -> Fraction:
    return total * Fraction(weights[i]) / sum(map(Fraction, weights), Fraction(0))


class TestLaws:
    @LAW
    @given(TOTALS, WEIGHTS)
    def test_split_sums_exactly_and_each_part_is_within_one_unit_of_its_share(self, total, weights):
        assume(any(weights))
        parts = split(total, weights)
        assert sum(parts) == total
        assert len(parts) == len(weights)
        for i, part in enumerate(parts):
            assert part >= 0
            assert abs(part - share(total, weights, i)) < 1
            if not weights[i]:
                assert part == 0

    @LAW
    @given(triples(), WEIGHTS)
    def test_split_targets_keeps_each_column_exact_and_each_child_in_order(self, parent, weights):
        assume(any(weights))
        kids = split_targets(parent, weights)
        assert [k.target for k in kids] == split(parent.target, weights)
        assert sum(k.floor for k in kids) == parent.floor
        assert sum(k.stretch for k in kids) == parent.stretch
        assert all(0 <= k.floor <= k.target <= k.stretch for k in kids)
        floors, stretches = split(parent.floor, weights), split(parent.stretch, weights)
        for i, kid in enumerate(kids):
            assert -1 < kid.floor - share(parent.floor, weights, i) < 2
            assert -2 < kid.stretch - share(parent.stretch, weights, i) < 1
            if not weights[i]:
                assert kid == Targets(0, 0, 0)
        if all(f <= k.target for f, k in zip(floors, kids, strict=True)):
            assert [k.floor for k in kids] == floors  # plain split when it keeps the order
        if all(s >= k.target for s, k in zip(stretches, kids, strict=True)):
            assert [k.stretch for k in kids] == stretches

    @LAW
    @given(time_splits(), triples())
    def test_time_weights_then_split_sum_to_the_parent(self, case, parent):
        spans, strategy, calendar, seasonal, last_year = case
        try:
            weights = time_weights(
                spans, strategy, calendar=calendar, seasonal=seasonal, last_year=last_year
            )
        except InvalidField as error:  # all zero: no working day, no weight, no actuals
            refusal = str(error)
        else:
            refusal = None
        if refusal is not None:
            assert "zero" in refusal or "no " in refusal
            return
        assert len(weights) == len(spans)
        assert all(w >= 0 for w in weights)
        kids = split_targets(parent, weights)
        assert sum(k.target for k in kids) == parent.target
        assert sum(k.floor for k in kids) == parent.floor
        assert sum(k.stretch for k in kids) == parent.stretch

    @LAW
    @given(time_splits(), st.integers(-40, 400), st.integers(0, 400), st.booleans())
    def test_expected_fraction_grows_with_the_days_and_ends_at_one(
        self, case, offset, step, by_working_days
    ):
        spans, _, calendar, _, weights = case
        assume(any(weights))

        def at(day: date) -> Decimal:
            return expected_fraction(spans, weights, day, calendar, by_working_days=by_working_days)

        first, last = spans[0].start, spans[-1].end
        early = first + timedelta(days=offset)
        later = early + timedelta(days=step)
        assert 0 <= at(early) <= at(later) <= 1
        assert at(first - timedelta(days=1)) == 0
        assert at(last) == 1


class TestGoalsAndEventsShareOneCurrencyRule:
    """What an event may carry in a currency is what a goal's target may (shared.money)."""

    def test_every_currency_has_the_same_minor_units_in_goals_and_in_events(self):
        from shared.money import CURRENCIES
        from shared.money import minor_units as system_minor_units

        assert {c: minor_units(c) for c in CURRENCIES} == {
            c: system_minor_units(c) for c in CURRENCIES
        }

    @pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("EUR", 2), ("KWD", 3)])
    def test_one_decimal_more_than_the_currency_has_is_refused_by_both(self, currency, places):
        from pydantic import ValidationError

        from shared.events import DealWon

        fits = Decimal(1).scaleb(-places)
        too_fine = Decimal(1).scaleb(-places - 1)
        assert to_minor(fits, minor_units(currency)) == 1
        DealWon(amount=fits, currency=currency)
        with pytest.raises(ValueError, match="decimals"):
            to_minor(too_fine, minor_units(currency))
        with pytest.raises(ValidationError):
            DealWon(amount=too_fine, currency=currency)
