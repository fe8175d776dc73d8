"""Goals' progress list: `GET /v1/progress` of 90 current goals, with scoring's range totals.

    python -m bench.progress [--quick] [--rounds 20]

Activity, scoring and goals run as separate uvicorn processes on a scratch database
(bench/_harness.py). One org's year is appended through activity (`salesperf/synthetic.py`: 2
teams of 4 reps from 1 January 2026, ~11 months) and folded by scoring; then 90 goals of 2026
are set through goals: for each of the 8 reps, both teams and the org, a year goal on each of 9
metrics (visits, calls, effective visits, new leads, opportunities, deals won, revenue won,
collected, win rate), minus one to make 90. It times `GET /v1/progress?at=2026-11-30` as the
org's admin (all 90 current goals judged, each asking scoring for its metric from 1 January to
the 30th of November), `--rounds` times one after the other, after two warm-up calls.

Baseline: the same script on the code before range totals (commit 5c7f04b, where goals asked
scoring for the day buckets of each goal's range and added them up): run it there (a git
worktree with this file and bench/_goals_app.py copied in). Figures in the README.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import time
from collections.abc import Sequence
from datetime import date
from itertools import islice
from typing import Any

import httpx

from bench._harness import (
    BenchError,
    Database,
    ServiceProcess,
    Verdict,
    console,
    fmt_ms,
    percentile,
    report,
    scratch_database,
    uvloop_runner,
)
from bench.scoring import caught_up, load
from salesperf.synthetic import iter_events
from shared.auth import issue_token

ORG = "bench-progress"
AT = "2026-11-30"
METRICS = (
    "visits",
    "calls",
    "effective_visits",
    "new_leads",
    "opportunities",
    "deals_won",
    "revenue_won",
    "collected",
    "win_rate",
)


def goals_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reps = sorted({e["rep_id"] for e in events if e.get("rep_id")})
    teams = sorted({e["team_id"] for e in events if e.get("team_id")})
    owners = [f"rep:{r}" for r in reps] + [f"team:{t}" for t in teams] + ["org"]
    made = []
    for owner in owners:
        for metric in METRICS:
            body: dict[str, Any] = {
                "owner": owner,
                "metric": metric,
                "period": "year",
                "start": "2026-01-01",
                "target": "0.3" if metric == "win_rate" else 100,
            }
            if metric in ("revenue_won", "collected"):
                body.update(target="100000.00", currency="EUR")
            made.append(body)
    return made[:90]


async def measure(rounds: int, events_count: int, database: Database) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    env = {"BENCH_DATABASE_URL": database.url, "BENCH_JWT_SECRET": secret}
    token = issue_token(secret, org=ORG, role="admin", sub="bench")
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        activity = ServiceProcess("bench._activity_app:app", env)
        await stack.enter_async_context(activity.running())
        scoring = ServiceProcess(
            "bench._scoring_app:app", {**env, "BENCH_ACTIVITY_URL": activity.base_url}
        )
        await stack.enter_async_context(scoring.running())
        goals = ServiceProcess(
            "bench._goals_app:app", {**env, "BENCH_SCORING_URL": scoring.base_url}
        )
        await stack.enter_async_context(goals.running())

        def client(base: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=base, timeout=300, headers=headers)

        act = await stack.enter_async_context(client(activity.base_url))
        sco = await stack.enter_async_context(client(scoring.base_url))
        gls = await stack.enter_async_context(client(goals.base_url))
        settings = {"timezone": "Europe/Berlin", "currency": "EUR"}
        answer = await sco.put("/v1/settings", json=settings)
        if answer.status_code != 200:
            raise BenchError(f"settings: {answer.status_code} {answer.text[:300]}")
        start = date(2026, 1, 1)
        events = list(
            islice(iter_events(teams=2, reps_per_team=4, start=start, days=334), events_count)
        )
        last, _ = await load(act, events)
        await caught_up(sco, last)
        bodies = goals_of(events)
        for body in bodies:
            answer = await gls.post("/v1/goals", json=body)
            if answer.status_code != 201:
                raise BenchError(f"goal {body}: {answer.status_code} {answer.text[:300]}")

        async def progress() -> float:
            started = time.monotonic()
            answer = await gls.get("/v1/progress", params={"at": AT})
            took = time.monotonic() - started
            if answer.status_code != 200:
                raise BenchError(f"progress: {answer.status_code} {answer.text[:300]}")
            listed = answer.json()["items"]
            if len(listed) != len(bodies):
                raise BenchError(f"progress listed {len(listed)} goals, not {len(bodies)}")
            return took

        for _ in range(2):
            await progress()
        times = [await progress() for _ in range(rounds)]
        out.update(
            events=len(events),
            goals=len(bodies),
            rounds=rounds,
            median=statistics.median(times),
            p90=percentile(times, 90),
            best=min(times),
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.progress")
    parser.add_argument("--quick", action="store_true", help="5 rounds on 5,000 events")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--check", action="store_true")
    args, _ = parser.parse_known_args(argv)
    rounds, events = (5, 5000) if args.quick else (args.rounds, args.events)
    out = console()
    started = time.monotonic()

    async def run() -> dict[str, Any]:
        async with scratch_database() as database:
            return await measure(rounds, events, database)

    with uvloop_runner() as runner:
        found = runner.run(run())
    out.print(
        f"GET /v1/progress, {found['goals']} goals on {found['events']:,} events: median "
        f"{fmt_ms(found['median'])}, p90 {fmt_ms(found['p90'])}, best {fmt_ms(found['best'])}"
    )
    verdicts = [
        Verdict(
            "GET /v1/progress (90 goals), median",
            "ms",
            found["median"] * 1000,
            None,
            "the code before range totals: see the README",
            "—",
            None,
        )
    ]
    return report(out, "progress", verdicts, found, started=started, check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
