"""Rounding as the metric catalogue states it: money in each currency's minor units, rates to
6 decimals, numerators and denominators exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.scoring.domain import CATALOGUE, derive, pipeline_values
from shared.contracts.scoring import MetricKind


@pytest.mark.parametrize(
    ("currency", "revenue", "value"),
    [("EUR", "100.00", "33.33"), ("JPY", "1000", "333"), ("KWD", "10.000", "3.333")],
)
def test_an_average_amount_rounds_to_the_currencys_minor_units(
    currency: str, revenue: str, value: str
) -> None:
    sums = {("revenue_won", currency): Decimal(revenue), ("deals_won", currency): 3}
    derived = derive("average_deal_size", sums, currency)
    assert derived["value"] == value
    assert derived["numerator"] == revenue  # exact
    assert derived["denominator"] == 3


def test_the_weighted_pipeline_rounds_to_the_currencys_minor_units() -> None:
    rates = {"proposal": Decimal(1) / 3}
    values = pipeline_values({"proposal": Decimal(1000)}, rates, "JPY")
    assert values["weighted_pipeline"]["value"] == "333"
    assert values["open_pipeline"]["value"] == "1000"


def test_a_rate_rounds_to_six_decimals_over_exact_parts() -> None:
    derived = derive("win_rate", {("deals_won", ""): 1, ("deals_lost", ""): 2}, "EUR")
    assert derived == {"value": 0.333333, "numerator": 1, "denominator": 3}


def test_every_metric_states_its_rounding() -> None:
    for metric in CATALOGUE.values():
        assert metric.kind.rounding, metric.name
    assert len({kind.rounding for kind in MetricKind}) == len(MetricKind)
