"""salesperf's benchmark suite, run by `make bench` (`python -m bench`).

Every public module of this package (a name not starting with `_`) is one benchmark with a
`main(argv) -> int` that measures, prints a `rich` table and writes its results as JSON under
`bench/results/` (git-ignored). Each benchmark starts what it measures on its own: a scratch
database on the configured server (the embedded pgserver unless DATABASE_URL is set), dropped
at the end, and the service as a real uvicorn process on a free loopback port.

    python -m bench                   # every benchmark, full size
    python -m bench --quick           # every benchmark, small counts (a smoke run)
    python -m bench.append --help     # one benchmark and its own options
"""
