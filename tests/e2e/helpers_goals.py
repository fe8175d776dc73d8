"""Helpers of the goals journey (tests/e2e/test_goals_journey.py): a scratch database, the three
services as real uvicorn processes on loopback, and events as reps log them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import (
    JWT_SECRET,
    make_event,
    scratch_database,  # noqa: F401 (the journey uses it from here)
)
from tests.e2e.test_run import free_port

REPO = Path(__file__).resolve().parents[2]
TEAM = "team-north"
OFFSET = "+02:00"  # Europe/Berlin in July (CEST)


@dataclass(frozen=True)
class Urls:
    activity: str
    scoring: str
    goals: str


def _start(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(procs: dict[str, subprocess.Popen[bytes]], urls: dict[str, str]) -> None:
    waiting = dict(urls)
    deadline = time.monotonic() + 30
    while waiting and time.monotonic() < deadline:
        for name, url in list(waiting.items()):
            if procs[name].poll() is not None:
                raise AssertionError(f"{name} exited with {procs[name].returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    del waiting[name]
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    if waiting:
        raise AssertionError(f"{', '.join(waiting)} did not start")


@contextmanager
def three_services(database_url: str, tmp: Path) -> Iterator[Urls]:
    """activity, scoring (following activity) and goals (asking scoring), started together."""
    ports = {name: free_port() for name in ("activity", "scoring", "goals")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SALESPERF_JWT_SECRET": JWT_SECRET,
        "SALESPERF_DATA_DIR": str(tmp),
        "SCORING_ACTIVITY_URL": urls["activity"],
        "SCORING_DISCOVERY_SECONDS": "0.1",
        "SCORING_ELECTION_SECONDS": "0.2",
        "SCORING_LONG_POLL_SECONDS": "1",
        "GOALS_SCORING_URL": urls["scoring"],
    }
    apps = {
        "activity": "services.activity.main:create_app",
        "scoring": "services.scoring.main:create_app",
        "goals": "services.goals.main:create_app",
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, app in apps.items():
            procs[name] = _start(app, ports[name], env, tmp / f"{name}.log")
        _wait_healthy(procs, urls)
        yield Urls(**urls)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------------------ events


def at(day: date, hour: str = "10:00") -> str:
    return f"{day.isoformat()}T{hour}:00{OFFSET}"


def event(
    event_type: str, stream: str, rep: str, day: date, data: dict[str, Any], hour: str = "10:00"
) -> dict[str, Any]:
    return make_event(
        event_type, stream=stream, rep_id=rep, team_id=TEAM, occurred_at=at(day, hour), data=data
    )


def deal_opened(rep: str, deal: str, day: date, amount: str, account: str) -> dict[str, Any]:
    return event(
        "deal.opened",
        f"deal-{deal}",
        rep,
        day,
        {
            "amount": amount,
            "currency": "EUR",
            "product_line": "ovens",
            "account_id": account,
            "stage": "qualification",
            "expected_close": (day + timedelta(days=30)).isoformat(),
        },
    )


def deal_won(rep: str, deal: str, day: date, amount: str, hour: str = "15:00") -> dict[str, Any]:
    return event("deal.won", f"deal-{deal}", rep, day, {"amount": amount, "currency": "EUR"}, hour)


def deal_lost(rep: str, deal: str, day: date, reason: str = "competitor") -> dict[str, Any]:
    return event("deal.lost", f"deal-{deal}", rep, day, {"reason": reason}, "16:00")


def daily_work(rep: str, day: date, account: str) -> list[dict[str, Any]]:
    """A rep's ordinary day: one onsite visit and two calls, one of them connected."""
    stream = f"account-{account}"
    return [
        event(
            "visit.logged",
            stream,
            rep,
            day,
            {
                "mode": "onsite",
                "effective": True,
                "duration_minutes": 45,
                "account_id": account,
                "buying_signals": ["asked_for_price"],
            },
            "09:30",
        ),
        event(
            "call.logged",
            stream,
            rep,
            day,
            {
                "connected": True,
                "duration_seconds": 300,
                "direction": "outbound",
                "account_id": account,
            },
            "11:00",
        ),
        event(
            "call.logged",
            stream,
            rep,
            day,
            {
                "connected": False,
                "duration_seconds": 20,
                "direction": "outbound",
                "account_id": account,
            },
            "14:00",
        ),
    ]
