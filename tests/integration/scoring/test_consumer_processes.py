"""The consumer as operators run it: real processes on loopback, orgs leased, kill -9.

activity and two scoring replicas run as separate uvicorn processes on a database of their own
(so no other test's scoring replica takes a share of the orgs). Events are appended while a
replica folding them is killed with SIGKILL in the middle of its work; the other replica must
take its orgs over, the killed one is restarted (and takes its share back), and at the end
every event is counted exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.scoring.repository import LEASE_CLASS
from shared.auth import issue_token
from shared.db import asyncpg_dsn
from tests.conftest import JWT_SECRET, make_event
from tests.e2e.test_run import free_port

REPO = Path(__file__).resolve().parents[3]
ORG = "org-kill9"


class Processes:
    def __init__(self, database_url: str, tmp: Path) -> None:
        self.database_url, self.tmp = database_url, tmp
        self.activity_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "SALESPERF_JWT_SECRET": JWT_SECRET,
            "SALESPERF_DATA_DIR": str(self.tmp),
            "SCORING_ACTIVITY_URL": f"http://127.0.0.1:{self.activity_port}",
            "SCORING_DISCOVERY_SECONDS": "0.1",
            "SCORING_ELECTION_SECONDS": "0.2",
            "SCORING_LONG_POLL_SECONDS": "1",
        }

    def start(self, name: str, app: str, port: int) -> None:
        self.ports[name] = port
        self.procs[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                app,
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"{name} did not start")

    def start_scoring(self, name: str) -> None:
        self.start(name, "services.scoring.main:create_app", self.ports.get(name) or free_port())

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(own_database: str, tmp_path: Path) -> Iterator[Processes]:
    p = Processes(own_database, tmp_path)
    try:
        p.start("activity", "services.activity.main:create_app", p.activity_port)
        p.start_scoring("scoring-1")
        p.start_scoring("scoring-2")
        yield p
    finally:
        p.stop_all()


def org_headers(org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(JWT_SECRET, org=org, role='admin', sub='ops')}"}


async def post_visits(
    client: httpx.AsyncClient, p: Processes, org: str, size: int, accounts: int
) -> int:
    """One batch of `size` visits to `accounts` accounts of `org`: the last event's position."""
    events = [
        make_event(
            "visit.logged",
            stream=f"account-acc-{i % accounts}",
            occurred_at="2026-06-15T09:00:00+00:00",
        )
        for i in range(size)
    ]
    answer = await client.post(
        f"http://127.0.0.1:{p.activity_port}/v1/events/batch",
        json={"events": events},
        headers=org_headers(org),
    )
    assert answer.status_code == 201, answer.text
    position: int = answer.json()["results"][-1]["position"]
    return position


