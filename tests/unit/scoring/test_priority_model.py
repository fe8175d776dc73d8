"""Win-probability models: scores that explain themselves exactly, fits that find planted effects,
weights that mean what they say, calibration, the thin-data prior, selection, JSON, and the
quality metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss, roc_auc_score  # type: ignore[import-untyped]
from sklearn.metrics import log_loss as sk_log_loss

from services.scoring.priority import quality
from services.scoring.priority.model import (
    AdditiveModel,
    Explanation,
    calibrate,
    fit_logistic,
    fit_naive_bayes,
    fit_prior,
    logit,
    select,
    sigmoid,
)

Row = Mapping[str, str]

# Planted effects in log-odds, each centred (mean 0 over its equally likely values).
EFFECTS: dict[str, dict[str, float]] = {
    "channel": {"referral": 1.2, "web": -0.2, "cold": -1.0},
    "industry": {"bakery": 0.6, "cafe": -0.1, "hotel": -0.5},
    "visits_14d": {"3+": 0.9, "1-2": 0.1, "0": -1.0},
}
INTERCEPT = -0.3
TRUTH = AdditiveModel(
    kind="logistic",
    base_log_odds=INTERCEPT,
    tables=EFFECTS,
    unseen=dict.fromkeys(EFFECTS, 0.0),
    stats={},
    base_rate=0.5,
)
ODD_ROWS: list[Row] = [
    {},
    {"channel": "referral"},
    {"channel": "carrier pigeon", "industry": "bakery"},
    {"channel": "web", "industry": "cafe", "visits_14d": "0", "not_a_feature": "x"},
    {"channel": "", "industry": "", "visits_14d": ""},
]


def scale(model: AdditiveModel, factor: float) -> AdditiveModel:
    return AdditiveModel(
        model.kind,
        model.base_log_odds * factor,
        {f: {v: c * factor for v, c in vs.items()} for f, vs in model.tables.items()},
        {f: c * factor for f, c in model.unseen.items()},
        model.stats,
        model.base_rate,
    )


def synthetic(n: int, seed: int) -> tuple[list[Row], list[int]]:
    """Rows with three equally likely categorical features; outcomes drawn from TRUTH."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = [
        {name: str(rng.choice(list(values))) for name, values in EFFECTS.items()} for _ in range(n)
    ]
    y = [int(rng.random() < TRUTH.explain(row).probability) for row in rows]
    return rows, y


@cache
def train() -> tuple[list[Row], list[int]]:
    return synthetic(4000, seed=1)


@cache
def held_out() -> tuple[list[Row], list[int]]:
    return synthetic(4000, seed=2)


@cache
def fitted_logistic() -> AdditiveModel:
    return fit_logistic(*train())


@cache
def fitted_naive_bayes() -> AdditiveModel:
    return fit_naive_bayes(*train())


def probabilities(model: AdditiveModel, rows: Sequence[Row]) -> list[float]:
    return [model.explain(row).probability for row in rows]


def assert_adds_up(e: Explanation) -> None:
    total = Decimal(str(e.base_log_odds)) + sum(
        (Decimal(str(c)) for c in e.contributions.values()), Decimal(0)
    )
    assert Decimal(str(e.log_odds)) == total
    assert e.probability == sigmoid(e.log_odds)


# --- explanations -----------------------------------------------------------------------------

names = st.sampled_from(["channel", "industry", "stage", "signal:asked_for_price", "visits_14d"])
labels = st.sampled_from(["", "yes", "no", "referral", "3+", "bakery", "qualified", "é"])
weights_of = st.floats(min_value=-30, max_value=30, allow_nan=False)


@st.composite
def models(draw: st.DrawFn) -> AdditiveModel:
    tables = draw(st.dictionaries(names, st.dictionaries(labels, weights_of, max_size=6)))
    return AdditiveModel(
        kind=draw(st.sampled_from(["logistic", "naive_bayes", "prior"])),
        base_log_odds=draw(weights_of),
        tables=tables,
        unseen={f: draw(weights_of) for f in tables},
        stats={},
        base_rate=draw(st.floats(min_value=0, max_value=1)),
    )


