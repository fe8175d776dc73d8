"""What the webhook tests compare: the KPIs scoring folds from a feed as it was delivered, and from
the same events in the order they occurred (issue 11; the rule is in
services/scoring/projections/kpis.py, "deals")."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.scoring.projections.rollup import replay

UTC = ZoneInfo("UTC")


def in_occurred_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: datetime.fromisoformat(e["occurred_at"]))


def kpis(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Every fact the fold makes of `events` but the pipeline's, by metric, day, owner, cut and
    currency; and the pipeline by stage and currency once every move is past (its moves count
    never before the deal's previous one, so only the pipeline's days may differ)."""
    facts: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    pipeline: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for key, value in replay(events, UTC).sums.items():
        metric, currency = str(key[0]), str(key[-1])
        if metric.startswith("pipeline:"):
            pipeline[(metric, currency)] += Decimal(value)
        else:
            facts[key] += Decimal(value)
    return {
        "facts": {k: v for k, v in facts.items() if v},
        "pipeline": {k: v for k, v in pipeline.items() if v},
    }


def totals(events: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Each metric summed over everything (zeros left out)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for key, value in replay(events, UTC).sums.items():
        sums[str(key[0])] += Decimal(value)
    return {k: v for k, v in sums.items() if v}


def assert_as_in_occurred_order(stored: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The feed folds to the KPIs of its occurred order; returns its totals by metric."""
    assert kpis(stored) == kpis(in_occurred_order(stored))
    return totals(stored)
