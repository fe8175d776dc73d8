"""The scoring service's heavy work as plain functions that workers.py runs in a process of its
own: their arguments and results pickle. Profiles come in as objects (a rebuild's, in chunks), as
the states stored in `scoring.entities`, or as `Stored`: where they are, for the worker to read
from the database itself, so that an org's profiles never pass through the serving process
(neither its CPU nor its memory).

- `score_org`: every open lead's and deal's score and every account's health (a rescore, a
  rebuild's new generation);
- `train_models`: an org's lead and deal models (priority/training.py);
- `backtests`: the backtest of both kinds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from . import repository
from .priority import features as feats
from .priority import scores, training
from .priority.scores import ActiveModel, HealthRow, PriorityRules, ScoreRow
from .projections import health, leads
from .projections.codec import decode

Profile = Any  # a Prospect or Customer, or its stored state (str or bytes)
DECODED_AT_ONCE = 2_000


@dataclass(frozen=True, slots=True)
class Stored:
    """A generation's profiles of one kind, read where the work runs."""

    dsn: str
    org: str
    generation: int
    kind: str
    keys: tuple[str, ...] | None = None  # None: all of them

    def read(self) -> list[str]:
        return asyncio.run(self._read())

    async def _read(self) -> list[str]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await repository.entity_states(
                conn, self.org, self.generation, self.kind, self.keys
            )
        finally:
            await conn.close()


@dataclass(frozen=True, slots=True)
class Rules:
    """What the work needs of the service's settings."""

    priority: PriorityRules
    features: feats.FeatureRules
    health: health.HealthRules
    min_outcomes: int


def _decoded(kind: str, items: Stored | Iterable[Profile]) -> list[Any]:
    return [item for part in _parts(kind, items) for item in part]


def _parts(kind: str, items: Stored | Iterable[Profile]) -> Iterator[list[Any]]:
    """The profiles, `DECODED_AT_ONCE` at a time, stored states decoded."""
    if isinstance(items, Stored):
        items = items.read()
    iterator = iter(items)
    while part := list(islice(iterator, DECODED_AT_ONCE)):
        yield [decode(kind, i) if isinstance(i, str | bytes) else i for i in part]


def prospects_of(items: Stored | Iterable[Profile]) -> list[leads.Prospect]:
    return _decoded("prospects", items)


def score_org(
    prospects: Stored | Iterable[Profile],
    customers: Stored | Iterable[Profile],
    models: Mapping[str, ActiveModel],
    day: date,
    timezone: ZoneInfo,
    currency: str,
    rules: Rules,
) -> tuple[list[ScoreRow], list[HealthRow]]:
    """Stored states are decoded `DECODED_AT_ONCE` at a time, so a rebuild's packed book
    (projections/packed.py) is never decoded whole."""
    rows: list[ScoreRow] = []
    for part in _parts("prospects", prospects):
        rows += scores.scores_for(
            part, models, day, timezone, rules=rules.priority, feature_rules=rules.features
        )[0]
    judged = [
        scores.health_row(c, day, currency, timezone, rules=rules.health)
        for part in _parts("customers", customers)
        for c in part
    ]
    return rows, judged


def train_models(
    prospects: Stored | Iterable[Profile], now: datetime, rules: Rules
) -> dict[str, training.Trained]:
    profiles = prospects_of(prospects)
    return {
        kind: training.train(
            profiles, kind=kind, now=now, min_outcomes=rules.min_outcomes, rules=rules.features
        )
        for kind in scores.KINDS
    }


def backtests(
    prospects: Stored | Iterable[Profile],
    cutoff: datetime,
    horizon_days: int,
    known_by: str,
    rules: Rules,
) -> list[dict[str, Any]]:
    profiles = prospects_of(prospects)
    return [
        _backtest(profiles, kind, cutoff, horizon_days, known_by, rules) for kind in scores.KINDS
    ]


def _backtest(
    profiles: list[leads.Prospect],
    kind: str,
    cutoff: datetime,
    horizon_days: int,
    known_by: str,
    rules: Rules,
) -> dict[str, Any]:
    return training.backtest(
        profiles,
        kind=kind,
        cutoff=cutoff,
        horizon_days=horizon_days,
        min_outcomes=rules.min_outcomes,
        rules=rules.features,
        known_by=known_by,
    )
