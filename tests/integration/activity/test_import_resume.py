"""An import survives its replica being killed: activity runs in real uvicorn processes; the
first is SIGKILLed mid-import, a second started on the same import directory resumes the job
after its last committed chunk, so every row is stored and counted exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import orjson

from shared.auth import issue_token
from tests.conftest import JWT_SECRET, make_event
from tests.e2e.test_run import free_port
from tests.e2e.test_scoring_quarter import start_service, wait_healthy

ROWS, BAD_EVERY, CHUNK = 20_000, 1_000, 200
ACTIVITY = "services.activity.main:create_app"


def _file(path: Path) -> int:
    """ROWS records, one bad line every BAD_EVERY; the number of bad lines."""
    bad = 0
    with path.open("wb") as out:
        for i in range(ROWS):
            if i % BAD_EVERY == BAD_EVERY - 1:
                out.write(b'{"type": "visit.logged"}\n')
                bad += 1
                continue
            event = make_event(
                "visit.logged",
                stream=f"account-acc-{i % 50}",
                occurred_at=f"2026-0{1 + i % 9}-1{i % 10}T09:00:00Z",
            )
            out.write(orjson.dumps(event) + b"\n")
    return bad


async def test_a_killed_replica_s_import_resumes_after_its_last_chunk_and_counts_each_row_once(
    database_url: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    org = f"org-{uuid.uuid4().hex[:10]}"
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, org=org, role='admin', sub='a')}"}
    source = tmp_path / "history.ndjson"
    bad = _file(source)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SALESPERF_JWT_SECRET": JWT_SECRET,
        "SALESPERF_DATA_DIR": str(tmp_path / "data"),
        "ACTIVITY_IMPORT_DIR": str(tmp_path / "spool"),
        "ACTIVITY_IMPORT_CHUNK_ROWS": str(CHUNK),
    }
    log = tmp_path / "activity.log"
    first = start_service(ACTIVITY, port, env, log)
    try:
        wait_healthy(first, url, "activity")
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            answer = await http.post(
                "/v1/imports",
                content=source.read_bytes(),
                headers={"Content-Type": "application/x-ndjson"},
            )
            assert answer.status_code == 202, answer.text
            job_id = uuid.UUID(answer.json()["id"])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                job = (await http.get(f"/v1/imports/{job_id}")).json()
                if job["stored"] >= 2_000:
                    break
                await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    killed = await db.fetchrow("SELECT * FROM activity.imports WHERE id = $1", job_id)
    assert killed["state"] == "running"
    assert 0 < killed["stored"] < ROWS - bad, "the kill must land mid-import"
    assert killed["rows_done"] % CHUNK == 0  # only whole chunks were ever committed
    stored_then = await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org)
    assert stored_then == killed["stored"]  # the counts commit with their chunk's events

    second = start_service(ACTIVITY, port, env, log)
    try:
        wait_healthy(second, url, "activity")
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            while time.monotonic() < deadline:
                job = (await http.get(f"/v1/imports/{job_id}")).json()
                if job["state"] in ("done", "failed"):
                    break
                await asyncio.sleep(0.1)
    finally:
        second.terminate()
        second.wait(10)
    assert job["state"] == "done", job
    assert (job["stored"], job["duplicates"], job["rejected"], job["rows_read"]) == (
        ROWS - bad,
        0,
        bad,
        ROWS,
    )  # without the checkpoint, the resumed job would count the first rows as duplicates
    counts = await db.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM activity.events"
        " WHERE org_id = $1",
        org,
    )
    assert (counts["n"], counts["ids"]) == (ROWS - bad, ROWS - bad)
    errors = await db.fetch(
        "SELECT row_number FROM activity.import_errors WHERE import_id = $1 ORDER BY 1", job_id
    )
    assert [r["row_number"] for r in errors] == list(range(BAD_EVERY, ROWS + 1, BAD_EVERY))
    assert not (tmp_path / "spool" / f"{job_id}.upload").exists()  # the file goes with its job
