"""Scoring: rebuild throughput and memory, append-to-visible latency, and `/v1/kpis` latency
against a naive SQL aggregate over the raw events answering the same question.

    python -m bench.scoring [--events 1000000] [--quick]

Activity and scoring run as separate uvicorn processes on a scratch database. A synthetic log
(`salesperf/synthetic.py`: teams of reps over a quarter, with voids) is appended through activity's
batch API into one org while scoring folds it live; then:

1. **rebuild**: `POST /v1/admin/rebuild` and wait for it: events/s over the whole rebuild (replay
   over HTTP, fold, COPY of the new generation, catch-up, swap) and the scoring process's peak RSS
   during it (VmHWM, reset first), beside the peak of the process the replay runs in (sampled).
   Targets: ≥ 100k events/s, ≤ 300 MB.
2. **void-to-visible**: voids of visits of the large org, one at a time: a void is visible when
   scoring's `up_to.position` reaches it (its correction is written with it) and the org was
   not rebuilt. Target: p99 ≤ 1 s; baseline: the rebuild a void cost before (phase 1's).
3. **append-to-visible**: single appends at a steady 500 events/s into a second org; an event is
   visible when scoring's `up_to.position` reaches it. Target: p99 ≤ 0.5 s.
4. **/v1/kpis** with 32 concurrent clients (a team's visits, calls, deals won and revenue per
   month of the quarter) against the same question as one SQL aggregate over activity.events
   (32 asyncpg connections, voided events excluded). Targets: ≥ 10× faster at p50, p99 ≤ 20 ms.
   The questions are asked twice: of the scoring process (which keeps answers in memory while
   the org's projection does not move, services/scoring/answer/answers.py), and of a second replica
   started with `SCORING_ANSWER_CACHE_SIZE=0`, so every request is read from the rollups.

Appends, polling and `/v1/kpis` go through the lean HTTP client of bench/_http.py (httpx costs
~1–5 ms of client CPU a request, which on two cores is taken from the services measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import orjson
from rich.table import Table

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
from bench._http import HttpClient, LeanClient
from salesperf.synthetic import iter_events
from shared.auth import issue_token
from shared.db import asyncpg_dsn

ORG, LATENCY_ORG = "bench-scoring", "bench-latency"


@dataclass(frozen=True)
class Config:
    events: int = 1_000_000
    voids: int = 50
    rate: int = 500
    latency_seconds: float = 20.0
    kpi_seconds: float = 15.0
    clients: int = 32
    quick: bool = False


def parse_args(argv: Sequence[str] | None) -> tuple[Config, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scoring", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="50k events, short phases")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--events", type=int, default=None, help="events in the log [1,000,000]")
    parser.add_argument("--clients", type=int, default=32, help="concurrent /v1/kpis clients [32]")
    args, _ = parser.parse_known_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    events = args.events or int(os.environ.get("BENCH_EVENTS", 50_000 if quick else 1_000_000))
    config = Config(
        events=events,
        clients=args.clients,
        quick=quick,
        latency_seconds=5 if quick else 20,
        kpi_seconds=5 if quick else 15,
    )
    return config, bool(args.check)


def synthetic(n: int) -> list[dict[str, Any]]:
    """The first `n` events of a quarter big enough to hold them (a prefix of a log in append
    order is a valid log)."""
    reps = 96  # 12 teams × 8
    scale = max(0.2, n / (reps / 12 * 10_000) * 1.05)
    return list(islice(iter_events(teams=12, reps_per_team=8, scale=scale), n))


# ------------------------------------------------------------------------------ helpers


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    """The processes `pid` started (scoring's worker processes, services/scoring/workers.py)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def workers_peak_mb(pid: int) -> float:
    """The largest peak RSS among `pid`'s worker processes (0: none)."""
    peaks = [0.0]
    for child in children(pid):
        with contextlib.suppress(OSError):
            peaks.append(peak_rss_mb(child))
    return max(peaks)


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def load(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> tuple[int, float]:
    started = time.monotonic()
    last = 0
    for i in range(0, len(events), 1000):
        body = orjson.dumps({"events": events[i : i + 1000]})
        answer = await client.post(
            "/v1/events/batch", content=body, headers={"Content-Type": "application/json"}
        )
        if answer.status_code not in (200, 201):
            raise BenchError(f"load failed: {answer.status_code} {answer.text[:300]}")
        last = answer.json()["results"][-1]["position"]
    return last, time.monotonic() - started


async def caught_up(client: httpx.AsyncClient, position: int, timeout: float = 900) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        answer = await client.get("/v1/kpis", params={"metrics": "visits"})
        if answer.status_code == 200 and answer.json()["up_to"]["position"] >= position:
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise BenchError("scoring did not catch up")


async def rebuild(client: httpx.AsyncClient, pid: int) -> dict[str, Any]:
    before = (await client.get("/v1/admin/rebuild")).json()["generation"]
    rss_before = rss_mb(pid)
    peak_reset = reset_peak(pid)
    for child in children(pid):
        reset_peak(child)
    started = time.monotonic()
    answer = await client.post("/v1/admin/rebuild")
    if answer.status_code != 202:
        raise BenchError(f"rebuild refused: {answer.text}")
    # The replay runs in a process of its own that ends with it: sample its peak as it runs.
    workers_peak = 0.0
    while True:
        workers_peak = max(workers_peak, workers_peak_mb(pid))
        status = (await client.get("/v1/admin/rebuild")).json()
        if status["state"] == "done" and status["generation"] > before:
            break
        if time.monotonic() - started > 1800:
            raise BenchError("rebuild did not finish")
        await asyncio.sleep(0.1)
    return {
        "events": status["done"],
        "seconds": status["seconds"],
        "wall_seconds": time.monotonic() - started,
        "peak_rss_mb": peak_rss_mb(pid),
        "workers_peak_rss_mb": workers_peak,
        "peak_reset": peak_reset,
        "rss_before_mb": rss_before,
        "phases": status.get("phases") or {},
    }


def void_targets(events: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """`n` visits spread over the log that no event voids yet."""
    voided = {e["data"]["voided_event_id"] for e in events if e["type"] == "event.voided"}
    visits = [e for e in events if e["type"] == "visit.logged" and e["event_id"] not in voided]
    step = max(1, len(visits) // max(n, 1))
    return visits[::step][:n]


async def void_to_visible(
    activity: httpx.AsyncClient, client: httpx.AsyncClient, targets: list[dict[str, Any]]
) -> dict[str, Any]:
    """Void each target in turn; seconds from the append until scoring's position reaches it."""
    generation = (await client.get("/v1/admin/rebuild")).json()["generation"]
    before = await org_visits(client)
    latencies = []
    for target in targets:
        void = {
            "event_id": str(uuid.uuid4()),
            "type": "event.voided",
            "stream": target["stream"],
            "occurred_at": target["occurred_at"],
            "rep_id": target.get("rep_id"),
            "team_id": target.get("team_id"),
            "schema_version": 1,
            "data": {"voided_event_id": target["event_id"], "reason": "bench"},
        }
        started = time.monotonic()
        answer = await activity.post("/v1/events", json=void)
        if answer.status_code != 201:
            raise BenchError(f"void refused: {answer.text[:300]}")
        position = answer.json()["position"]
        while True:
            seen = (await client.get("/v1/kpis", params={"metrics": "visits"})).json()
            if seen["up_to"]["position"] >= position:
                break
            if time.monotonic() - started > 600:
                raise BenchError("a void was not folded within 600 s")
            await asyncio.sleep(0.005)
        latencies.append(time.monotonic() - started)
    after = await org_visits(client)
    status = (await client.get("/v1/admin/rebuild")).json()
    return {
        "latencies": latencies,
        "visits_before": before,
        "visits_after": after,
        "rebuilt": status["generation"] != generation,
    }


async def org_visits(client: httpx.AsyncClient) -> int:
    answer = await client.get(
        "/v1/kpis",
        params={"metrics": "visits", "period": "year", "from": "2026-01-01", "to": "2026-12-31"},
    )
    return sum(b["metrics"]["visits"]["value"] for b in answer.json()["buckets"])


async def append_to_visible(
    activity: HttpClient, scoring: HttpClient, config: Config
) -> list[float]:
    appended: dict[int, float] = {}
    visible: dict[int, float] = {}
    stop = asyncio.Event()
    template = next(
        e for e in iter_events(teams=1, reps_per_team=1, scale=0.2) if e["type"] == "visit.logged"
    )

    async def poll() -> None:
        while not stop.is_set() or len(visible) < len(appended):
            status, body = await scoring.request("GET", "/v1/kpis?metrics=visits")
            now = time.monotonic()
            if status != 200:
                raise BenchError(body.decode())
            seen = orjson.loads(body)["up_to"]["position"]
            for p in [p for p in appended if p not in visible and p <= seen]:
                visible[p] = now
            await asyncio.sleep(0.005)

    async def worker(w: int, workers: int) -> None:
        # A fixed set of senders on a schedule: 500 events/s whatever the client's queueing.
        total = int(config.rate * config.latency_seconds)
        for i in range(w, total, workers):
            delay = start + i / config.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            event = orjson.dumps({**template, "event_id": str(uuid.uuid4())})
            t = time.monotonic()
            status, body = await activity.request("POST", "/v1/events", event)
            if status != 201:
                raise BenchError(body.decode())
            appended[orjson.loads(body)["position"]] = t

    poller = asyncio.create_task(poll())
    start = time.monotonic()
    await asyncio.gather(*(worker(w, 16) for w in range(16)))
    stop.set()
    await asyncio.wait_for(poller, 60)
    return [visible[p] - t for p, t in appended.items()]


KPI_QUESTION = {
    "period": "month",
    "from": "2026-07-01",
    "to": "2026-09-30",
    "metrics": "visits,calls,deals_won,revenue_won",
}
NAIVE_SQL = """
SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC') AS month,
       count(*) FILTER (WHERE type = 'visit.logged') AS visits,
       count(*) FILTER (WHERE type = 'call.logged') AS calls,
       count(*) FILTER (WHERE type = 'deal.won') AS deals_won,
       coalesce(sum((data->>'amount')::numeric)
                FILTER (WHERE type = 'deal.won' AND data->>'currency' = 'EUR'), 0) AS revenue_won
FROM activity.events
WHERE org_id = $1 AND team_id = $2 AND occurred_at >= $3 AND occurred_at < $4
  AND event_id NOT IN (SELECT (data->>'voided_event_id')::uuid FROM activity.events
                       WHERE org_id = $1 AND type = 'event.voided')
GROUP BY 1 ORDER BY 1
"""


async def timed_loop(seconds: float, clients: int, call: Any) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(i: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            t = time.monotonic()
            await call(i, n)
            latencies.append(time.monotonic() - t)
            n += 1

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies


async def measure(config: Config, database: Database) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    env = {"BENCH_DATABASE_URL": database.url, "BENCH_JWT_SECRET": secret}
    activity = ServiceProcess("bench._activity_app:app", env)
    out: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(activity.running())
        scoring = ServiceProcess(
            "bench._scoring_app:app",
            {**env, "BENCH_ACTIVITY_URL": activity.base_url, "BENCH_REBUILD_SECONDS": "1"},
        )
        await stack.enter_async_context(scoring.running())

        def client(base: str, org: str) -> httpx.AsyncClient:
            token = issue_token(secret, org=org, role="admin", sub="bench")
            return httpx.AsyncClient(
                base_url=base,
                timeout=120,
                headers={"Authorization": f"Bearer {token}"},
                limits=httpx.Limits(max_connections=64),
            )

        act = await stack.enter_async_context(client(activity.base_url, ORG))
        sco = await stack.enter_async_context(client(scoring.base_url, ORG))
        events = synthetic(config.events)
        teams = sorted({e["team_id"] for e in events if e.get("team_id")})
        last, load_seconds = await load(act, events)
        out["load"] = {"events": len(events), "seconds": load_seconds}
        out["live_catch_up_seconds"] = await caught_up(sco, last)
        out["live_fold_rate"] = len(events) / (load_seconds + out["live_catch_up_seconds"])
        targets = void_targets(events, config.voids)
        del events

        # The log's voids ask for a rebuild once scoring has caught up: let it finish first.
        deadline = time.monotonic() + 1800
        while (await sco.get("/v1/admin/rebuild")).json()["state"] not in ("idle", "done"):
            if time.monotonic() > deadline:
                raise BenchError("the void-triggered rebuild did not finish")
            await asyncio.sleep(0.5)
        out["rebuild"] = await rebuild(sco, scoring.pid)
        out["voids"] = await void_to_visible(act, sco, targets)

        def lean(base: str, org: str, connections: int) -> HttpClient:
            token = issue_token(secret, org=org, role="admin", sub="bench")
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            made = LeanClient(base, headers, connections=connections)
            stack.push_async_callback(made.aclose)
            return made

        lat_act = await stack.enter_async_context(client(activity.base_url, LATENCY_ORG))
        lat_sco = await stack.enter_async_context(client(scoring.base_url, LATENCY_ORG))
        # The latency org must exist in scoring before the clock starts.
        first = await lat_act.post(
            "/v1/events",
            json={
                **next(iter_events(teams=1, scale=0.2)),
                "event_id": str(uuid.uuid4()),
            },
        )
        await caught_up(lat_sco, first.json()["position"], timeout=30)
        out["visible"] = await append_to_visible(
            lean(activity.base_url, LATENCY_ORG, 16),
            lean(scoring.base_url, LATENCY_ORG, 1),
            config,
        )

        questions = [f"/v1/kpis?{urlencode({**KPI_QUESTION, 'owner': f'team:{t}'})}" for t in teams]

        async def kpis_from(kpi_client: HttpClient) -> list[float]:
            async def ask(i: int, n: int) -> None:
                status, body = await kpi_client.request("GET", questions[(i + n) % len(questions)])
                if status != 200:
                    raise BenchError(body.decode())

            await timed_loop(2, config.clients, ask)  # warm-up
            return await timed_loop(config.kpi_seconds, config.clients, ask)

        out["kpis"] = await kpis_from(lean(scoring.base_url, ORG, config.clients))
        # The same questions to a replica that keeps no answers (and does not consume): every
        # request read from the rollups.
        uncached = ServiceProcess(
            "bench._scoring_app:app",
            {
                **env,
                "BENCH_ACTIVITY_URL": activity.base_url,
                "SCORING_CONSUME": "false",
                "SCORING_ANSWER_CACHE_SIZE": "0",
            },
        )
        await stack.enter_async_context(uncached.running())
        out["kpis_uncached"] = await kpis_from(lean(uncached.base_url, ORG, config.clients))

        pool = await asyncpg.create_pool(
            asyncpg_dsn(database.url), min_size=config.clients, max_size=config.clients
        )
        stack.push_async_callback(pool.close)
        lo, hi = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)

        async def naive(i: int, n: int) -> None:
            await pool.fetch(NAIVE_SQL, ORG, teams[(i + n) % len(teams)], lo, hi)

        await timed_loop(2, config.clients, naive)
        out["naive"] = await timed_loop(config.kpi_seconds, config.clients, naive)
    return out


def verdicts(config: Config, r: dict[str, Any]) -> list[Verdict]:
    rb = r["rebuild"]
    rate = rb["events"] / rb["seconds"]
    vis, voids = r["visible"], r["voids"]
    ours, naive, cold = r["kpis"], r["naive"], r["kpis_uncached"]
    c50, c99 = percentile(cold, 50), percentile(cold, 99)
    o50, o99, n50, n99 = (
        percentile(ours, 50),
        percentile(ours, 99),
        percentile(naive, 50),
        percentile(naive, 99),
    )
    return [
        Verdict(
            f"rebuild, {rb['events']:,} events",
            "events/s",
            rate,
            None,
            "—",
            "≥ 100k/s",
            rate >= 100_000,
            f"{rb['seconds']:.1f} s: "
            + ", ".join(
                f"{name.replace('_', '-')} {seconds:.1f} s"
                for name, seconds in rb.get("phases", {}).items()
            ),
        ),
        Verdict(
            "rebuild peak memory",
            "MB",
            rb["peak_rss_mb"],
            None,
            "—",
            "≤ 300 MB",
            rb["peak_rss_mb"] <= 300,
            f"RSS {rb.get('rss_before_mb', 0):.0f} MB before it; worker process "
            f"{rb.get('workers_peak_rss_mb', 0):.0f} MB",
        ),
        Verdict(
            f"void-to-visible, {len(voids['latencies'])} voids",
            "ms p99",
            percentile(voids["latencies"], 99) * 1000,
            rb["seconds"] * 1000,
            "the org's rebuild (phase 1)",
            "p99 ≤ 1 s, no rebuild",
            percentile(voids["latencies"], 99) <= 1.0
            and not voids["rebuilt"]
            and voids["visits_before"] - voids["visits_after"] == len(voids["latencies"]),
            f"p50 {fmt_ms(percentile(voids['latencies'], 50))}; visits "
            f"{voids['visits_before']:,} → {voids['visits_after']:,}; "
            f"{'rebuilt' if voids['rebuilt'] else 'no rebuild'}",
        ),
        Verdict(
            f"append-to-visible at {config.rate}/s",
            "ms p99",
            percentile(vis, 99) * 1000,
            None,
            "—",
            "p99 ≤ 500 ms",
            percentile(vis, 99) <= 0.5,
            f"p50 {fmt_ms(percentile(vis, 50))}, {len(vis):,} events",
        ),
        Verdict(
            f"/v1/kpis, {config.clients} clients",
            "req/s",
            len(ours) / config.kpi_seconds,
            len(naive) / config.kpi_seconds,
            f"naive SQL p50 {fmt_ms(n50)} · p99 {fmt_ms(n99)}",
            "p50 ≥ 10× faster, p99 ≤ 20 ms",
            n50 / o50 >= 10 and o99 <= 0.020,
            f"p50 {fmt_ms(o50)} · p99 {fmt_ms(o99)} · {n50 / o50:.1f}× faster at p50",
        ),
        Verdict(
            f"/v1/kpis, {config.clients} clients, no answer cache",
            "req/s",
            len(cold) / config.kpi_seconds,
            len(naive) / config.kpi_seconds,
            "the same naive SQL (reference)",
            "— (reference)",
            None,
            f"p50 {fmt_ms(c50)} · p99 {fmt_ms(c99)} · {n50 / c50:.1f}× faster at p50",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    config, check = parse_args(argv)
    out = console()
    out.rule("[bold]bench.scoring[/bold]: rebuild, freshness and KPI reads")

    async def run() -> dict[str, Any]:
        async with scratch_database() as database:
            return await measure(config, database)

    started = time.monotonic()
    with out.status(f"loading {config.events:,} events and measuring…"), uvloop_runner() as runner:
        try:
            result = runner.run(run())
        except BenchError as exc:
            out.print(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 1
    found = verdicts(config, result)
    setup = Table(title="setup", title_justify="left", show_header=False)
    setup.add_row(
        "log",
        f"{result['load']['events']:,} synthetic events appended in "
        f"{result['load']['seconds']:.0f} s; scoring caught up "
        f"{result['live_catch_up_seconds']:.1f} s after the last append",
    )
    setup.add_row("live folding", f"{result['live_fold_rate']:,.0f} events/s while appending")
    out.print(setup)
    return report(
        out,
        "scoring",
        found,
        {
            "config": asdict(config),
            "load": result["load"],
            "rebuild": result["rebuild"],
            "live_fold_rate": result["live_fold_rate"],
            # When the slow ones came: (seconds into the phase at 500 events/s, latency in ms).
            "visible_over_100ms": [
                (round(i / config.rate, 2), round(v * 1000))
                for i, v in enumerate(result["visible"])
                if v > 0.1
            ],
            "void_to_visible_ms": [round(v * 1000) for v in result["voids"]["latencies"]],
        },
        started=started,
        check=check,
    )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
