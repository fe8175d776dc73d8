"""The metric list other services rely on is scoring's own catalogue."""

from services.scoring.domain import CATALOGUE, Kind
from shared.contracts.scoring import METRICS

UNITS = {
    Kind.COUNT: "count",
    Kind.MONEY: "money",
    Kind.AVERAGE_MONEY: "money",
    Kind.PIPELINE: "money",
    Kind.RATE: "ratio",
    Kind.MONEY_RATE: "ratio",
    Kind.DISTINCT_RATE: "ratio",
    Kind.AVERAGE_DAYS: "days",
    Kind.AVERAGE_ELAPSED_DAYS: "days",
}


def test_the_contract_lists_every_metric_scoring_serves_with_its_unit() -> None:
    assert {name: METRICS[name].unit for name in METRICS} == {
        name: UNITS[m.kind] for name, m in CATALOGUE.items()
    }


def test_only_counts_and_plain_amounts_add_up() -> None:
    additive = {n for n, m in CATALOGUE.items() if m.kind in (Kind.COUNT, Kind.MONEY)}
    assert {n for n, info in METRICS.items() if info.additive} == additive