class TestExplanationsAddUpExactly:
    @settings(max_examples=300, deadline=None)
    @given(model=models(), row=st.dictionaries(names | st.just("unknown"), labels))
    def test_for_any_model_and_row(self, model: AdditiveModel, row: dict[str, str]) -> None:
        e = model.explain(row)
        assert_adds_up(e)
        assert set(e.contributions) == set(model.tables)

    def test_for_a_fitted_logistic_regression(self) -> None:
        model = fitted_logistic()
        for row in [*train()[0][:500], *ODD_ROWS]:
            assert_adds_up(model.explain(row))

    def test_for_a_fitted_naive_bayes(self) -> None:
        model = fitted_naive_bayes()
        for row in [*train()[0][:500], *ODD_ROWS]:
            assert_adds_up(model.explain(row))


class TestExplain:
    def test_a_missing_feature_reads_as_the_empty_value_and_unknown_features_are_ignored(
        self,
    ) -> None:
        model = AdditiveModel(
            "logistic", 0.5, {"channel": {"": -0.25, "web": 1.0}}, {"channel": 2.0}, {}, 0.5
        )
        assert model.explain({}).contributions == {"channel": -0.25}
        assert model.explain({"channel": "", "other": "web"}).contributions == {"channel": -0.25}
        assert model.explain({"channel": "fax"}).contributions == {"channel": 2.0}
        e = model.explain({"channel": "web"})
        assert (e.log_odds, e.probability) == (1.5, sigmoid(1.5))

    def test_rounding_moves_the_log_odds_by_at_most_a_few_millionths(self) -> None:
        model = fitted_logistic()
        for row in train()[0][:50]:
            raw = model.base_log_odds + sum(
                model.tables[f].get(row.get(f, ""), model.unseen[f]) for f in model.tables
            )
            assert model.explain(row).log_odds == pytest.approx(raw, abs=1e-5)

    def test_sigmoid_and_logit_are_inverse_and_clamped(self) -> None:
        assert logit(sigmoid(1.7)) == pytest.approx(1.7)
        assert logit(0.0) == pytest.approx(math.log(1e-6 / (1 - 1e-6)))
        assert logit(1.0) == pytest.approx(-logit(0.0))
        assert sigmoid(-1000.0) == 0.0
        assert sigmoid(1000.0) == 1.0

    def test_a_model_rejects_non_finite_parameters_and_unknown_kinds(self) -> None:
        with pytest.raises(ValueError, match="must be finite"):
            AdditiveModel("logistic", math.nan, {}, {}, {}, 0.5)
        with pytest.raises(ValueError, match="unknown model kind"):
            AdditiveModel("forest", 0.0, {}, {}, {}, 0.5)


# --- logistic regression ----------------------------------------------------------------------


class TestLogisticRegression:
    def test_recovers_the_sign_order_and_size_of_planted_effects(self) -> None:
        model = fitted_logistic()
        for name, truth in EFFECTS.items():
            fitted = model.tables[name]
            assert set(fitted) == set(truth)
            assert sorted(truth, key=truth.__getitem__) == sorted(fitted, key=fitted.__getitem__)
            for value, effect in truth.items():
                assert math.copysign(1, fitted[value]) == math.copysign(1, effect)
                assert fitted[value] == pytest.approx(effect, abs=0.2)

    def test_ranks_held_out_leads_about_as_well_as_the_planted_truth(self) -> None:
        rows, y = held_out()
        best = quality.auc(y, probabilities(TRUTH, rows))
        found = quality.auc(y, probabilities(fitted_logistic(), rows))
        assert best is not None
        assert found is not None
        assert found == pytest.approx(best, abs=0.01)

    def test_contributions_are_centred_on_the_average_training_lead(self) -> None:
        model = fitted_logistic()
        rows, y = train()
        for name, table in model.tables.items():
            assert np.mean([table[row[name]] for row in rows]) == pytest.approx(0, abs=1e-9)
        assert model.base_rate == pytest.approx(np.mean(y))
        assert model.stats["channel"]["web"][1] == sum(row["channel"] == "web" for row in rows)

    def test_an_unseen_value_contributes_as_a_zero_one_hot_weight(self) -> None:
        model = fitted_logistic()
        for name, table in model.tables.items():
            # table[v] - unseen = the raw one-hot weight of v; with an unpenalised intercept and
            # one value per row, the optimum has the raw weights of each feature sum to zero.
            raw = [c - model.unseen[name] for c in table.values()]
            assert sum(raw) == pytest.approx(0, abs=1e-3)
            assert model.explain({name: "never seen"}).contributions[name] == round(
                model.unseen[name], 6
            )

    def test_rows_without_features_give_the_base_rate(self) -> None:
        model = fit_logistic([{}, {}, {}, {}], [1, 0, 0, 0])
        assert model.tables == {}
        assert model.explain({"channel": "web"}).probability == pytest.approx(0.25, abs=1e-6)

    def test_a_stronger_penalty_shrinks_the_effects(self) -> None:
        rows, y = train()
        weak = fit_logistic(rows, y, c=0.001)
        assert abs(weak.tables["channel"]["referral"]) < abs(
            fitted_logistic().tables["channel"]["referral"]
        )

    def test_needs_both_outcomes(self) -> None:
        with pytest.raises(ValueError, match="need both outcomes"):
            fit_logistic([{"channel": "web"}, {"channel": "cold"}], [1, 1])
        with pytest.raises(ValueError, match="need both outcomes"):
            fit_logistic([{"channel": "web"}, {"channel": "cold"}], [1, 0], [1.0, 0.0])


