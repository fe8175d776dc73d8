"""`salesperf run` as a user starts it: real processes, real uvicorn on loopback, Ctrl-C to stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import JWT_SECRET, make_event

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def salesperf_run(own_database: str, tmp_path: Path):
    port, scoring_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": own_database,
        "SALESPERF_JWT_SECRET": JWT_SECRET,
        "ACTIVITY_PORT": str(port),
        "SCORING_PORT": str(scoring_port),
        "GOALS_PORT": str(free_port()),
        "SALESPERF_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "salesperf.cli", "run", "--org", "e2e-org"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"salesperf run did not become ready:\n{proc.communicate()[0]}")
    proc.scoring = f"http://127.0.0.1:{scoring_port}"  # type: ignore[attr-defined]
    proc.env = env  # type: ignore[attr-defined]
    yield proc, base
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def read_token(proc: subprocess.Popen[str]) -> str:
    """The development admin token `salesperf run` prints (the line after its announcement)."""
    assert proc.stdout is not None
    lines = iter(proc.stdout.readline, "")
    for line in lines:
        if line.startswith("Development admin token"):
            return next(lines).strip()
    raise AssertionError("no token printed")


def test_salesperf_run_serves_activity_on_loopback_and_stops_cleanly_on_ctrl_c(salesperf_run):
    proc, base = salesperf_run
    assert httpx.get(f"{base}/docs").status_code == 200
    headers = {"Authorization": f"Bearer {read_token(proc)}"}

    event = make_event()
    created = httpx.post(f"{base}/v1/events", json=event, headers=headers)
    assert created.status_code == 201, created.text
    feed = httpx.get(f"{base}/v1/events", headers=headers).json()
    assert [i["event_id"] for i in feed["items"]] == [event["event_id"]]
    assert feed["items"][0]["org_id"] == "e2e-org"

    # Stop while scoring's consumer is long-polling activity's feed, as it is whenever it has
    # caught up: that request must not hold activity's shutdown for its graceful timeout (5 s).
    wait_until_scoring_follows(proc.scoring, headers, position=created.json()["position"])
    time.sleep(0.5)  # the follower is back in its long-poll
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    rest, _ = proc.communicate(timeout=20)
    stopped_in = time.monotonic() - started
    assert proc.returncode == 0, rest
    assert "stopped" in rest
    assert "Traceback" not in rest, rest
    assert "ERROR" not in rest, rest
    assert "unreachable" not in rest, rest  # scoring stopped before the activity it follows
    assert stopped_in < 4, f"stopping took {stopped_in:.1f} s:\n{rest}"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=1)


def wait_until_scoring_follows(scoring: str, headers: dict[str, str], *, position: int) -> None:
    """Until scoring's consumer leads and has folded the org's events up to `position`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = httpx.get(f"{scoring}/readyz").json()
        consumer = ready["consumer"]
        if consumer["leading"] and consumer["orgs"] >= 1 and consumer["lag"]["events"] == 0:
            kpis = httpx.get(f"{scoring}/v1/kpis", params={"owner": "org"}, headers=headers)
            if kpis.status_code == 200 and kpis.json()["up_to"]["position"] >= position:
                return
        time.sleep(0.1)
    pytest.fail(f"scoring did not catch up: {ready}")


def cli(proc: subprocess.Popen[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesperf.cli", *args],
        cwd=REPO,
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=120,  # type: ignore[attr-defined]
    )


def test_a_first_look_demo_then_kpis_then_a_rebuild_from_the_cli(salesperf_run):
    """What the README's "A first look" tells a new user to do, against `salesperf run`."""
    proc, base = salesperf_run
    scoring = proc.scoring
    demo = cli(proc, "demo", "--url", base, "--org", "e2e-demo", "--scale", "0.1", "--days", "30")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    posted = int(re.search(r"posted ([\d,]+) events", demo.stdout).group(1).replace(",", ""))
    token = cli(proc, "token", "--org", "e2e-demo", "--role", "admin", "--sub", "me").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    params = {"owner": "org", "period": "quarter", "from": "2026-07-01", "metrics": "visits,calls"}
    head = httpx.get(f"{base}/v1/events/backlog", headers=headers).json()
    deadline = time.monotonic() + 60
    while True:  # scoring follows the feed; wait until it has folded the whole demo
        kpis = httpx.get(f"{scoring}/v1/kpis", params=params, headers=headers).json()
        rebuild = httpx.get(f"{scoring}/v1/admin/rebuild", headers=headers).json()
        caught_up = kpis["up_to"]["position"] >= int(_position(head["head"]))
        if (caught_up and rebuild["state"] in ("idle", "done")) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # Read again: the demo's voids were folded before the first reading (it was caught up), so
    # the rebuild that takes them out may have finished between that reading and the status.
    kpis = httpx.get(f"{scoring}/v1/kpis", params=params, headers=headers).json()
    before = kpis["buckets"][0]["metrics"]
    assert before["visits"]["value"] > 0
    assert before["calls"]["value"] > 0
    assert head["events"] == posted

    scores_before = _scores_once_trained(scoring, headers)
    assert scores_before, "the demo leaves open leads and deals to score"

    rebuilt = cli(proc, "scoring", "rebuild", "--org", "e2e-demo", "--url", scoring)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "rebuilt" in rebuilt.stdout
    after = httpx.get(f"{scoring}/v1/kpis", params=params, headers=headers).json()
    assert after["buckets"][0]["metrics"] == before
    # Scores are a function of the log, the model and the day: a rebuild gives the same ones.
    assert _scores_once_trained(scoring, headers) == scores_before

    # The demo was posted just now: its events are known from when they occurred.
    backtest = cli(
        proc,
        "scoring",
        "backtest",
        "--org",
        "e2e-demo",
        "--cutoff",
        "2026-07-20",
        "--horizon-days",
        "7",
        "--known-by",
        "occurred",
        "--url",
        scoring,
    )
    assert backtest.returncode == 0, backtest.stdout + backtest.stderr
    assert "leads: learnt from" in backtest.stdout
    assert "AUC" in backtest.stdout
    assert "stage only" in backtest.stdout


def _scores_once_trained(scoring: str, headers: dict[str, str]) -> list[dict[str, object]]:
    """Every open lead's and deal's score (the NDJSON export), once the consumer has trained
    the org's models and rescored with them."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        models = httpx.get(f"{scoring}/v1/scoring/models", headers=headers).json()["items"]
        active = {m["kind"]: m["version"] for m in models if m["active"]}
        rows = [
            json.loads(line)
            for line in httpx.get(
                f"{scoring}/v1/export/scores", headers=headers, params={"limit": 100_000}
            ).text.splitlines()
        ]
        if set(active) == {"lead", "deal"} and all(
            r["model_version"] == active[r["kind"]] for r in rows
        ):
            return rows
        time.sleep(0.2)
    pytest.fail("scoring did not train and rescore the demo org")


def _position(cursor: str, org: str = "e2e-demo") -> str:
    """The position a cursor of `salesperf run` stands for: cursors are sealed with the secret
    the run was given (JWT_SECRET, the tests' one)."""
    from shared.pagination import configure_cursors, decode_cursor

    configure_cursors(JWT_SECRET)
    return str(decode_cursor(cursor, org))
