"""Learning an org's lead or deal model from its own closed outcomes, and the backtest that
measures it. Plain functions over profiles (projections/leads.py); scikit-learn does the fitting
(model.py), this module decides what to fit on and which model wins.

Training, as the big CRMs do it ("the model with the better results wins"):

1. The examples are every closed lead (or deal) known before `now`, seen at several ages while it
   was still open (features.training_examples), so a stale lead that was later lost teaches what
   staleness means. Below `min_outcomes` closed ones, the org gets the prior: its own stage
   rates smoothed towards global defaults, and it says so (`kind: "prior"`, with the counts).
2. Otherwise the outcomes are split by time: the earliest 75 % learn, the latest 25 % judge.
   A regularised logistic regression and a time-weighted naive Bayes (recency weights, the
   Odoo approach) are fitted on the first part, each Platt-calibrated on the second, and the one
   with the lower log loss there wins.
3. The winner's kind is refitted on every example and calibrated with the slope and shift it
   learnt on the held-out part, so no outcome is left unused.

The backtest is stricter (`backtest`): a model learnt only from what was recorded before a
cutoff scores every lead created on or after it from its own first `horizon_days` days, never
from anything at or after its outcome, and is compared with the outcomes, beside the stage-only
rate and the naive Bayes computed the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..projections.leads import Prospect
from . import features as feats
from . import quality
from .model import AdditiveModel, calibrate, fit_logistic, fit_naive_bayes, fit_prior, select
from .scores import DEFAULT_RATES

HOLD_OUT = 0.25
NB_HALF_LIFE_DAYS = 180.0


@dataclass(frozen=True, slots=True)
class Trained:
    model: AdditiveModel
    outcomes: int  # closed prospects learnt from
    report: dict[str, Any]  # what was compared, on which data, and the figures


def _closed(prospects: Iterable[Prospect], kind: str, known_before: datetime | None) -> int:
    limit = known_before.timestamp() if known_before else None
    return sum(
        1
        for p in prospects
        if p.kind == kind
        and p.created_at is not None
        and p.outcome is not None
        and (limit is None or (p.outcome_recorded or 0) < limit)
    )


def _prior(examples: Sequence[feats.Example], kind: str) -> AdditiveModel:
    counts = feats.stage_counts(examples)
    return fit_prior(counts, defaults=DEFAULT_RATES[kind])


def _weights(examples: Sequence[feats.Example], now: datetime) -> list[float]:
    return feats.recency_weights(examples, now=now, half_life_days=NB_HALF_LIFE_DAYS)


def _fitters(now: datetime) -> dict[str, Callable[[Sequence[feats.Example]], AdditiveModel]]:
    def logistic(examples: Sequence[feats.Example]) -> AdditiveModel:
        return fit_logistic(
            [e.row for e in examples], [e.label for e in examples], [e.weight for e in examples]
        )

    def naive_bayes(examples: Sequence[feats.Example]) -> AdditiveModel:
        return fit_naive_bayes(
            [e.row for e in examples], [e.label for e in examples], _weights(examples, now)
        )

    return {"logistic": logistic, "naive_bayes": naive_bayes}


def _both_outcomes(examples: Sequence[feats.Example]) -> bool:
    return len({e.label for e in examples}) == 2


def train(
    prospects: Sequence[Prospect],
    *,
    kind: str,
    now: datetime,
    min_outcomes: int,
    rules: feats.FeatureRules,
    known_before: datetime | None = None,
) -> Trained:
    """The org's model of `kind` from what is known before `known_before` (default: all)."""
    examples = feats.training_examples(prospects, kind=kind, rules=rules, known_before=known_before)
    outcomes = _closed(prospects, kind, known_before)
    if outcomes < min_outcomes or not _both_outcomes(examples):
        prior = _prior(examples, kind)
        return Trained(
            prior,
            outcomes,
            {
                "kind": "prior",
                "outcomes": outcomes,
                "min_outcomes": min_outcomes,
                "reason": f"{outcomes} closed {kind}s; a learnt model needs {min_outcomes} "
                "with both outcomes",
                "stages": {s: {"won": w, "closed": n} for s, (w, n) in prior.stats["stage"].items()}
                if "stage" in prior.stats
                else {},
            },
        )
    by_outcome = sorted(examples, key=lambda e: (e.outcome_at, e.key))
    keys = list(dict.fromkeys(e.key for e in by_outcome))
    judge = set(keys[int(len(keys) * (1 - HOLD_OUT)) :])
    learn = [e for e in by_outcome if e.key not in judge]
    held = [e for e in by_outcome if e.key in judge]
    fitters = _fitters(now)
    candidates: list[AdditiveModel] = []
    if _both_outcomes(learn) and _both_outcomes(held):
        for fit in fitters.values():
            try:
                first = fit(learn)
            except ValueError:  # e.g. every recency weight underflowed: not a candidate
                continue
            candidates.append(calibrate(first, [e.row for e in held], [e.label for e in held]))
    if candidates:
        rows, labels = [e.row for e in held], [e.label for e in held]
        weights = [e.weight for e in held]
        best, reports = select(candidates, rows, labels, weights)
        winner = best.kind
    else:  # too few of one outcome to hold some back: logistic regression on everything
        reports, winner = [], "logistic"
    final = fitters[winner](examples)
    if reports:  # the held-out calibration of the winner, applied to its refit
        final = _recalibrated(final, held)
    return Trained(
        final,
        outcomes,
        {
            "kind": winner,
            "outcomes": outcomes,
            "examples": len(examples),
            "held_out": len(judge),
            "candidates": reports,
        },
    )


