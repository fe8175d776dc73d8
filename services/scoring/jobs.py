"""The scoring service's heavy work as plain functions that workers.py runs in a process of its
own: their arguments and results pickle, and profiles may come in as the states stored in
`scoring.entities` (decoding them is part of the work, so the serving process never does it).

- `score_org`: every open lead's and deal's score and every account's health (a rescore, a
  rebuild's new generation);
- `train_models`: an org's lead and deal models (priority/training.py);
- `backtests`: the backtest of both kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .priority import features as feats
from .priority import scores, training
from .priority.scores import ActiveModel, HealthRow, PriorityRules, ScoreRow
from .projections import health, leads
from .projections.codec import decode

Profile = Any  # a Prospect or Customer, or its stored state (str or bytes)


@dataclass(frozen=True, slots=True)
class Rules:
    """What the work needs of the service's settings."""

    priority: PriorityRules
    features: feats.FeatureRules
    health: health.HealthRules
    min_outcomes: int


def _decoded(kind: str, items: Iterable[Profile]) -> list[Any]:
    return [decode(kind, i) if isinstance(i, str | bytes) else i for i in items]


def prospects_of(items: Iterable[Profile]) -> list[leads.Prospect]:
    return _decoded("prospects", items)


def score_org(
    prospects: Iterable[Profile],
    customers: Iterable[Profile],
    models: Mapping[str, ActiveModel],
    day: date,
    timezone: ZoneInfo,
    currency: str,
    rules: Rules,
) -> tuple[list[ScoreRow], list[HealthRow]]:
    rows, _ = scores.scores_for(
        prospects_of(prospects), models, day, timezone, rules=rules.priority,
        feature_rules=rules.features,
    )  # fmt: skip
    judged = [
        scores.health_row(c, day, currency, timezone, rules=rules.health)
        for c in _decoded("customers", customers)
    ]
    return rows, judged


def train_models(
    prospects: Iterable[Profile], now: datetime, rules: Rules
) -> dict[str, training.Trained]:
    profiles = prospects_of(prospects)
    return {
        kind: training.train(
            profiles, kind=kind, now=now, min_outcomes=rules.min_outcomes, rules=rules.features
        )
        for kind in scores.KINDS
    }


def backtests(
    prospects: Iterable[Profile], cutoff: datetime, horizon_days: int, known_by: str, rules: Rules
) -> list[dict[str, Any]]:
    profiles = prospects_of(prospects)
    return [
        _backtest(profiles, kind, cutoff, horizon_days, known_by, rules) for kind in scores.KINDS
    ]


def _backtest(
    profiles: list[leads.Prospect], kind: str, cutoff: datetime, horizon_days: int,
    known_by: str, rules: Rules,
) -> dict[str, Any]:  # fmt: skip
    return training.backtest(
        profiles, kind=kind, cutoff=cutoff, horizon_days=horizon_days,
        min_outcomes=rules.min_outcomes, rules=rules.features, known_by=known_by,
    )  # fmt: skip
