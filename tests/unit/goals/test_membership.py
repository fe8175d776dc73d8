"""The roster's rules as pure functions: the entry in force on a day is the latest effective by
then (the latest recorded among those of its day), whatever order the entries come in; the
periods of membership agree with the state on every day; an entry the rules call unchanged
changes no day's state; and a roster CSV is read into entries or refused row by row."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals.exceptions import RosterFileRefused, RosterTooLong
from services.goals.membership import (
    Membership,
    RepEntry,
    RepStatus,
    TeamEntry,
    TeamStatus,
    history,
    may_join,
    periods,
    sees_team,
    state_on,
    superseded,
    timeline,
    unchanged,
)
from services.goals.roster_csv import MAX_ROWS, read_roster

START = date(2026, 1, 1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(
    day: int,
    team: str = "t1",
    status: RepStatus = RepStatus.ACTIVE,
    recorded: int | None = 0,
    seq: int = 0,
    manager: str | None = None,
) -> RepEntry:
    """An entry of rep r effective `day` days after 1 Jan 2026, recorded `recorded` hours
    after T0 (None: not stored yet)."""
    return RepEntry(
        rep_id="r",
        effective_from=START + timedelta(days=day),
        team_id=team,
        manager_id=manager,
        status=status,
        recorded_by="boss",
        recorded_at=None if recorded is None else T0 + timedelta(hours=recorded),
        seq=seq,
    )


entries = st.lists(
    st.builds(
        entry,
        day=st.integers(0, 60),
        team=st.sampled_from(["t1", "t2", "t3"]),
        status=st.sampled_from(list(RepStatus)),
        recorded=st.one_of(st.none(), st.integers(0, 50)),
        manager=st.sampled_from([None, "m1"]),
    ),
    max_size=12,
).map(lambda es: [replace(e, seq=i) for i, e in enumerate(es)])
days = st.integers(-5, 70).map(lambda n: START + timedelta(days=n))


def _later(a: RepEntry, b: RepEntry) -> bool:
    """Whether `a` was recorded after `b` (not stored yet: after everything stored)."""
    if (a.recorded_at is None) != (b.recorded_at is None):
        return a.recorded_at is None
    if a.recorded_at is not None and b.recorded_at is not None and a.recorded_at != b.recorded_at:
        return a.recorded_at > b.recorded_at
    return a.seq > b.seq


class TestTheStateOnADay:
    def test_is_the_latest_effective_then_the_latest_recorded(self) -> None:
        move = [entry(0, "t1"), entry(14, "t2"), entry(14, "t3", recorded=5)]
        assert state_on(move, START + timedelta(days=13)) == move[0]
        assert state_on(move, START + timedelta(days=14)) == move[2]
        assert state_on(move, START - timedelta(days=1)) is None

    def test_an_entry_not_stored_yet_comes_after_the_stored_ones(self) -> None:
        stored, pending = entry(3, "t1", recorded=99), entry(3, "t2", recorded=None)
        assert state_on([pending, stored], START + timedelta(days=3)) == pending

    @given(entries, days)
    def test_no_entry_in_force_by_then_is_later(self, es: list[RepEntry], day: date) -> None:
        held = state_on(es, day)
        candidates = [e for e in es if e.effective_from <= day]
        assert (held is None) == (not candidates)
        if held is not None:
            assert held.effective_from <= day
            for other in candidates:
                assert other.effective_from < held.effective_from or (
                    other.effective_from == held.effective_from
                    and (other is held or _later(held, other))
                )

    @given(entries, days, st.randoms(use_true_random=False))
    def test_does_not_depend_on_the_entries_order(
        self, es: list[RepEntry], day: date, rnd: random.Random
    ) -> None:
        shuffled = list(es)
        rnd.shuffle(shuffled)
        assert state_on(shuffled, day) == state_on(es, day)

    @given(entries, days)
    def test_an_entry_effective_later_changes_nothing_before_it(
        self, es: list[RepEntry], day: date
    ) -> None:
        later = entry((day - START).days + 1, "t9", recorded=None, seq=999)
        assert state_on([*es, later], day) == state_on(es, day)


class TestTheHistory:
    @given(entries)
    def test_is_every_entry_newest_first(self, es: list[RepEntry]) -> None:
        newest = history(es)
        assert sorted(map(id, newest)) == sorted(map(id, es))
        for a, b in pairwise(newest):
            assert a.effective_from > b.effective_from or (
                a.effective_from == b.effective_from and _later(a, b)
            )

    @given(entries)
    def test_marks_superseded_all_but_the_last_record_of_each_day(self, es: list[RepEntry]) -> None:
        newest = history(es)
        gone = superseded(newest)
        in_force = [e for i, e in enumerate(newest) if i not in gone]
        assert in_force == list(reversed(timeline(es)))
        assert len({e.effective_from for e in in_force}) == len(in_force)


class TestThePeriods:
    def test_a_move_mid_month_ends_one_period_the_day_before(self) -> None:
        es = [entry(59, "t1"), entry(74, "t2"), entry(90, "t2", RepStatus.LEFT)]
        assert periods(es) == [
            Membership("t1", date(2026, 3, 1), date(2026, 3, 15)),
            Membership("t2", date(2026, 3, 16), date(2026, 3, 31)),
        ]

    def test_a_new_manager_does_not_split_a_period(self) -> None:
        es = [entry(0, "t1"), entry(10, "t1", manager="m2")]
        assert periods(es) == [Membership("t1", START, None)]

    @given(entries)
    def test_agree_with_the_state_on_every_day(self, es: list[RepEntry]) -> None:
        found = periods(es)
        for a, b in pairwise(found):
            assert a.end is not None
            assert a.end < b.start
        for n in range(-2, 75):
            day = START + timedelta(days=n)
            held = state_on(es, day)
            inside = [p for p in found if p.start <= day and (p.end is None or day <= p.end)]
            if held is not None and held.status is RepStatus.ACTIVE:
                assert [p.team_id for p in inside] == [held.team_id], (day, found)
            else:
                assert inside == [], (day, found)


class TestUnchanged:
    @given(entries, st.builds(entry, day=st.integers(0, 60), team=st.sampled_from(["t1", "t2"])))
    def test_an_unchanged_entry_changes_no_days_state(
        self, es: list[RepEntry], new: RepEntry
    ) -> None:
        new = replace(new, recorded_at=None, seq=1000)
        if not unchanged(es, new):
            return
        for n in range(-2, 75):
            day = START + timedelta(days=n)
            before, after = state_on(es, day), state_on([*es, new], day)
            assert (before.state if before else None) == (after.state if after else None)

    def test_the_same_team_from_a_later_day_is_unchanged_a_new_manager_is_not(self) -> None:
        es = [entry(0, "t1")]
        assert unchanged(es, entry(10, "t1", recorded=None))
        assert not unchanged(es, entry(10, "t1", recorded=None, manager="m2"))
        assert not unchanged([], entry(0, "t1"))


def team(status: TeamStatus, manager: str | None = None) -> TeamEntry:
    return TeamEntry("t1", START, "North", manager, status, "boss", T0)


class TestWhoGoesWhere:
    def test_a_rep_joins_no_closed_team_but_may_leave_it(self) -> None:
        assert not may_join(team(TeamStatus.CLOSED), entry(0))
        assert may_join(team(TeamStatus.CLOSED), entry(0, status=RepStatus.LEFT))
        assert may_join(team(TeamStatus.ACTIVE), entry(0))
        assert may_join(None, entry(0))

    def test_a_manager_sees_their_token_team_unless_the_roster_names_another(self) -> None:
        assert sees_team("t1", "m1", "t1", None)
        assert sees_team("t1", "m1", "t1", team(TeamStatus.ACTIVE, "m1"))
        assert not sees_team("t1", "m1", "t1", team(TeamStatus.ACTIVE, "m9"))
        assert not sees_team("t1", "m1", "t2", None)


class TestTheCsv:
    def test_reads_rows_in_order_with_optional_columns(self) -> None:
        raw = b"team_id,rep_id,from,reason\nt1,anna,2026-03-01,hired\nt2, ben ,2026-03-02,\n"
        rows, errors = read_roster(raw)
        assert errors == []
        assert [(r.index, r.line, r.rep_id, r.entry.team_id) for r in rows] == [
            (0, 2, "anna", "t1"),
            (1, 3, "ben", "t2"),
        ]
        assert (rows[0].entry.reason, rows[1].entry.reason) == ("hired", None)
        assert rows[1].entry.status == "active"

    def test_names_each_bad_row(self) -> None:
        raw = b"rep_id,team_id,from\n,t1,2026-03-01\nanna,t1,March\nanna,t1,2026-03-01\n"
        rows, errors = read_roster(raw)
        assert [r.index for r in rows] == [2]
        assert [e.field for e in errors] == ["rows[0].rep_id", "rows[1].from"]
        assert errors[0].code == "string_pattern"
        assert errors[1].message.startswith("line 3: ")

    def test_a_rep_has_one_row_a_day(self) -> None:
        raw = b"rep_id,team_id,from\nanna,t1,2026-03-01\nanna,t2,2026-03-01\n"
        _, errors = read_roster(raw)
        assert [e.field for e in errors] == ["rows[1].from"]
        assert "rows[0]" in errors[0].message

    @pytest.mark.parametrize(
        "raw", [b"", b"\n\n", b"rep_id,team_id\n", b"rep_id,team_id,from,x\n", b"\xff\xfe"]
    )
    def test_a_file_without_a_good_header_is_refused(self, raw: bytes) -> None:
        with pytest.raises(RosterFileRefused):
            read_roster(raw)

    def test_more_rows_than_the_cap_are_refused(self) -> None:
        raw = b"rep_id,team_id,from\n" + b"r,t,2026-01-01\n" * (MAX_ROWS + 1)
        with pytest.raises(RosterTooLong):
            read_roster(raw)