async def leader(client: httpx.AsyncClient, p: Processes, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in ("scoring-1", "scoring-2"):
            if p.procs[name].poll() is not None:
                continue
            try:
                ready = await client.get(f"http://127.0.0.1:{p.ports[name]}/readyz")
            except httpx.TransportError:
                continue
            if ready.json()["consumer"]["leading"]:
                return name
        await asyncio.sleep(0.1)
    raise AssertionError("no scoring replica leads")


async def visits(client: httpx.AsyncClient, port: int, org: str) -> tuple[int, int]:
    """The year's visits of `org` as the replica on `port` serves them, and its position."""
    answer = await client.get(
        f"http://127.0.0.1:{port}/v1/kpis",
        params={"owner": "org", "period": "year", "from": "2026-01-01", "metrics": "visits"},
        headers=org_headers(org),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["buckets"][0]["metrics"]["visits"]["value"], body["up_to"]["position"]


async def test_killing_the_leader_loses_nothing_and_counts_nothing_twice(
    processes: Processes,
) -> None:
    p = processes
    posted, last_position = 0, 0
    async with httpx.AsyncClient(timeout=30) as client:

        async def append(batches: int, size: int = 50) -> None:
            nonlocal posted, last_position
            for _ in range(batches):
                last_position = await post_visits(client, p, ORG, size, accounts=17)
                posted += size
                await asyncio.sleep(0.01)

        await append(10)
        first = await leader(client, p)
        writer = asyncio.create_task(append(60))
        await asyncio.sleep(0.4)  # the leader is folding pages now
        p.kill9(first)
        second = await leader(client, p)
        assert second != first
        p.start_scoring(first)  # a real restart of the killed process
        await writer
        await append(10)

        deadline = time.monotonic() + 30
        while True:
            counted, position = await visits(client, p.ports[second], ORG)
            if position >= last_position or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert (counted, position) == (posted, last_position)
        # The restarted replica serves the same numbers from the same projection.
        assert (await visits(client, p.ports[first], ORG))[0] == posted

    conn = await asyncpg.connect(asyncpg_dsn(p.database_url))
    try:
        row = await conn.fetchrow(
            "SELECT folded, position FROM scoring.orgs WHERE org_id = $1", ORG
        )
    finally:
        await conn.close()
    assert (row["folded"], row["position"]) == (posted, last_position)


# ------------------------------------------------------------------ orgs leased to replicas

ORGS = [f"org-lease-{i}" for i in range(6)]


async def leases(client: httpx.AsyncClient, p: Processes) -> dict[str, int]:
    """Orgs leased to each live replica, as its /readyz says."""
    held = {}
    for name in ("scoring-1", "scoring-2"):
        if p.procs[name].poll() is not None:
            continue
        try:
            ready = (await client.get(f"http://127.0.0.1:{p.ports[name]}/readyz")).json()
        except httpx.TransportError:
            continue
        held[name] = ready["consumer"]["leases"]
    return held


async def until_leased(
    client: httpx.AsyncClient, p: Processes, expected: dict[str, int], timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while (held := await leases(client, p)) != expected:
        assert time.monotonic() < deadline, f"leases {held}, expected {expected}"
        await asyncio.sleep(0.1)


async def lease_holders(database_url: str) -> dict[int, int]:
    """Org leases by PostgreSQL backend: the locks themselves, not what the replicas say."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT pid, count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = $1 AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database()) GROUP BY pid",
            LEASE_CLASS,
        )
    finally:
        await conn.close()
    return {r["pid"]: r["n"] for r in rows}


async def test_orgs_are_shared_out_and_a_killed_replicas_orgs_move_without_double_counting(
    processes: Processes,
) -> None:
    p = processes
    posted = dict.fromkeys(ORGS, 0)
    last = dict.fromkeys(ORGS, 0)
    async with httpx.AsyncClient(timeout=30) as client:

        async def append(rounds: int, size: int = 20) -> None:
            for _ in range(rounds):
                for org in ORGS:
                    last[org] = await post_visits(client, p, org, size, accounts=7)
                    posted[org] += size
                await asyncio.sleep(0.01)

        await append(2)
        # Six orgs, two replicas: three each, on two database connections.
        await until_leased(client, p, {"scoring-1": 3, "scoring-2": 3})
        assert sorted((await lease_holders(p.database_url)).values()) == [3, 3]

        writer = asyncio.create_task(append(40))
        await asyncio.sleep(0.5)  # both replicas are folding pages now
        p.kill9("scoring-1")
        await until_leased(client, p, {"scoring-2": 6})  # its orgs moved, within moments
        assert sorted((await lease_holders(p.database_url)).values()) == [6]
        p.start_scoring("scoring-1")  # a real restart: the orgs are shared out again
        await until_leased(client, p, {"scoring-1": 3, "scoring-2": 3})
        await writer
        await append(2)

        deadline = time.monotonic() + 30
        while True:
            now = {org: await visits(client, p.ports["scoring-1"], org) for org in ORGS}
            if all(now[o][1] >= last[o] for o in ORGS) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert now == {org: (posted[org], last[org]) for org in ORGS}

    conn = await asyncpg.connect(asyncpg_dsn(p.database_url))
    try:
        rows = await conn.fetch(
            "SELECT org_id, folded, position FROM scoring.orgs WHERE org_id = ANY($1::text[])",
            ORGS,
        )
    finally:
        await conn.close()
    assert {r["org_id"]: (r["folded"], r["position"]) for r in rows} == {
        org: (posted[org], last[org]) for org in ORGS
    }