# --- naive Bayes ------------------------------------------------------------------------------


def weighted_sample() -> tuple[list[Row], list[int], list[float]]:
    rows, y = train()
    rows, y = rows[:600], y[:600]
    rng = np.random.default_rng(3)
    return rows, y, [float(w) for w in rng.uniform(0.1, 2.0, len(rows))]


class TestNaiveBayes:
    def test_matches_hand_computed_smoothed_ratios(self) -> None:
        rows: list[Row] = [{"channel": "web"}, {"channel": "web"}, {"channel": "referral"}, {}]
        model = fit_naive_bayes(rows, [1, 0, 1, 1], alpha=1.0)
        # n1 = 3, n0 = 1; values "", referral, web plus unseen: K = 4.
        assert model.base_log_odds == pytest.approx(math.log(3))
        assert model.tables["channel"] == pytest.approx(
            {"web": math.log((2 / 7) / (2 / 5)), "referral": math.log(10 / 7), "": math.log(10 / 7)}
        )
        assert model.unseen["channel"] == pytest.approx(math.log(5 / 7))
        assert model.stats["channel"] == {"": (1, 1), "referral": (1, 1), "web": (1, 2)}
        assert model.base_rate == 0.75

    def test_doubling_every_weight_changes_nothing(self) -> None:
        rows, y, w = weighted_sample()
        once = fit_naive_bayes(rows, y, w)
        twice = fit_naive_bayes(rows, y, [2 * x for x in w])
        assert once == twice
        assert once != fit_naive_bayes(rows, y)

    def test_a_zero_weight_is_the_same_as_leaving_the_row_out(self) -> None:
        rows, y, w = weighted_sample()
        # The dropped rows bring a feature and a value seen nowhere else.
        rows = [*rows, {"channel": "fax", "region": "north"}, {"channel": "fax"}]
        y = [*y, 1, 0]
        zeroed = fit_naive_bayes(rows, y, [*w[:-10], *[0.0] * 12])
        removed = fit_naive_bayes(rows[:-12], y[:-12], w[:-10])
        assert zeroed == removed
        assert "region" not in zeroed.tables
        assert "fax" not in zeroed.tables["channel"]

    def test_agrees_with_the_planted_direction(self) -> None:
        model = fitted_naive_bayes()
        for name, truth in EFFECTS.items():
            fitted = model.tables[name]
            assert sorted(truth, key=truth.__getitem__) == sorted(fitted, key=fitted.__getitem__)

    def test_needs_both_outcomes(self) -> None:
        with pytest.raises(ValueError, match="need both outcomes"):
            fit_naive_bayes([{"channel": "web"}, {}], [0, 0])

    def test_rejects_negative_weights(self) -> None:
        with pytest.raises(ValueError, match="non-negative"):
            fit_naive_bayes([{"channel": "web"}, {}], [0, 1], [1.0, -1.0])


# --- calibration ------------------------------------------------------------------------------