def _recalibrated(final: AdditiveModel, held: Sequence[feats.Example]) -> AdditiveModel:
    """Platt-calibrate the refit with the held-out outcomes (the refit saw them too, so this only
    corrects the scale an over- or under-confident kind has; it cannot hide a bad model)."""
    try:
        return calibrate(final, [e.row for e in held], [e.label for e in held])
    except ValueError:
        return final


# --------------------------------------------------------------------------- backtest

RECORDED, OCCURRED = "recorded", "occurred"


def as_occurred(p: Prospect) -> Prospect:
    """The profile as if every event had been recorded when it occurred: for a backtest of
    history imported in bulk, whose recorded times all say "the day of the import"."""
    return p._replace(
        created_recorded=p.created_at,
        outcome_recorded=p.outcome_at,
        items=tuple(i._replace(recorded=i.at) for i in p.items),
    )


def backtest(
    prospects: Sequence[Prospect],
    *,
    kind: str,
    cutoff: datetime,
    horizon_days: int,
    min_outcomes: int,
    rules: feats.FeatureRules,
    known_by: str = RECORDED,
) -> dict[str, Any]:
    """Learn from what was recorded before `cutoff`; score every `kind` created on or after it
    from its first `horizon_days` days; report the model against the stage-only rate and the
    time-weighted naive Bayes, computed the same way. `known_by="occurred"` takes each event as
    known when it occurred (history imported in bulk)."""
    if known_by == OCCURRED:
        prospects = [as_occurred(p) for p in prospects]
    trained = train(
        prospects,
        kind=kind,
        now=cutoff,
        min_outcomes=min_outcomes,
        rules=rules,
        known_before=cutoff,
    )
    tests = feats.backtest_examples(
        prospects, kind=kind, cutoff=cutoff, horizon_days=horizon_days, rules=rules
    )
    learnt = feats.training_examples(prospects, kind=kind, rules=rules, known_before=cutoff)
    report: dict[str, Any] = {
        "kind": kind,
        "cutoff": cutoff.isoformat(),
        "horizon_days": horizon_days,
        "known_by": known_by,
        "trained_on": trained.outcomes,
        "evaluated_on": len(tests),
        "model": {"kind": trained.model.kind, **_evaluate(trained.model, tests)},
        "baselines": {},
    }
    if learnt:
        report["baselines"]["stage_only"] = {
            "kind": "prior",
            **_evaluate(_prior(learnt, kind), tests),
        }
        if _both_outcomes(learnt):
            try:
                nb = fit_naive_bayes(
                    [e.row for e in learnt], [e.label for e in learnt], _weights(learnt, cutoff)
                )
            except ValueError:  # its recency weights left nothing to learn from
                pass
            else:
                report["baselines"]["naive_bayes"] = {"kind": "naive_bayes", **_evaluate(nb, tests)}
    return report


def _evaluate(model: AdditiveModel, tests: Sequence[feats.Example]) -> dict[str, Any]:
    if not tests:
        return {"count": 0}
    p = [model.explain(e.row).probability for e in tests]
    return quality.evaluate([e.label for e in tests], p)
