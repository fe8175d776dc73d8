"""POST /v1/events: append one event, idempotently, with optimistic concurrency."""

from __future__ import annotations

import uuid

import orjson

from tests.conftest import make_event


async def count(db, org: str) -> int:
    return await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id = $1", org)


class TestAppend:
    async def test_an_event_is_stored_as_sent_and_answered_with_its_position(
        self, activity, auth, db, org
    ):
        event = make_event("deal.opened", stream="deal-D-1")
        r = await activity.post("/v1/events", json=event, headers=auth())
        assert r.status_code == 201
        body = r.json()
        assert body["event_id"] == event["event_id"]
        assert body["stream_version"] == 1
        assert isinstance(body["position"], int)
        assert body["recorded_at"].endswith("+00:00")

        row = await db.fetchrow("SELECT * FROM activity.events WHERE org_id = $1", org)
        assert row["position"] == body["position"]
        assert row["type"] == "deal.opened"
        assert row["stream"] == "deal-D-1"
        assert row["rep_id"] == "rep-anna"
        assert row["occurred_at"].isoformat() == "2026-11-20T09:30:00+00:00"
        assert orjson.loads(row["data"])["amount"] == "24000.00"

    async def test_a_read_right_after_the_201_sees_the_event(self, activity, auth):
        event = make_event()
        r = await activity.post("/v1/events", json=event, headers=auth())
        got = await activity.get(f"/v1/events/{event['event_id']}", headers=auth())
        assert got.status_code == 200
        assert got.json()["position"] == r.json()["position"]
        assert got.json()["data"] == event["data"]

    async def test_stream_versions_count_up_within_a_stream(self, activity, auth):
        versions = []
        for _ in range(3):
            r = await activity.post(
                "/v1/events", json=make_event(stream="lead-seq"), headers=auth()
            )
            versions.append(r.json()["stream_version"])
        other = await activity.post(
            "/v1/events", json=make_event(stream="lead-other"), headers=auth()
        )
        assert versions == [1, 2, 3]
        assert other.json()["stream_version"] == 1


class TestIdempotency:
    async def test_the_same_event_again_answers_200_with_the_original_result(
        self, activity, auth, db, org
    ):
        event = make_event()
        first = await activity.post("/v1/events", json=event, headers=auth())
        again = await activity.post("/v1/events", json=event, headers=auth())
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert await count(db, org) == 1

    async def test_the_same_instant_written_in_another_offset_is_the_same_event(
        self, activity, auth, db, org
    ):
        event = make_event(occurred_at="2026-11-20T10:30:00+01:00")
        await activity.post("/v1/events", json=event, headers=auth())
        again = await activity.post(
            "/v1/events", json={**event, "occurred_at": "2026-11-20T09:30:00Z"}, headers=auth()
        )
        assert again.status_code == 200
        assert await count(db, org) == 1

    async def test_the_same_event_id_with_other_content_is_a_409(self, activity, auth, db, org):
        event = make_event()
        await activity.post("/v1/events", json=event, headers=auth())
        changed = {**event, "data": {**event["data"], "duration_minutes": 99}}
        r = await activity.post("/v1/events", json=changed, headers=auth())
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == "event_id"
        assert await count(db, org) == 1

    async def test_event_ids_are_per_org(self, activity, auth, org):
        event = make_event()
        mine = await activity.post("/v1/events", json=event, headers=auth())
        theirs = await activity.post("/v1/events", json=event, headers=auth(org_id=f"{org}-b"))
        assert mine.status_code == theirs.status_code == 201


class TestExpectedVersion:
    async def test_a_matching_expected_version_appends(self, activity, auth):
        await activity.post("/v1/events", json=make_event(stream="lead-ev"), headers=auth())
        r = await activity.post(
            "/v1/events", json=make_event(stream="lead-ev", expected_version=1), headers=auth()
        )
        assert r.status_code == 201
        assert r.json()["stream_version"] == 2

    async def test_a_stale_expected_version_is_a_409_and_stores_nothing(
        self, activity, auth, db, org
    ):
        for _ in range(2):
            await activity.post("/v1/events", json=make_event(stream="lead-ev"), headers=auth())
        r = await activity.post(
            "/v1/events", json=make_event(stream="lead-ev", expected_version=1), headers=auth()
        )
        assert r.status_code == 409
        problem = r.json()
        assert problem["type"] == "urn:salesperf:problem:stream-version-conflict"
        assert problem["errors"][0]["field"] == "expected_version"
        assert "version 2" in problem["detail"]
        assert await count(db, org) == 2

    async def test_expected_version_zero_creates_a_stream_only_once(self, activity, auth):
        first = await activity.post(
            "/v1/events", json=make_event(stream="lead-new", expected_version=0), headers=auth()
        )
        second = await activity.post(
            "/v1/events", json=make_event(stream="lead-new", expected_version=0), headers=auth()
        )
        assert (first.status_code, second.status_code) == (201, 409)


