"""Which local day, week, month, quarter and year an event counts in, and the periods and
buckets of `domain` themselves."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.domain import (
    MAX_BUCKETS,
    Bucket,
    Period,
    buckets,
    period_end,
    period_start,
)
from shared.errors import InvalidInput
from tests.unit.scoring.helpers import (
    BERLIN,
    UTC_ZONE,
    Log,
    by_day,
    facts_of,
    fold_log,
    report,
    total,
)


def visits_at(*times: str) -> Log:
    log = Log()
    for at in times:
        log.visit("account-acc-1", at)
    return log


async def visit_counts(log: Log, period: Period, first: date, last: date) -> list[tuple]:
    rows = await report(log, ["visits"], first, last, period=period)
    return [(r["start"], r["metrics"]["visits"]["value"]) for r in rows]


# --------------------------------------------------------------------------- local days


class TestTheLocalDayOfAnEvent:
    LATE_JULY = "2026-07-31T21:30:00Z"  # 23:30 in Berlin, still 31 July
    EARLY_AUGUST = "2026-07-31T22:30:00Z"  # 00:30 in Berlin, already 1 August

    def test_is_taken_in_the_org_s_time_zone(self):
        log = visits_at(self.LATE_JULY, self.EARLY_AUGUST)
        assert by_day(facts_of(log, BERLIN), "visits") == {
            date(2026, 7, 31): 1,
            date(2026, 8, 1): 1,
        }
        assert by_day(facts_of(log, UTC_ZONE), "visits") == {date(2026, 7, 31): 2}

    async def test_23_30_local_on_31_july_counts_in_july_and_00_30_on_1_august_in_august(self):
        log = visits_at(self.LATE_JULY, self.EARLY_AUGUST)
        assert await visit_counts(log, Period.MONTH, date(2026, 7, 1), date(2026, 8, 31)) == [
            ("2026-07-01", 1),
            ("2026-08-01", 1),
        ]
        months = {
            k[1]: v for k, v in fold_log(log).rollups.items() if k[0] == "m" and k[2] == "org"
        }
        assert months == {date(2026, 7, 1): 1, date(2026, 8, 1): 1}

    def test_does_not_depend_on_the_offset_the_event_was_written_with(self):
        same_instant = (
            "2026-08-01T00:30:00+02:00",
            "2026-07-31T22:30:00+00:00",
            "2026-07-31T18:30:00-04:00",
            "2026-08-01T06:30:00+08:00",
        )
        assert by_day(facts_of(visits_at(*same_instant)), "visits") == {date(2026, 8, 1): 4}

    def test_a_win_is_dated_on_its_local_day_too(self):
        log = Log()
        log.deal_opened("D1", "2026-07-01T10:00:00+02:00")
        log.deal_won("D1", self.EARLY_AUGUST)
        assert [w.day for w in fold_log(log).wins] == [date(2026, 8, 1)]
        assert [w.day for w in fold_log(log, UTC_ZONE).wins] == [date(2026, 7, 31)]

    def test_a_follow_up_is_dated_on_the_local_day_of_the_win(self):
        log = Log()
        log.deal_opened("D1", "2026-07-01T10:00:00+02:00")
        log.deal_won("D1", self.EARLY_AUGUST)
        log.visit("account-acc-1", "2026-08-02T10:00:00+02:00")
        assert by_day(facts_of(log), "followed_up_72h") == {date(2026, 8, 1): 1}


class TestWeekBuckets:
    async def test_start_on_monday_in_local_time(self):
        log = visits_at(
            "2026-07-05T21:30:00Z",  # Sunday 23:30 in Berlin
            "2026-07-05T22:30:00Z",  # Monday 00:30 in Berlin
        )
        assert await visit_counts(log, Period.WEEK, date(2026, 7, 1), date(2026, 7, 12)) == [
            ("2026-06-29", 1),
            ("2026-07-06", 1),
        ]

    async def test_cover_whole_weeks_and_cross_the_new_year(self):
        log = visits_at("2027-01-01T12:00:00+01:00", "2026-12-27T12:00:00+01:00")
        rows = await report(
            log, ["visits"], date(2026, 12, 25), date(2027, 1, 4), period=Period.WEEK
        )
        assert [(r["start"], r["end"], r["metrics"]["visits"]["value"]) for r in rows] == [
            ("2026-12-21", "2026-12-27", 1),
            ("2026-12-28", "2027-01-03", 1),
            ("2027-01-04", "2027-01-10", 0),
        ]


class TestQuarterAndYearBuckets:
    async def test_a_quarter_begins_at_local_midnight(self):
        log = visits_at(
            "2026-06-30T21:30:00Z",  # 23:30 on 30 June: Q2
            "2026-06-30T22:30:00Z",  # 00:30 on 1 July: Q3
            "2026-09-30T21:59:59Z",  # 23:59:59 on 30 September: Q3
        )
        assert await visit_counts(log, Period.QUARTER, date(2026, 4, 1), date(2026, 12, 31)) == [
            ("2026-04-01", 1),
            ("2026-07-01", 2),
            ("2026-10-01", 0),
        ]

    async def test_a_year_begins_at_local_midnight_in_winter_time(self):
        log = visits_at(
            "2026-12-31T22:30:00Z",  # 23:30 on 31 December (+01:00)
            "2026-12-31T23:30:00Z",  # 00:30 on 1 January
        )
        assert await visit_counts(log, Period.YEAR, date(2026, 1, 1), date(2027, 12, 31)) == [
            ("2026-01-01", 1),
            ("2027-01-01", 1),
        ]


class TestDaylightSavingDays:
    def test_the_short_spring_day_has_its_own_local_midnights(self):
        log = visits_at(
            "2026-03-28T22:30:00Z",  # 23:30 +01:00 on 28 March
            "2026-03-28T23:30:00Z",  # 00:30 +01:00 on 29 March
            "2026-03-29T00:59:59Z",  # 01:59:59 +01:00, just before the clocks jump
            "2026-03-29T01:00:00Z",  # 03:00 +02:00
            "2026-03-29T21:30:00Z",  # 23:30 +02:00 on 29 March
            "2026-03-29T22:30:00Z",  # 00:30 +02:00 on 30 March
        )
        assert by_day(facts_of(log), "visits") == {
            date(2026, 3, 28): 1,
            date(2026, 3, 29): 4,
            date(2026, 3, 30): 1,
        }

    def test_the_long_autumn_day_counts_its_repeated_hour_once_each(self):
        log = visits_at(
            "2026-10-24T22:30:00Z",  # 00:30 +02:00 on 25 October
            "2026-10-25T00:30:00Z",  # 02:30 +02:00
            "2026-10-25T01:30:00Z",  # 02:30 +01:00, the same wall clock an hour later
            "2026-10-25T22:30:00Z",  # 23:30 +01:00 on 25 October
            "2026-10-25T23:30:00Z",  # 00:30 +01:00 on 26 October
        )
        assert by_day(facts_of(log), "visits") == {date(2026, 10, 25): 4, date(2026, 10, 26): 1}

    def test_durations_are_elapsed_time_not_calendar_days(self):
        log = Log()
        log.lead_created("L1", "2026-03-28T12:00:00+01:00")
        log.lead_qualified("L1", "2026-03-29T12:00:00+02:00")  # a calendar day, 23 hours
        assert total(facts_of(log), "lead_to_opportunity_seconds") == 23 * 3600

    @pytest.mark.parametrize(
        ("touch", "counts"),
        [
            ("2026-03-30T13:00:00+02:00", True),  # 72 h after 12:00 +01:00 on 27 March
            ("2026-03-30T13:00:01+02:00", False),
            ("2026-03-30T12:00:00+02:00", True),  # the same wall clock: 71 h
        ],
    )
    def test_the_follow_up_window_is_72_elapsed_hours_across_the_change(self, touch, counts):
        log = Log()
        log.deal_opened("D1", "2026-03-20T12:00:00+01:00")
        log.deal_won("D1", "2026-03-27T12:00:00+01:00")
        log.call("account-acc-1", touch)
        assert total(facts_of(log), "followed_up_72h") == (1 if counts else 0)


# --------------------------------------------------------------------------- periods


class TestPeriodStart:
    @pytest.mark.parametrize(
        ("period", "day", "start"),
        [
            (Period.DAY, date(2026, 7, 15), date(2026, 7, 15)),
            (Period.WEEK, date(2026, 7, 15), date(2026, 7, 13)),  # a Wednesday → Monday
            (Period.WEEK, date(2026, 7, 13), date(2026, 7, 13)),  # a Monday is its own start
            (Period.WEEK, date(2026, 7, 19), date(2026, 7, 13)),  # a Sunday is the last day
            (Period.WEEK, date(2027, 1, 1), date(2026, 12, 28)),
            (Period.MONTH, date(2024, 2, 29), date(2024, 2, 1)),
            (Period.QUARTER, date(2026, 3, 31), date(2026, 1, 1)),
            (Period.QUARTER, date(2026, 4, 1), date(2026, 4, 1)),
            (Period.QUARTER, date(2026, 8, 15), date(2026, 7, 1)),
            (Period.QUARTER, date(2026, 12, 31), date(2026, 10, 1)),
            (Period.YEAR, date(2026, 12, 31), date(2026, 1, 1)),
        ],
    )
    def test_is_the_first_day_of_the_period_holding_the_day(self, period, day, start):
        assert period_start(period, day) == start


class TestPeriodEnd:
    @pytest.mark.parametrize(
        ("year", "last"),
        [(2024, 29), (2026, 28), (2000, 29), (2100, 28)],
    )
    def test_february_ends_on_the_29th_in_leap_years_only(self, year, last):
        assert period_end(Period.MONTH, date(year, 2, 1)) == date(year, 2, last)

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (date(2026, 1, 1), date(2026, 3, 31)),
            (date(2026, 4, 1), date(2026, 6, 30)),
            (date(2026, 7, 1), date(2026, 9, 30)),
            (date(2026, 10, 1), date(2026, 12, 31)),
        ],
    )
    def test_a_quarter_ends_on_the_last_day_of_its_third_month(self, start, end):
        assert period_end(Period.QUARTER, start) == end

    def test_other_periods_end_on_their_last_day(self):
        assert period_end(Period.DAY, date(2026, 7, 15)) == date(2026, 7, 15)
        assert period_end(Period.WEEK, date(2026, 7, 13)) == date(2026, 7, 19)
        assert period_end(Period.MONTH, date(2026, 4, 1)) == date(2026, 4, 30)
        assert period_end(Period.MONTH, date(2026, 12, 1)) == date(2026, 12, 31)
        assert period_end(Period.YEAR, date(2024, 1, 1)) == date(2024, 12, 31)

    def test_day_and_week_periods_read_day_rows_and_the_others_month_rows(self):
        assert {p: p.grain for p in Period} == {
            Period.DAY: "d",
            Period.WEEK: "d",
            Period.MONTH: "m",
            Period.QUARTER: "m",
            Period.YEAR: "m",
        }


class TestBuckets:
    def test_are_the_whole_periods_overlapping_the_range(self):
        assert buckets(Period.MONTH, date(2024, 1, 15), date(2024, 3, 3)) == [
            Bucket(date(2024, 1, 1), date(2024, 1, 31)),
            Bucket(date(2024, 2, 1), date(2024, 2, 29)),
            Bucket(date(2024, 3, 1), date(2024, 3, 31)),
        ]
        assert buckets(Period.QUARTER, date(2026, 2, 10), date(2026, 11, 1)) == [
            Bucket(date(2026, 1, 1), date(2026, 3, 31)),
            Bucket(date(2026, 4, 1), date(2026, 6, 30)),
            Bucket(date(2026, 7, 1), date(2026, 9, 30)),
            Bucket(date(2026, 10, 1), date(2026, 12, 31)),
        ]
        assert buckets(Period.DAY, date(2026, 7, 1), date(2026, 7, 1)) == [
            Bucket(date(2026, 7, 1), date(2026, 7, 1))
        ]

    def test_reject_a_range_that_ends_before_it_starts_naming_to(self):
        with pytest.raises(InvalidInput) as caught:
            buckets(Period.DAY, date(2026, 7, 2), date(2026, 7, 1))
        [error] = caught.value.errors
        assert (error.field, error.location) == ("to", "query")

    @pytest.mark.parametrize("period", [Period.DAY, Period.WEEK, Period.MONTH])
    def test_allow_a_thousand_buckets_and_reject_more_naming_to(self, period):
        first = date(2000, 1, 3)  # a Monday
        start = period_start(period, first)
        for _ in range(MAX_BUCKETS - 1):
            start = period_end(period, start) + timedelta(days=1)
        last = period_end(period, start)  # the last day of the thousandth bucket
        assert len(buckets(period, first, last)) == MAX_BUCKETS
        with pytest.raises(InvalidInput) as caught:
            buckets(period, first, last + timedelta(days=1))
        [error] = caught.value.errors
        assert (error.field, error.location) == ("to", "query")
        assert str(MAX_BUCKETS) in caught.value.detail

    @settings(max_examples=200, deadline=None)
    @given(
        period=st.sampled_from(list(Period)),
        first=st.dates(date(1999, 1, 1), date(2101, 12, 31)),
        days=st.integers(0, 900),
    )
    def test_tile_the_range_without_gaps_or_overlaps(self, period, first, days):
        last = first + timedelta(days=days)
        out = buckets(period, first, last)
        assert out[0].start <= first <= out[0].end
        assert out[-1].start <= last <= out[-1].end
        for bucket in out:
            assert period_start(period, bucket.start) == bucket.start
            assert period_start(period, bucket.end) == bucket.start
            assert period_start(period, bucket.end + timedelta(days=1)) == bucket.end + timedelta(1)
        for before, after in pairwise(out):
            assert after.start == before.end + timedelta(days=1)
