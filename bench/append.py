"""Append and feed throughput of the activity service against PostgreSQL's own ceiling.

Everything runs in one go on this machine, against one scratch database (dropped at the end),
with the service as a real uvicorn server in its own process on a loopback port:

1. Single appends: `POST /v1/events`, one event a request, from `--concurrency` (32) keep-alive
   connections; appends/s and p50/p99 latency. Baseline: the raw ceiling of the same table, 32
   asyncio tasks on a 32-connection asyncpg pool, each a single-row autocommit INSERT into
   `activity.events` with the same columns (positions numbered by the load generator, its org's
   own 1, 2, 3…, as the service numbers each org's events under its lock). Target: at
   least 0.5× the baseline.
2. Batch appends: `POST /v1/events/batch`, 1,000 events a request, `--batch-concurrency`
   requests in flight; events/s. Baseline: asyncpg `copy_records_to_table` (binary COPY) of
   1,000-row chunks, as many in flight. Target: at least 0.5× the baseline. For reference,
   "raw lookup + COPY" does what PostgreSQL must do for any append design: the service's own
   lookup of the ids (idempotency) and of the streams' versions, then the COPY, in one
   transaction, as many in flight, with no lock and no Python: the floor under any service.
3. Feed reads: one consumer paging through every event the service stored with
   `GET /v1/events?after=…&limit=1000`, parsing every page; events/s. Target: 100,000 events/s.
   The consumer asks for the next page as soon as a response's headers name it (`X-Next-Cursor`,
   sent while there is more: `Link` rel=next), on a second connection, and parses the page
   meanwhile: the service serves page N+1 while the consumer parses page N. The same consumer
   one page at a time is shown too. For reference the baseline column shows a keyset SELECT of
   the same pages on asyncpg (jsonb left as text), one page at a time.

The events are valid `visit.logged`/`call.logged` envelopes from `shared.events.EXAMPLES` with
fresh event_ids over 1,000 lead streams; the raw rows have the same shape (content_hash 32
random bytes, data/metadata JSON text cast to jsonb) in another org, each (stream, version)
unique, so they never touch the service's stream versions. Baselines run before the service
phase they are compared with, so the service always writes into the larger table; before every
phase the table is vacuumed and analyzed and a checkpoint taken, so no phase pays for the
autovacuum or checkpoint work of the one before.

The load generator is one Python process (this one, on uvloop) holding 32 keep-alive
connections, request bodies serialized before the clock starts. By default it is the lean
HTTP/1.1 client of bench/_http.py, because httpx.AsyncClient costs ~10-30x more client CPU per
request (see there); `--client httpx` measures through httpx instead. The machine has 2 cores
shared by the client, the service and PostgreSQL, so each phase also reports the cores each of
them kept busy (from /proc), and what else ran meanwhile ("other").

    python -m bench.append [--quick] [--single N] [--batches N] [--check] …
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import platform
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from rich.table import Table
from sqlalchemy.engine import make_url

from bench._harness import (
    BenchError,
    CpuMeter,
    CpuUse,
    Database,
    ServiceProcess,
    Verdict,
    console,
    env_int,
    fmt_ms,
    fmt_rate,
    interference,
    percentile,
    scratch_database,
    server_facts,
    summary_table,
    uvloop_runner,
    write_json,
)
from bench._http import CLIENTS, Headers, HttpClient, make_client
from services.activity.repository import GROUP_STATE
from shared.auth import issue_token
from shared.db import asyncpg_dsn
from shared.events import EXAMPLES

T = TypeVar("T")

EVENT_TYPES = ("visit.logged", "call.logged")
STREAMS = 1000  # lead-0 … lead-999
REPS = 50
RATIO_TARGET = 0.5
FEED_TARGET = 100_000.0
PHASE_TIMEOUT = 600.0  # seconds: a stalled service fails the run instead of hanging it
COLUMNS = (
    "org_id",
    "event_id",
    "type",
    "stream",
    "stream_version",
    "rep_id",
    "team_id",
    "occurred_at",
    "recorded_at",
    "schema_version",
    "data",
    "metadata",
    "content_hash",
    "event_json",
    "position",
)
RAW_INSERT = f"""
    INSERT INTO activity.events ({", ".join(COLUMNS)})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15)
