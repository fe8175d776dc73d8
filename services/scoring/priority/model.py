"""Win-probability models that are additive in log-odds, so every score explains itself:

    log_odds = base_log_odds + sum over features f of contribution(f, row's value of f)

A row is a `Mapping[str, str]` of categorical features (feature name -> bucket label); a feature
missing from a row has the value "" (none/unknown), and features the model does not know are
ignored. Three ways to build a model:

- `fit_logistic`: L2-regularised logistic regression on one-hot features, centred per feature so
  `base_log_odds` is the log-odds of an average training lead;
- `fit_naive_bayes`: categorical naive Bayes with Laplace smoothing and sample weights (the
  time-weighted baseline: the caller passes recency weights);
- `fit_prior`: per-stage win rates smoothed towards global defaults, for orgs with little data.

`calibrate` rescales a model (Platt scaling) without losing additivity and `select` picks the
best candidate on held-out rows.

Sample weights are relative: rows of weight 0 are dropped and the rest are rescaled to average 1,
so multiplying every weight by a constant changes nothing and `stats` count "effective rows".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from services.scoring.priority import quality
from services.scoring.priority.quality import clamp

KINDS = ("logistic", "naive_bayes", "prior")
FITTING_IMPORTS = "scipy, scikit-learn"
"""Imported by the functions that fit and measure, not at the top: those run in the scoring
service's worker processes (workers.py), and the serving process, which only scores with
`AdditiveModel`, is ~80 MB of RSS smaller without them."""
JSON_FORMAT = 1
DECIMALS = 6


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float) -> float:
    """log(p / (1 - p)) with p clamped to [1e-6, 1 - 1e-6]."""
    q = clamp(p)
    return math.log(q / (1.0 - q))


@dataclass(frozen=True, slots=True)
class Explanation:
    probability: float
    log_odds: float
    base_log_odds: float
    contributions: dict[str, float]
    """One per feature of the model, rounded to 6 decimals. `log_odds` is exactly
    `base_log_odds + sum(contributions)` in decimal arithmetic on the floats' str()."""


