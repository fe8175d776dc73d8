"""POST /v1/events/batch: up to 1,000 events, all stored or none."""

from __future__ import annotations

import asyncio

from tests.conftest import make_event


async def stored_ids(db, org: str) -> list[str]:
    rows = await db.fetch(
        "SELECT event_id FROM activity.events WHERE org_id = $1 ORDER BY position", org
    )
    return [str(r["event_id"]) for r in rows]


class TestAtomicBatch:
    async def test_a_batch_is_stored_in_order_with_a_result_per_event(
        self, activity, auth, db, org
    ):
        events = [make_event(stream=f"lead-{i % 3}") for i in range(10)]
        r = await activity.post("/v1/events/batch", json={"events": events}, headers=auth())
        assert r.status_code == 201
        body = r.json()
        assert (body["created"], body["duplicates"]) == (10, 0)
        assert [x["event_id"] for x in body["results"]] == [e["event_id"] for e in events]
        positions = [x["position"] for x in body["results"]]
        assert positions == sorted(positions)
        assert [x["stream_version"] for x in body["results"][:6]] == [1, 1, 1, 2, 2, 2]
        assert await stored_ids(db, org) == [e["event_id"] for e in events]

    async def test_one_bad_event_in_500_stores_nothing_and_names_the_item(
        self, activity, auth, db, org
    ):
        events = [make_event() for _ in range(500)]
        events[317] = make_event(
            "deal.won", stream="deal-1", data={"amount": "-1.00", "currency": "EUR"}
        )
        r = await activity.post("/v1/events/batch", json={"events": events}, headers=auth())
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["events[317].data.amount"]
        assert await stored_ids(db, org) == []

    async def test_a_conflict_late_in_a_batch_stores_nothing(self, activity, auth, db, org):
        taken = make_event()
        await activity.post("/v1/events", json=taken, headers=auth())
        events = [make_event() for _ in range(500)]
        events[499] = {**taken, "data": {**taken["data"], "duration_minutes": 1}}
        r = await activity.post("/v1/events/batch", json={"events": events}, headers=auth())
        assert r.status_code == 409
        assert r.json()["errors"][0]["field"] == "events[499].event_id"
        assert await stored_ids(db, org) == [taken["event_id"]]

    async def test_a_scope_violation_names_the_item(self, activity, auth, db, org):
        rep = auth("rep", sub="rep-1", team="north")
        events = [
            make_event(rep_id="rep-1", team_id="north"),
            make_event(rep_id="rep-2", team_id="north"),
        ]
        r = await activity.post("/v1/events/batch", json={"events": events}, headers=rep)
        assert r.status_code == 403
        assert r.json()["errors"][0]["field"] == "events[1].rep_id"
        assert await stored_ids(db, org) == []

    async def test_a_rejected_batch_does_not_disturb_a_concurrent_good_one(
        self, activity, auth, db, org
    ):
        good = [make_event() for _ in range(50)]
        bad = [make_event(stream="lead-x", expected_version=5)]
        r_good, r_bad = await asyncio.gather(
            activity.post("/v1/events/batch", json={"events": good}, headers=auth()),
            activity.post("/v1/events/batch", json={"events": bad}, headers=auth()),
        )
        assert (r_good.status_code, r_bad.status_code) == (201, 409)
        assert await stored_ids(db, org) == [e["event_id"] for e in good]


class TestBatchIdempotency:
    async def test_an_uploaded_queue_sent_again_answers_200_and_stores_nothing_more(
        self, activity, auth, db, org
    ):
        events = [make_event() for _ in range(20)]
        first = await activity.post("/v1/events/batch", json={"events": events}, headers=auth())
        again = await activity.post("/v1/events/batch", json={"events": events}, headers=auth())
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["duplicates"] == 20
        assert [x["position"] for x in again.json()["results"]] == [
            x["position"] for x in first.json()["results"]
        ]
        assert all(x["status"] == "duplicate" for x in again.json()["results"])
        assert len(await stored_ids(db, org)) == 20

    async def test_a_queue_whose_upload_half_succeeded_resumes(self, activity, auth, db, org):
        events = [make_event() for _ in range(10)]
        await activity.post("/v1/events/batch", json={"events": events[:4]}, headers=auth())
        r = await activity.post("/v1/events/batch", json={"events": events}, headers=auth())
        assert r.status_code == 201
        assert [x["status"] for x in r.json()["results"]] == ["duplicate"] * 4 + ["created"] * 6
        assert await stored_ids(db, org) == [e["event_id"] for e in events]
