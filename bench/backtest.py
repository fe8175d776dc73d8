"""Lead-score quality on planted truth: the backtest of an org whose true win probabilities are
known (salesperf/synthetic_planted.py), against the truth's own AUC and the two baselines.

    python -m bench.backtest [--leads 6000] [--seed 7] [--quick]

The planted log is folded with scoring's own fold (in memory); the model is learnt only from
what was recorded before the cutoff (the median creation day), and every lead created from the
cutoff on is scored from its first 14 days. Targets (the issue's): our AUC within 0.02 of the
planted truth's AUC, expected calibration error ≤ 0.05. tests/unit/scoring/test_backtest_planted.py
holds the same figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from rich.table import Table

from bench._harness import console, write_json
from salesperf.synthetic_planted import as_fed, planted_leads, truth_auc
from services.scoring.priority import features as feats
from services.scoring.priority import training
from services.scoring.projections.rollup import replay

HORIZON = 14


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__)
    parser.add_argument("--leads", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2,000 leads")
    args, _ = parser.parse_known_args(argv)
    leads = 2000 if args.quick else args.leads
    out = console()

    started = time.monotonic()
    truth = planted_leads(seed=args.seed, leads=leads)
    book = replay(as_fed(truth.events), ZoneInfo("Europe/Berlin")).book
    prospects = list(book.prospects.values())
    created = sorted(truth.created.values())
    cutoff = created[len(created) // 2]
    report = training.backtest(
        prospects,
        kind="lead",
        cutoff=cutoff,
        horizon_days=HORIZON,
        min_outcomes=40,
        rules=feats.FeatureRules(),
    )
    judged = feats.backtest_examples(prospects, kind="lead", cutoff=cutoff, horizon_days=HORIZON)
    best = truth_auc(truth, [e.key for e in judged])
    seconds = time.monotonic() - started

    model = report["model"]
    table = Table(
        title=f"lead scores on planted truth: {leads:,} leads ({len(truth.events):,} events), "
        f"learnt from {report['trained_on']:,} outcomes before {cutoff.date()}, judged on "
        f"{report['evaluated_on']:,} created after (first {HORIZON} days)",
        title_justify="left",
    )
    for column in ("model", "AUC", "Brier", "log loss", "ECE"):
        table.add_column(column, justify="left" if column == "model" else "right")
    table.add_row("planted truth", f"{best:.3f}", "—", "—", "—")
    rows = [(f"ours ({model['kind']})", model)]
    rows += [(name.replace("_", " "), figures) for name, figures in report["baselines"].items()]
    for name, figures in rows:
        table.add_row(name, *(f"{figures[k]:.3f}" for k in ("auc", "brier", "log_loss", "ece")))
    out.print(table)
    auc_ok = model["auc"] >= best - 0.02
    ece_ok = model["ece"] <= 0.05
    out.print(
        f"AUC {model['auc']:.3f} vs truth {best:.3f} (target: within 0.02): "
        f"{'[green]met[/green]' if auc_ok else '[red]not met[/red]'}; "
        f"ECE {model['ece']:.3f} (target ≤ 0.05): "
        f"{'[green]met[/green]' if ece_ok else '[red]not met[/red]'}; {seconds:.1f} s"
    )
    write_json(
        "backtest", {"leads": leads, "truth_auc": best, "report": report, "seconds": seconds}
    )
    return 0 if auc_ok and ece_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