@dataclass(frozen=True, slots=True)
class AdditiveModel:
    kind: str
    base_log_odds: float
    tables: Mapping[str, Mapping[str, float]]
    """feature -> value -> contribution in log-odds."""
    unseen: Mapping[str, float]
    """feature -> contribution of a value not in `tables`."""
    stats: Mapping[str, Mapping[str, tuple[float, float]]]
    """feature -> value -> (weighted positives, weighted count) in the training data."""
    base_rate: float
    """Weighted positive rate of the training data."""
    _lookup: dict[str, tuple[dict[str, tuple[float, Decimal]], tuple[float, Decimal]]] = field(
        init=False, repr=False, compare=False
    )
    _base: tuple[float, Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}")
        if set(self.unseen) != set(self.tables):
            raise ValueError("unseen must have one entry per feature of tables")
        numbers = [self.base_log_odds, self.base_rate, *self.unseen.values()]
        numbers += [c for values in self.tables.values() for c in values.values()]
        if not all(math.isfinite(x) for x in numbers):
            raise ValueError("model parameters must be finite")
        # Defensive copies, so a caller mutating its own dicts cannot change the model.
        object.__setattr__(self, "tables", {f: dict(v) for f, v in self.tables.items()})
        object.__setattr__(self, "unseen", dict(self.unseen))
        object.__setattr__(
            self,
            "stats",
            {
                f: {v: (float(p), float(n)) for v, (p, n) in s.items()}
                for f, s in self.stats.items()
            },
        )
        lookup = {
            f: ({v: _rounded(c) for v, c in values.items()}, _rounded(self.unseen[f]))
            for f, values in self.tables.items()
        }
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_base", _rounded(self.base_log_odds))

    def explain(self, row: Mapping[str, str]) -> Explanation:
        """The probability of a win for `row` and each feature's share of its log-odds."""
        base, total = self._base
        contributions: dict[str, float] = {}
        for name, (values, unseen) in self._lookup.items():
            contribution, exact = values.get(row.get(name, ""), unseen)
            contributions[name] = contribution
            total += exact
        log_odds = float(total)
        return Explanation(
            probability=sigmoid(log_odds),
            log_odds=log_odds,
            base_log_odds=base,
            contributions=contributions,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": JSON_FORMAT,
            "kind": self.kind,
            "base_log_odds": self.base_log_odds,
            "base_rate": self.base_rate,
            "tables": {f: dict(v) for f, v in self.tables.items()},
            "unseen": dict(self.unseen),
            "stats": {f: {v: [p, n] for v, (p, n) in s.items()} for f, s in self.stats.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AdditiveModel:
        if data.get("format") != JSON_FORMAT:
            raise ValueError(f"unsupported model format {data.get('format')!r}")
        return cls(
            kind=str(data["kind"]),
            base_log_odds=float(data["base_log_odds"]),
            tables={
                str(f): {str(v): float(c) for v, c in values.items()}
                for f, values in data["tables"].items()
            },
            unseen={str(f): float(c) for f, c in data["unseen"].items()},
            stats={
                str(f): {str(v): (float(p), float(n)) for v, (p, n) in s.items()}
                for f, s in data["stats"].items()
            },
            base_rate=float(data["base_rate"]),
        )


def _rounded(x: float) -> tuple[float, Decimal]:
    r = round(x, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return r, Decimal(str(r))


# --- fitting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Data:
    """Training rows with positive weight, the weights rescaled to average 1."""

    rows: list[Mapping[str, str]]
    y: np.ndarray[Any, np.dtype[np.float64]]
    w: np.ndarray[Any, np.dtype[np.float64]]
    features: list[str]
    """Every feature name that occurs in a row, sorted."""
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def positives(self) -> float:
        return float(self.w @ self.y)

    @property
    def total(self) -> float:
        return float(self.w.sum())

    @property
    def base_rate(self) -> float:
        return self.positives / self.total

    def values(self, name: str) -> list[str]:
        return [row.get(name, "") for row in self.rows]

    def stats_values(self, name: str) -> list[str]:
        """The values `name` takes in the rows ("" where a row lacks it)."""
        return list(self._stats()[name])

    def weighted_counts(self, name: str) -> dict[str, float]:
        return {v: n for v, (_, n) in self._stats()[name].items()}

    def _stats(self) -> dict[str, dict[str, tuple[float, float]]]:
        cached = self._cache.get("stats")
        if cached is None:
            cached = self._cache["stats"] = self.stats()
        return cached

    def stats(self) -> dict[str, dict[str, tuple[float, float]]]:
        """(weighted positives, weighted count) per feature and value, "" for rows without the
        feature: one pass over the values rows hold, the ""s from the totals."""
        positive: dict[str, dict[str, float]] = {name: {} for name in self.features}
        count: dict[str, dict[str, float]] = {name: {} for name in self.features}
        for row, y, w in zip(self.rows, self.y.tolist(), self.w.tolist(), strict=True):
            for name, value in row.items():
                if value == "":
                    continue
                counts = count[name]
                counts[value] = counts.get(value, 0.0) + w
                if y:
                    positives = positive[name]
                    positives[value] = positives.get(value, 0.0) + w
        total, positives_in_all = self.total, self.positives
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for name in self.features:
            stats = {v: (positive[name].get(v, 0.0), n) for v, n in count[name].items()}
            missing = total - math.fsum(count[name].values())
            if missing > 1e-9 * total:
                stats[""] = (positives_in_all - math.fsum(positive[name].values()), missing)
            out[name] = dict(sorted(stats.items()))
        return out


def _prepare(
    rows: Sequence[Mapping[str, str]], y: Sequence[int], weights: Sequence[float] | None
) -> _Data:
    if len(rows) != len(y) or (weights is not None and len(weights) != len(y)):
        raise ValueError("rows, y and weights must have the same length")
    if any(label not in (0, 1) for label in y):
        raise ValueError("labels must be 0 or 1")
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    keep = np.flatnonzero(w > 0)
    labels = np.asarray(y, dtype=float)[keep]
    w = w[keep]
    if not (np.any(labels == 1) and np.any(labels == 0)):
        raise ValueError("need both outcomes")
    w = w * (len(w) / w.sum())
    kept = [rows[int(i)] for i in keep]
    return _Data(
        rows=kept,
        y=labels,
        w=w,
        features=sorted({name for row in kept for name in row}),
    )


def fit_logistic(
    rows: Sequence[Mapping[str, str]],
    y: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    c: float = 1.0,
) -> AdditiveModel:
    """L2-regularised logistic regression (inverse strength `c`) on one-hot features.

    The one-hot weights w[f][v] are centred per feature so the model reads naturally: with m_f
    the weighted mean of w[f][row's value] over the training rows, contribution(f, v) =
    w[f][v] - m_f, an unseen value (which has no column, so weight 0) contributes -m_f, and
    base_log_odds = intercept + sum_f m_f. So `base_log_odds` is the log-odds of an "average"
    lead and each contribution says how this lead differs from it; the predictions are those
    of the fitted regression. The solver runs to a tight tolerance: the intercept and the
    one-hot weights trade off along an almost flat direction, where a loose stop leaves the
    centring (and so `base_log_odds`) visibly off.

    Raises ValueError("need both outcomes") if the (positively weighted) labels are constant.
    """
    if c <= 0:
        raise ValueError("c must be positive")
    data = _prepare(rows, y, weights)
    if not data.features:
        # Only the unpenalised intercept is left: its optimum is the log-odds of the base rate.
        return AdditiveModel("logistic", logit(data.base_rate), {}, {}, {}, data.base_rate)
    columns: dict[tuple[str, str], int] = {}
    for name in data.features:  # every value of every feature, "" (missing) included
        for value in sorted(data.stats_values(name)):
            columns[(name, value)] = len(columns)
    indices = [columns[(name, row.get(name, ""))] for row in data.rows for name in data.features]
    per_row = len(data.features)
    from scipy import sparse  # type: ignore[import-untyped]  # see FITTING_IMPORTS
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    x = sparse.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices), np.arange(0, len(indices) + 1, per_row)),
        shape=(len(data.rows), len(columns)),
    )
    # Newton-Cholesky: a few exact Newton steps on a dense Hessian of the one-hot columns (a
    # few hundred at most), where L-BFGS needed hundreds of iterations to the same tolerance.
    regression = LogisticRegression(C=c, solver="newton-cholesky", tol=1e-8, max_iter=100)
    regression.fit(x, data.y, sample_weight=data.w)
    coefficients = [float(b) for b in regression.coef_[0]]
    tables: dict[str, dict[str, float]] = {}
    unseen: dict[str, float] = {}
    base = float(regression.intercept_[0])
    for name in data.features:
        weights_of = {v: coefficients[i] for (f, v), i in columns.items() if f == name}
        per_value = data.weighted_counts(name)
        mean = math.fsum(weights_of[v] * n for v, n in per_value.items()) / data.total
        tables[name] = {v: b - mean for v, b in weights_of.items()}
        unseen[name] = -mean
        base += mean
    return AdditiveModel("logistic", base, tables, unseen, data._stats(), data.base_rate)


