"""GET /v1/events (the feed), GET /v1/streams/{stream}, and who reads what."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import make_event


async def append(activity, headers, n: int, **overrides) -> list[dict]:
    events = [make_event(**overrides) for _ in range(n)]
    r = await activity.post("/v1/events/batch", json={"events": events}, headers=headers)
    assert r.status_code == 201, r.text
    return events


async def read_all(activity, headers, *, limit: int = 100, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        q = {"limit": limit, **params, **({"after": cursor} if cursor else {})}
        page = (await activity.get("/v1/events", params=q, headers=headers)).json()
        items += page["items"]
        cursor = page["next"]
        if not page["has_more"]:
            return items


class TestFeed:
    async def test_pages_follow_the_cursor_in_the_org_s_order(self, activity, auth):
        events = await append(activity, auth(), 25)
        items = await read_all(activity, auth(), limit=7)
        assert [i["event_id"] for i in items] == [e["event_id"] for e in events]
        assert [i["position"] for i in items] == sorted(i["position"] for i in items)

    async def test_the_last_page_returns_the_cursor_to_keep(self, activity, auth):
        await append(activity, auth(), 3)
        page = (await activity.get("/v1/events", params={"limit": 10}, headers=auth())).json()
        assert page["has_more"] is False
        empty = (
            await activity.get("/v1/events", params={"after": page["next"]}, headers=auth())
        ).json()
        assert empty == {"items": [], "next": page["next"], "has_more": False}

    async def test_headers_carry_the_cursor_and_link_to_the_next_page(self, activity, auth):
        events = await append(activity, auth(), 5, stream="lead-H")
        first = await activity.get(
            "/v1/events", params={"limit": 2, "types": "visit.logged"}, headers=auth()
        )
        assert first.headers["x-next-cursor"] == first.json()["next"]
        # The Link keeps the other parameters and moves `after` on: follow links to the end.
        items, response, followed = first.json()["items"], first, 0
        while "link" in response.headers:
            link = response.links["next"]["url"]
            assert "types=visit.logged" in link
            assert "limit=2" in link
            response = await activity.get(link, headers=auth())
            assert response.headers["x-next-cursor"] == response.json()["next"]
            items += response.json()["items"]
            followed += 1
        assert followed == 2
        assert response.json()["has_more"] is False
        assert [i["event_id"] for i in items] == [e["event_id"] for e in events]
        # The last page still names the cursor to continue from, in its header too.
        later = await activity.get(
            "/v1/events", params={"after": response.headers["x-next-cursor"]}, headers=auth()
        )
        assert later.json() == {"items": [], "next": response.json()["next"], "has_more": False}
        assert "link" not in later.headers

    async def test_types_filter_the_feed(self, activity, auth):
        await append(activity, auth(), 3)
        calls = await append(
            activity,
            auth(),
            2,
            type="call.logged",
            data={"connected": True, "duration_seconds": 60},
        )
        items = await read_all(activity, auth(), types="call.logged,deal.won")
        assert [i["event_id"] for i in items] == [e["event_id"] for e in calls]

    async def test_a_feed_item_is_the_full_stored_event(self, activity, auth, org):
        [event] = await append(activity, auth(), 1)
        [item] = await read_all(activity, auth())
        assert item["org_id"] == org
        assert item["type"] == event["type"]
        assert item["data"] == event["data"]
        assert item["metadata"] == {"source": "app"}
        assert set(item) == {
            "position",
            "event_id",
            "type",
            "org_id",
            "stream",
            "stream_version",
            "rep_id",
            "team_id",
            "occurred_at",
            "recorded_at",
            "schema_version",
            "data",
            "metadata",
        }


class TestLongPoll:
    async def test_a_waiting_reader_is_woken_by_an_append(self, activity, auth):
        head = (await activity.get("/v1/events", headers=auth())).json()["next"]
        started = time.monotonic()
        poll = asyncio.create_task(
            activity.get("/v1/events", params={"after": head, "wait": 10}, headers=auth())
        )
        await asyncio.sleep(0.3)
        assert not poll.done()
        [event] = await append(activity, auth(), 1)
        page = (await poll).json()
        assert [i["event_id"] for i in page["items"]] == [event["event_id"]]
        assert time.monotonic() - started < 5

    async def test_a_wait_with_nothing_new_returns_empty_when_the_time_is_up(self, activity, auth):
        started = time.monotonic()
        page = (await activity.get("/v1/events", params={"wait": 0.5}, headers=auth())).json()
        assert page["items"] == []
        assert 0.45 < time.monotonic() - started < 3

    async def test_another_org_s_append_does_not_answer_a_waiting_reader(self, activity, auth, org):
        poll = asyncio.create_task(activity.get("/v1/events", params={"wait": 0.8}, headers=auth()))
        await asyncio.sleep(0.2)
        await append(activity, auth(org_id=f"{org}-other"), 1)
        assert (await poll).json()["items"] == []


class TestStreams:
    async def test_a_stream_is_read_in_stream_order(self, activity, auth):
        await append(
            activity,
            auth(),
            2,
            stream="deal-S1",
            type="deal.stage_changed",
            data={"to_stage": "proposal"},
        )
        await append(
            activity,
            auth(),
            1,
            stream="deal-S2",
            type="deal.stage_changed",
            data={"to_stage": "proposal"},
        )
        page = (await activity.get("/v1/streams/deal-S1", headers=auth())).json()
        assert [i["stream_version"] for i in page["items"]] == [1, 2]
        assert {i["stream"] for i in page["items"]} == {"deal-S1"}

    async def test_a_stream_pages_with_a_cursor(self, activity, auth):
        await append(activity, auth(), 5, stream="lead-P")
        first = (
            await activity.get("/v1/streams/lead-P", params={"limit": 3}, headers=auth())
        ).json()
        rest = (
            await activity.get(
                "/v1/streams/lead-P", params={"after": first["next"]}, headers=auth()
            )
        ).json()
        assert [i["stream_version"] for i in first["items"] + rest["items"]] == [1, 2, 3, 4, 5]
        assert first["has_more"]
        assert not rest["has_more"]

    async def test_a_stream_page_links_to_the_next(self, activity, auth):
        await append(activity, auth(), 3, stream="lead-L")
        first = await activity.get("/v1/streams/lead-L", params={"limit": 2}, headers=auth())
        assert first.headers["x-next-cursor"] == first.json()["next"]
        rest = await activity.get(first.links["next"]["url"], headers=auth())
        assert [i["stream_version"] for i in rest.json()["items"]] == [3]
        assert "link" not in rest.headers

    async def test_an_unknown_stream_is_404(self, activity, auth):
        r = await activity.get("/v1/streams/lead-nothing-here", headers=auth())
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"


class TestReadScope:
    async def seed(self, activity, auth):
        await append(activity, auth(), 2, rep_id="rep-1", team_id="north", stream="lead-shared")
        await append(activity, auth(), 3, rep_id="rep-2", team_id="north", stream="lead-shared")
        await append(activity, auth(), 4, rep_id="rep-3", team_id="south", stream="lead-shared")

    async def test_a_rep_reads_only_their_own_events(self, activity, auth):
        await self.seed(activity, auth)
        rep = auth("rep", sub="rep-1", team="north")
        assert {i["rep_id"] for i in await read_all(activity, rep)} == {"rep-1"}
        assert (
            len((await activity.get("/v1/streams/lead-shared", headers=rep)).json()["items"]) == 2
        )

    async def test_a_manager_reads_their_team(self, activity, auth):
        await self.seed(activity, auth)
        items = await read_all(activity, auth("manager", sub="m", team="north"))
        assert len(items) == 5
        assert {i["team_id"] for i in items} == {"north"}

    async def test_bi_and_service_read_the_whole_org(self, activity, auth):
        await self.seed(activity, auth)
        assert len(await read_all(activity, auth("bi", sub="metabase"))) == 9
        assert len(await read_all(activity, auth("service", sub="scoring"))) == 9

    async def test_another_rep_s_event_is_404_not_403(self, activity, auth):
        [event] = await append(activity, auth(), 1, rep_id="rep-2", team_id="north")
        r = await activity.get(
            f"/v1/events/{event['event_id']}", headers=auth("rep", sub="rep-1", team="north")
        )
        assert r.status_code == 404

    async def test_another_org_s_data_is_404(self, activity, auth, org):
        [event] = await append(activity, auth(org_id=f"{org}-other"), 1, stream="lead-theirs")
        assert (
            await activity.get(f"/v1/events/{event['event_id']}", headers=auth())
        ).status_code == 404
        assert (await activity.get("/v1/streams/lead-theirs", headers=auth())).status_code == 404
        assert await read_all(activity, auth()) == []


class TestOperations:
    async def test_health_ready_and_metrics(self, activity, auth):
        await append(activity, auth(), 1)
        assert (await activity.get("/healthz")).json() == {"status": "ok"}
        ready = (await activity.get("/readyz")).json()
        assert ready == {
            "ready": True,
            "checks": {"writer": True, "feed_listener": True, "database": True},
        }
        metrics = (await activity.get("/metrics")).text
        assert 'salesperf_activity_events_appended_total{type="visit.logged"}' in metrics
        assert 'route="/v1/events/batch"' in metrics


class TestOneShape:
    """The feed renders events in SQL, single reads in Python: the two must agree exactly."""

    async def test_a_feed_item_equals_the_event_read_on_its_own(self, activity, auth):
        events = await append(activity, auth(), 2, rep_id=None, team_id=None)
        events += await append(
            activity,
            auth(),
            1,
            type="lead.created",
            stream="lead-cafe",
            data={
                "name": 'Caf\u00e9 "Zur Post" \\ GmbH',
                "channel": "referral",
                "attributes": {"note": "line\nbreak \u2603"},
            },
        )
        feed = await read_all(activity, auth())
        for item in feed:
            single = (await activity.get(f"/v1/events/{item['event_id']}", headers=auth())).json()
            assert item == single
        assert feed[0]["rep_id"] is None
        assert feed[2]["data"]["attributes"]["note"] == "line\nbreak \u2603"

    async def test_with_an_upcaster_registered_the_feed_serves_the_upcast_shape(
        self, activity, auth
    ):
        from shared.events import UPCASTERS

        await append(activity, auth(), 1, rep_id="rep-1", team_id="north")
        await append(activity, auth(), 1, rep_id="rep-2", team_id="north")
        rep = auth("rep", sub="rep-1", team="north")
        UPCASTERS[("visit.logged", 1)] = lambda data: {**data, "upcast": True}
        try:
            everything = await read_all(activity, auth(), limit=1)
            [mine] = await read_all(activity, rep, types="visit.logged")
            single = (await activity.get(f"/v1/events/{mine['event_id']}", headers=rep)).json()
        finally:
            del UPCASTERS[("visit.logged", 1)]
        assert len(everything) == 2
        assert all(i["data"]["upcast"] is True and i["schema_version"] == 2 for i in everything)
        assert mine == single
        assert mine["rep_id"] == "rep-1"


def _legacy(position: int) -> str:
    """A feed cursor as activity made them before they were opaque (readable base64)."""
    import base64

    return base64.urlsafe_b64encode(f"v1.{position}".encode()).decode().rstrip("=")


class TestCursorsAreOpaqueAndBoundToTheOrg:
    async def test_a_cursor_does_not_show_the_position(self, activity, auth):
        import base64

        await append(activity, auth(), 2)
        page = (await activity.get("/v1/events", headers=auth())).json()
        position: int = page["items"][-1]["position"]
        raw = base64.urlsafe_b64decode(page["next"].removeprefix("c2.") + "==")
        # Neither the sealed form's 8 bytes of position nor the readable `v1.<position>` (with
        # positions per org, the decimal digits alone may turn up in any ciphertext by chance).
        assert position.to_bytes(8, "big") not in raw
        assert b"v1." not in raw

    async def test_another_org_s_cursor_is_refused_naming_after(self, activity, auth):
        await append(activity, auth(), 2)
        mine = (await activity.get("/v1/events", headers=auth())).json()["next"]
        for path in ("/v1/events", "/v1/events/backlog"):
            r = await activity.get(path, params={"after": mine}, headers=auth(org_id="org-other"))
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in r.json()["errors"]] == ["after"]

    async def test_a_stream_cursor_of_another_org_is_refused(self, activity, auth):
        await append(activity, auth(), 2, stream="deal-D-9")
        page = await activity.get("/v1/streams/deal-D-9", params={"limit": 1}, headers=auth())
        cursor = page.json()["next"]
        other = auth(org_id="org-other")
        r = await activity.get("/v1/streams/deal-D-9", params={"after": cursor}, headers=other)
        assert r.status_code == 422
        assert "after" in r.text

    async def test_the_old_readable_form_is_refused_to_users(self, activity, auth):
        r = await activity.get("/v1/events", params={"after": _legacy(1)}, headers=auth())
        assert r.status_code == 422
        assert "after" in r.text

    async def test_a_service_s_stored_old_cursor_still_reads_the_feed(self, activity, auth):
        """scoring kept the readable cursor in its schema before the upgrade: it goes on."""
        events = await append(activity, auth(), 3)
        service = auth("service", sub="scoring")
        full = (await activity.get("/v1/events", headers=service)).json()["items"]
        stored = _legacy(full[0]["position"])
        page = (await activity.get("/v1/events", params={"after": stored}, headers=service)).json()
        assert [i["event_id"] for i in page["items"]] == [e["event_id"] for e in events[1:]]
        assert page["next"].startswith("c2.")  # and what it stores next is the opaque form
        backlog = await activity.get(
            "/v1/events/backlog", params={"after": stored}, headers=service
        )
        assert backlog.status_code == 200
        assert backlog.json()["events"] == 2