class TestCalibrate:
    def test_tames_an_over_confident_model_and_keeps_it_additive(self) -> None:
        loud = scale(TRUTH, 3.0)
        calibrated = calibrate(loud, *train())
        rows, y = held_out()
        before = quality.log_loss(y, probabilities(loud, rows))
        after = quality.log_loss(y, probabilities(calibrated, rows))
        assert after < before - 0.05
        slope = calibrated.tables["channel"]["referral"] / loud.tables["channel"]["referral"]
        assert slope == pytest.approx(1 / 3, abs=0.05)
        for name, table in loud.tables.items():
            for value, c in table.items():
                assert calibrated.tables[name][value] == pytest.approx(slope * c)
        assert calibrated.kind == loud.kind
        for row in [*rows[:200], *ODD_ROWS]:
            assert_adds_up(calibrated.explain(row))

    def test_returns_a_backwards_model_unchanged(self) -> None:
        backwards = scale(TRUTH, -1.0)
        assert calibrate(backwards, *train()) is backwards

    def test_only_shifts_a_model_that_scores_every_row_alike(self) -> None:
        flat = AdditiveModel("prior", 2.0, {"stage": {"won": 1.0}}, {"stage": 0.0}, {}, 0.5)
        calibrated = calibrate(flat, [{}, {}, {}, {}], [1, 0, 0, 0])
        assert calibrated.tables == flat.tables
        assert calibrated.explain({}).probability == pytest.approx(0.25, abs=1e-6)


# --- prior ------------------------------------------------------------------------------------

DEFAULTS = {"qualified": 0.2, "proposal": 0.5, "negotiation": 0.7}


class TestPrior:
    def test_smooths_stage_rates_towards_the_defaults(self) -> None:
        model = fit_prior(
            {"qualified": (2, 10), "proposal": (6, 10)}, defaults=DEFAULTS, strength=10
        )
        base = 19 / 45  # (8 won + 10 * 7/15) / (20 closed + 10)
        assert model.kind == "prior"
        assert model.base_log_odds == pytest.approx(logit(base))
        assert model.unseen == {"stage": pytest.approx(logit(7 / 15) - logit(base))}
        expected = {"qualified": 0.2, "proposal": 11 / 20, "negotiation": 0.7}
        for stage, rate in expected.items():
            assert model.tables["stage"][stage] == pytest.approx(logit(rate) - logit(base))
            assert model.explain({"stage": stage}).probability == pytest.approx(rate, abs=1e-6)
        assert model.stats == {
            "stage": {"negotiation": (0, 0), "proposal": (6, 10), "qualified": (2, 10)}
        }
        assert model.base_rate == 0.4

    def test_more_strength_means_closer_to_the_defaults(self) -> None:
        counts = {"proposal": (9.0, 10.0)}

        def rate(strength: float) -> float:
            model = fit_prior(counts, defaults=DEFAULTS, strength=strength)
            return model.explain({"stage": "proposal"}).probability

        assert rate(0.01) == pytest.approx(0.9, abs=1e-3)
        assert 0.9 > rate(1) > rate(10) > rate(1000) > 0.5
        assert rate(1e9) == pytest.approx(0.5, abs=1e-6)

    def test_a_stage_without_default_leans_on_the_mean_default(self) -> None:
        model = fit_prior({"demo": (0, 0)}, defaults=DEFAULTS, feature="phase")
        assert model.explain({"phase": "demo"}).probability == pytest.approx(7 / 15, abs=1e-6)
        assert model.explain({"phase": "??"}).probability == pytest.approx(7 / 15, abs=1e-6)


# --- selection and JSON -----------------------------------------------------------------------


class TestSelect:
    def test_picks_the_model_with_the_lowest_held_out_log_loss(self) -> None:
        rows, y = train()
        prior_only = fit_logistic([{} for _ in rows], y)
        candidates = [prior_only, scale(TRUTH, 3.0), fitted_logistic(), fitted_naive_bayes()]
        chosen, reports = select(candidates, *held_out())
        assert chosen is fitted_logistic()
        assert [r["kind"] for r in reports] == [c.kind for c in candidates]
        best = min(r["log_loss"] for r in reports)
        assert reports[2]["log_loss"] == best
        assert reports[0]["auc"] == 0.5
        assert {"count", "positives", "auc", "brier", "log_loss", "ece", "calibration"} <= set(
            reports[0]
        )

    def test_breaks_log_loss_ties_by_auc(self) -> None:
        rows: list[Row] = [{"k": "1"}, {"k": "2"}, {"k": "3"}, {"k": "4"}]

        def predicting(*p: float) -> AdditiveModel:
            table = {row["k"]: logit(q) for row, q in zip(rows, p, strict=True)}
            return AdditiveModel("prior", 0.0, {"k": table}, {"k": 0.0}, {}, 0.5)

        # Per row the same losses (-log 0.7 twice, -log 0.4 twice), but B ranks every pair right.
        a = predicting(0.7, 0.4, 0.6, 0.3)
        b = predicting(0.7, 0.7, 0.6, 0.6)
        chosen, reports = select([a, b], rows, [1, 1, 0, 0])
        assert reports[0]["log_loss"] == reports[1]["log_loss"]
        assert (reports[0]["auc"], reports[1]["auc"]) == (0.75, 1.0)
        assert chosen is b


