"""How good a set of predicted win probabilities is: ranking (AUC), accuracy (Brier score, log
loss) and calibration (observed win rate per decile of predicted probability, and its expected
calibration error).

`y` holds 0/1 outcomes and `p` predicted probabilities of a 1. `weights` are optional sample
weights (e.g. recency); the calibration table and ECE count rows unweighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np

EPSILON = 1e-6
"""Probabilities are clamped to [EPSILON, 1 - EPSILON] wherever a logarithm is taken."""


def clamp(p: float) -> float:
    return min(max(p, EPSILON), 1.0 - EPSILON)


def auc(
    y: Sequence[int], p: Sequence[float], weights: Sequence[float] | None = None
) -> float | None:
    """Area under the ROC curve; None when only one outcome is present (with positive weight)."""
    _check(y, p, weights)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    labels = np.asarray(y)
    if not (w[labels == 1].sum() > 0 and w[labels == 0].sum() > 0):
        return None
    # Imported here, not at the top: see model.FITTING_IMPORTS.
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    return float(roc_auc_score(labels, np.asarray(p, dtype=float), sample_weight=w))


def brier(y: Sequence[int], p: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Mean squared difference between the predicted probability and the outcome."""
    _check(y, p, weights)
    from sklearn.metrics import brier_score_loss  # see model.FITTING_IMPORTS

    return float(brier_score_loss(list(y), list(p), sample_weight=weights, labels=[0, 1]))


def log_loss(y: Sequence[int], p: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Mean negative log-likelihood, with p clamped to [EPSILON, 1 - EPSILON]."""
    _check(y, p, weights)
    clamped = [clamp(float(x)) for x in p]
    from sklearn.metrics import log_loss as sk_log_loss  # see model.FITTING_IMPORTS

    return float(sk_log_loss(list(y), clamped, sample_weight=weights, labels=[0, 1]))


def calibration(y: Sequence[int], p: Sequence[float], bins: int = 10) -> list[dict[str, Any]]:
    """Rows sorted by predicted probability and cut into `bins` groups of (nearly) equal count;
    rows with the same prediction always share a group, so there may be fewer groups than
    `bins`. Each group: {"bin": i, "count": n, "mean_predicted": x, "observed": win rate}."""
    _check(y, p, None)
    if bins < 1:
        raise ValueError("bins must be at least 1")
    order = sorted(range(len(p)), key=lambda i: p[i])
    ranked = [p[i] for i in order]
    table: list[dict[str, Any]] = []
    for lo, hi in _cuts(ranked, bins):
        members = order[lo:hi]
        table.append(
            {
                "bin": len(table),
                "count": hi - lo,
                "mean_predicted": sum(p[i] for i in members) / (hi - lo),
                "observed": sum(y[i] for i in members) / (hi - lo),
            }
        )
    return table


def ece(y: Sequence[int], p: Sequence[float], bins: int = 10) -> float:
    """Expected calibration error over the `calibration` groups:
    sum(count / N * |mean_predicted - observed|)."""
    total = len(y)
    if total == 0:
        return 0.0
    return sum(
        float(b["count"] / total * abs(b["mean_predicted"] - b["observed"]))
        for b in calibration(y, p, bins)
    )


def evaluate(
    y: Sequence[int], p: Sequence[float], weights: Sequence[float] | None = None
) -> dict[str, Any]:
    """Every metric at once, floats rounded to 6 decimals."""
    area = auc(y, p, weights)
    return {
        "count": len(y),
        "positives": int(sum(y)),
        "auc": None if area is None else round(area, 6),
        "brier": round(brier(y, p, weights), 6),
        "log_loss": round(log_loss(y, p, weights), 6),
        "ece": round(ece(y, p), 6),
        "calibration": [
            {
                **b,
                "mean_predicted": round(b["mean_predicted"], 6),
                "observed": round(b["observed"], 6),
            }
            for b in calibration(y, p)
        ],
    }


def _cuts(ranked: Sequence[float], bins: int) -> list[tuple[int, int]]:
    """[lo, hi) index ranges over the sorted predictions: equal counts, each cut moved to the
    nearer end of the run of ties it would otherwise split."""
    n = len(ranked)
    bounds = [0]
    for k in range(1, bins):
        cut = round(k * n / bins)
        if 0 < cut < n and ranked[cut - 1] == ranked[cut]:
            start = cut
            while start > 0 and ranked[start - 1] == ranked[cut]:
                start -= 1
            end = cut
            while end < n and ranked[end] == ranked[cut]:
                end += 1
            cut = start if cut - start <= end - cut else end
        if bounds[-1] < cut < n:
            bounds.append(cut)
    bounds.append(n)
    return [(lo, hi) for lo, hi in pairwise(bounds) if hi > lo]


def _check(y: Sequence[int], p: Sequence[float], weights: Sequence[float] | None) -> None:
    if len(y) != len(p) or (weights is not None and len(weights) != len(y)):
        raise ValueError("y, p and weights must have the same length")