"""
RAW_FEED = """
    SELECT position, event_id, type, org_id, stream, stream_version, rep_id, team_id,
           occurred_at, recorded_at, schema_version, data, metadata
    FROM activity.events WHERE org_id = $1 AND position > $2 ORDER BY position LIMIT $3
"""


# ---------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Config:
    single: int = 20_000
    warmup: int = 1_000
    concurrency: int = 32
    batches: int = 200
    batch_size: int = 1_000
    batch_concurrency: int = 4
    raw_single: int = 20_000
    raw_batches: int = 200
    page: int = 1_000
    workers: int = 1
    client: str = "lean"
    quick: bool = False


QUICK = Config(single=2_000, warmup=200, batches=20, raw_single=2_000, raw_batches=20, quick=True)


def parse_args(argv: Sequence[str] | None) -> tuple[Config, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.append",
        description="Append/feed throughput of the activity service vs raw asyncpg INSERT/COPY. "
        "Every option also reads BENCH_<OPTION> from the environment (e.g. BENCH_SINGLE=5000).",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    base = QUICK if quick else Config()
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default=os.environ.get("BENCH_CLIENT", base.client),
        help="HTTP load generator: the lean asyncio client, or httpx (costs far more CPU) [lean]",
    )
    options: list[tuple[str, int, str]] = [
        ("single", base.single, "single-event appends measured (after the warm-up)"),
        ("warmup", base.warmup, "single-event appends (and raw INSERTs) before measuring"),
        ("concurrency", base.concurrency, "connections/tasks for single appends"),
        ("batches", base.batches, "batch requests measured"),
        ("batch-size", base.batch_size, "events per batch request and per COPY chunk"),
        ("batch-concurrency", base.batch_concurrency, "batch requests / COPYs in flight"),
        ("raw-single", base.raw_single, "raw single-row INSERTs measured"),
        ("raw-batches", base.raw_batches, "raw COPY chunks measured"),
        ("page", base.page, "feed page size (limit)"),
        ("workers", base.workers, "uvicorn worker processes"),
    ]
    for name, default, text in options:
        env = name.upper().replace("-", "_")
        parser.add_argument(
            f"--{name}", type=int, default=env_int(env, default), help=f"{text} [{default}]"
        )
    args = parser.parse_args(argv)
    config = Config(
        single=args.single,
        warmup=args.warmup,
        concurrency=args.concurrency,
        batches=args.batches,
        batch_size=args.batch_size,
        batch_concurrency=args.batch_concurrency,
        raw_single=args.raw_single,
        raw_batches=args.raw_batches,
        page=args.page,
        workers=args.workers,
        client=args.client,
        quick=quick,
    )
    return config, bool(args.check)


# ---------------------------------------------------------------------------------- the events


class Events:
    """Valid events for the service and rows of the same shape for the raw baselines."""

    def __init__(self) -> None:
        self._sent = 0
        self._raw = 0
        self._occurred_at = datetime.fromisoformat(EXAMPLES[EVENT_TYPES[0]]["occurred_at"])
        self._data = {t: orjson.dumps(EXAMPLES[t]["data"]).decode() for t in EVENT_TYPES}
        self._metadata = {t: orjson.dumps(EXAMPLES[t]["metadata"]).decode() for t in EVENT_TYPES}

    def event(self) -> dict[str, Any]:
        i, self._sent = self._sent, self._sent + 1
        kind = EVENT_TYPES[i % len(EVENT_TYPES)]
        return {
            **EXAMPLES[kind],
            "event_id": str(uuid.uuid4()),
            "stream": f"lead-{i % STREAMS}",
            "rep_id": f"rep-{i % REPS}",
        }

    def single_bodies(self, n: int) -> list[bytes]:
        return [orjson.dumps(self.event()) for _ in range(n)]

    def batch_bodies(self, n: int, size: int) -> list[bytes]:
        return [orjson.dumps({"events": [self.event() for _ in range(size)]}) for _ in range(n)]

    def raw_row(self, org: str) -> tuple[Any, ...]:
        """A row in COLUMNS order; stream_version grows per stream, so each row is unique. The
        rows of one `Events` go to one org (the raw baseline's): positions 1, 2, 3… in it."""
        i, self._raw = self._raw, self._raw + 1
        kind = EVENT_TYPES[i % len(EVENT_TYPES)]
        row = (
            org,
            uuid.uuid4(),
            kind,
            f"lead-{i % STREAMS}",
            i // STREAMS + 1,
            f"rep-{i % REPS}",
            EXAMPLES[kind]["team_id"],
            self._occurred_at,
            datetime.now(UTC),
            1,
            self._data[kind],
            self._metadata[kind],
            secrets.token_bytes(32),
        )
        # The service stores each event's rendered JSON too; so does the baseline, same size.
        rendered = dict(zip(COLUMNS[:11], row[:11], strict=True))
        rendered.update(
            position=i + 1, data=orjson.Fragment(row[10]), metadata=orjson.Fragment(row[11])
        )
        return (*row, orjson.dumps(rendered, default=str).decode(), i + 1)

    def raw_rows(self, org: str, n: int) -> list[tuple[Any, ...]]:
        return [self.raw_row(org) for _ in range(n)]


# ---------------------------------------------------------------------------------- measuring


@dataclass
class Phase:
    """One timed phase: how many requests and events, how long, and who used the CPU."""

    name: str
    requests: int
    events: int
    seconds: float
    cpu: CpuUse
    latencies: list[float] = field(repr=False)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.events_per_s, 1),
            "requests_per_s": round(self.requests_per_s, 1),
            "latency_p50_ms": _ms(self.p50),
            "latency_p99_ms": _ms(self.p99),
            "latency_max_ms": _ms(max(self.latencies, default=math.nan)),
            "cpu_cores": {k: v if v is None else round(v, 3) for k, v in asdict(self.cpu).items()},
            **self.notes,
        }


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 3)


