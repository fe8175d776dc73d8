"""Long-polls across replicas: an append on one wakes a reader waiting on the other (NOTIFY),
and a reader still gets its events while the listening connection is down."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import make_event


async def head(client, headers) -> str:
    return (await client.get("/v1/events", headers=headers)).json()["next"]


async def test_an_append_on_one_replica_wakes_a_reader_waiting_on_the_other(replicas, auth):
    reader, writer = replicas
    cursor = await head(reader, auth())
    started = time.monotonic()
    poll = asyncio.create_task(
        reader.get("/v1/events", params={"after": cursor, "wait": 20}, headers=auth())
    )
    await asyncio.sleep(0.3)
    event = make_event()
    assert (await writer.post("/v1/events", json=event, headers=auth())).status_code == 201
    page = (await asyncio.wait_for(poll, timeout=10)).json()
    assert [i["event_id"] for i in page["items"]] == [event["event_id"]]
    assert time.monotonic() - started < 3, "woken by NOTIFY, not by the 20 s timeout"


async def test_a_reader_still_gets_events_while_the_listener_is_down(replicas, auth, db):
    reader, writer = replicas
    killed = await db.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
    )
    assert killed, "each replica keeps one listening connection"
    cursor = await head(reader, auth())
    poll = asyncio.create_task(
        reader.get("/v1/events", params={"after": cursor, "wait": 20}, headers=auth())
    )
    await asyncio.sleep(0.2)
    event = make_event()
    assert (await writer.post("/v1/events", json=event, headers=auth())).status_code == 201
    page = (await asyncio.wait_for(poll, timeout=10)).json()
    assert [i["event_id"] for i in page["items"]] == [event["event_id"]]

    deadline = time.monotonic() + 10  # and the listener comes back by itself
    while (await reader.get("/readyz")).json()["checks"]["feed_listener"] is not True:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
