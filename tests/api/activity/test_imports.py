"""Bulk imports (`POST /v1/imports`): NDJSON, CSV and Parquet files of events appended in the
background, chunk by chunk, with rejected rows reported by number and field."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.activity.main import create_app
from tests.api.activity.conftest import activity_settings
from tests.conftest import TokenFactory, make_event, running
from tests.problems import assert_problem

CHUNK = 7  # rows a chunk: small, so every file here crosses chunks


@pytest.fixture(scope="module")
async def importing(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    settings = activity_settings(
        import_chunk_rows=CHUNK,
        import_dir=tmp_path_factory.mktemp("imports"),
        import_max_bytes=64 * 1024,
    )
    async with running(create_app(settings, database_url=database_url), "activity") as client:
        yield client


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], body: bytes, media: str, **params: str
) -> httpx.Response:
    return await client.post(
        "/v1/imports", content=body, params=params, headers={**headers, "Content-Type": media}
    )


async def finished(
    client: httpx.AsyncClient, headers: dict[str, str], location: str
) -> dict[str, Any]:
    for _ in range(400):
        job = (await client.get(location, headers=headers)).json()
        if job["state"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.025)
    raise AssertionError(f"the import did not finish: {job}")


async def row_errors(
    client: httpx.AsyncClient, headers: dict[str, str], location: str
) -> list[dict[str, Any]]:
    body = (await client.get(f"{location}/errors", headers=headers)).json()
    return body["items"]  # type: ignore[no-any-return]


def ndjson(events: list[dict[str, Any] | bytes]) -> bytes:
    return b"\n".join(e if isinstance(e, bytes) else orjson.dumps(e) for e in events) + b"\n"


def visits(n: int, stream: str = "account-acc-1") -> list[dict[str, Any]]:
    return [
        make_event("visit.logged", stream=stream, occurred_at=f"2026-03-{1 + i % 28:02d}T09:00:00Z")
        for i in range(n)
    ]


async def stored_events(db: asyncpg.Pool, org: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT event_id, type, stream, stream_version, position FROM activity.events"
        " WHERE org_id = $1 ORDER BY position",
        org,
    )


async def test_an_ndjson_file_is_stored_in_file_order_and_its_bad_rows_reported_by_line(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    good = visits(20)
    bad_time = make_event("visit.logged", stream="account-acc-1", occurred_at="yesterday")
    unknown = make_event("visit.logged", stream="account-acc-1", type="visit.teleported")
    lines: list[dict[str, Any] | bytes] = [
        *good[:5],
        bad_time,
        b"",
        *good[5:12],
        b"{not json",
        *good[12:18],
        unknown,
        *good[18:],
    ]
    response = await upload(
        importing, auth(), ndjson(lines), "application/x-ndjson", filename="history.ndjson"
    )
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    assert response.json()["state"] in ("queued", "running", "done")
    assert response.json()["filename"] == "history.ndjson"
    job = await finished(importing, auth(), location)
    assert job["state"] == "done", job
    assert (job["stored"], job["duplicates"], job["rejected"], job["rows_read"]) == (20, 0, 3, 23)
    assert job["progress"] == 1
    assert job["finished_at"] is not None

    rows = await stored_events(db, org)
    assert [str(r["event_id"]) for r in rows] == [e["event_id"] for e in good]
    assert [r["stream_version"] for r in rows] == list(range(1, 21))

    errors = await row_errors(importing, auth(), location)
    # Lines: 1-5 good, 6 bad time, 7 blank, 8-14 good, 15 not JSON, 16-21 good, 22 unknown type.
    assert [e["row"] for e in errors] == [6, 15, 22]
    assert [e["event_id"] for e in errors] == [bad_time["event_id"], None, unknown["event_id"]]
    assert [f["field"] for f in errors[0]["errors"]] == ["occurred_at"]
    assert errors[1]["errors"][0]["field"] == "row"
    assert [f["field"] for f in errors[2]["errors"]] == ["type"]


async def test_importing_the_same_file_again_stores_nothing_and_counts_duplicates(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    body = ndjson(visits(16))
    first = await finished(
        importing,
        auth(),
        (await upload(importing, auth(), body, "application/x-ndjson")).headers["location"],
    )
    again = await finished(
        importing,
        auth(),
        (await upload(importing, auth(), body, "application/x-ndjson")).headers["location"],
    )
    assert (first["stored"], first["duplicates"]) == (16, 0)
    assert (again["stored"], again["duplicates"], again["rejected"]) == (0, 16, 0)
    assert len(await stored_events(db, org)) == 16


async def test_rows_the_append_rules_refuse_are_rejected_and_their_neighbours_stored(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    kept = visits(3)
    await importing.post("/v1/events", json=kept[0], headers=auth())
    changed = {**kept[0], "occurred_at": "2026-03-20T09:00:00Z"}  # same id, other content
    orphan_void = make_event(
        "event.voided",
        stream="account-acc-1",
        data={"voided_event_id": str(uuid.uuid4()), "reason": "typo"},
    )
    void = make_event(
        "event.voided",
        stream="account-acc-1",
        data={"voided_event_id": kept[1]["event_id"], "reason": "typo"},
    )
    body = ndjson([kept[1], changed, orphan_void, kept[2], void])
    job = await finished(
        importing,
        auth(),
        (await upload(importing, auth(), body, "application/x-ndjson")).headers["location"],
    )
    assert (job["stored"], job["duplicates"], job["rejected"]) == (3, 0, 2), job
    errors = await row_errors(importing, auth(), f"/v1/imports/{job['id']}")
    assert [(e["row"], e["event_id"]) for e in errors] == [
        (2, kept[0]["event_id"]),
        (3, orphan_void["event_id"]),
    ]
    assert all(e["errors"] for e in errors)
    types = [r["type"] for r in await stored_events(db, org)]
    assert types == ["visit.logged", "visit.logged", "visit.logged", "event.voided"]


async def test_a_csv_file_with_json_columns_and_empty_cells(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    events = visits(9)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["event_id", "type", "stream", "rep_id", "team_id", "occurred_at", "data", "metadata"]
    )
    for i, e in enumerate(events):
        data = "{broken" if i == 4 else orjson.dumps(e["data"]).decode()
        writer.writerow(
            [
                e["event_id"],
                e["type"],
                e["stream"],
                e["rep_id"],
                "" if i % 2 else e["team_id"],
                e["occurred_at"],
                data,
                "",
            ]
        )
    response = await upload(importing, auth(), out.getvalue().encode(), "text/csv")
    job = await finished(importing, auth(), response.headers["location"])
    assert (job["format"], job["stored"], job["rejected"], job["rows_read"]) == ("csv", 8, 1, 9)
    errors = await row_errors(importing, auth(), response.headers["location"])
    assert [(e["row"], e["event_id"]) for e in errors] == [(5, events[4]["event_id"])]
    stored = await db.fetch(
        "SELECT event_id::text, team_id, data FROM activity.events WHERE org_id = $1"
        " ORDER BY position",
        org,
    )
    assert [r["event_id"] for r in stored] == [
        e["event_id"] for i, e in enumerate(events) if i != 4
    ]
    assert [r["team_id"] for r in stored][:2] == [events[0]["team_id"], None]
    assert orjson.loads(stored[0]["data"]) == events[0]["data"]


async def test_a_csv_row_with_too_many_or_too_few_fields_is_rejected_alone(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    events = visits(12)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["event_id", "type", "stream", "rep_id", "occurred_at", "data"])
    for i, e in enumerate(events, start=1):
        data = orjson.dumps(e["data"]).decode()
        row = [e["event_id"], e["type"], e["stream"], e["rep_id"], e["occurred_at"], data]
        if i == 3:
            row.append("one too many")
        elif i in (10, 12):  # in the second chunk, and the file's last row
            row = row[:2]
        writer.writerow(row)
    response = await upload(importing, auth(), out.getvalue().encode(), "text/csv")
    job = await finished(importing, auth(), response.headers["location"])
    assert (job["state"], job["stored"], job["rejected"], job["rows_read"]) == ("done", 9, 3, 12)
    errors = await row_errors(importing, auth(), response.headers["location"])
    assert [(e["row"], e["errors"][0]["message"]) for e in errors] == [
        (3, "7 field(s) where the header names 6"),
        (10, "2 field(s) where the header names 6"),
        (12, "2 field(s) where the header names 6"),
    ]
    stored = [str(r["event_id"]) for r in await stored_events(db, org)]
    assert stored == [e["event_id"] for i, e in enumerate(events, start=1) if i not in (3, 10, 12)]


async def test_a_parquet_file_with_timestamps_and_text_payloads(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str, tmp_path: Path
) -> None:
    events = visits(10)
    table = pa.table(
        {
            "event_id": [e["event_id"] for e in events],
            "type": [e["type"] for e in events],
            "stream": [e["stream"] for e in events],
            "rep_id": [e["rep_id"] for e in events],
            "occurred_at": pa.array(
                [pa.scalar(e["occurred_at"].replace("Z", "+00:00")).as_py() for e in events],
                type=pa.string(),
            ).cast(pa.timestamp("us", tz="UTC")),
            "data": [orjson.dumps(e["data"]).decode() for e in events],
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, row_group_size=4)
    response = await upload(importing, auth(), path.read_bytes(), "application/vnd.apache.parquet")
    assert response.json()["rows_total"] == 10
    job = await finished(importing, auth(), response.headers["location"])
    assert (job["stored"], job["rejected"]) == (10, 0), job
    stored = await db.fetch(
        "SELECT occurred_at FROM activity.events WHERE org_id = $1 ORDER BY position", org
    )
    assert [r["occurred_at"].isoformat().replace("+00:00", "Z") for r in stored] == [
        e["occurred_at"] for e in events
    ]


async def test_what_is_refused_before_a_job_is_queued(
    importing: httpx.AsyncClient, auth: TokenFactory, db: asyncpg.Pool, org: str
) -> None:
    body = ndjson(visits(2))
    media = await upload(importing, auth(), body, "application/json")
    assert_problem(media, 415, "content-type")
    columns = await upload(
        importing, auth(), b"event_id,type,stream,occurred_at,colour\n", "text/csv"
    )
    assert_problem(columns, 422, "body")
    assert "colour" in columns.json()["detail"]
    empty = await upload(importing, auth(), b"", "application/x-ndjson")
    assert_problem(empty, 422, "body")
    large = await upload(importing, auth(), b"x" * (65 * 1024), "application/x-ndjson")
    assert_problem(large, 413, "body")
    parquet = await upload(importing, auth(), b"not parquet", "text/csv", format="parquet")
    assert_problem(parquet, 422, "body")
    rep = await upload(importing, auth("rep", sub="rep-anna"), body, "application/x-ndjson")
    assert_problem(rep, 403)
    assert (await importing.get("/v1/imports", headers=auth())).json()["items"] == []
    assert await stored_events(db, org) == []


async def test_jobs_are_listed_newest_first_page_by_page_and_hidden_from_other_orgs(
    importing: httpx.AsyncClient, auth: TokenFactory, org: str
) -> None:
    ids = []
    for _ in range(3):
        response = await upload(importing, auth(), ndjson(visits(1)), "application/x-ndjson")
        ids.append(response.json()["id"])
        await finished(importing, auth(), response.headers["location"])
    first = await importing.get("/v1/imports", params={"limit": 2}, headers=auth())
    assert [j["id"] for j in first.json()["items"]] == ids[::-1][:2]
    assert 'rel="next"' in first.headers["link"]
    second = await importing.get(
        "/v1/imports", params={"limit": 2, "cursor": first.json()["next"]}, headers=auth()
    )
    assert [j["id"] for j in second.json()["items"]] == ids[:1]
    assert second.json()["next"] is None
    other = auth(org_id=f"{org}-other")
    assert_problem(await importing.get(f"/v1/imports/{ids[0]}", headers=other), 404)
    assert (await importing.get("/v1/imports", headers=other)).json()["items"] == []
    bad = await importing.get("/v1/imports", params={"cursor": "nope"}, headers=auth())
    assert_problem(bad, 422, "cursor")
    bi = await importing.get(f"/v1/imports/{ids[0]}", headers=auth("bi", sub="looker"))
    assert_problem(bi, 403)


async def test_rejected_rows_are_paged_in_file_order(
    importing: httpx.AsyncClient, auth: TokenFactory
) -> None:
    lines: list[dict[str, Any] | bytes] = [b"[1]"] * 12
    response = await upload(importing, auth(), ndjson(lines), "application/x-ndjson")
    location = response.headers["location"]
    job = await finished(importing, auth(), location)
    assert (job["stored"], job["rejected"]) == (0, 12)
    page = (await importing.get(f"{location}/errors", params={"limit": 5}, headers=auth())).json()
    assert [e["row"] for e in page["items"]] == [1, 2, 3, 4, 5]
    rest = (
        await importing.get(f"{location}/errors", params={"after": page["next"]}, headers=auth())
    ).json()
    assert [e["row"] for e in rest["items"]] == list(range(6, 13))
    assert rest["next"] is None
