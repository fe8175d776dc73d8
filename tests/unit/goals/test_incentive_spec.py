"""incentive_spec.py's pure rules: which days start a period, whom a plan reaches, and how a
patch makes a plan's next version (fields replaced, validated again, never a change of
currency or period)."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.goals.incentive_spec import (
    PlanBody,
    PlanIn,
    PlanPatch,
    applies,
    reaches,
    revise,
    starts_period,
)

EXAMPLE: dict[str, Any] = PlanIn.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index,call-overload]
LATEST = PlanBody.model_validate(
    {k: v for k, v in EXAMPLE.items() if k != "effective_from"}
).model_dump(mode="json")
DAYS = st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31))
NAMES = st.sampled_from(["a", "b", "c", "d"])


def faults(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.value.errors()}


class TestPeriodStarts:
    @given(st.integers(1970, 2099))
    def test_a_year_has_twelve_month_starts_and_four_quarter_starts(self, year: int) -> None:
        days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
        days = [d for d in days if d.year == year]
        assert sum(starts_period("month", d) for d in days) == 12
        quarters = [d for d in days if starts_period("quarter", d)]
        assert [(d.month, d.day) for d in quarters] == [(1, 1), (4, 1), (7, 1), (10, 1)]

    @given(DAYS)
    def test_a_quarter_start_is_a_month_start(self, day: date) -> None:
        if starts_period("quarter", day):
            assert starts_period("month", day)


class TestReach:
    @given(st.lists(NAMES, max_size=3), NAMES, st.none() | NAMES)
    def test_a_rep_reached_through_their_team_is_one_the_plan_applies_to(
        self, names: list[str], rep: str, team: str | None
    ) -> None:
        applies_to = [f"rep:{n}" for n in names] + [f"team:{n}" for n in names[:1]]
        teams = [team] if team is not None else []
        assert reaches(applies_to, [rep], teams) == applies(applies_to, rep, team)

    def test_org_reaches_everyone_and_nothing_reaches_no_one(self) -> None:
        assert reaches(["org"], [], [])
        assert not reaches(["rep:a", "team:t"], [], [])
        assert reaches(["rep:a", "team:t"], ["b"], ["t"])
        assert not reaches(["team:t"], ["t"], [])  # a rep named t is not team t


class TestRevise:
    def test_fields_given_are_replaced_and_the_rest_kept(self) -> None:
        patch = PlanPatch.model_validate(
            {"effective_from": "2027-04-01", "name": "Q2", "commission": None, "reason": "r"}
        )
        body = revise(LATEST, patch).model_dump(mode="json")
        assert body == {**LATEST, "name": "Q2", "commission": None}

    @given(DAYS)
    def test_a_version_starts_a_period_of_the_plans_kind(self, day: date) -> None:
        patch = PlanPatch(effective_from=day)
        if starts_period("month", day):
            assert revise(LATEST, patch).model_dump(mode="json") == LATEST
        else:
            with pytest.raises(ValidationError) as exc:
                revise(LATEST, patch)
            assert faults(exc) == {"effective_from"}

    @given(st.sampled_from(["USD", "JPY", "GBP"]), st.sampled_from(["quarter"]))
    def test_currency_and_period_never_change(self, currency: str, period: str) -> None:
        for change in ({"currency": currency}, {"period": period}):
            patch = PlanPatch.model_validate({"effective_from": "2027-01-01", **change})
            with pytest.raises(ValidationError) as exc:
                revise(LATEST, patch)
            assert set(change) <= faults(exc)
        same = PlanPatch.model_validate(
            {"effective_from": "2027-01-01", "currency": "EUR", "period": "month"}
        )
        assert revise(LATEST, same).currency == "EUR"

    def test_the_merged_body_is_checked_whole_and_every_fault_named(self) -> None:
        latest = copy.deepcopy(LATEST)
        patch = PlanPatch.model_validate(
            {
                "effective_from": "2027-01-02",
                "commission": {
                    "tiers": [{"from_pct": 0, "rate": "0.05"}, {"from_pct": 50, "rate": "0.04"}],
                    "decelerator": {"rate": "0.06"},
                },
                "applies_to": ["org", "org"],
            }
        )
        with pytest.raises(ValidationError) as exc:
            revise(latest, patch)
        assert faults(exc) == {
            "effective_from",
            "commission.tiers.1.rate",
            "commission.decelerator.rate",
            "applies_to",
        }
        assert latest == LATEST  # nothing of the stored body changed

    def test_a_field_set_to_null_that_may_not_be_is_named(self) -> None:
        patch = PlanPatch.model_validate({"effective_from": "2027-01-01", "name": None})
        with pytest.raises(ValidationError) as exc:
            revise(LATEST, patch)
        assert faults(exc) == {"name"}

    def test_a_stored_plan_in_yen_keeps_whole_amounts(self) -> None:
        yen = {**LATEST, "currency": "JPY", "commission": None}
        patch = PlanPatch.model_validate(
            {
                "effective_from": "2027-01-01",
                "spiffs": [{"name": "x", "metric": "new_customers", "amount": "10.5"}],
            }
        )
        with pytest.raises(ValidationError) as exc:
            revise(yen, patch)
        assert faults(exc) == {"spiffs.0.amount"}


class TestPlanIn:
    def test_the_example_validates(self) -> None:
        plan = PlanIn.model_validate(EXAMPLE)
        assert plan.effective_from == date(2027, 1, 1)

    def test_the_start_and_the_body_are_refused_together(self) -> None:
        bad = {**EXAMPLE, "effective_from": "2027-01-05", "applies_to": ["org", "org"]}
        with pytest.raises(ValidationError) as exc:
            PlanIn.model_validate(bad)
        assert faults(exc) == {"effective_from", "applies_to"}
