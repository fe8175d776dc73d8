"""Scoring behind a bulk import: its lag while a large file is imported, and a cold catch-up.

    python -m bench.import_follow [--events 1000000] [--quick]

Activity and scoring run as separate uvicorn processes on a scratch database. The file is the
scoring benchmark's synthetic log (salesperf/synthetic.py: 12 teams of 8 reps over a quarter,
every event type, voids) as NDJSON.

1. **lag during an import**: the file goes through `POST /v1/imports` into one org while
   scoring follows the feed. Every 0.2 s the benchmark reads the job's `stored` (the org is new,
   so its positions run 1..stored and every one of them is in the feed) and scoring's
   `up_to.position`. The events stored by a sample at `t` are visible at the first sample
   `t'` whose `up_to` reaches them: their lag is `t' - t`. Reported: the lag's p50, p99 and max
   over the import and the catch-up after it. Target: ≤ 5 s throughout. Baseline: the import's
   own duration (a follower that folded nothing until the end would lag by that much).
2. **cold catch-up**: scoring stopped, the same file imported into a second org, scoring
   started again: events/s from its start until its `up_to` reaches the last position, and
   the peak memory of the process its bulk catch-up replays in (sampled).
   Target: ≥ 50,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._harness import (
    BenchError,
    ServiceProcess,
    Verdict,
    console,
    percentile,
    report,
    scratch_database,
    uvloop_runner,
)
from bench.scoring import synthetic, workers_peak_mb
from shared.auth import issue_token

FOLLOWED, COLD = "bench-follow", "bench-cold"
SAMPLE_SECONDS = 0.2
LAG_TARGET_SECONDS = 5.0
COLD_TARGET_RATE = 50_000


def parse_args(argv: Sequence[str] | None) -> tuple[int, bool, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.import_follow", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="50k events")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--events", type=int, default=None, help="events in the file [1,000,000]")
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="only the cold catch-up (a rebuild's speed, ~half the time)",
    )
    args, _ = parser.parse_known_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    return args.events or (50_000 if quick else 1_000_000), bool(args.check), args.cold_only


def lags(stored: Sequence[tuple[float, int]], seen: Sequence[tuple[float, int]]) -> list[float]:
    """For each sample `(t, stored)` of the import, the seconds until the first sample of
    scoring `(t', up_to)` at or after `t` with `up_to >= stored` (samples in time order)."""
    out: list[float] = []
    j = 0
    for t, position in stored:
        while j < len(seen) and (seen[j][0] < t or seen[j][1] < position):
            j += 1
        if j == len(seen):
            raise BenchError(f"scoring never reached position {position}")
        out.append(seen[j][0] - t)
    return out


class Org:
    """An org's clients of activity and scoring."""

    def __init__(self, secret: str, org: str, activity: str, scoring: str) -> None:
        token = issue_token(secret, org=org, role="admin", sub="bench")
        headers = {"Authorization": f"Bearer {token}"}
        self.activity = httpx.AsyncClient(base_url=activity, headers=headers, timeout=300)
        self.scoring_url, self.headers = scoring, headers

    async def aclose(self) -> None:
        await self.activity.aclose()

    async def start_import(self, path: Path) -> str:
        body = await asyncio.to_thread(path.read_bytes)
        answer = await self.activity.post(
            "/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        if answer.status_code != 202:
            raise BenchError(f"import refused: {answer.text[:300]}")
        return answer.headers["location"]

    async def job(self, location: str) -> dict[str, Any]:
        job: dict[str, Any] = (await self.activity.get(location)).json()
        if job["state"] == "failed" or job.get("rejected"):
            raise BenchError(f"the import did not store every row: {job}")
        return job

    async def up_to(self, scoring: httpx.AsyncClient) -> int:
        """Scoring's position in the org's log (0: not following it yet)."""
        with contextlib.suppress(httpx.TransportError):
            answer = await scoring.get(
                "/v1/kpis", params={"metrics": "visits"}, headers=self.headers
            )
            if answer.status_code == 200:
                return int(answer.json()["up_to"]["position"])
        return 0


async def lag_during_import(org: Org, path: Path) -> dict[str, Any]:
    stored: list[tuple[float, int]] = []
    seen: list[tuple[float, int]] = []
    async with httpx.AsyncClient(base_url=org.scoring_url, timeout=30) as scoring:
        started = time.monotonic()
        location = await org.start_import(path)
        done_at = None
        while True:
            job, up = await asyncio.gather(org.job(location), org.up_to(scoring))
            now = time.monotonic() - started
            seen.append((now, up))
            if done_at is None:
                stored.append((now, int(job["stored"])))
                if job["state"] == "done":
                    done_at = now
            if done_at is not None and up >= stored[-1][1]:
                break
            if now > 3600:
                raise BenchError(f"scoring did not catch up within an hour (at {up:,})")
            await asyncio.sleep(SAMPLE_SECONDS)
    assert done_at is not None
    found = lags(stored, seen)
    total = stored[-1][1]  # the file's events less its duplicates (the log's own retries)
    return {
        "total": total,
        "import_seconds": done_at,
        "import_rate": total / done_at,
        "caught_up_seconds": seen[-1][0],
        "lags": found,
        "stored": stored,
        "seen": seen,
    }


async def cold_catch_up(org: Org, scoring: ServiceProcess, path: Path) -> dict[str, Any]:
    location = await org.start_import(path)
    while (job := await org.job(location))["state"] != "done":  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    total = int(job["stored"])
    started = time.monotonic()
    await scoring.start()
    # The bulk catch-up replays in a process of its own: sample its peak as it runs.
    replay_peak = 0.0
    async with httpx.AsyncClient(base_url=org.scoring_url, timeout=30) as client:
        while (up := await org.up_to(client)) < total:
            if time.monotonic() - started > 3600:
                raise BenchError(f"the cold catch-up did not finish within an hour (at {up:,})")
            replay_peak = max(replay_peak, workers_peak_mb(scoring.pid))
            await asyncio.sleep(SAMPLE_SECONDS)
        seconds = time.monotonic() - started
        answer = await client.get("/v1/admin/rebuild", headers=org.headers)
    rebuild = answer.json() if answer.status_code == 200 else {}
    # A follower this far behind catches up in bulk (a rebuild): where its time went.
    return {
        "total": total,
        "seconds": seconds,
        "rate": total / seconds,
        "replay_process_peak_mb": replay_peak,
        "phases": rebuild.get("phases"),
        "write_steps": rebuild.get("write_steps"),
    }


async def measure(n: int, scratch: Path, *, cold_only: bool = False) -> dict[str, Any]:
    path = scratch / "events.ndjson"
    with path.open("wb") as out:
        for event in synthetic(n):
            out.write(orjson.dumps(event) + b"\n")
    secret = secrets.token_urlsafe(32)
    async with scratch_database() as database:
        env = {
            "BENCH_DATABASE_URL": database.url,
            "BENCH_JWT_SECRET": secret,
            "ACTIVITY_IMPORT_DIR": str(scratch / "spool"),
        }
        async with contextlib.AsyncExitStack() as stack:
            activity = await stack.enter_async_context(
                ServiceProcess("bench._activity_app:app", env).running()
            )
            scoring = ServiceProcess(
                "bench._scoring_app:app", {**env, "BENCH_ACTIVITY_URL": activity.base_url}
            )
            await stack.enter_async_context(scoring.running())
            followed = Org(secret, FOLLOWED, activity.base_url, scoring.base_url)
            stack.push_async_callback(followed.aclose)
            lag = None if cold_only else await lag_during_import(followed, path)
            await scoring.stop()
            scoring = ServiceProcess(
                scoring.factory, {**env, "BENCH_ACTIVITY_URL": activity.base_url}
            )
            await stack.enter_async_context(_stopped_at_exit(scoring))
            cold_org = Org(secret, COLD, activity.base_url, scoring.base_url)
            stack.push_async_callback(cold_org.aclose)
            cold = await cold_catch_up(cold_org, scoring, path)
    return {"events": n, "file_bytes": path.stat().st_size, "lag": lag, "cold": cold}


@contextlib.asynccontextmanager
async def _stopped_at_exit(service: ServiceProcess) -> Any:
    try:
        yield service
    finally:
        await service.stop()
        service.remove_log()


def verdicts(r: dict[str, Any]) -> list[Verdict]:
    lag, cold = r["lag"], r["cold"]
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in (cold["phases"] or {}).items())
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in (cold["write_steps"] or {}).items())
    found = [
        Verdict(
            f"cold catch-up, {r['events']:,} events",
            "events/s",
            cold["rate"],
            None,
            "—",
            f"≥ {COLD_TARGET_RATE:,}/s",
            cold["rate"] >= COLD_TARGET_RATE,
            f"{cold['seconds']:.1f} s from scoring's start; its replay's process peaked at "
            f"{cold['replay_process_peak_mb']:.0f} MB"
            + (f"; bulk: {phases}; write: {steps}" if phases else ""),
        ),
    ]
    if lag is None:
        return found
    worst = max(lag["lags"])
    return [
        Verdict(
            f"scoring's lag during a {r['events']:,}-event import",
            "s max",
            worst,
            lag["import_seconds"],
            "the import's duration (a follower that folded nothing until it ended)",
            f"≤ {LAG_TARGET_SECONDS:.0f} s",
            worst <= LAG_TARGET_SECONDS,
            f"p50 {percentile(lag['lags'], 50):.1f} s · p99 {percentile(lag['lags'], 99):.1f} s;"
            f" import {lag['import_rate']:,.0f} events/s ({lag['import_seconds']:.1f} s);"
            f" caught up {lag['caught_up_seconds'] - lag['import_seconds']:.1f} s after it",
        ),
        *found,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    n, check, cold_only = parse_args(argv)
    out = console()
    out.rule("[bold]bench.import_follow[/bold]: scoring behind a bulk import")
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="bench-import-follow-") as scratch,
        out.status(f"importing {n:,} events twice and following them…"),
        uvloop_runner() as runner,
    ):
        try:
            result = runner.run(measure(n, Path(scratch), cold_only=cold_only))
        except BenchError as exc:
            out.print(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 1
    lag = result["lag"] or {"stored": [], "seen": []}
    return report(
        out,
        "import_follow",
        verdicts(result),
        {
            "events": n,
            "file_bytes": result["file_bytes"],
            "cold": result["cold"],
            "lag": {k: v for k, v in lag.items() if k not in ("stored", "seen", "lags")},
            # (seconds into the import, events stored) and (seconds, scoring's position)
            "stored": [(round(t, 2), p) for t, p in lag["stored"]],
            "seen": [(round(t, 2), p) for t, p in lag["seen"]],
        },
        started=started,
        check=check,
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
