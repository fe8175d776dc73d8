"""GET /v1/events?ids=…: the feed kept to some events by id (a consumer learns where events it
has not read yet lie: a bulk catch-up, the events that voids logged ahead of it name)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.activity.test_feed_about import append, read_all, visit
from tests.problems import assert_problem


async def positions(activity, headers, **params: Any) -> list[tuple[str, int]]:
    return [(i["event_id"], i["position"]) for i in await read_all(activity, headers, **params)]


async def test_only_the_named_events_come_back_in_log_order(activity, auth) -> None:
    headers = auth()
    ids = await append(activity, headers, [visit("account-A", "A") for _ in range(6)])
    stored = await positions(activity, headers)
    where = dict(stored)
    asked = [ids[4], ids[1], ids[3]]
    got = await positions(activity, headers, ids=",".join(asked))
    assert got == [(i, where[i]) for i in (ids[1], ids[3], ids[4])]


async def test_unknown_ids_are_left_out_and_duplicates_count_once(activity, auth) -> None:
    headers = auth()
    ids = await append(activity, headers, [visit("account-A", "A") for _ in range(2)])
    unknown = str(uuid.uuid4())
    got = await positions(activity, headers, ids=f"{ids[0]},{unknown},{ids[0]}, ")
    assert [i for i, _ in got] == [ids[0]]


async def test_ids_page_like_the_feed_and_combine_with_types_and_about(activity, auth) -> None:
    headers = auth()
    ids = await append(
        activity,
        headers,
        [visit(f"account-{a}", a) for a in "ABAABA"],
    )
    everything = ",".join(ids)
    assert [i for i, _ in await positions(activity, headers, ids=everything, limit=2)] == ids
    about_a = await positions(activity, headers, ids=everything, about="account:A")
    assert [i for i, _ in about_a] == [ids[0], ids[2], ids[3], ids[5]]
    assert await positions(activity, headers, ids=everything, types="call.logged") == []


async def test_a_cursor_keeps_ids_to_the_events_after_it(activity, auth) -> None:
    headers = auth()
    ids = await append(activity, headers, [visit("account-A", "A") for _ in range(4)])
    first = await activity.get(
        "/v1/events", params={"limit": 2, "ids": ",".join(ids)}, headers=headers
    )
    page = first.json()
    assert [i["event_id"] for i in page["items"]] == ids[:2]
    assert page["has_more"] is True
    rest = await activity.get(
        "/v1/events",
        params={"limit": 2, "ids": f"{ids[0]},{ids[3]}", "after": page["next"]},
        headers=headers,
    )
    assert [i["event_id"] for i in rest.json()["items"]] == [ids[3]]


async def test_bad_ids_are_refused_naming_the_parameter(activity, auth) -> None:
    headers = auth()
    too_many = ",".join(str(uuid.uuid4()) for _ in range(201))
    for value, code in (("not-a-uuid", "uuid_parsing"), (" , ", "missing"), (too_many, "too_long")):
        r = await activity.get("/v1/events", params={"ids": value}, headers=headers)
        body = assert_problem(r, 422)
        assert [(e["field"], e["code"]) for e in body["errors"]] == [("ids", code)], body
        assert body["errors"][0]["in"] == "query"
    ok = ",".join(str(uuid.uuid4()) for _ in range(200))
    r = await activity.get("/v1/events", params={"ids": ok}, headers=headers)
    assert r.status_code == 200
    assert r.json()["items"] == []
