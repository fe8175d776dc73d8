"""`python -m bench` (`make bench`): run every benchmark of this package, one after the other.

A benchmark is a public module of `bench/` with `main(argv) -> int`; each prints its own tables
and writes bench/results/<name>.json. Arguments are passed to every benchmark (`--quick` for a
smoke run); `--only NAME` (repeatable) picks benchmarks. The exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console


def benchmarks() -> list[str]:
    """Names of the benchmark modules, in alphabetical order."""
    here = str(Path(__file__).resolve().parent)
    return sorted(
        m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_") and not m.ispkg
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run salesperf's benchmarks. Other arguments go to every benchmark "
        "(e.g. --quick); `python -m bench.NAME --help` lists a benchmark's own.",
    )
    parser.add_argument("--only", action="append", metavar="NAME", help="run only NAME")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args, rest = parser.parse_known_args(argv)
    names = benchmarks()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"no benchmark {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in args.only]

    out = Console()
    failed: list[str] = []
    for name in names:
        started = time.monotonic()
        run: Callable[[Sequence[str]], int] = importlib.import_module(f"bench.{name}").main
        try:
            status = run(rest)
        except Exception:
            out.print_exception()
            status = 1
        if status != 0:
            failed.append(name)
        out.print(f"[dim]{name}: {time.monotonic() - started:.0f} s, exit {status}[/dim]\n")
    if failed:
        out.print(f"[bold red]failed:[/bold red] {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
