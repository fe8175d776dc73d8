"""Periods, their children, working calendars and checkpoints, worked out by hand on 2026 (which
starts on a Thursday, so its first and last weeks are partial) and on the leap year 2024."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.calendar import (
    FINER,
    Calendar,
    PeriodKind,
    Span,
    checkpoints,
    children,
    period_of,
    period_span,
)

LAW = settings(max_examples=200, deadline=None)
Y, Q, M, W, D = (
    PeriodKind.YEAR,
    PeriodKind.QUARTER,
    PeriodKind.MONTH,
    PeriodKind.WEEK,
    PeriodKind.DAY,
)
JULY_2026 = Span(date(2026, 7, 1), date(2026, 7, 31))  # Wednesday 1st to Friday 31st


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


def span(start: date, end: date) -> Span:
    return Span(start, end)


class TestASpanIsItsDaysWithBothEndsIncluded:
    def test_a_span_counts_both_ends(self):
        assert JULY_2026.days == 31
        assert Span(d(7, 1), d(7, 1)).days == 1

    def test_a_span_contains_its_ends_and_nothing_outside(self):
        assert JULY_2026.contains(d(7, 1))
        assert JULY_2026.contains(d(7, 31))
        assert not JULY_2026.contains(d(6, 30))
        assert not JULY_2026.contains(d(8, 1))

    def test_a_span_lists_its_dates_in_order(self):
        assert list(Span(d(2, 27, 2024), d(3, 1, 2024)).dates()) == [
            d(2, 27, 2024),
            d(2, 28, 2024),
            d(2, 29, 2024),
            d(3, 1, 2024),
        ]

    def test_a_span_cannot_end_before_it_starts(self):
        with pytest.raises(ValueError, match="before it starts"):
            Span(d(7, 2), d(7, 1))


class TestAPeriodIsKnownByItsKindAndFirstDay:
    def test_a_year_runs_from_january_to_december(self):
        assert period_span(Y, d(1, 1)) == span(d(1, 1), d(12, 31))
        assert period_span(Y, d(1, 1)).days == 365
        assert period_span(Y, d(1, 1, 2024)).days == 366

    def test_quarters_start_in_january_april_july_and_october(self):
        assert period_span(Q, d(4, 1)) == span(d(4, 1), d(6, 30))
        assert period_span(Q, d(10, 1)) == span(d(10, 1), d(12, 31))
        assert [period_span(Q, d(m, 1)).days for m in (1, 4, 7, 10)] == [90, 91, 92, 92]

    def test_february_has_29_days_in_a_leap_year_and_28_otherwise(self):
        assert period_span(M, d(2, 1, 2024)) == span(d(2, 1, 2024), d(2, 29, 2024))
        assert period_span(M, d(2, 1)).end == d(2, 28)

    def test_a_week_runs_from_monday_to_sunday(self):
        assert period_span(W, d(7, 6)) == span(d(7, 6), d(7, 12))
        assert period_span(W, d(12, 28)) == span(d(12, 28), d(1, 3, 2027))  # ISO week 53

    def test_a_day_is_itself(self):
        assert period_span(D, d(7, 4)) == span(d(7, 4), d(7, 4))

    def test_the_kind_may_be_given_as_its_name(self):
        assert period_span(PeriodKind("month"), d(7, 1)) == JULY_2026

    @pytest.mark.parametrize(
        ("kind", "start", "words"),
        [
            (Y, d(1, 2), "1 January"),
            (Q, d(2, 1), "October"),
            (Q, d(4, 2), "October"),
            (M, d(7, 2), "1st of a month"),
            (W, d(7, 7), "Monday"),
        ],
    )
    def test_a_start_that_begins_no_such_period_is_refused(self, kind, start, words):
        with pytest.raises(ValueError, match=words):
            period_span(kind, start)

    def test_the_period_of_a_day_is_the_one_holding_it(self):
        assert period_of(Q, d(8, 15)) == period_span(Q, d(7, 1))
        assert period_of(W, d(1, 1)) == span(d(12, 29, 2025), d(1, 4))


class TestAPeriodSplitsIntoFinerPeriods:
    year = period_span(Y, d(1, 1))

    def test_2026_splits_into_its_four_quarters(self):
        assert children(self.year, Y, Q) == [
            span(d(1, 1), d(3, 31)),
            span(d(4, 1), d(6, 30)),
            span(d(7, 1), d(9, 30)),
            span(d(10, 1), d(12, 31)),
        ]

    def test_2026_splits_into_twelve_months_ending_on_their_last_days(self):
        months = children(self.year, Y, M)
        assert [m.start for m in months] == [d(m, 1) for m in range(1, 13)]
        assert [m.days for m in months] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    def test_2026_splits_into_51_whole_weeks_between_two_partial_ones(self):
        weeks = children(self.year, Y, W)
        assert len(weeks) == 53
        assert weeks[0] == span(d(1, 1), d(1, 4))  # Thursday to Sunday
        assert weeks[1] == span(d(1, 5), d(1, 11))
        assert weeks[-1] == span(d(12, 28), d(12, 31))  # Monday to Thursday, clipped
        assert all(w.days == 7 and w.start.weekday() == 0 for w in weeks[1:-1])

    def test_a_month_split_into_weeks_starts_and_ends_with_partial_weeks(self):
        weeks = children(JULY_2026, M, W)
        assert [(w.start.day, w.end.day) for w in weeks] == [
            (1, 5),
            (6, 12),
            (13, 19),
            (20, 26),
            (27, 31),
        ]

    def test_a_quarter_splits_into_weeks_clipped_at_both_ends(self):
        weeks = children(period_span(Q, d(1, 1)), Q, W)
        assert len(weeks) == 14
        assert (weeks[0], weeks[-1]) == (span(d(1, 1), d(1, 4)), span(d(3, 30), d(3, 31)))

    def test_a_leap_february_splits_into_29_days(self):
        days = children(period_span(M, d(2, 1, 2024)), M, D)
        assert len(days) == 29
        assert days[-1] == span(d(2, 29, 2024), d(2, 29, 2024))
        assert len(children(period_span(Y, d(1, 1, 2024)), Y, D)) == 366

    def test_a_week_splits_into_seven_days_and_a_clipped_week_into_fewer(self):
        assert len(children(period_span(W, d(7, 6)), W, D)) == 7
        assert children(span(d(7, 27), d(7, 31)), W, D)[-1] == span(d(7, 31), d(7, 31))

    @pytest.mark.parametrize(
        ("kind", "into"), [(M, Q), (W, M), (D, D), (Y, Y), (Q, Q), (M, M), (W, W), (D, W)]
    )
    def test_only_finer_kinds_are_allowed(self, kind, into):
        with pytest.raises(ValueError, match="splits into"):
            children(period_of(kind, d(7, 1)), kind, into)

    def test_a_parent_must_lie_within_one_period_of_its_kind(self):
        with pytest.raises(ValueError, match="not within one month"):
            children(span(d(7, 15), d(8, 14)), M, D)


class TestACalendarSaysWhichDaysAreWorked:
    def test_july_2026_has_23_weekdays(self):
        assert Calendar().working_days(JULY_2026) == 23

    def test_2026_has_261_weekdays(self):
        assert Calendar().working_days(period_span(Y, d(1, 1))) == 261

    def test_a_holiday_on_a_weekday_is_not_worked(self):
        calendar = Calendar(holidays=frozenset({d(7, 14)}))
        assert not calendar.is_working(d(7, 14))
        assert calendar.working_days(JULY_2026) == 22

    def test_a_make_up_workday_on_a_saturday_is_worked(self):
        calendar = Calendar(holidays=frozenset({d(7, 14)}), workdays=frozenset({d(7, 11)}))
        assert calendar.is_working(d(7, 11))
        assert not calendar.is_working(d(7, 12))
        assert calendar.working_days(JULY_2026) == 23

    def test_a_holiday_on_a_weekend_changes_nothing(self):
        assert Calendar(holidays=frozenset({d(7, 4)})).working_days(JULY_2026) == 23

    def test_a_holiday_wins_over_a_make_up_workday_on_the_same_day(self):
        calendar = Calendar(holidays=frozenset({d(7, 11)}), workdays=frozenset({d(7, 11)}))
        assert not calendar.is_working(d(7, 11))
        assert calendar.working_days(JULY_2026) == 23

    def test_another_weekend_counts_other_days(self):
        # Friday and Saturday off: five Fridays and four Saturdays in July 2026
        assert Calendar(weekend=frozenset({4, 5})).working_days(JULY_2026) == 22
        assert Calendar(weekend=frozenset()).working_days(JULY_2026) == 31

    def test_working_days_between_counts_both_ends(self):
        calendar = Calendar()
        assert calendar.working_days_between(d(7, 1), d(7, 10)) == 8
        assert calendar.working_days_between(d(7, 4), d(7, 5)) == 0
        assert calendar.working_days_between(d(7, 10), d(7, 1)) == 0

    def test_a_weekend_day_must_be_a_weekday_number(self):
        with pytest.raises(ValueError, match="weekend"):
            Calendar(weekend=frozenset({7}))


class TestCheckpointsFallOnTheTenthTwentiethAndMonthEnds:
    @pytest.mark.parametrize(
        ("today", "expected"),
        [
            (d(6, 15), d(7, 10)),  # before the span: its first checkpoint
            (d(7, 1), d(7, 10)),
            (d(7, 10), d(7, 10)),  # on the day itself
            (d(7, 11), d(7, 20)),
            (d(7, 21), d(7, 31)),  # the month's last day
            (d(7, 31), d(7, 31)),
            (d(8, 1), None),  # after the span
        ],
    )
    def test_the_next_checkpoint_of_july(self, today, expected):
        assert checkpoints(JULY_2026, today) == expected

    def test_a_quarter_has_checkpoints_in_every_month(self):
        q3 = period_span(Q, d(7, 1))
        assert checkpoints(q3, d(8, 1)) == d(8, 10)
        assert checkpoints(q3, d(8, 21)) == d(8, 31)
        assert checkpoints(q3, d(9, 21)) == d(9, 30)

    def test_february_ends_on_its_last_day(self):
        assert checkpoints(period_span(M, d(2, 1)), d(2, 21)) == d(2, 28)
        assert checkpoints(period_span(M, d(2, 1, 2024)), d(2, 21, 2024)) == d(2, 29, 2024)

    def test_the_end_of_a_clipped_span_is_a_checkpoint(self):
        assert checkpoints(span(d(7, 1), d(7, 15)), d(7, 11)) == d(7, 15)
        assert checkpoints(span(d(7, 27), d(7, 31)), d(7, 27)) == d(7, 31)

    def test_other_days_of_the_month_may_be_chosen(self):
        assert checkpoints(JULY_2026, d(7, 1), days=(15,)) == d(7, 15)
        assert checkpoints(JULY_2026, d(7, 1), days=()) == d(7, 31)
        assert checkpoints(period_span(M, d(2, 1)), d(2, 21), days=(10, 30)) == d(2, 28)

    def test_a_checkpoint_day_must_be_a_day_of_a_month(self):
        with pytest.raises(ValueError, match="days"):
            checkpoints(JULY_2026, d(7, 1), days=(0,))


# --------------------------------------------------------------------------- laws

KINDS = (Y, Q, M, W)
DATES = st.dates(date(1900, 1, 1), date(2100, 12, 31))
NEAR = st.dates(date(2025, 1, 1), date(2027, 12, 31))
CALENDARS = st.builds(
    Calendar,
    weekend=st.frozensets(st.integers(0, 6), max_size=7),
    holidays=st.frozensets(NEAR, max_size=40),
    workdays=st.frozensets(NEAR, max_size=20),
)


@st.composite
def parents(draw: st.DrawFn) -> tuple[Span, PeriodKind, PeriodKind]:
    kind = draw(st.sampled_from(KINDS))
    into = draw(st.sampled_from(FINER[kind]))
    return period_of(kind, draw(DATES)), kind, into


class TestLaws:
    @LAW
    @given(parents())
    def test_children_partition_their_parent_exactly(self, case):
        parent, kind, into = case
        parts = children(parent, kind, into)
        assert parts[0].start == parent.start
        assert parts[-1].end == parent.end
        assert all(b.start == a.end + timedelta(days=1) for a, b in pairwise(parts))
        assert sum(p.days for p in parts) == parent.days
        for part in parts:  # each is a whole period of `into`, or one clipped by the parent
            whole = period_of(into, part.start)
            assert whole.contains(part.end)
            assert part.start == whole.start or part.start == parent.start
            assert part.end == whole.end or part.end == parent.end

    @LAW
    @given(CALENDARS, NEAR, st.integers(0, 400))
    def test_working_days_count_the_days_that_are_worked(self, calendar, start, length):
        period = Span(start, start + timedelta(days=length))
        assert calendar.working_days(period) == sum(map(calendar.is_working, period.dates()))

    @LAW
    @given(parents(), DATES)
    def test_a_checkpoint_is_the_first_checkpoint_day_not_before_today(self, case, today):
        parent = case[0]
        found = checkpoints(parent, today)
        if today > parent.end:
            assert found is None
            return
        assert found is not None
        assert parent.contains(found)
        assert found >= today

        def is_checkpoint(day: date) -> bool:
            return day.day in (10, 20) or day == parent.end or (day + timedelta(1)).day == 1

        assert is_checkpoint(found)
        first = max(today, parent.start)
        assert not any(is_checkpoint(day) for day in Span(first, found).dates() if day < found)
