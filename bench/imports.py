"""Bulk import: a file of events through `POST /v1/imports`, against raw COPY into the same table.

    python -m bench.imports [--events 200000] [--quick]

Activity runs as a uvicorn process on a scratch database. The file holds the append
benchmark's events (bench/append.py: every event type over 1,000 lead streams) as NDJSON; the
import is timed from the first byte uploaded to the job's `done`, with its rows validated,
planned and appended by the service as any append (idempotency, stream versions, owners). The
baseline is the append benchmark's: asyncpg binary COPY of 1,000-row chunks of rows of the same
shape, 4 in flight, into `activity.events`, in the same run. Target: ≥ 0.5× raw COPY. For
context it also times one connection's COPY of 5,000-row chunks: an org's import is one ordered
stream (its positions are allocated under the org's lock), and that is PostgreSQL's ceiling for
one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from rich.table import Table

from bench._harness import (
    BenchError,
    ServiceProcess,
    console,
    scratch_database,
    uvloop_runner,
    write_json,
)
from bench.append import COLUMNS, Events, drive
from shared.auth import issue_token
from shared.db import asyncpg_dsn

ORG, RAW_ORG = "bench-import", "bench-import-raw"
CHUNK, IN_FLIGHT = 1000, 4
IMPORT_CHUNK = 5000  # ACTIVITY_IMPORT_CHUNK_ROWS' default


def parse_args(argv: Sequence[str] | None) -> tuple[int, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.imports", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="20k events")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--events", type=int, default=None, help="events in the file [200,000]")
    args, _ = parser.parse_known_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    return args.events or (20_000 if quick else 200_000), bool(args.check)


async def raw_copy(dsn: str, n: int, *, chunk: int = CHUNK, in_flight: int = IN_FLIGHT) -> float:
    events = Events()
    org = f"{RAW_ORG}-{chunk}-{in_flight}"
    chunks = [events.raw_rows(org, chunk) for _ in range(max(1, n // chunk))]
    pool = await asyncpg.create_pool(dsn, min_size=in_flight, max_size=in_flight)
    try:

        async def copy(rows: list[tuple[Any, ...]]) -> None:
            await pool.copy_records_to_table(
                "events", schema_name="activity", columns=COLUMNS, records=rows
            )

        started = time.perf_counter()
        await drive(chunks, in_flight, copy)
        return sum(map(len, chunks)) / (time.perf_counter() - started)
    finally:
        await pool.close()


async def run_import(base_url: str, token: str, path: Path) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=300) as http:
        body = await asyncio.to_thread(path.read_bytes)
        started = time.perf_counter()
        answer = await http.post(
            "/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        if answer.status_code != 202:
            raise BenchError(f"import refused: {answer.text[:300]}")
        uploaded = time.perf_counter() - started
        while True:
            job = (await http.get(answer.headers["location"])).json()
            if job["state"] in ("done", "failed"):
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    if job["state"] != "done" or job["rejected"]:
        raise BenchError(f"the import did not store every row: {job}")
    return {
        "job": job,
        "seconds": seconds,
        "upload_seconds": uploaded,
        "events_per_s": job["stored"] / seconds,
    }


async def bench(n: int) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as scratch:
        path = Path(scratch) / "events.ndjson"
        events = Events()
        with path.open("wb") as out:
            for _ in range(n):
                out.write(orjson.dumps(events.event()) + b"\n")
        async with scratch_database("salesperf_bench") as db:
            service = ServiceProcess(
                "bench._activity_app:app",
                {
                    "BENCH_DATABASE_URL": db.url,
                    "BENCH_JWT_SECRET": secret,
                    "ACTIVITY_IMPORT_DIR": str(Path(scratch) / "spool"),
                },
            )
            await service.start()
            try:
                token = issue_token(secret, org=ORG, role="admin", sub="bench")
                imported = await run_import(service.base_url, token, path)
            finally:
                await service.stop()
            raw = await raw_copy(asyncpg_dsn(db.url), n)
            # An org's import is one ordered stream (positions are allocated under its lock):
            # PostgreSQL's ceiling for it is one connection's COPY of chunks of its size.
            serial = await raw_copy(asyncpg_dsn(db.url), n, chunk=IMPORT_CHUNK, in_flight=1)
        size = path.stat().st_size
    return {
        "events": n,
        "file_bytes": size,
        "import": imported,
        "raw_copy_events_per_s": raw,
        "ratio": imported["events_per_s"] / raw,
        "serial_copy_events_per_s": serial,
        "serial_ratio": imported["events_per_s"] / serial,
    }


def main(argv: Sequence[str] | None = None) -> int:
    n, check = parse_args(argv)
    out = console()
    out.rule("bench.imports: a file of events against raw COPY")
    with uvloop_runner() as runner:
        result = runner.run(bench(n))
    imported = result["import"]
    table = Table(title="bench.imports")
    for column in ("benchmark", "ours", "baseline (same run)", "ratio", "target"):
        table.add_column(column)
    ok = result["ratio"] >= 0.5
    table.add_row(
        f"NDJSON import, {n:,} events",
        f"{imported['events_per_s']:,.0f} events/s ({imported['seconds']:.1f} s, upload "
        f"{imported['upload_seconds']:.1f} s)",
        f"raw COPY, {CHUNK:,}-row chunks, {IN_FLIGHT} in flight: "
        f"{result['raw_copy_events_per_s']:,.0f}/s",
        f"{result['ratio']:.2f}×",
        "≥ 0.5× " + ("pass" if ok else "FAIL"),
    )
    table.add_row(
        "the same import",
        f"{imported['events_per_s']:,.0f} events/s",
        f"raw COPY, {IMPORT_CHUNK:,}-row chunks, one connection (an org's import is one "
        f"ordered stream): {result['serial_copy_events_per_s']:,.0f}/s",
        f"{result['serial_ratio']:.2f}×",
        "(context)",
    )
    out.print(table)
    write_json("imports", result)
    return 1 if check and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
