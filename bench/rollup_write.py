"""The live follower's rollup write: a page's rollup rows added into the live generation.

    python -m bench.rollup_write [--events 300000] [--quick]

While behind the feed, a follower folds pages of up to `SCORING_FOLD_EVENTS` (50,000) events
and adds each one's rollup rows to the live generation in the page's transaction
(`repository.add_rollups`: upserted, summed into the rows there). The synthetic log of
bench/scoring.py is folded in pages of 50,000 events, and each page's rows are written twice
into a scratch database: the first pass mostly inserts, the second finds every row there (a
follower's steady state: today's rows again and again). Seconds per pass, and µs a row.

Baseline, in the same run and database (another org): the statements before (their text is
kept here), which inserted every series a page names (ON CONFLICT DO NOTHING) and then, unless
all were new, checked every one of them, and sent the ten key columns of every row, its
series' eight dimensions included, hashing them into the series id row by row. `add_rollups`
now looks the distinct series up once and inserts only the missing, and sends each series
once, named in each row by its place in that list. The two alternate, twice.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from bench._harness import Verdict, console, measure_in_scratch, report
from bench.fold import pages
from services.scoring import repository
from services.scoring.projections.kpis import Book
from services.scoring.projections.rollup import Replay, Rollups, expand, finish, fold_in
from services.scoring.repository import SERIES_CLASS
from shared.db import asyncpg_dsn

PAGE_EVENTS = 50_000
ROUNDS = 2
_SERIES = repository._SERIES_ID  # the baseline statement uses them
_LIST = repository._SERIES_LIST
BEFORE = f"""
    INSERT INTO scoring.kpi_values (org_id, generation, series_id, grain, bucket, value)
    SELECT $1, $2, {_SERIES}, k.grain, k.bucket, k.value
    FROM unnest($3::text[], $4::text[]::date[], $5::text[], $6::text[], $7::text[], $8::text[],
                $9::text[], $10::text[], $11::text[], $12::text[],
                $13::text[]::numeric[]) AS k(grain, bucket, {_LIST}, value)
    ON CONFLICT ON CONSTRAINT pk_kpi_values
    DO UPDATE SET value = scoring.kpi_values.value + excluded.value
"""


_DISTINCT = f"""SELECT DISTINCT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
    $6::text[], $7::text[], $8::text[], $9::text[]) AS k({_LIST})"""
ADD_SERIES = f"""
    INSERT INTO scoring.kpi_series (org_id, series_id, {_LIST})
    SELECT $1::text, {_SERIES}, k.* FROM ({_DISTINCT}) k
    ORDER BY 2
    ON CONFLICT DO NOTHING
"""
CHECK_SERIES = f"""
    SELECT count(*) FROM ({_DISTINCT}) k
    LEFT JOIN scoring.kpi_series s ON s.org_id = $1 AND s.series_id = {_SERIES}
    WHERE s.series_id IS NULL OR NOT ({repository._SAME_SERIES})
"""


async def before(conn: asyncpg.Connection, org: str, generation: int, rollups: Rollups) -> None:
    """The write before: every row's series inserted (all of them, with their conflicts) and
    then checked (all of them), and every row's ten key columns."""
    columns: list[list[Any]] = [[] for _ in range(10)]
    for key in rollups:
        for i, part in enumerate(key):
            columns[i].append(part)
    columns[1] = [day.isoformat() for day in columns[1]]
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", SERIES_CLASS, org)
    status = await conn.execute(ADD_SERIES, org, *columns[2:])
    distinct = len(set(zip(*columns[2:], strict=True)))
    if int(status.rsplit(" ", 1)[-1]) != distinct:
        wrong = await conn.fetchval(CHECK_SERIES, org, *columns[2:])
        assert not wrong
    values = [str(v) for v in rollups.values()]
    await conn.execute(BEFORE, org, generation, *columns, values)


def page_rollups(n: int) -> list[Rollups]:
    """The rollup rows of each page of `PAGE_EVENTS` events, folded in turn over one book."""
    events = [e for page in pages(n) for e in orjson.loads(page)["items"]]
    book = Book(ZoneInfo("Europe/Berlin"))
    out: list[Rollups] = []
    for start in range(0, len(events), PAGE_EVENTS):
        result = Replay(book)
        fold_in(result, events[start : start + PAGE_EVENTS])
        finish(result)
        out.append(expand(result.sums))
    return out


async def measure(n: int, url: str) -> dict[str, Any]:
    written = page_rollups(n)
    rows = sum(len(r) for r in written)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    ways = {"now": repository.add_rollups, "before": before}
    seconds: dict[str, list[float]] = {f"{way}, pass {p}": [] for way in ways for p in (1, 2)}
    try:
        for round_ in range(ROUNDS):
            order = list(ways) if round_ % 2 == 0 else list(ways)[::-1]
            for way in order:
                org = f"bench-{way}-{round_}"
                for p in (1, 2):
                    started = time.perf_counter()
                    for rollups in written:
                        async with conn.transaction():
                            await ways[way](conn, org, 1, rollups)
                    seconds[f"{way}, pass {p}"].append(time.perf_counter() - started)
    finally:
        await conn.close()
    return {
        "events": n,
        "pages": len(written),
        "rows": rows,
        "seconds": {k: round(statistics.median(v), 2) for k, v in seconds.items()},
        "runs": seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollup_write", description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--quick", action="store_true", help="50,000 events")
    args, _ = parser.parse_known_args(argv)
    n = 50_000 if args.quick else args.events
    out = console()
    out.rule("[bold]bench.rollup_write[/bold]: a page's rollup rows into the live generation")

    started = time.monotonic()
    result = measure_in_scratch(out, lambda database: measure(n, database.url))
    s, rows = result["seconds"], result["rows"]
    verdicts = [
        Verdict(
            f"{rows:,} rows of {result['pages']} pages of {n:,} events, pass {p}"
            + (" (all upserted onto rows there)" if p == 2 else ""),
            "µs/row",
            s[f"now, pass {p}"] * 1e6 / rows,
            s[f"before, pass {p}"] * 1e6 / rows,
            "the statements before, same run",
            "< 1×",
            s[f"now, pass {p}"] < s[f"before, pass {p}"],
        )
        for p in (1, 2)
    ]
    return report(out, "rollup_write", verdicts, result, started=started)


if __name__ == "__main__":
    raise SystemExit(main())
