"""A rebuild's replay, its book plain and packed: how much memory its process takes.

    python -m bench.packed_book [--events 1000000] [--quick]

The synthetic log of bench/scoring.py (12 teams of 8 reps; its voids left out, as a replay
leaves voided events out) is written as the feed's pages of JSON to a temporary file. Each
variant then runs in a process of its own, spawned as a rebuild's process is
(services/scoring/workers.py), and does what that process does, without HTTP and the
database: reads the pages one at a time, folds them with the collector off but for each
page's young objects, hands the fact sums over every `STAGE_EVERY` keys, then scores the open
leads and deals and judges the customers (`jobs.score_org`) and renders every entity as it is
stored. Reported: the process's peak resident memory (VmHWM), its memory before the replay
(what its imports take) and the replay's seconds.

- **plain** (the baseline): the book as a replay held it before, every entity an object;
- **packed** (projections/packed.py): what no page touched in the last 32–64 pages kept
  encoded, decoded back when a page looks it up (`--sweep-pages N`: another interval).

Target: a rebuild's process ≤ 300 MB at 1M events (issue 12).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from bench._harness import Verdict, console, report
from bench.scoring import peak_rss_mb, rss_mb
from services.scoring.projections.packed import SWEEP_PAGES

TARGET_MB = 300.0
TIMEZONE = "Europe/Berlin"


def replay_alone(path: str, packed: bool, sweep_pages: int) -> dict[str, Any]:
    """One variant, in a process of its own: the rebuild's replay, scores and stored states."""
    from zoneinfo import ZoneInfo

    from services.scoring import jobs
    from services.scoring.config import ScoringSettings
    from services.scoring.follow import scorer
    from services.scoring.follow.replayer import STAGE_EVERY
    from services.scoring.priority import scores
    from services.scoring.projections.codec import KINDS, encode
    from services.scoring.projections.kpis import Book
    from services.scoring.projections.packed import PackedBook
    from services.scoring.projections.rollup import Replay, feed

    timezone = ZoneInfo(TIMEZONE)
    settings = ScoringSettings()
    rules = jobs.Rules(
        scorer.priority_rules(settings),
        scorer.feature_rules(settings),
        scorer.health_rules(settings),
        settings.min_outcomes,
    )
    models = {kind: scores.default_model(kind) for kind in scores.KINDS}
    before = rss_mb(os.getpid())
    result = Replay(Book(timezone))
    book = PackedBook(result.book, sweep_pages=sweep_pages) if packed else None
    gc.disable()
    started = time.perf_counter()
    with open(path, "rb") as pages:
        for page in pages:
            feed(result, orjson.loads(page)["items"])
            if book is not None:
                book.after_page()
            gc.collect(0)
            if len(result.sums) >= STAGE_EVERY:
                result.sums = {}  # a rebuild COPYs them to its stage here
    replayed = time.perf_counter() - started
    gc.enable()
    after_replay = rss_mb(os.getpid())
    if book is not None:
        prospects, customers = book.profiles("prospects"), book.profiles("customers")
        stored = sum(1 for _ in book.stored())
        unpacked = sum(book.unpacked.values())
    else:
        plain = result.book
        prospects, customers = list(plain.prospects.values()), list(plain.customers.values())
        stored = sum(1 for kind in KINDS for v in getattr(plain, kind).values() if encode(v))
        unpacked = 0
    score_rows, health_rows = jobs.score_org(
        prospects, customers, models, date(2026, 12, 31), timezone, "EUR", rules
    )
    return {
        "events": result.folded,
        "replay_seconds": replayed,
        "rss_before_mb": before,
        "rss_after_replay_mb": after_replay,
        "peak_mb": peak_rss_mb(os.getpid()),
        "entities": stored,
        "scored": len(score_rows),
        "judged": len(health_rows),
        "unpacked": unpacked,
    }


def run_alone(path: str, packed: bool, sweep_pages: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        found: dict[str, Any] = pool.apply(replay_alone, (path, packed, sweep_pages))
    return found


def write_pages(n: int, path: Path) -> None:
    from bench.fold import pages

    with path.open("wb") as f:
        for page in pages(n):
            f.write(page + b"\n")


def verdicts(plain: dict[str, Any], packed: dict[str, Any]) -> list[Verdict]:
    n = plain["events"]
    return [
        Verdict(
            f"rebuild's process peak, {n:,} events",
            "MB",
            packed["peak_mb"],
            plain["peak_mb"],
            "the plain book (same run)",
            f"≤ {TARGET_MB:.0f} MB",
            packed["peak_mb"] <= TARGET_MB,
            f"after the replay {packed['rss_after_replay_mb']:.0f} MB (plain "
            f"{plain['rss_after_replay_mb']:.0f}); imports {packed['rss_before_mb']:.0f} MB",
        ),
        Verdict(
            "its replay",
            "µs/event",
            packed["replay_seconds"] / n * 1e6,
            plain["replay_seconds"] / n * 1e6,
            "the plain book (same run)",
            "— (reference)",
            None,
            f"{packed['unpacked']:,} entities decoded back; {packed['entities']:,} stored",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.packed_book", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="50k events")
    parser.add_argument("--events", type=int, default=None, help="events in the log [1,000,000]")
    parser.add_argument(
        "--sweep-pages", type=int, default=SWEEP_PAGES, help=f"pages between sweeps [{SWEEP_PAGES}]"
    )
    args, _ = parser.parse_known_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    n = args.events or (50_000 if quick else 1_000_000)
    out = console()
    out.rule("[bold]bench.packed_book[/bold]: a rebuild's replay, its book plain and packed")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="salesperf-bench-") as folder:
        path = Path(folder) / "pages.ndjson"
        write_pages(n, path)
        packed = run_alone(str(path), True, args.sweep_pages)
        plain = run_alone(str(path), False, args.sweep_pages)
    setup = Table(title="setup", title_justify="left", show_header=False)
    setup.add_row("log", f"{plain['events']:,} synthetic events folded, pages of 1,000")
    setup.add_row("packed", f"swept every {args.sweep_pages} pages")
    out.print(setup)
    found = verdicts(plain, packed)
    details = {"sweep_pages": args.sweep_pages, "plain": plain, "packed": packed}
    return report(out, "packed_book", found, details, started=started)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
