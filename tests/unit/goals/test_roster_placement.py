"""The roster's answer to "where does this rep work on day D", as goals asks it for access:
the team of the entry in force on D (`left` included: the team left), None before any entry
takes effect (then the rep's history decides, placement.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.goals.membership import RepEntry, RepStatus, roster_team, state_on

START = date(2026, 3, 1)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def entry(day: int, team: str, status: RepStatus = RepStatus.ACTIVE, recorded: int = 0) -> RepEntry:
    return RepEntry(
        rep_id="r",
        effective_from=START + timedelta(days=day),
        team_id=team,
        manager_id=None,
        status=status,
        recorded_by="boss",
        recorded_at=T0 + timedelta(hours=recorded),
    )


class TestARepMovedMidMonth:
    roster = (entry(0, "north"), entry(14, "south"))

    def test_works_in_the_old_team_up_to_the_day_before_the_move(self) -> None:
        assert roster_team(self.roster, date(2026, 3, 14)) == "north"

    def test_works_in_the_new_team_from_the_day_of_the_move(self) -> None:
        assert roster_team(self.roster, date(2026, 3, 15)) == "south"
        assert roster_team(self.roster, date(2026, 12, 31)) == "south"

    def test_is_unknown_to_the_roster_before_the_first_entry(self) -> None:
        assert roster_team(self.roster, date(2026, 2, 28)) is None
        assert roster_team((), date(2026, 3, 15)) is None


class TestARepWhoLeft:
    def test_stays_with_the_team_they_left(self) -> None:
        roster = (entry(0, "north"), entry(10, "north", RepStatus.LEFT))
        assert roster_team(roster, date(2026, 3, 20)) == "north"


class TestACorrection:
    def test_the_entry_recorded_last_for_a_day_decides(self) -> None:
        roster = (entry(14, "south", recorded=1), entry(14, "east", recorded=2))
        assert roster_team(roster, date(2026, 3, 15)) == "east"


@given(
    st.lists(
        st.builds(
            entry,
            day=st.integers(0, 40),
            team=st.sampled_from(["north", "south", "east"]),
            status=st.sampled_from(list(RepStatus)),
            recorded=st.integers(0, 30),
        ),
        max_size=10,
    ),
    st.integers(-5, 45),
)
def test_the_team_is_that_of_the_entry_in_force(entries: list[RepEntry], offset: int) -> None:
    day = START + timedelta(days=offset)
    held = state_on(entries, day)
    assert roster_team(entries, day) == (held.team_id if held else None)
