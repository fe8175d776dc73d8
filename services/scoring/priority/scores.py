"""A lead's or deal's score as a rep reads it, and an account's health as a row: plain functions
from a profile, a model and the org's day to what scoring stores and serves.

A score is computed for an org-local *day*: features look at the profile as it stands at the end
of that day (`reference`), so the same log, model and day always give the same score, whatever
the page size the log was folded in, or whether it was rebuilt. The consumer rescores an org's
open leads and deals when its day turns or its active model changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from ..projections import health, leads
from ..projections.leads import Prospect
from . import features as feats
from .model import AdditiveModel, fit_prior

KINDS = ("lead", "deal")
TIERS = ("A", "B", "C")

# Win rates an org with no closed outcomes of its own starts from (the prior model's defaults):
# a new lead converts about a third of the time; a deal's chance grows with its stage.
DEFAULT_RATES: dict[str, dict[str, float]] = {
    "lead": {"new": 0.3},
    "deal": {
        "reached:qualification": 0.2,
        "reached:proposal": 0.35,
        "reached:negotiation": 0.55,
    },
}


@dataclass(frozen=True, slots=True)
class PriorityRules:
    """Tier cut-offs on the win probability, and how soon a tier's next touch is due."""

    tier_a: float = 0.6
    tier_b: float = 0.3
    touch_days: Mapping[str, int] = field(default_factory=lambda: {"A": 1, "B": 7, "C": 30})

    def tier(self, probability: float) -> str:
        if probability >= self.tier_a:
            return "A"
        return "B" if probability >= self.tier_b else "C"


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """The model an org's leads or deals are scored with: a stored version, or the prior (0)."""

    kind: str  # lead | deal
    version: int
    model: AdditiveModel
    trained_at: datetime | None = None
    outcomes: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": self.model.kind,
            "trained_at": _iso(self.trained_at),
            "outcomes": self.outcomes,
            "base_rate": round(self.model.base_rate, 6),
        }


def default_model(kind: str) -> ActiveModel:
    """Version 0: the prior from global defaults, before the org's first training."""
    defaults = DEFAULT_RATES[kind]
    return ActiveModel(kind, 0, fit_prior({}, defaults=defaults))


class ScoreRow(NamedTuple):
    kind: str
    key: str
    rep_id: str
    team_id: str
    score: int
    tier: str
    next_touch_due: date
    model_version: int
    doc: str  # the rendered answer, JSON


class HealthRow(NamedTuple):
    account_id: str
    rep_id: str
    team_id: str
    lifecycle: str
    at_risk: bool
    won_12m: str
    doc: str


