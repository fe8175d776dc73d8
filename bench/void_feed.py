"""Reading an org's voids after a cursor (`GET /v1/events?types=event.voided&after=…`), as
scoring does before every replay and, again and again, ahead of a bulk catch-up.

One org of `--events` (500,000) events, every 200th a void (0.5 %), written by COPY into a
scratch database's `activity.events` (the rows of bench.append's raw baseline) and analyzed.
Then `repository.read_feed` reads the voids after a cursor at 0 %, 50 % and 95 % of the log,
pages of 1,000, through one asyncpg connection as the service holds it (statements prepared
and cached), with the plan PostgreSQL falls back to for a cached statement forced
(`plan_cache_mode = force_generic_plan`), and with the choice left to it (`auto`).

Baseline, in the same run on the same table: the code before the partial index
`ix_events_voids` (migration 20261223), i.e. the index dropped and the type passed as a
parameter (`type = ANY($4)`), which a generic plan answers by walking the org's log by
`(org_id, position)` from the cursor. Target: the voids after a cursor read in time that
follows the voids, not the log: ≥ 10× faster at 0 % with a generic plan.

    python -m bench.void_feed [--quick] [--events N] [--check]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from bench._harness import Verdict, console, measure_in_scratch, report, server_facts
from bench.append import COLUMNS, Events
from services.activity import repository
from services.activity.domain import VOIDED
from shared.db import asyncpg_dsn

ORG = "bench-voids"
EVERY = 200  # one void in this many events
SPOTS = (0.0, 0.5, 0.95)  # where the cursor stands, as a share of the log
REPEATS = 15
SPEEDUP_TARGET = 10.0
GENERIC = "force_generic_plan"
OLD_WAY = [VOIDED, "bench.none"]  # two types: the parameter the code before sent, `ANY($4)`


def rows(events: int) -> list[tuple[Any, ...]]:
    """bench.append's raw rows, every `EVERY`th made a void of the event before it."""
    maker = Events()
    out: list[tuple[Any, ...]] = []
    for i in range(events):
        row = list(maker.raw_row(ORG))
        if i % EVERY == EVERY - 1:
            row[2] = VOIDED
            row[10] = f'{{"voided_event_id": "{out[-1][1]}", "reason": "bench"}}'
        out.append(tuple(row))
    return out


async def read_voids(conn: asyncpg.Connection, after: int, types: list[str]) -> float:
    """Seconds to read every void after `after`, page by page."""
    started = time.perf_counter()
    while True:
        page = await repository.read_feed(conn, ORG, after=after, limit=1000, types=types)
        if not page.has_more:
            return time.perf_counter() - started
        assert page.last_position is not None
        after = page.last_position


async def timings(
    conn: asyncpg.Connection, head: int, types: list[str], mode: str
) -> dict[str, float]:
    await conn.execute(f"SET plan_cache_mode = {mode}")
    out: dict[str, float] = {}
    for spot in SPOTS:
        after = int(head * spot)
        runs = [await read_voids(conn, after, types) for _ in range(REPEATS)]
        out[f"{spot:.0%}"] = statistics.median(runs) * 1_000_000
    return out


async def measure(events: int, url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        facts = await server_facts(conn)
        made = rows(events)
        for start in range(0, len(made), 50_000):
            await conn.copy_records_to_table(
                "events",
                schema_name="activity",
                columns=COLUMNS,
                records=made[start : start + 50_000],
            )
        await conn.execute("VACUUM ANALYZE activity.events")
        voids = await conn.fetchval(
            "SELECT count(*) FROM activity.events WHERE org_id = $1 AND type = $2", ORG, VOIDED
        )
        found: dict[str, Any] = {}  # medians, µs
        for mode in (GENERIC, "auto"):
            found[f"now, {mode}"] = await timings(conn, events, [VOIDED], mode)
        await conn.execute("DROP INDEX activity.ix_events_voids")
        for mode in (GENERIC, "auto"):
            found[f"before, {mode}"] = await timings(conn, events, OLD_WAY, mode)
        return {"server": facts, "events": events, "voids": voids, "microseconds": found}
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.void_feed", description=__doc__)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--quick", action="store_true", help="50,000 events")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args, _ = parser.parse_known_args(argv)
    events = 50_000 if args.quick else args.events
    out = console()
    out.rule("[bold]bench.void_feed[/bold]: an org's voids after a cursor")

    started = time.monotonic()
    result = measure_in_scratch(out, lambda database: measure(events, database.url))
    us = result["microseconds"]
    verdicts = [
        Verdict(
            f"voids after {spot} of {events:,} events ({result['voids']:,} voids), {mode}",
            "µs",
            us[f"now, {mode}"][spot],
            us[f"before, {mode}"][spot],
            "no index, type as a parameter",
            f"≤ {1 / SPEEDUP_TARGET:.1f}×" if (spot, mode) == ("0%", GENERIC) else "—",
            us[f"now, {mode}"][spot] * SPEEDUP_TARGET <= us[f"before, {mode}"][spot]
            if (spot, mode) == ("0%", GENERIC)
            else None,
        )
        for mode in (GENERIC, "auto")
        for spot in us[f"now, {mode}"]
    ]
    return report(out, "void_feed", verdicts, result, started=started, check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
