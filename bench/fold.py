"""The fold alone: what one core of scoring spends per event, with no HTTP and no database.

    python -m bench.fold [--events 200000] [--quick]

The synthetic log of bench/scoring.py (12 teams of 8 reps; its voids left out, as a replay
leaves voided events out), stamped as activity's feed would serve it (a position, and one
`recorded_at` per append of 1,000 events), is rendered as the feed's pages of 1,000 events
and then, in turn:

1. **parse**: each page's JSON read back into events (orjson, as scoring's client does);
2. **fold**: the events folded from an empty book with the replay a rebuild runs
   (projections/rollup.py: KPI facts, lead and deal profiles, customer health), the fact sums
   handed over every 100,000 keys as a rebuild stages them; twice: with Python's cyclic
   garbage collector on (as the live follower folds) and off (as a rebuild's own process
   folds, follow/generations.py), with the memory the book then holds (the process's resident
   set before and after);
3. **expand**: the last fact sums expanded into rollup rows.

Baseline: the CPU budget of issue 12's rebuild target. 100,000 events/s on this 2-core machine
leaves ~20 µs of CPU per event for everything (reading the feed, folding, writing), so the fold
alone must stay well under it. A reference line, not a pass/fail.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from rich.table import Table

from bench._harness import Verdict, console, report
from bench.scoring import synthetic
from services.scoring.follow.replayer import STAGE_EVERY
from services.scoring.projections.kpis import Book
from services.scoring.projections.rollup import Replay, expand, feed

PAGE = 1000
BUDGET_US = 20.0  # CPU per event at 100,000 events/s on two cores
TIMEZONE = ZoneInfo("Europe/Berlin")


def pages(n: int) -> list[bytes]:
    """The log as the feed's pages of JSON (only the events; voids left out)."""
    events = [e for e in synthetic(n) if e["type"] != "event.voided"]
    start = datetime(2026, 10, 1, tzinfo=UTC)
    out = []
    for first in range(0, len(events), PAGE):
        recorded = (start + timedelta(seconds=first // PAGE)).isoformat()
        page = events[first : first + PAGE]
        for i, event in enumerate(page, start=first + 1):
            event |= {"position": i, "recorded_at": recorded, "schema_version": 1}
        out.append(orjson.dumps({"items": page}))
    return out


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fold(parsed: list[list[dict[str, Any]]], *, collector: bool) -> tuple[Replay, float, float]:
    """The replay of the parsed pages, its seconds and the resident memory it added (MB)."""
    gc.collect()
    if not collector:
        gc.disable()
    try:
        before = rss_mb()
        replay = Replay(Book(TIMEZONE))
        started = time.perf_counter()
        for page in parsed:
            feed(replay, page)
            if len(replay.sums) >= STAGE_EVERY:
                replay.sums = {}  # a rebuild hands them to the database here
        return replay, time.perf_counter() - started, rss_mb() - before
    finally:
        gc.enable()


def measure(n: int) -> dict[str, Any]:
    rendered = pages(n)
    gc.collect()
    started = time.perf_counter()
    parsed: list[list[dict[str, Any]]] = [orjson.loads(p)["items"] for p in rendered]
    parse = time.perf_counter() - started
    del rendered
    replay, alone, held = fold(parsed, collector=False)  # first: its memory is the book's
    _, live, _ = fold(parsed, collector=True)
    started = time.perf_counter()
    rows = len(expand(replay.sums))
    expansion = time.perf_counter() - started
    book = replay.book
    return {
        "events": sum(len(p) for p in parsed),
        "parse_seconds": parse,
        "fold_seconds": live,
        "fold_alone_seconds": alone,
        "expand_seconds": expansion,
        "expanded_rows": rows,
        "book_mb": held,
        "prospects": len(book.prospects),
        "customers": len(book.customers),
    }


def verdicts(r: dict[str, Any]) -> list[Verdict]:
    n = r["events"]
    us = {k: r[f"{k}_seconds"] / n * 1e6 for k in ("parse", "fold", "fold_alone")}
    return [
        Verdict(
            f"fold, {n:,} events (as the live follower)",
            "µs/event",
            us["fold"],
            BUDGET_US,
            "CPU per event at 100k events/s (issue 12)",
            "— (reference)",
            None,
            f"{n / r['fold_seconds']:,.0f} events/s on one core",
        ),
        Verdict(
            "fold without the cyclic collector (as a rebuild's process)",
            "µs/event",
            us["fold_alone"],
            BUDGET_US,
            "the same budget",
            "— (reference)",
            None,
            f"{n / r['fold_alone_seconds']:,.0f} events/s; the book holds "
            f"{r['book_mb']:.0f} MB ({r['prospects']:,} profiles, "
            f"{r['customers']:,} customers)",
        ),
        Verdict(
            "parse the feed's pages (orjson)",
            "µs/event",
            us["parse"],
            BUDGET_US,
            "the same budget",
            "— (reference)",
            None,
            f"{n / r['parse_seconds']:,.0f} events/s",
        ),
        Verdict(
            "expand the last fact sums",
            "rows",
            r["expanded_rows"],
            None,
            "—",
            "— (reference)",
            None,
            f"{r['expand_seconds']:.2f} s",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fold", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="20k events")
    parser.add_argument("--events", type=int, default=None, help="events in the log [200,000]")
    args, _ = parser.parse_known_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    n = args.events or (20_000 if quick else 200_000)
    out = console()
    out.rule("[bold]bench.fold[/bold]: scoring's fold on one core, in memory")
    started = time.monotonic()
    result = measure(n)
    found = verdicts(result)
    setup = Table(title="setup", title_justify="left", show_header=False)
    setup.add_row("log", f"{result['events']:,} synthetic events in pages of {PAGE:,}")
    out.print(setup)
    return report(out, "fold", found, result, started=started)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