class TestJson:
    @pytest.mark.parametrize("fit", ["logistic", "naive_bayes", "prior"])
    def test_a_round_trip_gives_identical_explanations(self, fit: str) -> None:
        fits: dict[str, Callable[[], AdditiveModel]] = {
            "logistic": fitted_logistic,
            "naive_bayes": fitted_naive_bayes,
            "prior": lambda: fit_prior({"qualified": (3, 7)}, defaults=DEFAULTS),
        }
        model = fits[fit]()
        back = AdditiveModel.from_json(json.loads(json.dumps(model.to_json())))
        assert back == model
        for row in [*train()[0][:100], *ODD_ROWS, {"stage": "qualified"}]:
            assert back.explain(row) == model.explain(row)


# --- quality ----------------------------------------------------------------------------------

Y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0]
P = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.55, 0.7, 0.05]
W = [1.0, 2.0, 0.5, 1.0, 1.5, 1.0, 3.0, 0.5, 1.0, 1.0]


class TestQuality:
    def test_auc_brier_and_log_loss_agree_with_sklearn(self) -> None:
        for weights in (None, W):
            assert quality.auc(Y, P, weights) == pytest.approx(
                roc_auc_score(Y, P, sample_weight=weights)
            )
            assert quality.brier(Y, P, weights) == pytest.approx(
                brier_score_loss(Y, P, sample_weight=weights)
            )
            assert quality.log_loss(Y, P, weights) == pytest.approx(
                sk_log_loss(Y, P, sample_weight=weights)
            )
        assert quality.auc(Y, P) == pytest.approx(22 / 25)  # 22 of 25 pairs ranked right
        assert quality.brier([1, 0], [0.5, 0.5]) == 0.25

    def test_log_loss_clamps_certain_mistakes(self) -> None:
        assert quality.log_loss([1, 0], [0.0, 1.0]) == pytest.approx(-math.log(1e-6))

    def test_auc_is_undefined_for_one_class(self) -> None:
        assert quality.auc([1, 1, 1], [0.2, 0.5, 0.9]) is None
        assert quality.auc([1, 0], [0.2, 0.5], [1.0, 0.0]) is None

    @given(
        p=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 0.99]) | st.floats(0, 1)),
        bins=st.integers(1, 12),
    )
    def test_calibration_bins_partition_the_rows_without_splitting_ties(
        self, p: list[float], bins: int
    ) -> None:
        y = [int(x > 0.5) for x in p]
        table = quality.calibration(y, p, bins)
        assert sum(b["count"] for b in table) == len(p)
        assert [b["bin"] for b in table] == list(range(len(table)))
        assert len(table) <= bins
        assert all(b["count"] > 0 for b in table)
        # Bins hold consecutive ranks and no prediction appears in two bins.
        ranked = sorted(p)
        start = 0
        for b in table:
            members = ranked[start : start + b["count"]]
            assert b["mean_predicted"] == pytest.approx(sum(members) / len(members))
            if start + b["count"] < len(ranked):
                assert members[-1] < ranked[start + b["count"]]
            start += b["count"]

    def test_calibration_makes_deciles_of_equal_size(self) -> None:
        p = [i / 100 for i in range(100)]
        table = quality.calibration([0] * 100, p)
        assert [b["count"] for b in table] == [10] * 10
        assert table[0]["mean_predicted"] == pytest.approx(0.045)

    def test_ece_is_zero_when_every_bin_is_perfectly_calibrated(self) -> None:
        p = [0.2] * 5 + [0.8] * 5
        y = [1, 0, 0, 0, 0, 1, 1, 1, 1, 0]
        assert quality.ece(y, p, bins=2) == pytest.approx(0)
        assert quality.ece([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]) == 0
        assert quality.ece([0, 1], [0.9, 0.1], bins=2) == pytest.approx(0.9)

    def test_evaluate_reports_every_metric_rounded(self) -> None:
        report = quality.evaluate(Y, P, W)
        assert report["count"] == 10
        assert report["positives"] == 5
        assert report["log_loss"] == round(quality.log_loss(Y, P, W), 6)
        assert report["ece"] == round(quality.ece(Y, P), 6)
        assert sum(b["count"] for b in report["calibration"]) == 10
        json.dumps(report)