def fit_naive_bayes(
    rows: Sequence[Mapping[str, str]],
    y: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    alpha: float = 1.0,
) -> AdditiveModel:
    """Categorical naive Bayes on weighted counts with Laplace smoothing `alpha`.

    With n1, n0 the weighted positives and negatives and K_f the number of values of feature f
    seen in training plus one for an unseen value: P(v | c) = (count_c(f, v) + alpha) /
    (n_c + alpha * K_f); contribution(f, v) = log P(v | 1) - log P(v | 0), the same with a zero
    count for an unseen value; base_log_odds = log(n1 / n0), the log of the prior odds.

    Raises ValueError("need both outcomes") if the (positively weighted) labels are constant.
    """
    if alpha <= 0:
        raise ValueError("alpha must be positive")
    data = _prepare(rows, y, weights)
    stats = data.stats()
    n1 = data.positives
    n0 = data.total - n1
    tables: dict[str, dict[str, float]] = {}
    unseen: dict[str, float] = {}
    for name, counts in stats.items():
        k = len(counts) + 1
        d1 = math.log(n1 + alpha * k)
        d0 = math.log(n0 + alpha * k)
        tables[name] = {
            v: (math.log(p + alpha) - d1) - (math.log(n - p + alpha) - d0)
            for v, (p, n) in counts.items()
        }
        unseen[name] = d0 - d1
    return AdditiveModel("naive_bayes", math.log(n1 / n0), tables, unseen, stats, data.base_rate)


