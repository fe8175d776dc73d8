"""`salesperf run` with the embedded PostgreSQL (no DATABASE_URL): however the run ends — Ctrl-C,
SIGTERM, kill -9 — the postmaster it started or joined does not outlive it, and one left
behind by an earlier run killed with -9 is joined, then stopped, by the next."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import JWT_SECRET
from tests.e2e.test_run import REPO, free_port

READY_SECONDS = 120


class Run:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(
            {
                "SALESPERF_JWT_SECRET": JWT_SECRET,
                "SALESPERF_DATA_DIR": str(data_dir),
                "ACTIVITY_PORT": str(self.port),
                "SCORING_PORT": str(free_port()),
                "GOALS_PORT": str(free_port()),
            }
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "salesperf.cli", "run"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.proc.communicate()[0]
            time.sleep(0.3)
        self.proc.kill()
        pytest.fail(f"salesperf run did not become ready:\n{self.proc.communicate()[0]}")

    def signal(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(30)


def postmaster(data_dir: Path) -> psutil.Process | None:
    try:
        pid = int((data_dir / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
    except (OSError, ValueError, psutil.NoSuchProcess):
        return None
    return process if process.is_running() and process.status() != "zombie" else None


def watchdogs(data_dir: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = p.info["cmdline"] or []
        if "salesperf.pg_watchdog" in cmdline and str(data_dir / "pg") in " ".join(cmdline):
            found.append(p)
    return found


def gone_within(data_dir: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if postmaster(data_dir) is None:
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory of the run's own, outside pytest's `tmp_path`: as root the embedded
    server runs as the `pgserver` user, and each pytest session starting on the machine makes
    pytest's base directory private again (mode 0700) under a server still starting."""
    path = Path(tempfile.mkdtemp(prefix="salesperf-run-"))
    yield path
    left = postmaster(path)  # never leave a server behind, whatever the test did
    if left is not None:
        left.kill()
    shutil.rmtree(path, ignore_errors=True)


class TestTheEmbeddedPostgresStopsWithTheRun:
    @pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
    def test_a_signal_to_the_run_stops_it(self, data_dir: Path, sig: int) -> None:
        run = Run(data_dir)
        assert postmaster(data_dir) is not None
        run.signal(sig)
        assert gone_within(data_dir, 20), "the embedded postmaster outlived the run"

    def test_a_run_killed_with_9_leaves_no_postmaster(self, data_dir: Path) -> None:
        run = Run(data_dir)
        assert postmaster(data_dir) is not None
        run.proc.kill()
        run.proc.wait(10)
        assert gone_within(data_dir, 20), "the embedded postmaster outlived a kill -9 of the run"

    def test_a_postmaster_left_by_a_killed_run_is_joined_and_stopped_by_the_next(
        self, data_dir: Path
    ) -> None:
        first = Run(data_dir)
        for watchdog in watchdogs(data_dir):  # as if it had no watchdog (or it died too)
            watchdog.kill()
        first.proc.kill()
        first.proc.wait(10)
        left = postmaster(data_dir)
        assert left is not None  # the stale postmaster, counted as used by a dead process
        second = Run(data_dir)
        assert postmaster(data_dir) == left  # joined, not a second server
        second.signal(signal.SIGINT)
        assert gone_within(data_dir, 20), "the joined postmaster outlived the run"