def reference(day: date, timezone: ZoneInfo) -> datetime:
    """The moment a day's scores look at the profiles: the end of that org-local day."""
    return datetime.combine(day + timedelta(days=1), time(), timezone)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _epoch(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def score(
    p: Prospect,
    active: ActiveModel,
    day: date,
    timezone: ZoneInfo,
    *,
    rules: PriorityRules,
    feature_rules: feats.FeatureRules,
) -> ScoreRow:
    """Score an open lead or deal for an org-local day."""
    at = reference(day, timezone)
    row = feats.features(p, at, rules=feature_rules)
    explained = active.model.explain(row)
    probability = round(explained.probability, 6)  # as served: tier and score follow it
    tier = rules.tier(probability)
    factors = []
    for name, contribution in sorted(
        explained.contributions.items(), key=lambda item: (-abs(item[1]), item[0])
    ):
        if contribution == 0:
            continue
        value = row.get(name, "")
        stats = active.model.stats.get(name, {}).get(value)
        factors.append(
            {
                "name": name,
                "value": value,
                "contribution": contribution,
                "sentence": feats.sentence(
                    name,
                    value,
                    p,
                    at,
                    rules=feature_rules,
                    stats=stats,
                    base_rate=active.model.base_rate,
                ),
            }
        )
    last_touch = feats.last_touch(p, at)
    since = last_touch or _epoch(p.created_at) or at
    due = since.astimezone(timezone).date() + timedelta(days=rules.touch_days[tier])
    doc = {
        "id": p.key,
        "kind": p.kind,
        "rep_id": p.rep_id or None,
        "team_id": p.team_id or None,
        "win_probability": probability,
        "score": round(probability * 100),
        "tier": tier,
        "log_odds": explained.log_odds,
        "base_log_odds": explained.base_log_odds,
        "factors": factors,
        "last_touch_at": _iso(last_touch),
        "next_touch_due": due.isoformat(),
        "created_at": _iso(_epoch(p.created_at)),
        "scored_for": day.isoformat(),
        "model": active.describe(),
    }
    return ScoreRow(
        p.kind,
        p.key,
        p.rep_id,
        p.team_id,
        round(probability * 100),
        tier,
        due,
        active.version,
        orjson.dumps(doc).decode(),
    )


def render(doc: str | bytes, today: date) -> dict[str, Any]:
    """A stored score as served: `overdue` is judged against today, not the day it was scored."""
    answer: dict[str, Any] = orjson.loads(doc)
    answer["overdue"] = date.fromisoformat(answer["next_touch_due"]) < today
    return answer


LISTED_FACTORS = 5


def listed(answer: dict[str, Any], top: int = LISTED_FACTORS) -> dict[str, Any]:
    """A score as a list shows it: its `top` largest factors, and the rest as one `others`
    factor holding their sum, so the factors still add up exactly to `log_odds −
    base_log_odds` (each factor has at most 6 decimals: the sum is exact in decimal).
    `GET /v1/leads/{id}/score` shows them all."""
    factors: list[dict[str, Any]] = answer["factors"]
    if len(factors) <= top + 1:
        return answer
    rest = factors[top:]
    total = sum((Decimal(repr(f["contribution"])) for f in rest), Decimal(0))
    others = {
        "name": "others",
        "value": str(len(rest)),
        "contribution": float(total),
        "sentence": f"{len(rest)} smaller factors together (GET /v1/leads/{{id}}/score lists them)",
    }
    return {**answer, "factors": [*factors[:top], others]}


def scores_for(
    prospects: Mapping[str, Prospect] | list[Prospect],
    models: Mapping[str, ActiveModel],
    day: date,
    timezone: ZoneInfo,
    *,
    rules: PriorityRules,
    feature_rules: feats.FeatureRules,
) -> tuple[list[ScoreRow], list[str]]:
    """Scores of the open prospects, and the keys of the others (closed, not created yet, or
    created after the day)."""
    values = prospects.values() if isinstance(prospects, Mapping) else prospects
    open_rows: list[ScoreRow] = []
    others: list[str] = []
    end = reference(day, timezone).timestamp()
    for p in values:
        # Created after the day (a future date): not a lead yet; the day it comes scores it.
        if leads.is_open(p) and p.created_at is not None and p.created_at <= end:
            open_rows.append(
                score(p, models[p.kind], day, timezone, rules=rules, feature_rules=feature_rules)
            )
        else:
            others.append(p.key)
    return open_rows, others


# --------------------------------------------------------------------------- health


def health_row(
    c: health.Customer,
    day: date,
    currency: str,
    timezone: ZoneInfo,
    *,
    rules: health.HealthRules,
) -> HealthRow:
    doc = health.health(c, day, currency, timezone, suggested_tier=None, rules=rules)
    won = doc["won_12m"]["value"]
    return HealthRow(
        c.account_id,
        c.rep_id,
        c.team_id,
        doc["lifecycle"],
        bool(doc["at_risk"]),
        won,
        orjson.dumps(doc).decode(),
    )


def suggested_tier(
    before: Decimal, total: Decimal, won: Decimal, pareto: tuple[float, float]
) -> str:
    """The tier an account's share of the org's won revenue suggests (health.suggest_tiers, as
    one row of it): A while the revenue ranked before it is under the first cut-off of the
    total, B under the second, else C; no revenue: C."""
    if won <= 0 or total <= 0:
        return "C"
    share = before / total
    if share < Decimal(str(pareto[0])):
        return "A"
    return "B" if share < Decimal(str(pareto[1])) else "C"