async def drive(
    items: Sequence[T], concurrency: int, op: Callable[[T], Awaitable[None]]
) -> list[float]:
    """Run `op` over `items` from `concurrency` workers; the latency of each call."""
    source = iter(items)
    latencies: list[float] = []

    async def worker() -> None:
        for item in source:  # one shared iterator: each item is taken by exactly one worker
            started = time.perf_counter()
            await op(item)
            latencies.append(time.perf_counter() - started)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
    except BaseExceptionGroup as errors:
        raise _first_error(errors) from None
    return latencies


def _first_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure of a task group, as a BenchError unless it is one (or a cancellation)."""
    error: BaseException = errors
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    if isinstance(error, (BenchError, asyncio.CancelledError, KeyboardInterrupt)):
        return error
    failure = BenchError(f"{type(error).__name__}: {error}")
    failure.__cause__ = error
    return failure


class Bench:
    """The phases, sharing one service, one HTTP client, one asyncpg pool and one CPU meter."""

    def __init__(
        self,
        config: Config,
        client: HttpClient,
        pool: asyncpg.Pool,
        meter: CpuMeter,
        *,
        service_org: str,
        raw_org: str,
    ) -> None:
        self.config = config
        self.client = client
        self.pool = pool
        self.meter = meter
        self.service_org = service_org
        self.raw_org = raw_org
        self.events = Events()
        self.stored = 0  # events the service reported as created

    async def settle(self) -> None:
        """Start each phase from the same state: no autovacuum of the previous phase's rows
        running into it (VACUUM ANALYZE now), and dirty pages flushed (CHECKPOINT, if allowed)."""
        async with self.pool.acquire() as conn:
            await conn.execute("VACUUM (ANALYZE) activity.events")
            with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CHECKPOINT")

    async def timed(
        self,
        name: str,
        run: Callable[[], Awaitable[list[float]]],
        *,
        requests: int,
        events: int,
    ) -> Phase:
        await self.settle()
        before = await self.meter.sample()
        async with asyncio.timeout(PHASE_TIMEOUT):
            latencies = await run()
        after = await self.meter.sample()
        cpu = CpuMeter.use(before, after)
        return Phase(name, requests, events, cpu.seconds, cpu, latencies)

    # ---- the service

    async def _post_one(self, body: bytes) -> None:
        status, content = await self.client.request("POST", "/v1/events", body)
        if status != 201:
            raise BenchError(f"POST /v1/events: {status} {content[:500]!r}")
        self.stored += 1

    async def _post_batch(self, body: bytes) -> None:
        status, content = await self.client.request("POST", "/v1/events/batch", body)
        if status != 201:
            raise BenchError(f"POST /v1/events/batch: {status} {content[:500]!r}")
        created = int(orjson.loads(content)["created"])
        if created != self.config.batch_size:
            raise BenchError(f"a batch created {created} of {self.config.batch_size} events")
        self.stored += created

    async def group_commits(self) -> tuple[float, float]:
        """(events, transactions) the service's group committer has written so far."""
        text = (await self.client.request("GET", "/metrics"))[1].decode()
        values = {"sum": 0.0, "count": 0.0}
        for line in text.splitlines():
            for key in values:
                if line.startswith(f"salesperf_activity_group_commit_events_{key} "):
                    values[key] = float(line.split()[-1])
        return values["sum"], values["count"]

    async def with_group_stats(self, phase: Callable[[], Awaitable[Phase]]) -> Phase:
        events_before, groups_before = await self.group_commits()
        result = await phase()
        events_after, groups_after = await self.group_commits()
        groups = groups_after - groups_before
        if self.config.workers == 1 and groups:  # /metrics is per worker process
            result.notes["group_commits"] = int(groups)
            result.notes["events_per_group_commit"] = round(
                (events_after - events_before) / groups, 1
            )
        return result

    async def warm_up(self) -> None:
        c = self.config
        bodies = self.events.single_bodies(c.warmup)
        await drive(bodies, c.concurrency, self._post_one)
        await drive(self.events.batch_bodies(2, c.batch_size), 1, self._post_batch)
        await drive(self.events.raw_rows(self.raw_org, c.warmup), c.concurrency, self._raw_insert)
        await drive(
            [self.events.raw_rows(self.raw_org, c.batch_size) for _ in range(2)],
            1,
            self._raw_copy,
        )

    async def http_single(self) -> Phase:
        c = self.config
        bodies = self.events.single_bodies(c.single)
        return await self.with_group_stats(
            lambda: self.timed(
                "POST /v1/events",
                lambda: drive(bodies, c.concurrency, self._post_one),
                requests=c.single,
                events=c.single,
            )
        )

    async def http_batch(self) -> Phase:
        c = self.config
        bodies = self.events.batch_bodies(c.batches, c.batch_size)
        return await self.with_group_stats(
            lambda: self.timed(
                "POST /v1/events/batch",
                lambda: drive(bodies, c.batch_concurrency, self._post_batch),
                requests=c.batches,
                events=c.batches * c.batch_size,
            )
        )

    async def http_feed(self, *, ahead: bool) -> Phase:
        """Page through every event the service stored. With `ahead`, as a consumer that
        continues from the `X-Next-Cursor` header asks for the next page (on another
        connection) before it parses this one; without, one page at a time."""
        expected = await self.pool.fetchval(
            "SELECT count(*) FROM activity.events WHERE org_id = $1", self.service_org
        )
        if expected != self.stored:
            raise BenchError(f"the service reported {self.stored} events stored, found {expected}")
        read = 0

        async def fetch(after: str | None) -> tuple[float, Headers, bytes]:
            target = f"/v1/events?limit={self.config.page}" + (f"&after={after}" if after else "")
            started = time.perf_counter()
            status, headers, content = await self.client.exchange("GET", target)
            if status != 200:
                raise BenchError(f"GET {target}: {status} {content[:500]!r}")
            return started, headers, content

        async def page_through() -> list[float]:
            nonlocal read
            latencies: list[float] = []
            last_position = 0
            pending = asyncio.ensure_future(fetch(None))
            try:
                while True:
                    started, headers, content = await pending
                    if ahead and "link" in headers:  # more to come: ask for it now
                        pending = asyncio.ensure_future(fetch(headers["x-next-cursor"]))
                        await asyncio.sleep(0)  # let it send the request before parsing
                    page = orjson.loads(content)
                    latencies.append(time.perf_counter() - started)
                    items = page["items"]
                    if items and items[0]["position"] <= last_position:
                        raise BenchError("the feed went backwards")
                    last_position = items[-1]["position"] if items else last_position
                    read += len(items)
                    if not page["has_more"]:
                        return latencies
                    if not ahead:
                        pending = asyncio.ensure_future(fetch(page["next"]))
            finally:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, BenchError):
                    await pending

        # The load generator's own cyclic GC, collecting the parsed pages, paused it 70-90 ms
        # every ~27 pages: a cost of this client, not of the service. Off while paging.
        gc.disable()
        name = "GET /v1/events" if ahead else "GET /v1/events, one at a time"
        try:
            phase = await self.timed(name, page_through, requests=0, events=int(expected))
        finally:
            gc.enable()
        if read != expected:
            raise BenchError(f"the feed served {read} events of {expected}")
        phase.requests = len(phase.latencies)
        return phase

    # ---- the raw baselines

    async def _raw_insert(self, row: tuple[Any, ...]) -> None:
        await self.pool.execute(RAW_INSERT, *row)

    async def _raw_copy(self, rows: list[tuple[Any, ...]]) -> None:
        await self.pool.copy_records_to_table(
            "events", schema_name="activity", columns=COLUMNS, records=rows
        )

    async def _raw_lookup_copy(self, rows: list[tuple[Any, ...]]) -> None:
        """What PostgreSQL must do for any append, whatever orders the feed: look up the ids
        (idempotency) and the streams' versions, then COPY; here with no lock and no Python."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.fetch(
                GROUP_STATE,
                self.raw_org,
                [r[1] for r in rows],
                list({r[3] for r in rows}),
                [],
                len(rows),
            )
            await conn.copy_records_to_table(
                "events", schema_name="activity", columns=COLUMNS, records=rows
            )

    async def raw_single(self) -> Phase:
        c = self.config
        rows = self.events.raw_rows(self.raw_org, c.raw_single)
        return await self.timed(
            "raw INSERT (1 row)",
            lambda: drive(rows, c.concurrency, self._raw_insert),
            requests=c.raw_single,
            events=c.raw_single,
        )

    async def raw_copy(self) -> Phase:
        c = self.config
        chunks = [self.events.raw_rows(self.raw_org, c.batch_size) for _ in range(c.raw_batches)]
        return await self.timed(
            f"raw COPY ({c.batch_size:,} rows)",
            lambda: drive(chunks, c.batch_concurrency, self._raw_copy),
            requests=c.raw_batches,
            events=c.raw_batches * c.batch_size,
        )

    async def raw_lookup_copy(self) -> Phase:
        c = self.config
        chunks = [self.events.raw_rows(self.raw_org, c.batch_size) for _ in range(c.raw_batches)]
        return await self.timed(
            "raw lookup + COPY",
            lambda: drive(chunks, c.batch_concurrency, self._raw_lookup_copy),
            requests=c.raw_batches,
            events=c.raw_batches * c.batch_size,
        )

    async def raw_feed(self, events: int) -> Phase:
        page = self.config.page

        async def page_through() -> list[float]:
            latencies: list[float] = []
            async with self.pool.acquire() as conn:
                statement = await conn.prepare(RAW_FEED)
                after, read = 0, 0
                while True:
                    started = time.perf_counter()
                    rows = await statement.fetch(self.service_org, after, page)
                    latencies.append(time.perf_counter() - started)
                    read += len(rows)
                    if len(rows) < page:
                        break
                    after = rows[-1]["position"]
            if read != events:
                raise BenchError(f"the raw feed read {read} events of {events}")
            return latencies

        phase = await self.timed("raw SELECT pages", page_through, requests=0, events=events)
        phase.requests = len(phase.latencies)
        return phase


# ---------------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    environment: dict[str, Any]
    phases: list[Phase]
    verdicts: list[Verdict]


def _ratio_verdict(name: str, ours: Phase, baseline: Phase, label: str, note: str) -> Verdict:
    ratio = ours.events_per_s / baseline.events_per_s
    return Verdict(
        benchmark=name,
        unit="ev/s",
        ours=ours.events_per_s,
        baseline=baseline.events_per_s,
        baseline_label=label,
        target=f"≥ {RATIO_TARGET:.2f}×",
        passed=ratio >= RATIO_TARGET,
        ours_note=note,
    )


async def measure(config: Config, database: Database) -> Outcome:
    jwt_secret = secrets.token_urlsafe(32)
    suffix = uuid.uuid4().hex[:8]
    service_org, raw_org = f"bench-{suffix}", f"bench-raw-{suffix}"
    dsn = asyncpg_dsn(database.url)
    server = ServiceProcess(
        "bench._activity_app:app",
        {"BENCH_DATABASE_URL": database.url, "BENCH_JWT_SECRET": jwt_secret},
        workers=config.workers,
    )
    async with contextlib.AsyncExitStack() as stack:
        size = max(config.concurrency, config.batch_concurrency) + 1
        pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
        stack.push_async_callback(pool.close)
        meter_conn = await asyncpg.connect(dsn)
        stack.push_async_callback(meter_conn.close)
        await stack.enter_async_context(server.running())
        token = issue_token(jwt_secret, org=service_org, role="admin", sub="bench")
        client = make_client(
            config.client,
            server.base_url,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            connections=config.concurrency,
        )
        stack.push_async_callback(client.aclose)
        bench = Bench(
            config,
            client,
            pool,
            CpuMeter(server.pid, meter_conn),
            service_org=service_org,
            raw_org=raw_org,
        )
        environment = await describe(config, database, server, client, meter_conn)
        await bench.warm_up()
        raw_single = await bench.raw_single()
        http_single = await bench.http_single()
        raw_copy = await bench.raw_copy()
        raw_lookup_copy = await bench.raw_lookup_copy()
        http_batch = await bench.http_batch()
        http_feed = await bench.http_feed(ahead=True)
        http_feed_serial = await bench.http_feed(ahead=False)
        raw_feed = await bench.raw_feed(http_feed.events)

    single_note = f"p50 {fmt_ms(http_single.p50)} · p99 {fmt_ms(http_single.p99)}"
    verdicts = [
        _ratio_verdict(
            f"single appends, {config.concurrency} connections",
            http_single,
            raw_single,
            f"asyncpg 1-row INSERT × {config.concurrency} tasks "
            f"(p50 {fmt_ms(raw_single.p50)} · p99 {fmt_ms(raw_single.p99)})",
            single_note,
        ),
        _ratio_verdict(
            f"batch appends, {config.batch_size:,}/request",
            http_batch,
            raw_copy,
            f"asyncpg COPY of {config.batch_size:,}-row chunks, {config.batch_concurrency} in flight",
            f"{config.batch_concurrency} requests in flight, p50 {fmt_ms(http_batch.p50)}",
        ),
        Verdict(
            benchmark=f"feed reads, limit={config.page:,}",
            unit="ev/s",
            ours=http_feed.events_per_s,
            baseline=raw_feed.events_per_s,
            baseline_label="asyncpg keyset SELECT, same pages (reference only)",
            target=f"≥ {FEED_TARGET:,.0f} ev/s",
            passed=http_feed.events_per_s >= FEED_TARGET,
            ours_note=f"{http_feed.events:,} events, next page asked for from X-Next-Cursor "
            f"while parsing; one page at a time: {fmt_rate(http_feed_serial.events_per_s, ' ev/s')}",
        ),
    ]
    phases = [
        raw_single,
        http_single,
        raw_copy,
        raw_lookup_copy,
        http_batch,
        http_feed,
        http_feed_serial,
        raw_feed,
    ]
    return Outcome(environment, phases, verdicts)


async def describe(
    config: Config,
    database: Database,
    server: ServiceProcess,
    client: HttpClient,
    conn: asyncpg.Connection,
) -> dict[str, Any]:
    url = make_url(database.url)
    where = "embedded pgserver (unix socket)" if database.embedded else f"{url.host}:{url.port}"
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "postgres": {"where": where, **await server_facts(conn)},
        "service": server.describe(),
        "load_generator": f"1 process (this one, uvloop): {client.description}; "
        "request bodies serialized before the clock starts",
        "baseline_client": "the same process: asyncpg pool, "
        f"{max(config.concurrency, config.batch_concurrency) + 1} connections",
    }


# ---------------------------------------------------------------------------------- output


def phase_table(phases: Sequence[Phase]) -> Table:
    table = Table(
        title="phases — CPU columns: average cores kept busy (the machine has "
        f"{os.cpu_count()}); client = this process, other = the rest of the machine",
        title_justify="left",
    )
    table.add_column("phase", no_wrap=True)
    for name in ("requests", "events", "time", "events/s", "p50", "p99"):
        table.add_column(name, justify="right", no_wrap=True)
    for name in ("client", "service", "postgres", "other"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("commits × events", no_wrap=True)
    for p in phases:
        groups = ""
        if "events_per_group_commit" in p.notes:
            groups = f"{p.notes['group_commits']:,} × {p.notes['events_per_group_commit']:,.1f}"
        table.add_row(
            p.name,
            f"{p.requests:,}",
            f"{p.events:,}",
            f"{p.seconds:.1f} s",
            fmt_rate(p.events_per_s, ""),
            fmt_ms(p.p50),
            fmt_ms(p.p99),
            f"{p.cpu.client:.2f}",
            f"{p.cpu.service:.2f}",
            "n/a" if p.cpu.postgres is None else f"{p.cpu.postgres:.2f}",
            "n/a" if p.cpu.other is None else f"{p.cpu.other:.2f}",
            groups,
        )
    return table


def setup_table(environment: dict[str, Any], config: Config) -> Table:
    table = Table(title="setup", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    pg = environment["postgres"]
    table.add_row("machine", environment["machine"])
    table.add_row("load at start", " ".join(map(str, environment["load_average_at_start"])))
    table.add_row(
        "PostgreSQL",
        f"{pg['server_version']} at {pg['where']}; fsync={pg['fsync']}, "
        f"synchronous_commit={pg['synchronous_commit']}, shared_buffers={pg['shared_buffers']}",
    )
    table.add_row("service", environment["service"])
    table.add_row("load generator", environment["load_generator"])
    table.add_row("baseline client", environment["baseline_client"])
    table.add_row(
        "sizes",
        f"{config.single:,} single appends after {config.warmup:,} warm-up; "
        f"{config.batches} batches × {config.batch_size:,}; raw: {config.raw_single:,} "
        f"INSERTs, {config.raw_batches} COPYs" + (" (--quick)" if config.quick else ""),
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    config, check = parse_args(argv)
    out = console()
    out.rule("[bold]bench.append[/bold]: activity appends and feed vs raw asyncpg")

    async def run() -> Outcome:
        async with scratch_database() as database:
            return await measure(config, database)

    started = time.monotonic()
    with out.status("measuring (about a minute or two at full size)…"), uvloop_runner() as runner:
        try:
            outcome = runner.run(run())
        except BenchError as exc:
            out.print(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 1
    out.print(setup_table(outcome.environment, config))
    out.print(phase_table(outcome.phases))
    out.print(summary_table("bench.append", outcome.verdicts))
    if (warning := interference(p.cpu for p in outcome.phases)) is not None:
        out.print(f"[yellow]warning:[/yellow] {warning}")
    path = write_json(
        "append",
        {
            "benchmark": "append",
            "finished_at": datetime.now(UTC).isoformat(),
            "wall_seconds": round(time.monotonic() - started, 1),
            "config": asdict(config),
            "environment": outcome.environment,
            "phases": {p.name: p.summary() for p in outcome.phases},
            "warning": interference(p.cpu for p in outcome.phases),
            "verdicts": [
                {**asdict(v), "ratio": None if v.ratio is None else round(v.ratio, 3)}
                for v in outcome.verdicts
            ],
        },
    )
    out.print(f"results written to {path}")
    if check and any(v.passed is False for v in outcome.verdicts):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
