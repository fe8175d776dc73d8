"""The rules of the review digests (services/goals/review_math.py): day shares, carry-over, the
next working day, champions, the most improved, the trailing comparison, weeks and months."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals import review_markdown
from services.goals import review_math as rm
from services.goals.calendar import Calendar, PeriodKind, Span, period_of
from services.goals.decompose import expected_fraction

HOLIDAY = date(2026, 11, 26)
NOVEMBER = Span(date(2026, 11, 1), date(2026, 11, 30))
WITH_HOLIDAY = Calendar(holidays=frozenset({HOLIDAY}))
ONE = [Decimal(1)]

calendars = st.builds(
    Calendar,
    weekend=st.frozensets(st.integers(0, 6), max_size=6),
    holidays=st.frozensets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=20),
    workdays=st.frozensets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=5),
)
kinds = st.sampled_from([PeriodKind.YEAR, PeriodKind.QUARTER, PeriodKind.MONTH, PeriodKind.WEEK])
amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)
counts = st.integers(0, 10**6).map(Decimal)


class TestDayTarget:
    def test_is_the_days_share_of_the_working_days(self) -> None:
        share = rm.day_target([NOVEMBER], ONE, Decimal(40), date(2026, 11, 25), WITH_HOLIDAY, 0)
        assert share == 2  # 40 over 20 working days

    def test_is_zero_on_a_holiday_and_a_weekend(self) -> None:
        for day in (HOLIDAY, date(2026, 11, 28)):
            assert rm.day_target([NOVEMBER], ONE, Decimal(40), day, WITH_HOLIDAY, 0) == 0

    def test_steps_between_progress_rounded_numbers(self) -> None:
        week = Span(date(2026, 11, 23), date(2026, 11, 29))  # 4 working days: 2.5 a day
        shares = [rm.day_target([week], ONE, Decimal(10), d, WITH_HOLIDAY, 0) for d in week.dates()]
        assert shares == [2, 3, 3, 0, 2, 0, 0]  # 2.5 → 2, 5, 7.5 → 8 (half to even), 10

    def test_follows_the_decompositions_weights(self) -> None:
        halves = [
            Span(date(2026, 11, 1), date(2026, 11, 15)),
            Span(date(2026, 11, 16), date(2026, 11, 30)),
        ]
        weights = [Decimal(3), Decimal(1)]
        first = rm.day_target(halves, weights, Decimal(100), date(2026, 11, 2), WITH_HOLIDAY, 2)
        later = rm.day_target(halves, weights, Decimal(100), date(2026, 11, 16), WITH_HOLIDAY, 2)
        assert (first, later) == (
            Decimal("7.50"),
            Decimal("2.50"),
        )  # 75 / 10 days; 25 / 10 (26th off)

    @given(
        kind=kinds,
        day=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
        cal=calendars,
        target=amounts,
    )
    def test_shares_of_a_periods_days_add_up_to_the_target(self, kind, day, cal, target) -> None:
        span = period_of(kind, day)
        total = sum(
            (rm.day_target([span], ONE, target, d, cal, 2) for d in span.dates()), Decimal(0)
        )
        assert total == target

    @given(
        kind=kinds, day=st.dates(date(2026, 1, 1), date(2026, 12, 31)), cal=calendars, target=counts
    )
    def test_shares_are_never_negative_and_zero_on_days_off(self, kind, day, cal, target) -> None:
        span = period_of(kind, day)
        worked = cal.working_days(span) > 0
        for d in span.dates():
            share = rm.day_target([span], ONE, target, d, cal, 0)
            assert share >= 0
            if worked and not cal.is_working(d):
                assert share == 0

    @given(day=st.dates(date(2026, 11, 1), date(2026, 11, 30)), target=amounts)
    def test_is_the_step_of_expected_to_date(self, day, target) -> None:
        q = Decimal("0.01")

        def shown(d: date) -> Decimal:
            return (target * expected_fraction([NOVEMBER], ONE, d, WITH_HOLIDAY)).quantize(q)

        share = rm.day_target([NOVEMBER], ONE, target, day, WITH_HOLIDAY, 2)
        assert share == shown(day) - shown(day - timedelta(days=1))


class TestCarryOver:
    def test_carries_the_shortfall_on_top_of_the_next_days_share(self) -> None:
        carry = rm.carry_over(Decimal(36), Decimal(19), date(2026, 11, 27), Decimal(2))
        assert (carry.day, carry.planned, carry.carried, carry.total) == (
            date(2026, 11, 27),
            2,
            17,
            19,
        )

    def test_nothing_is_carried_when_ahead(self) -> None:
        assert rm.carry_over(Decimal(10), Decimal(12), date(2026, 1, 2), Decimal(1)).carried == 0

    @given(expected=amounts, actual=amounts, planned=amounts)
    def test_is_never_negative_and_adds_up(self, expected, actual, planned) -> None:
        carry = rm.carry_over(expected, actual, date(2026, 1, 2), planned)
        assert carry.carried >= 0
        assert carry.carried == max(Decimal(0), expected - actual)
        assert carry.total == carry.planned + carry.carried


class TestNextWorkingDay:
    def test_skips_a_holiday(self) -> None:
        assert rm.next_working_day(WITH_HOLIDAY, date(2026, 11, 25)) == date(2026, 11, 27)

    def test_skips_the_weekend(self) -> None:
        assert rm.next_working_day(WITH_HOLIDAY, date(2026, 11, 27)) == date(2026, 11, 30)

    def test_takes_a_make_up_working_day(self) -> None:
        cal = Calendar(workdays=frozenset({date(2026, 11, 28)}))
        assert rm.next_working_day(cal, date(2026, 11, 27)) == date(2026, 11, 28)

    def test_none_when_nothing_is_worked(self) -> None:
        assert rm.next_working_day(Calendar(weekend=frozenset(range(7))), date(2026, 1, 1)) is None

    @given(day=st.dates(date(2026, 1, 1), date(2026, 12, 31)), cal=calendars)
    def test_is_the_first_worked_day_after(self, day, cal) -> None:
        found = rm.next_working_day(cal, day)
        if found is None:
            return
        assert found > day
        assert cal.is_working(found)
        assert cal.working_days_between(day + timedelta(days=1), found) == 1


class TestChampions:
    def test_the_best_and_every_tie(self) -> None:
        values = {"b": Decimal(5), "a": Decimal(5), "c": Decimal(1)}
        assert rm.champions(values) == ["a", "b"]

    def test_nobody_when_nobody_won_anything(self) -> None:
        assert rm.champions({"a": Decimal(0), "b": Decimal(0)}) == []
        assert rm.champions({}) == []


class TestMostImproved:
    def test_the_largest_increase_wins_and_a_newcomer_counts_from_zero(self) -> None:
        after = {"ana": Decimal(9000), "ben": Decimal(8000), "new": Decimal(500)}
        before = {"ana": Decimal(1000), "ben": Decimal(10000)}
        [best] = rm.most_improved(after, before)
        assert (best.rep, best.before, best.after, best.increase) == ("ana", 1000, 9000, 8000)

    def test_ties_are_all_listed(self) -> None:
        best = rm.most_improved({"a": Decimal(3), "b": Decimal(4)}, {"b": Decimal(1)})
        assert [i.rep for i in best] == ["a", "b"]

    def test_no_change_is_no_champion(self) -> None:
        assert rm.most_improved({"a": Decimal(3)}, {"a": Decimal(3)}) == []
        assert rm.most_improved({"a": Decimal(1)}, {"a": Decimal(3)}) == []

    @given(
        after=st.dictionaries(st.sampled_from("abcde"), counts),
        before=st.dictionaries(st.sampled_from("abcde"), counts),
    )
    def test_nobody_grew_more_than_the_champions(self, after, before) -> None:
        best = rm.most_improved(after, before)
        for rep in set(after) | set(before):
            growth = after.get(rep, Decimal(0)) - before.get(rep, Decimal(0))
            assert all(growth <= b.increase for b in best)
        assert all(b.increase > 0 for b in best)


class TestTrailingComparison:
    def test_difference_in_percentage_points(self) -> None:
        assert rm.points_difference(1.0, 0.5) == Decimal("50.00")
        assert rm.points_difference(0.333333, 0.5) == Decimal("-16.67")
        assert rm.points_difference(None, 0.5) is None

    def test_the_28_days_before_the_week(self) -> None:
        week = rm.parse_week("2026-W48")
        assert rm.trailing_span(week) == Span(date(2026, 10, 26), date(2026, 11, 22))
        assert rm.trailing_span(Span(date(1970, 1, 5), date(1970, 1, 11))) == Span(
            date(1970, 1, 1), date(1970, 1, 4)
        )

    def test_steps_only_one_period_reached_keep_their_place(self) -> None:
        week = ["leads", "opportunities", "won", "lost"]
        trailing = ["leads", "deals_opened", "stage:demo", "won", "lost"]
        assert rm.merged_order(week, trailing) == [
            "leads",
            "deals_opened",
            "stage:demo",
            "opportunities",
            "won",
            "lost",
        ]


class TestWeeksAndMonths:
    def test_an_iso_week_is_monday_to_sunday(self) -> None:
        assert rm.parse_week("2026-W49") == Span(date(2026, 11, 30), date(2026, 12, 6))
        assert rm.parse_week("2026-W53") == Span(date(2026, 12, 28), date(2027, 1, 3))
        assert rm.week_name(date(2027, 1, 3)) == "2026-W53"

    @pytest.mark.parametrize("bad", ["2025-W53", "2026-W00", "2026-W54", "2026-49", "1970-W01"])
    def test_a_bad_week_is_refused(self, bad) -> None:
        with pytest.raises(ValueError, match=r"week|must be"):
            rm.parse_week(bad)

    @pytest.mark.parametrize("bad", ["2026-13", "2026-00", "1969-12", "2100-01", "2026-1"])
    def test_a_bad_month_is_refused(self, bad) -> None:
        with pytest.raises(ValueError, match="must be"):
            rm.parse_month(bad)

    def test_months_around(self) -> None:
        november = rm.parse_month("2026-11")
        assert november == NOVEMBER
        assert rm.next_month(november) == Span(date(2026, 12, 1), date(2026, 12, 31))
        assert rm.previous_month(november) == Span(date(2026, 10, 1), date(2026, 10, 31))
        assert rm.next_month(rm.parse_month("2099-12")) is None

    @given(day=st.dates(date(1970, 1, 1), date(2099, 12, 31)))
    def test_a_weeks_name_gives_the_week_back(self, day) -> None:
        week = rm.week_of(day)
        if (
            week.start.year >= 1970
            and week.end <= date(2099, 12, 31)
            and week.start >= date(1970, 1, 1)
        ):
            assert rm.parse_week(rm.week_name(day)) == week

    def test_the_day_a_period_is_judged_on(self) -> None:
        assert rm.as_of_day(NOVEMBER, date(2026, 12, 7)) == date(2026, 11, 30)
        assert rm.as_of_day(NOVEMBER, date(2026, 11, 10)) == date(2026, 11, 10)
        assert rm.as_of_day(NOVEMBER, date(2026, 10, 10)) == date(2026, 11, 1)

    @pytest.mark.parametrize(
        ("actual", "bound", "lower", "reached"),
        [(10, 10, False, True), (9, 10, False, False), (3, 4, True, True), (5, 4, True, False)],
    )
    def test_reached(self, actual, bound, lower, reached) -> None:
        """A bound is reached at it (at or above; a duration at or under)."""
        b = Decimal(bound)
        assert rm.bounds_reached(Decimal(actual), b, b, b, lower_is_better=lower) == (reached,) * 3


class TestBoundsReached:
    def test_a_count_reaches_floor_target_and_stretch_upwards(self) -> None:
        assert rm.bounds_reached(Decimal(25), Decimal(10), Decimal(20), Decimal(30)) == (
            True,
            True,
            False,
        )

    def test_a_duration_reads_its_bounds_as_progress_does(self) -> None:
        """floor 10, target 20, stretch 30 days: 25 days is progress's `at_risk` (over the
        target, under the far bound): the floor a manager reads is reached, not the stretch."""
        assert rm.bounds_reached(
            Decimal(25), Decimal(10), Decimal(20), Decimal(30), lower_is_better=True
        ) == (True, False, False)
        assert rm.bounds_reached(
            Decimal(8), Decimal(10), Decimal(20), Decimal(30), lower_is_better=True
        ) == (True, True, True)
        assert rm.bounds_reached(
            Decimal(31), Decimal(10), Decimal(20), Decimal(30), lower_is_better=True
        ) == (False, False, False)

    @given(
        actual=st.decimals(0, 1000, places=2),
        bounds=st.lists(st.decimals(0, 1000, places=2), min_size=3, max_size=3).map(sorted),
        lower=st.booleans(),
    )
    def test_stretch_implies_target_implies_floor(self, actual, bounds, lower) -> None:
        floor, target, stretch = bounds
        f, t, s = rm.bounds_reached(actual, floor, target, stretch, lower_is_better=lower)
        assert t or not s
        assert f or not t


class TestMarkdownCells:
    @pytest.mark.parametrize(
        ("text", "cell"),
        [
            ("city: Köln", "city: Köln"),
            ("a | b", "a \\| b"),
            ("already \\| escaped", "already \\\\\\| escaped"),
            ("two\r\nlines\nthree\rfour", "two lines three four"),
            ("[click](http://x) <b>", "\\[click\\](http://x) \\<b\\>"),
            ("", ""),
        ],
    )
    def test_free_text_stays_in_its_cell(self, text: str, cell: str) -> None:
        assert review_markdown._cell(text) == cell
