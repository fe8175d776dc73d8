"""What every benchmark needs: a scratch database, a service process, a CPU meter, the tables.

- `scratch_database()`: a fresh `salesperf_bench_<random>` database on the configured server
  (embedded pgserver unless DATABASE_URL is set), migrated to head, dropped WITH (FORCE) after.
- `ServiceProcess`: an app factory served by uvicorn in its own process on a free loopback port,
  ready once `/readyz` answers 200 (`async with service.running(): …`).
- `CpuMeter`: CPU time of the load generator (this process), the service's process tree, the
  PostgreSQL backends of the scratch database (plus its background processes) and the rest of
  the machine during a phase, read from /proc: on a 2-core machine they all share the cores, so
  a throughput number means little without them.
- `Verdict` rows and `summary_table()`: the final benchmark | ours | baseline | ratio | target |
  pass/fail table; `write_json()` for bench/results/.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from shared.config import REPO_ROOT, CommonSettings
from shared.db import asyncpg_dsn, run_migrations, sync_url

RESULTS_DIR = Path(__file__).resolve().parent / "results"
T = TypeVar("T")
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchError(RuntimeError):
    """The benchmark could not measure what it meant to (a failed request, a wrong count…)."""


def console() -> Console:
    """A console as wide as the terminal, or 150 columns when the output is not one."""
    return Console(width=shutil.get_terminal_size((150, 40)).columns)


def uvloop_runner() -> asyncio.Runner:
    """An asyncio runner on uvloop when it is installed (a cheaper load generator)."""
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()


# ------------------------------------------------------------------------------ the database


@dataclass(frozen=True)
class Database:
    url: str
    name: str
    embedded: bool


@contextlib.asynccontextmanager
async def scratch_database(prefix: str = "salesperf_bench") -> AsyncIterator[Database]:
    settings = CommonSettings()
    base = await asyncio.to_thread(sync_url, settings)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(asyncpg_dsn(base))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(run_migrations, url)
        yield Database(url=url, name=name, embedded=not settings.database_url)
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(base))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def measure_in_scratch(
    out: Console, measure: Callable[[Database], Awaitable[T]], status: str = "measuring…"
) -> T:
    """`measure` against a scratch database (dropped after it), on uvloop, behind a status
    line: the whole run of a benchmark that needs no service."""

    async def run() -> T:
        async with scratch_database() as database:
            return await measure(database)

    with out.status(status), uvloop_runner() as runner:
        return runner.run(run())


async def server_facts(conn: asyncpg.Connection) -> dict[str, Any]:
    """The PostgreSQL settings that decide write throughput."""
    facts: dict[str, Any] = {}
    for setting in ("server_version", "fsync", "synchronous_commit", "shared_buffers"):
        facts[setting] = await conn.fetchval(f"SHOW {setting}")
    return facts


# ------------------------------------------------------------------------------ the service


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServiceProcess:
    """`uvicorn --factory <factory>` in a child process on 127.0.0.1:<free port>."""

    def __init__(self, factory: str, env: Mapping[str, str], *, workers: int = 1) -> None:
        self.factory = factory
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
        self.http = "httptools" if importlib.util.find_spec("httptools") else "h11"
        self._env = {**os.environ, **env}
        self._log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def describe(self) -> str:
        workers = f"{self.workers} worker" + ("s" if self.workers > 1 else "")
        return f"uvicorn, {workers}, --loop {self.loop} --http {self.http}, separate process"

    async def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            self.factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            self.loop,
            "--http",
            self.http,
        ]
        self._proc = await asyncio.create_subprocess_exec(
            *command, cwd=REPO_ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while True:
                if self._proc.returncode is not None:
                    raise BenchError(f"the service exited at start:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise BenchError(f"the service was not ready in {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._proc.wait(), 15)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        self._log.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceProcess]:
        """Started until the block ends; its log goes to stderr if the block fails."""
        try:
            await self.start()
            yield self
        except BaseException:
            if log := self.log_tail():
                sys.stderr.write(f"--- service log (last lines)\n{log}\n")
            raise
        finally:
            await self.stop()
            self.remove_log()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def remove_log(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)


# ------------------------------------------------------------------------------ CPU accounting


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from the 3rd on (comm may hold spaces)


def _process_cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime + stime


def _tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (user + system) of `root` and each live descendant, by pid."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            cpu[int(entry.name)] = _process_cpu(fields)
    found: dict[int, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in cpu:
            found[pid] = cpu[pid]
            todo.extend(children.get(pid, ()))
    return found


def _pids_cpu(pids: Sequence[int]) -> dict[int, float]:
    return {pid: _process_cpu(f) for pid in pids if (f := _stat_fields(pid)) is not None}


def _machine_busy() -> float | None:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


def _is_local_postgres(pid: int) -> bool:
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@dataclass(frozen=True)
class CpuSample:
    wall: float
    client: float
    server: dict[int, float]
    postgres: dict[int, float] | None
    machine: float | None


@dataclass(frozen=True)
class CpuUse:
    """Cores busy on average during a phase (1.0 = one core the whole time).

    client: this process (the load generator, and the asyncpg client of the raw baselines);
    service: the uvicorn process tree; postgres: the backends of the scratch database plus
    PostgreSQL's background processes; other: everything else on the machine meanwhile.
    """

    seconds: float
    client: float
    service: float
    postgres: float | None
    other: float | None


def _delta(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


class CpuMeter:
    """Samples CPU time of the client, the service and PostgreSQL around each phase."""

    def __init__(self, server_pid: int, pg: asyncpg.Connection) -> None:
        self._server_pid = server_pid
        self._pg = pg
        self._local: bool | None = None

    async def sample(self) -> CpuSample:
        if self._local is None:
            self._local = _is_local_postgres(await self._pg.fetchval("SELECT pg_backend_pid()"))
        postgres: dict[int, float] | None = None
        if self._local:
            rows = await self._pg.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() OR datname IS NULL"
            )
            postgres = _pids_cpu([r["pid"] for r in rows])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return CpuSample(
            wall=time.perf_counter(),
            client=usage.ru_utime + usage.ru_stime,
            server=_tree_cpu(self._server_pid),
            postgres=postgres,
            machine=_machine_busy(),
        )

    @staticmethod
    def use(before: CpuSample, after: CpuSample) -> CpuUse:
        wall = max(after.wall - before.wall, 1e-9)
        client = (after.client - before.client) / wall
        service = _delta(before.server, after.server) / wall
        postgres = (
            _delta(before.postgres, after.postgres) / wall
            if before.postgres is not None and after.postgres is not None
            else None
        )
        other = None
        if before.machine is not None and after.machine is not None and postgres is not None:
            other = max(0.0, (after.machine - before.machine) / wall - client - service - postgres)
        return CpuUse(wall, client, service, postgres, other)


# ------------------------------------------------------------------------------ numbers, tables


OTHER_CPU_WARNING = 0.25  # cores used by other processes that make a run noisy


def env_int(name: str, default: int) -> int:
    """`BENCH_<name>` from the environment, else `default`."""
    value = os.environ.get(f"BENCH_{name}")
    return int(value) if value else default


def interference(uses: Iterable[CpuUse], during: str = "the phases") -> str | None:
    """A warning when other processes took a noticeable share of the cores meanwhile."""
    busy = [u.other for u in uses if u.other is not None]
    if not busy or max(busy) < OTHER_CPU_WARNING:
        return None
    return (
        f"Other processes kept up to {max(busy):.2f} cores busy during {during} (mean "
        f"{sum(busy) / len(busy):.2f}): the numbers above are worse than on an idle machine."
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt_rate(value: float | None, unit: str = "/s") -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.0f}{unit}"


def fmt_ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


@dataclass
class Verdict:
    """One line of the final table: our number against a baseline and a target."""

    benchmark: str
    unit: str
    ours: float
    baseline: float | None
    baseline_label: str
    target: str
    passed: bool | None  # None: a reference line, no target of its own
    ours_note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.baseline if self.baseline else None


def summary_table(title: str, verdicts: Sequence[Verdict]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("benchmark")
    table.add_column("ours", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("target", justify="right")
    table.add_column("pass/fail", justify="center")
    for v in verdicts:
        ratio = v.ratio
        table.add_row(
            v.benchmark,
            fmt_rate(v.ours, f" {v.unit}") + (f"\n[dim]{v.ours_note}[/dim]" if v.ours_note else ""),
            f"{fmt_rate(v.baseline, f' {v.unit}')}\n[dim]{v.baseline_label}[/dim]",
            "—" if ratio is None else f"{ratio:.2f}×",
            v.target,
            "—"
            if v.passed is None
            else "[bold green]pass[/bold green]"
            if v.passed
            else "[bold red]FAIL[/bold red]",
        )
    return table


def write_json(name: str, payload: Mapping[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_bytes(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_DATACLASS)
    )
    return path


def report(
    out: Console,
    name: str,
    found: Sequence[Verdict],
    details: Mapping[str, Any],
    *,
    started: float,
    check: bool = False,
) -> int:
    """A benchmark's ending: its verdicts as a table, and as bench/results/<name>.json beside
    `details`; the exit status (1 when `check` and a target was missed)."""
    out.print(summary_table(f"bench.{name}", found))
    path = write_json(
        name,
        {
            "benchmark": name,
            "finished_at": datetime.now(UTC).isoformat(),
            "wall_seconds": round(time.monotonic() - started, 1),
            **details,
            "verdicts": [{**asdict(v), "ratio": v.ratio} for v in found],
        },
    )
    out.print(f"results written to {path}")
    return 1 if check and any(v.passed is False for v in found) else 0
