"""Rate-drop alerts from hand-made sums: the rule, its volume guards, stage steps, currencies,
the windows compared and the alert's JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from services.scoring.alerts import (
    DEFAULT_RULES,
    AlertRules,
    rate_alerts,
    stored_metrics,
    windows,
)
from shared.errors import InvalidInput

OCT_1, OCT_31 = date(2026, 10, 1), date(2026, 10, 31)
WINDOWS = windows(OCT_1, OCT_31)
STAGES = ("qualification", "proposal", "negotiation")

Sums = dict[tuple[str, str], Decimal | int]


def counts(**metrics: int) -> Sums:
    return {(metric, ""): value for metric, value in metrics.items()}


def stages(**reached: int) -> Sums:
    return {(f"stage:{stage}", ""): value for stage, value in reached.items()}


def alerts(
    history: Sequence[Mapping[tuple[str, str], Decimal | int]],
    current: Mapping[tuple[str, str], Decimal | int],
    *,
    currency: str = "EUR",
    rules: AlertRules = DEFAULT_RULES,
) -> list[dict[str, Any]]:
    return rate_alerts([*history, current], WINDOWS, currency=currency, stages=STAGES, rules=rules)


def metrics(found: list[dict[str, Any]]) -> list[str]:
    return [alert["metric"] for alert in found]


class TestTheThreshold:
    def test_a_drop_of_exactly_twenty_percent_alerts(self) -> None:
        # 0.45 → 0.36 is exactly 20 %
        found = alerts([counts(deals_won=9, deals_lost=11)] * 4, counts(deals_won=9, deals_lost=16))
        assert metrics(found) == ["win_rate"]
        assert found[0]["drop"] == 0.2

    def test_exactly_twenty_percent_alerts_even_where_floats_say_less(self) -> None:
        # 0.35 → 0.28: (0.35 - 0.28) / 0.35 is 0.19999999999999987 in floats
        found = alerts(
            [counts(calls=20, connected_calls=7)] * 4, counts(calls=25, connected_calls=7)
        )
        assert metrics(found) == ["call_connect_rate"]

    def test_a_drop_of_19_9_percent_does_not_alert(self) -> None:
        history = [counts(calls=2000, connected_calls=1000)] * 4  # 0.5
        assert alerts(history, counts(calls=2000, connected_calls=801)) == []  # 0.4005: 19.9 %
        assert metrics(alerts(history, counts(calls=2000, connected_calls=800))) == [
            "call_connect_rate"
        ]

    def test_the_threshold_is_configurable(self) -> None:
        history = [counts(visits=100, effective_visits=50)] * 4
        current = counts(visits=100, effective_visits=30)  # 40 % drop
        assert metrics(alerts(history, current, rules=AlertRules(drop=0.4))) == [
            "effective_visit_rate"
        ]
        assert alerts(history, current, rules=AlertRules(drop=0.41)) == []

    def test_an_increase_does_not_alert(self) -> None:
        history = [counts(new_leads=50, opportunities=10)] * 4
        assert alerts(history, counts(new_leads=50, opportunities=30)) == []

    def test_a_steady_rate_does_not_alert(self) -> None:
        history = [counts(new_leads=50, opportunities=10)] * 4
        assert alerts(history, counts(new_leads=50, opportunities=10)) == []

    def test_a_zero_baseline_does_not_alert(self) -> None:
        history = [counts(deals_won=0, deals_lost=30)] * 4
        assert alerts(history, counts(deals_won=0, deals_lost=30)) == []

    def test_a_fall_to_zero_is_a_full_drop(self) -> None:
        found = alerts(
            [counts(deals_won=10, deals_lost=10)] * 4, counts(deals_won=0, deals_lost=20)
        )
        assert found[0]["value"] == 0.0
        assert found[0]["drop"] == 1.0


class TestTheBaseline:
    def test_is_the_mean_of_the_previous_rates_not_the_pooled_ratio(self) -> None:
        history = [
            counts(calls=20, connected_calls=10),  # 0.5
            counts(calls=100, connected_calls=90),  # 0.9
            counts(calls=20, connected_calls=10),
            counts(calls=100, connected_calls=90),
        ]  # mean 0.7, pooled 200 / 240 = 0.833
        found = alerts(history, counts(calls=20, connected_calls=11))  # 0.55
        assert found[0]["baseline"]["value"] == 0.7
        assert found[0]["baseline"]["numerator"] == 200
        assert found[0]["baseline"]["denominator"] == 240
        assert found[0]["drop"] == 0.214286  # 0.15 / 0.7

    def test_leaves_out_periods_without_a_denominator_and_reports_them_as_null(self) -> None:
        steady = counts(deals_won=9, deals_lost=11)
        history = [counts(), counts(), steady, steady]
        [alert] = alerts(history, counts(deals_won=5, deals_lost=15))
        assert alert["baseline"]["value"] == 0.45
        assert [p["value"] for p in alert["baseline"]["periods"]] == [None, None, 0.45, 0.45]
        assert alert["baseline"]["denominator"] == 40
        assert alert["message"] == (
            "Win rate fell 44 % against the mean of 2 of the previous 4 periods (25 % vs 45 %)."
        )

    def test_needs_at_least_two_previous_periods_with_data(self) -> None:
        history = [counts(), counts(), counts(), counts(deals_won=90, deals_lost=110)]
        assert alerts(history, counts(deals_won=5, deals_lost=15)) == []

    def test_compares_with_the_last_history_windows_only(self) -> None:
        history = [
            counts(deals_won=50, deals_lost=50),  # 0.5, left out with history=2
            counts(deals_won=50, deals_lost=50),
            counts(deals_won=10, deals_lost=90),  # 0.1
            counts(deals_won=10, deals_lost=90),
        ]
        current = counts(deals_won=10, deals_lost=90)
        assert metrics(alerts(history, current)) == ["win_rate"]  # 0.3 → 0.1
        assert alerts(history, current, rules=AlertRules(history=2)) == []


class TestVolume:
    def test_a_current_denominator_below_the_minimum_does_not_alert(self) -> None:
        history = [counts(deals_won=10, deals_lost=10)] * 4
        assert alerts(history, counts(deals_won=1, deals_lost=18)) == []  # 19 closed
        assert metrics(alerts(history, counts(deals_won=1, deals_lost=19))) == ["win_rate"]

    def test_a_baseline_mean_denominator_below_the_minimum_does_not_alert(self) -> None:
        history = [counts(deals_won=10, deals_lost=9)] * 4  # 19 closed each
        assert alerts(history, counts(deals_won=1, deals_lost=99)) == []

    def test_the_baseline_volume_is_a_mean_so_one_small_period_is_carried(self) -> None:
        history = [
            counts(deals_won=5, deals_lost=5),  # 10
            counts(deals_won=15, deals_lost=15),  # 30
            counts(deals_won=10, deals_lost=10),
            counts(deals_won=10, deals_lost=10),
        ]  # mean 20
        assert metrics(alerts(history, counts(deals_won=1, deals_lost=99))) == ["win_rate"]

    def test_the_minimum_is_configurable(self) -> None:
        history = [counts(deals_won=5, deals_lost=5)] * 4
        current = counts(deals_won=1, deals_lost=9)
        assert alerts(history, current) == []
        assert metrics(alerts(history, current, rules=AlertRules(min_denominator=10))) == [
            "win_rate"
        ]


class TestStageSteps:
    def test_each_step_is_the_next_stage_over_the_one_before_in_the_given_order(self) -> None:
        history = [stages(qualification=100, proposal=50, negotiation=25)] * 4
        [alert] = alerts(history, stages(qualification=100, proposal=50, negotiation=10))
        assert alert["metric"] == "stage_step:proposal->negotiation"
        assert (alert["numerator"], alert["denominator"], alert["value"]) == (10, 50, 0.2)
        assert alert["baseline"]["value"] == 0.5
        assert alert["message"] == (
            "Proposal → negotiation step fell 60 % against the mean of the previous 4 periods "
            "(20 % vs 50 %)."
        )

    def test_an_earlier_step_is_judged_on_its_own(self) -> None:
        history = [stages(qualification=100, proposal=50, negotiation=25)] * 4
        found = alerts(history, stages(qualification=100, proposal=20, negotiation=10))
        # qualification → proposal 0.5 → 0.2; proposal → negotiation steady at 0.5
        assert metrics(found) == ["stage_step:qualification->proposal"]

    def test_the_order_is_the_callers(self) -> None:
        history = [stages(a=100, b=100)] * 4
        current = stages(a=100, b=50)
        found = rate_alerts([*history, current], WINDOWS, currency="EUR", stages=("a", "b"))
        assert metrics(found) == ["stage_step:a->b"]  # b ÷ a: 1 → 0.5
        reverse = rate_alerts([*history, current], WINDOWS, currency="EUR", stages=("b", "a"))
        assert reverse == []  # a ÷ b: 1 → 2

    def test_stage_names_read_as_words(self) -> None:
        history = [stages(needs_analysis=40, proposal=40)] * 4
        found = rate_alerts(
            [*history, stages(needs_analysis=40, proposal=20)],
            WINDOWS,
            currency="EUR",
            stages=("needs_analysis", "proposal"),
        )
        assert found[0]["message"].startswith("Needs analysis → proposal step fell 50 %")


class TestCollectionRate:
    def eur(self, collected: str, invoiced: str) -> Sums:
        return {("collected", "EUR"): Decimal(collected), ("invoiced", "EUR"): Decimal(invoiced)}

    def usd(self, collected: str, invoiced: str) -> Sums:
        return {("collected", "USD"): Decimal(collected), ("invoiced", "USD"): Decimal(invoiced)}

    def test_watches_the_reporting_currency_and_renders_money_as_decimal_strings(self) -> None:
        history = [self.eur("90.00", "100.00") | self.usd("10", "1000")] * 4
        current = self.eur("50.00", "100.00") | self.usd("900", "1000")
        [alert] = alerts(history, current)
        assert alert["metric"] == "collection_rate"
        assert (alert["numerator"], alert["denominator"]) == ("50.00", "100.00")
        assert alert["baseline"]["numerator"] == "360.00"
        assert alert["baseline"]["denominator"] == "400.00"
        assert alert["baseline"]["periods"][0]["numerator"] == "90.00"
        assert alert["drop"] == 0.444444
        assert alert["message"] == (
            "Collection rate fell 44 % against the mean of the previous 4 periods (50 % vs 90 %)."
        )

    def test_sums_in_another_currency_are_ignored(self) -> None:
        history = [self.eur("90", "100") | self.usd("10", "1000")] * 4
        current = self.eur("90", "100") | self.usd("900", "1000")
        assert alerts(history, current) == []  # EUR steady
        usd_history = [self.eur("90", "100") | self.usd("900", "1000")] * 4
        usd_current = self.eur("10", "100") | self.usd("900", "1000")
        assert alerts(usd_history, usd_current, currency="USD") == []  # USD steady
        assert metrics(alerts(usd_history, usd_current)) == ["collection_rate"]

    def test_the_volume_guard_applies_to_the_invoiced_amount(self) -> None:
        history = [self.eur("18", "19.99")] * 4
        assert alerts(history, self.eur("1", "100")) == []


class TestAlertsTogether:
    def test_are_sorted_by_drop_then_metric_name(self) -> None:
        history = [
            counts(
                deals_won=10,
                deals_lost=10,
                calls=100,
                connected_calls=50,
                visits=40,
                effective_visits=20,
                new_leads=100,
                opportunities=20,
            )
        ] * 4
        current = counts(
            deals_won=5,
            deals_lost=15,  # 0.5 → 0.25: 50 %
            calls=100,
            connected_calls=25,  # 0.5 → 0.25: 50 %
            visits=40,
            effective_visits=8,  # 0.5 → 0.2: 60 %
            new_leads=100,
            opportunities=15,  # 0.2 → 0.15: 25 %
        )
        assert metrics(alerts(history, current)) == [
            "effective_visit_rate",
            "call_connect_rate",
            "win_rate",
            "lead_to_opportunity_rate",
        ]

    def test_an_alert_is_json_with_its_numbers_and_a_message(self) -> None:
        found = alerts([counts(deals_won=9, deals_lost=11)] * 4, counts(deals_won=5, deals_lost=15))
        assert json.loads(json.dumps(found)) == found
        periods = [
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "value": 0.45,
                "numerator": 9,
                "denominator": 20,
            }
            for start, end in WINDOWS[:-1]
        ]
        assert found == [
            {
                "kind": "rate_drop",
                "metric": "win_rate",
                "from": "2026-10-01",
                "to": "2026-10-31",
                "value": 0.25,
                "numerator": 5,
                "denominator": 20,
                "baseline": {"value": 0.45, "numerator": 36, "denominator": 80, "periods": periods},
                "drop": 0.444444,
                "threshold": 0.2,
                "message": (
                    "Win rate fell 44 % against the mean of the previous 4 periods (25 % vs 45 %)."
                ),
            }
        ]

    def test_small_rates_keep_a_decimal_in_the_message(self) -> None:
        history = [counts(new_leads=1000, opportunities=52)] * 4
        [alert] = alerts(history, counts(new_leads=1000, opportunities=35))
        assert alert["message"] == (
            "Lead → opportunity rate fell 33 % against the mean of the previous 4 periods "
            "(3.5 % vs 5.2 %)."
        )

    def test_nothing_to_compare_with_gives_nothing(self) -> None:
        assert rate_alerts([], [], currency="EUR", stages=STAGES) == []
        only = [counts(deals_won=0, deals_lost=50)]
        assert rate_alerts(only, WINDOWS[-1:], currency="EUR", stages=STAGES) == []

    def test_sums_and_windows_must_pair_up(self) -> None:
        with pytest.raises(ValueError, match="same length"):
            rate_alerts([counts()] * 4, WINDOWS, currency="EUR", stages=STAGES)


class TestWindows:
    def test_four_equal_contiguous_windows_end_where_the_period_begins(self) -> None:
        assert WINDOWS == [
            (date(2026, 5, 30), date(2026, 6, 29)),
            (date(2026, 6, 30), date(2026, 7, 30)),
            (date(2026, 7, 31), date(2026, 8, 30)),
            (date(2026, 8, 31), date(2026, 9, 30)),
            (OCT_1, OCT_31),
        ]
        for (_, end), (start, _) in pairwise(WINDOWS):
            assert start == end + timedelta(days=1)
        assert {(end - start).days + 1 for start, end in WINDOWS} == {31}

    def test_any_length_and_history(self) -> None:
        day = date(2026, 10, 7)
        assert windows(day, day, history=2) == [
            (date(2026, 10, 5), date(2026, 10, 5)),
            (date(2026, 10, 6), date(2026, 10, 6)),
            (day, day),
        ]
        assert windows(day, day, history=0) == [(day, day)]

    def test_a_backwards_range_is_invalid_input(self) -> None:
        with pytest.raises(InvalidInput):
            windows(OCT_31, OCT_1)

    def test_windows_before_year_one_are_invalid_input(self) -> None:
        with pytest.raises(InvalidInput):
            windows(date(1, 1, 10), date(1, 1, 20))


class TestStoredMetrics:
    def test_names_every_stored_metric_the_rates_read(self) -> None:
        assert stored_metrics(STAGES) == {
            "opportunities",
            "new_leads",
            "deals_won",
            "deals_lost",
            "connected_calls",
            "calls",
            "collected",
            "invoiced",
            "effective_visits",
            "visits",
            "stage:qualification",
            "stage:proposal",
            "stage:negotiation",
        }
        assert "stage:qualification" not in stored_metrics(("qualification",))

    def test_the_sums_of_those_alone_give_the_same_alerts(self) -> None:
        noise = counts(deals_opened=500, revenue_won=7, disqualified_leads=3, wins=9) | {
            ("pipeline:proposal", "EUR"): Decimal("1000"),
            ("stage:won", ""): 4,
            ("stage_closed:proposal", ""): 8,
        }
        history = [
            counts(deals_won=10, deals_lost=10, calls=40, connected_calls=20)
            | stages(qualification=100, proposal=50, negotiation=25)
            | {("collected", "EUR"): Decimal(90), ("invoiced", "EUR"): Decimal(100)}
            | noise
        ] * 4
        current = (
            counts(deals_won=2, deals_lost=18, calls=40, connected_calls=5)
            | stages(qualification=100, proposal=50, negotiation=5)
            | {("collected", "EUR"): Decimal(10), ("invoiced", "EUR"): Decimal(100)}
            | noise
        )
        wanted = stored_metrics(STAGES)

        def only(sums: Sums) -> Sums:
            return {key: value for key, value in sums.items() if key[0] in wanted}

        full = alerts(history, current)
        assert len(full) == 4
        assert alerts([only(s) for s in history], only(current)) == full


class TestRules:
    @pytest.mark.parametrize(
        ("kwargs", "named"),
        [
            ({"drop": 0}, "drop"),
            ({"drop": 1.5}, "drop"),
            ({"min_denominator": -1}, "min_denominator"),
            ({"history": 0}, "history"),
        ],
    )
    def test_nonsense_rules_are_refused(self, kwargs: dict[str, Any], named: str) -> None:
        with pytest.raises(ValueError, match=named):
            AlertRules(**kwargs)
