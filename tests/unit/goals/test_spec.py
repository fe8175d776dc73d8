"""The goal spec and the parts of a decomposition, as pure functions: a stored body reads
back unchanged, a patch keeps floor ≤ target ≤ stretch in proportion, and the parts of any
split sum exactly to the goal."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.calendar import Calendar, PeriodKind, Span
from services.goals.domain import Owner
from services.goals.exceptions import InvalidField
from services.goals.parts import decomposed, parts, planned
from services.goals.schemas import DecomposeIn
from services.goals.spec import Decomposition, GoalSpec, patched

GOAL_ID = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
YEAR = Span(date(2026, 1, 1), date(2026, 12, 31))


def revenue(target: str = "1000000.00", **changes: object) -> GoalSpec:
    spec = GoalSpec(
        owner=Owner("team", "north"),
        team_id="north",
        metric="revenue_won",
        period=PeriodKind.YEAR,
        span=YEAR,
        target=Decimal(target),
        floor=Decimal(target) * Decimal("0.9"),
        stretch=Decimal(target) * Decimal("1.1"),
        currency="EUR",
    )
    return spec.replace(**changes)


money = st.decimals(min_value=0, max_value=Decimal("1e12"), places=2)


class TestTheStoredBody:
    def test_reads_back_what_it_wrote(self) -> None:
        spec = revenue(
            tier="A",
            note="FY26",
            parent_id=GOAL_ID,
            decomposition=Decomposition("time", PeriodKind.MONTH, "even", (GOAL_ID,)),
        )
        body = spec.to_body()
        assert GoalSpec.from_body(body) == spec
        assert body["start"] == "2026-01-01"
        assert body["end"] == "2026-12-31"
        assert body["target"] == "1000000.00"
        assert body["decomposition"] == {
            "by": "time",
            "into": "month",
            "strategy": "even",
            "children": [str(GOAL_ID)],
        }

    def test_an_older_body_without_the_defaults_reads_as_them(self) -> None:
        body = revenue().to_body()
        for key in ("archived", "decomposition", "parent_id", "note", "tier", "channel"):
            del body[key]
        assert GoalSpec.from_body(body) == revenue()

    @given(target=money)
    def test_any_target_keeps_its_decimals(self, target: Decimal) -> None:
        spec = revenue(str(target))
        assert GoalSpec.from_body(spec.to_body()).to_body() == spec.to_body()


class TestAPatch:
    def test_a_new_target_keeps_floor_and_stretch_in_proportion(self) -> None:
        after = patched(
            revenue("1000.00", floor=Decimal("900.00"), stretch=Decimal("1100.00")),
            {"target": "2000.00"},
        )
        assert after.bounds == (Decimal("2000.00"), Decimal("1800.00"), Decimal("2200.00"))

    def test_one_bound_given_keeps_the_other(self) -> None:
        before = revenue("1000.00", floor=Decimal("900.00"), stretch=Decimal("1100.00"))
        after = patched(before, {"floor": "800.00"})
        assert after.bounds == (Decimal("1000.00"), Decimal("800.00"), Decimal("1100.00"))

    def test_note_and_archived_only_when_given(self) -> None:
        before = revenue(note="kept")
        assert patched(before, {}).note == "kept"
        assert patched(before, {"note": None}).note is None
        assert patched(before, {"archived": True}).archived is True


class TestParts:
    @settings(max_examples=60, deadline=None)
    @given(
        target=money,
        weights=st.dictionaries(
            st.sampled_from(["A", "B", "C"]), st.integers(0, 100), min_size=1
        ).filter(lambda w: any(w.values())),
    )
    def test_tiers_sum_exactly_to_the_goal(self, target: Decimal, weights: dict[str, int]) -> None:
        spec = revenue(str(target), floor=target, stretch=target)
        request = DecomposeIn(by="tier", strategy="weights", weights=weights)
        split = planned(spec, request)
        kids = parts(GOAL_ID, spec, split, Calendar())
        assert sum(k.target for k in kids) == target
        assert [k.tier for k in kids] == list(weights)
        assert all(k.parent_id == GOAL_ID and k.decomposition is None for k in kids)
        assert decomposed(spec, split, [GOAL_ID]).decomposition == Decomposition(
            "tier", None, "weights", (GOAL_ID,)
        )

    def test_a_year_into_quarters_evenly(self) -> None:
        spec = revenue("1000.00", floor=Decimal("1000.00"), stretch=Decimal("1000.00"))
        request = DecomposeIn(by="time", into=PeriodKind.QUARTER, strategy="even")
        kids = parts(GOAL_ID, spec, planned(spec, request), Calendar())
        assert [(k.period, k.span.start) for k in kids] == [
            (PeriodKind.QUARTER, date(2026, m, 1)) for m in (1, 4, 7, 10)
        ]
        assert sum(k.target for k in kids) == Decimal("1000.00")
        assert {k.note for k in kids} == {f"time part of {GOAL_ID}"}

    def test_last_year_asks_for_the_spans_a_year_earlier(self) -> None:
        spec = revenue()
        request = DecomposeIn(by="time", into=PeriodKind.QUARTER, strategy="last_year")
        split = planned(spec, request)
        assert split.history[0] == Span(date(2025, 1, 1), date(2025, 3, 31))
        kids = parts(
            GOAL_ID,
            spec,
            split,
            Calendar(),
            actuals=[Decimal(1), Decimal(1), Decimal(1), Decimal(1)],
        )
        assert sum(k.target for k in kids) == spec.target

    def test_a_reps_split_names_each_rep_in_the_team(self) -> None:
        request = DecomposeIn(by="rep", strategy="even", reps=["ann", "bob"])
        split = planned(revenue(), request)
        kids = parts(GOAL_ID, revenue(), split, Calendar())
        assert [(str(k.owner), k.team_id) for k in kids] == [
            ("rep:ann", "north"),
            ("rep:bob", "north"),
        ]

    @pytest.mark.parametrize(
        ("request_", "field"),
        [
            (DecomposeIn(by="time"), "into"),
            (DecomposeIn(by="time", into=PeriodKind.MONTH, strategy="weights"), "strategy"),
            (DecomposeIn(by="tier"), "weights"),
            (DecomposeIn(by="tier", weights={"D": 1}), "weights"),
            (DecomposeIn(by="rep", reps=["ann", "ann"]), "reps"),
            (DecomposeIn(by="rep", reps=["ann"], strategy="seasonal"), "strategy"),
        ],
    )
    def test_refusals_name_the_field(self, request_: DecomposeIn, field: str) -> None:
        with pytest.raises(InvalidField) as refused:
            planned(revenue(), request_)
        assert refused.value.field == field

    def test_a_goal_cut_by_tier_is_not_cut_again(self) -> None:
        with pytest.raises(InvalidField) as refused:
            planned(revenue(tier="A"), DecomposeIn(by="tier", weights={"A": 1}))
        assert refused.value.field == "by"