class TestVoid:
    async def test_a_void_is_appended_to_the_stream_of_the_event_it_cancels(self, activity, auth):
        target = make_event(
            stream="deal-D-9", type="deal.won", data={"amount": "10.00", "currency": "EUR"}
        )
        await activity.post("/v1/events", json=target, headers=auth())
        void = make_event(
            "event.voided",
            stream="deal-D-9",
            data={"voided_event_id": target["event_id"], "reason": "wrong deal"},
        )
        r = await activity.post("/v1/events", json=void, headers=auth())
        assert r.status_code == 201
        assert r.json()["stream_version"] == 2
        again = make_event(
            "event.voided",
            stream="deal-D-9",
            data={"voided_event_id": target["event_id"], "reason": "twice"},
        )
        r2 = await activity.post("/v1/events", json=again, headers=auth())
        assert r2.status_code == 409
        assert r2.json()["errors"][0]["field"] == "data.voided_event_id"

    async def test_voiding_an_event_of_another_org_is_not_found(self, activity, auth, org):
        target = make_event()
        await activity.post("/v1/events", json=target, headers=auth(org_id=f"{org}-b"))
        void = make_event(
            "event.voided",
            stream=target["stream"],
            data={"voided_event_id": target["event_id"], "reason": "x"},
        )
        r = await activity.post("/v1/events", json=void, headers=auth())
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "data.voided_event_id"


class TestWhoMayWrite:
    async def test_a_rep_s_event_gets_their_id_and_team(self, activity, auth):
        event = make_event(rep_id=None, team_id=None)
        event.pop("rep_id"), event.pop("team_id")
        r = await activity.post(
            "/v1/events", json=event, headers=auth("rep", sub="rep-7", team="south")
        )
        assert r.status_code == 201
        got = await activity.get(f"/v1/events/{event['event_id']}", headers=auth())
        assert (got.json()["rep_id"], got.json()["team_id"]) == ("rep-7", "south")

    async def test_a_rep_cannot_log_for_someone_else(self, activity, auth, db, org):
        r = await activity.post(
            "/v1/events",
            json=make_event(rep_id="rep-8"),
            headers=auth("rep", sub="rep-7", team="south"),
        )
        assert r.status_code == 403
        assert r.json()["errors"][0]["field"] == "rep_id"
        assert await count(db, org) == 0

    async def test_a_bi_token_cannot_write(self, activity, auth, db, org):
        r = await activity.post("/v1/events", json=make_event(), headers=auth("bi", sub="metabase"))
        assert r.status_code == 403
        assert await count(db, org) == 0

    async def test_a_manager_writes_for_their_team_only(self, activity, auth):
        mgr = auth("manager", sub="mgr", team="south")
        ok = await activity.post(
            "/v1/events", json=make_event(rep_id="rep-1", team_id="south"), headers=mgr
        )
        no = await activity.post(
            "/v1/events", json=make_event(rep_id="rep-1", team_id="north"), headers=mgr
        )
        assert (ok.status_code, no.status_code) == (201, 403)
        assert no.json()["errors"][0]["field"] == "team_id"


async def test_an_unknown_event_is_404_problem(activity, auth):
    r = await activity.get(f"/v1/events/{uuid.uuid4()}", headers=auth())
    assert r.status_code == 404
    assert r.json()["title"] == "Not found"


async def test_lead_attributes_in_another_order_are_the_same_event(activity, auth, db, org):
    event = make_event("lead.created", stream="lead-ord")
    event["data"] = {**event["data"], "attributes": {"city": "Leipzig", "campaign": "fair"}}
    first = await activity.post("/v1/events", json=event, headers=auth())
    event["data"]["attributes"] = {"campaign": "fair", "city": "Leipzig"}
    again = await activity.post("/v1/events", json=event, headers=auth())
    assert (first.status_code, again.status_code) == (201, 200)
    assert await count(db, org) == 1
