"""A large import's chunks are read, validated and rendered by a process of its own
(`ACTIVITY_IMPORT_PROCESS_BYTES`): it stores exactly what the in-thread path stores, and a
preparer process killed mid-job is replaced, the job going on from its last committed chunk."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from services.activity.imports.preparer import ProcessPreparer
from services.activity.main import create_app
from tests.api.activity.conftest import activity_settings
from tests.api.activity.test_imports import finished, ndjson, upload, visits
from tests.conftest import TokenFactory, make_event, running


def _importer(database_url: str, spool: Path, *, process: bool, chunk_rows: int = 7) -> Any:
    settings = activity_settings(
        import_chunk_rows=chunk_rows,
        import_dir=spool,
        import_process_bytes=0 if process else 10 * 1024**3,
    )
    return create_app(settings, database_url=database_url)


def _history() -> list[dict[str, Any] | bytes]:
    """Every kind of row a chunk can hold: good ones over several streams, a bad field, a line
    that is not JSON, a blank line, an unknown type, a void, a deal with money."""
    good = visits(12) + visits(9, stream="lead-l-1")
    deal = make_event(
        "deal.opened",
        stream="deal-d-1",
        data={
            "account_id": "acc-1",
            "product_line": "core",
            "amount": "1250.50",
            "currency": "EUR",
        },
    )
    void = make_event(
        "event.voided",
        stream="account-acc-1",
        data={"voided_event_id": good[3]["event_id"], "reason": "typo"},
    )
    bad_time = make_event("visit.logged", stream="account-acc-1", occurred_at="yesterday")
    unknown = make_event("visit.logged", stream="account-acc-1", type="visit.teleported")
    return [*good[:8], bad_time, b"", deal, *good[8:15], b"{not json", void, unknown, *good[15:]]


async def _stored(db: asyncpg.Pool, org: str) -> list[dict[str, Any]]:
    """The org's events as a feed reader sees them, but for what differs between two orgs."""
    rows = await db.fetch(
        "SELECT position, event_json, content_hash FROM activity.events WHERE org_id = $1"
        " ORDER BY position",
        org,
    )
    out = []
    for r in rows:
        event = orjson.loads(r["event_json"])
        del event["org_id"], event["recorded_at"]
        out.append({**event, "position": r["position"], "hash": bytes(r["content_hash"])})
    return out


async def test_a_file_prepared_in_a_process_is_stored_as_in_a_thread(
    database_url: str, db: asyncpg.Pool, auth: TokenFactory, tmp_path: Path
) -> None:
    body = ndjson(_history())
    orgs = {True: f"org-{uuid.uuid4().hex[:10]}", False: f"org-{uuid.uuid4().hex[:10]}"}
    results: dict[bool, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for process, org in orgs.items():
        headers = auth(org_id=org)
        app = _importer(database_url, tmp_path / f"spool-{process}", process=process)
        async with running(app, "activity") as client:
            response = await upload(client, headers, body, "application/x-ndjson")
            assert response.status_code == 202, response.text
            job = await finished(client, headers, response.headers["location"])
            errors = (
                await client.get(f"{response.headers['location']}/errors", headers=headers)
            ).json()["items"]
        results[process] = (job, errors)
    (in_process, process_errors), (in_thread, thread_errors) = results[True], results[False]
    assert in_process["state"] == in_thread["state"] == "done"
    assert (
        in_process["stored"],
        in_process["duplicates"],
        in_process["rejected"],
        in_process["rows_read"],
    ) == (23, 0, 3, 26)
    for key in ("stored", "duplicates", "rejected", "rows_read", "progress"):
        assert in_process[key] == in_thread[key], key
    assert [e["row"] for e in process_errors] == [9, 19, 21]
    assert process_errors == thread_errors
    assert await _stored(db, orgs[True]) == await _stored(db, orgs[False])  # ids, times, JSON


async def test_a_parquet_file_prepared_in_a_process(
    database_url: str, db: asyncpg.Pool, auth: TokenFactory, org: str, tmp_path: Path
) -> None:
    events = visits(10)
    table = pa.table(
        {
            "event_id": [e["event_id"] for e in events],
            "type": [e["type"] for e in events],
            "stream": [e["stream"] for e in events],
            "occurred_at": [e["occurred_at"] for e in events],
            "data": [orjson.dumps(e["data"]).decode() for e in events],
        }
    )
    path = tmp_path / "history.parquet"
    pq.write_table(table, path)
    app = _importer(database_url, tmp_path / "spool", process=True, chunk_rows=3)
    async with running(app, "activity") as client:
        response = await upload(client, auth(), path.read_bytes(), "application/vnd.apache.parquet")
        job = await finished(client, auth(), response.headers["location"])
    assert (job["state"], job["stored"], job["rows_read"]) == ("done", 10, 10)
    stored = await db.fetch(
        "SELECT event_id, occurred_at FROM activity.events WHERE org_id = $1 ORDER BY position",
        org,
    )
    assert [str(r["event_id"]) for r in stored] == [e["event_id"] for e in events]


async def test_a_killed_preparer_is_replaced_and_the_job_counts_each_row_once(
    database_url: str, db: asyncpg.Pool, auth: TokenFactory, org: str, tmp_path: Path
) -> None:
    rows = 6_000
    body = ndjson(
        [
            make_event(
                "visit.logged",
                stream=f"account-acc-{i % 40}",
                occurred_at=f"2026-0{1 + i % 9}-1{i % 10}T09:00:00Z",
            )
            for i in range(rows)
        ]
    )
    app = _importer(database_url, tmp_path / "spool", process=True, chunk_rows=100)
    async with running(app, "activity") as client:
        response = await upload(client, auth(), body, "application/x-ndjson")
        job_id = uuid.UUID(response.json()["id"])
        importer = app.state.runtime.importer
        killed = None
        for _ in range(2000):
            preparer = importer.preparers.get(job_id)
            job = (await client.get(response.headers["location"], headers=auth())).json()
            if isinstance(preparer, ProcessPreparer) and job["stored"] >= 500:
                killed = preparer.pid
                assert killed is not None
                os.kill(killed, signal.SIGKILL)
                break
            await asyncio.sleep(0.005)
        assert killed is not None, "the kill must land mid-import"
        for _ in range(600):  # the runner sees its preparer gone and starts another
            job = (await client.get(response.headers["location"], headers=auth())).json()
            if job["state"] in ("done", "failed"):
                break
            await asyncio.sleep(0.05)
    assert job["state"] == "done", job
    assert 0 < job["stored"]
    assert job["rows_read"] == rows
    assert (job["stored"], job["duplicates"], job["rejected"]) == (rows, 0, 0)
    counts = await db.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, max(position) AS head"
        " FROM activity.events WHERE org_id = $1",
        org,
    )
    assert (counts["n"], counts["ids"], counts["head"]) == (rows, rows, rows)