def fit_prior(
    counts: Mapping[str, tuple[float, float]],
    *,
    defaults: Mapping[str, float],
    strength: float = 10.0,
    feature: str = "stage",
) -> AdditiveModel:
    """The thin-data model: one win rate per stage, smoothed towards global defaults.

    counts: stage -> (won, closed) observed in the org; defaults: stage -> global default win
    rate (a stage without one uses the mean of the defaults). Each stage's rate is
    (won + strength * default) / (closed + strength); the base rate is
    (sum won + strength * mean default) / (sum closed + strength), base_log_odds its logit, and
    a stage's contribution is logit(its rate) - base_log_odds. An unknown stage gets
    logit(mean default) - base_log_odds.
    """
    if not defaults:
        raise ValueError("defaults must name at least one stage")
    if strength <= 0:
        raise ValueError("strength must be positive")
    for won, closed in counts.values():
        if not 0 <= won <= closed:
            raise ValueError("counts must satisfy 0 <= won <= closed")
    fallback = sum(defaults.values()) / len(defaults)
    won_total = float(sum(won for won, _ in counts.values()))
    closed_total = float(sum(closed for _, closed in counts.values()))
    base = logit((won_total + strength * fallback) / (closed_total + strength))
    table: dict[str, float] = {}
    stats: dict[str, tuple[float, float]] = {}
    for stage in sorted({*counts, *defaults}):
        won, closed = counts.get(stage, (0.0, 0.0))
        prior = defaults.get(stage, fallback)
        table[stage] = logit((won + strength * prior) / (closed + strength)) - base
        stats[stage] = (float(won), float(closed))
    return AdditiveModel(
        "prior",
        base,
        {feature: table},
        {feature: logit(fallback) - base},
        {feature: stats},
        won_total / closed_total if closed_total > 0 else fallback,
    )


def calibrate(
    model: AdditiveModel,
    rows: Sequence[Mapping[str, str]],
    y: Sequence[int],
    weights: Sequence[float] | None = None,
) -> AdditiveModel:
    """Platt scaling that keeps the model additive: fit y ~ sigmoid(a * log_odds + b) on `rows`,
    then base_log_odds becomes a * base_log_odds + b and every contribution is multiplied by a.

    If the model's log-odds are the same for every row only the shift b is fitted (a = 1). If
    the fitted slope is not positive (the model ranks backwards on these rows) the model is
    returned unchanged. Raises ValueError("need both outcomes") if the labels are constant.
    """
    data = _prepare(rows, y, weights)
    scores = np.array([model.explain(row).log_odds for row in data.rows])
    mean = float(data.w @ scores) / data.total
    spread = math.sqrt(float(data.w @ (scores - mean) ** 2) / data.total)
    if spread < 1e-12:
        a = 1.0
        b = logit(data.base_rate) - mean
    else:
        from sklearn.linear_model import LogisticRegression  # see FITTING_IMPORTS

        regression = LogisticRegression(C=1e6, solver="lbfgs", tol=1e-8, max_iter=1000)
        regression.fit(((scores - mean) / spread)[:, None], data.y, sample_weight=data.w)
        a = float(regression.coef_[0][0]) / spread
        b = float(regression.intercept_[0]) - a * mean
    if a <= 0:
        return model
    return AdditiveModel(
        model.kind,
        a * model.base_log_odds + b,
        {f: {v: a * c for v, c in values.items()} for f, values in model.tables.items()},
        {f: a * c for f, c in model.unseen.items()},
        model.stats,
        model.base_rate,
    )


def select(
    candidates: Sequence[AdditiveModel],
    rows: Sequence[Mapping[str, str]],
    y: Sequence[int],
    weights: Sequence[float] | None = None,
) -> tuple[AdditiveModel, list[dict[str, Any]]]:
    """The candidate with the lowest log loss on the validation rows (ties: the higher AUC, then
    the earlier candidate), and one report per candidate: {"index", "kind", **metrics}."""
    if not candidates:
        raise ValueError("no candidates to select from")
    reports: list[dict[str, Any]] = []
    for index, model in enumerate(candidates):
        p = [model.explain(row).probability for row in rows]
        reports.append({"index": index, "kind": model.kind, **quality.evaluate(y, p, weights)})

    def rank(report: dict[str, Any]) -> tuple[float, float, int]:
        area = report["auc"]
        return (report["log_loss"], -(area if area is not None else -math.inf), report["index"])

    best = min(reports, key=rank)
    return candidates[best["index"]], reports
