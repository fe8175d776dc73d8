"""Writes that cross ownership (issue 11, §5): a stream belongs to the rep who opened it until a
manager or admin reassigns it; a rep appends only to new or own streams, and anything else
answers as an unknown stream does; a manager writes only for reps whose known team is theirs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from shared.db import asyncpg_dsn, run_migrations
from tests.conftest import make_event, scratch_database


def event(event_type: str = "visit.logged", **overrides: Any) -> dict[str, Any]:
    """An event whose rep and team the token fills in (unless given)."""
    return make_event(event_type, **{"rep_id": None, "team_id": None, **overrides})


def reassign(stream: str, to: str, **overrides: Any) -> dict[str, Any]:
    return event("stream.reassigned", stream=stream, data={"to_rep_id": to}, **overrides)


async def rows(db, org: str, stream: str | None = None) -> list[asyncpg.Record]:
    return await db.fetch(  # type: ignore[no-any-return]
        "SELECT event_id, type, rep_id, team_id, stream_version, position FROM activity.events"
        " WHERE org_id = $1 AND ($2::text IS NULL OR stream = $2) ORDER BY position",
        org,
        stream,
    )


async def owner(db, org: str, stream: str) -> str | None:
    row = await db.fetchrow(
        "SELECT rep_id, position FROM activity.stream_owners WHERE org_id = $1 AND stream = $2",
        org,
        stream,
    )
    assert row is not None, f"no owner row for {stream}"
    return row["rep_id"]  # type: ignore[no-any-return]


async def has_owner_row(db, org: str, stream: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT count(*) FROM activity.stream_owners WHERE org_id = $1 AND stream = $2",
            org,
            stream,
        )
    )


def not_found(stream: str) -> dict[str, Any]:
    """What any 404 about a stream says, whatever the cause."""
    return {
        "type": "urn:salesperf:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"There is no stream {stream!r}.",
    }


async def open_stream(activity, auth, stream: str, rep: str, team: str, n: int = 1) -> None:
    headers = auth("rep", sub=rep, team=team)
    for i in range(n):
        kind = "lead.created" if i == 0 and stream.startswith("lead-") else "visit.logged"
        r = await activity.post("/v1/events", json=event(kind, stream=stream), headers=headers)
        assert r.status_code == 201, r.text


class TestARepAppendsOnlyToNewOrOwnStreams:
    async def test_the_rep_who_opens_a_stream_owns_it_and_appends_again(
        self, activity, auth, db, org
    ):
        anna = auth("rep", sub="rep-anna", team="t1")
        r = await activity.post(
            "/v1/events", json=event("lead.created", stream="lead-1"), headers=anna
        )
        assert r.status_code == 201
        assert await owner(db, org, "lead-1") == "rep-anna"
        again = await activity.post("/v1/events", json=event(stream="lead-1"), headers=anna)
        assert again.status_code == 201
        assert again.json()["stream_version"] == 2
        first = await db.fetchval(
            "SELECT position FROM activity.stream_owners WHERE org_id = $1", org
        )
        assert first == r.json()["position"]

    async def test_another_rep_s_append_answers_exactly_as_an_unknown_stream(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "lead-anna", "rep-anna", "t1", n=3)
        ben = auth("rep", sub="rep-ben", team="t1")

        r = await activity.post("/v1/events", json=event(stream="lead-anna"), headers=ben)

        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == not_found("lead-anna")
        assert "stream_version" not in r.text
        assert "3" not in r.json()["detail"]
        # The same body as reading that stream, and as an unknown stream (but for its name).
        read = await activity.get("/v1/streams/lead-anna", headers=ben)
        assert read.status_code == 404
        assert read.json() == r.json()
        unknown = await activity.get("/v1/streams/lead-nobody", headers=auth())
        assert unknown.json() == not_found("lead-nobody")
        assert [x["rep_id"] for x in await rows(db, org)] == ["rep-anna"] * 3

    async def test_an_expected_version_tells_a_stranger_nothing(self, activity, auth, db, org):
        await open_stream(activity, auth, "deal-9", "rep-anna", "t1", n=2)
        ben = auth("rep", sub="rep-ben", team="t1")
        for guess in (0, 1, 2, 3):
            r = await activity.post(
                "/v1/events", json=event(stream="deal-9", expected_version=guess), headers=ben
            )
            assert (r.status_code, r.json()) == (404, not_found("deal-9"))
        assert len(await rows(db, org)) == 2

    async def test_a_stream_opened_without_a_rep_is_no_rep_s(self, activity, auth, db, org):
        lead = make_event("lead.created", stream="lead-org", team_id=None)
        lead.pop("rep_id")
        assert (await activity.post("/v1/events", json=lead, headers=auth())).status_code == 201
        assert await owner(db, org, "lead-org") is None
        r = await activity.post(
            "/v1/events", json=event(stream="lead-org"), headers=auth("rep", sub="rep-anna")
        )
        assert (r.status_code, r.json()) == (404, not_found("lead-org"))
        assert len(await rows(db, org)) == 1

    async def test_a_rep_cannot_void_into_someone_else_s_stream(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-anna", "rep-anna", "t1")
        [target] = await rows(db, org)
        void = event(
            "event.voided",
            stream="lead-anna",
            data={"voided_event_id": str(target["event_id"]), "reason": "x"},
        )
        r = await activity.post("/v1/events", json=void, headers=auth("rep", sub="rep-ben"))
        assert (r.status_code, r.json()) == (404, not_found("lead-anna"))
        assert len(await rows(db, org)) == 1

    async def test_a_rep_may_not_claim_another_team(self, activity, auth, db, org):
        r = await activity.post(
            "/v1/events",
            json=event(stream="lead-new", team_id="t2"),
            headers=auth("rep", sub="rep-anna", team="t1"),
        )
        assert r.status_code == 403
        assert r.json()["errors"][0]["field"] == "team_id"
        assert await rows(db, org) == []
        assert not await has_owner_row(db, org, "lead-new")

    async def test_admins_and_service_tokens_append_to_any_stream(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-anna", "rep-anna", "t1")
        for headers in (auth(), auth("service", sub="importer")):
            r = await activity.post(
                "/v1/events",
                json=event(stream="lead-anna", rep_id="rep-ben", team_id="t2"),
                headers=headers,
            )
            assert r.status_code == 201, r.text
        assert await owner(db, org, "lead-anna") == "rep-anna"  # unchanged by their events


class TestBatches:
    async def test_one_event_in_someone_else_s_stream_stores_nothing_and_names_it(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "lead-anna", "rep-anna", "t1", n=2)
        events = [
            event("lead.created", stream="lead-ben"),
            event(stream="lead-ben"),
            event(stream="lead-anna"),
            event(stream="lead-ben"),
        ]
        r = await activity.post(
            "/v1/events/batch", json={"events": events}, headers=auth("rep", sub="rep-ben")
        )
        assert r.status_code == 404
        body = r.json()
        assert {k: body[k] for k in ("type", "title", "status", "detail")} == not_found("lead-anna")
        assert [e["field"] for e in body["errors"]] == ["events[2].stream"]
        assert "stream_version" not in r.text
        assert len(await rows(db, org)) == 2  # anna's two, nothing of the batch
        assert not await has_owner_row(db, org, "lead-ben")

    async def test_a_rep_s_batch_may_open_a_stream_and_go_on_appending_to_it(
        self, activity, auth, db, org
    ):
        events = [event("lead.created", stream="lead-ben"), event(stream="lead-ben")]
        r = await activity.post(
            "/v1/events/batch", json={"events": events}, headers=auth("rep", sub="rep-ben")
        )
        assert r.status_code == 201
        assert [x["stream_version"] for x in r.json()["results"]] == [1, 2]
        assert await owner(db, org, "lead-ben") == "rep-ben"


class TestRaces:
    async def test_of_two_reps_opening_the_same_stream_exactly_one_owns_it(
        self, activity, auth, db, org
    ):
        reps = {name: auth("rep", sub=name, team="t1") for name in ("rep-anna", "rep-ben")}
        streams = [f"lead-race-{i}" for i in range(12)]

        async def open_(stream: str, name: str) -> tuple[str, int, dict[str, Any]]:
            r = await activity.post(
                "/v1/events", json=event("lead.created", stream=stream), headers=reps[name]
            )
            return name, r.status_code, r.json()

        for stream in streams:
            answers = await asyncio.gather(open_(stream, "rep-anna"), open_(stream, "rep-ben"))
            statuses = sorted(status for _, status, _ in answers)
            assert statuses == [201, 404], answers
            [winner] = [name for name, status, _ in answers if status == 201]
            [loser_body] = [body for _, status, body in answers if status == 404]
            assert loser_body == not_found(stream)
            stored = await rows(db, org, stream)
            assert [(x["rep_id"], x["stream_version"]) for x in stored] == [(winner, 1)]
            assert await owner(db, org, stream) == winner

    async def test_a_reassignment_racing_the_old_owner_s_appends_leaves_none_after_it(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "deal-7", "rep-anna", "t1")
        await open_stream(activity, auth, "deal-ben", "rep-ben", "t1")  # ben is known in t1
        anna = auth("rep", sub="rep-anna", team="t1")
        mgr = auth("manager", sub="mgr-1", team="t1")

        async def anna_appends() -> list[int]:
            codes = []
            for _ in range(8):
                r = await activity.post("/v1/events", json=event(stream="deal-7"), headers=anna)
                codes.append(r.status_code)
            return codes

        async def manager_reassigns() -> int:
            await asyncio.sleep(0.01)
            r = await activity.post("/v1/events", json=reassign("deal-7", "rep-ben"), headers=mgr)
            return r.status_code

        codes, reassigned = await asyncio.gather(anna_appends(), manager_reassigns())
        assert reassigned == 201
        assert set(codes) <= {201, 404}
        stored = await rows(db, org, "deal-7")
        [moved_at] = [x["position"] for x in stored if x["type"] == "stream.reassigned"]
        anna_after = [x for x in stored if x["rep_id"] == "rep-anna" and x["position"] > moved_at]
        assert anna_after == []
        assert len(stored) == 1 + 1 + codes.count(201)  # opened, reassigned, anna's 201s
        assert [x["stream_version"] for x in stored] == list(range(1, len(stored) + 1))
        assert await owner(db, org, "deal-7") == "rep-ben"


class TestReassignment:
    async def test_a_manager_moves_a_stream_to_a_rep_of_their_team(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1", n=2)
        await open_stream(activity, auth, "lead-ben", "rep-ben", "t1")
        mgr = auth("manager", sub="mgr-1", team="t1")

        r = await activity.post(
            "/v1/events", json=reassign("lead-1", "rep-ben", expected_version=2), headers=mgr
        )

        assert r.status_code == 201, r.text
        assert r.json()["stream_version"] == 3
        assert await owner(db, org, "lead-1") == "rep-ben"
        moved = (await rows(db, org, "lead-1"))[-1]
        assert (moved["type"], moved["rep_id"], moved["team_id"]) == (
            "stream.reassigned",
            "rep-ben",
            "t1",
        )
        ben = auth("rep", sub="rep-ben", team="t1")
        anna = auth("rep", sub="rep-anna", team="t1")
        ok = await activity.post("/v1/events", json=event(stream="lead-1"), headers=ben)
        assert ok.status_code == 201
        assert ok.json()["stream_version"] == 4
        refused = await activity.post("/v1/events", json=event(stream="lead-1"), headers=anna)
        assert (refused.status_code, refused.json()) == (404, not_found("lead-1"))
        assert len(await rows(db, org, "lead-1")) == 4
        # The new owner reads the reassignment (and their own events) in the stream.
        page = (await activity.get("/v1/streams/lead-1", headers=ben)).json()
        assert [e["type"] for e in page["items"]] == ["stream.reassigned", "visit.logged"]
        assert page["items"][0]["data"] == {"to_rep_id": "rep-ben"}

    async def test_a_manager_may_place_a_rep_with_no_history_yet(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        mgr = auth("manager", sub="mgr-1", team="t1")
        r = await activity.post("/v1/events", json=reassign("lead-1", "rep-new"), headers=mgr)
        assert r.status_code == 201
        assert await owner(db, org, "lead-1") == "rep-new"

    async def test_an_admin_reassigns_across_teams(self, activity, auth, db, org):
        await open_stream(activity, auth, "account-a1", "rep-anna", "t1")
        await open_stream(activity, auth, "lead-x", "rep-xena", "t2")
        r = await activity.post(
            "/v1/events", json=reassign("account-a1", "rep-xena", team_id="t2"), headers=auth()
        )
        assert r.status_code == 201
        assert await owner(db, org, "account-a1") == "rep-xena"

    async def test_a_rep_may_not_reassign_even_their_own_stream(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        for rep_id in ("rep-anna", None):
            body = reassign("lead-1", "rep-anna" if rep_id else "rep-ben")
            r = await activity.post(
                "/v1/events", json=body, headers=auth("rep", sub="rep-anna", team="t1")
            )
            assert r.status_code == 403
            assert r.json()["type"] == "urn:salesperf:problem:reassign-forbidden"
            assert r.json()["errors"][0]["field"] == "type"
        assert len(await rows(db, org)) == 1
        assert await owner(db, org, "lead-1") == "rep-anna"

    async def test_a_service_token_may_not_reassign(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        r = await activity.post(
            "/v1/events", json=reassign("lead-1", "rep-ben"), headers=auth("service", sub="crm")
        )
        assert r.status_code == 403
        assert len(await rows(db, org)) == 1

    async def test_a_manager_may_not_take_another_team_s_stream(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-x", "rep-xena", "t2")
        await open_stream(activity, auth, "lead-ben", "rep-ben", "t1")
        mgr = auth("manager", sub="mgr-1", team="t1")
        r = await activity.post("/v1/events", json=reassign("lead-x", "rep-ben"), headers=mgr)
        assert (r.status_code, r.json()) == (404, not_found("lead-x"))
        assert await owner(db, org, "lead-x") == "rep-xena"
        assert len(await rows(db, org, "lead-x")) == 1

    async def test_a_manager_may_not_hand_a_stream_to_another_team_s_rep(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        await open_stream(activity, auth, "lead-x", "rep-xena", "t2")
        mgr = auth("manager", sub="mgr-1", team="t1")
        r = await activity.post("/v1/events", json=reassign("lead-1", "rep-xena"), headers=mgr)
        assert r.status_code == 404
        assert r.json()["type"] == "urn:salesperf:problem:rep-not-in-team"
        assert r.json()["errors"][0]["field"] == "rep_id"
        assert await owner(db, org, "lead-1") == "rep-anna"

    async def test_the_envelope_rep_must_be_the_new_owner(self, activity, auth, db, org):
        r = await activity.post(
            "/v1/events", json=reassign("lead-1", "rep-ben", rep_id="rep-anna"), headers=auth()
        )
        assert r.status_code == 422
        assert await rows(db, org) == []

    async def test_the_payload_is_strict(self, activity, auth, db, org):
        for data in ({"to_rep_id": "rep ben"}, {"to_rep_id": "rep-ben", "from": "x"}, {}):
            body = {**reassign("lead-1", "rep-ben"), "data": data}
            r = await activity.post("/v1/events", json=body, headers=auth())
            assert r.status_code == 422, (data, r.text)
        assert await rows(db, org) == []

    async def test_a_reassignment_cannot_be_voided(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        moved = reassign("lead-1", "rep-ben", team_id="t1")
        assert (await activity.post("/v1/events", json=moved, headers=auth())).status_code == 201
        void = event(
            "event.voided",
            stream="lead-1",
            data={"voided_event_id": moved["event_id"], "reason": "oops"},
        )
        r = await activity.post("/v1/events", json=void, headers=auth())
        assert r.status_code == 422
        assert r.json()["type"] == "urn:salesperf:problem:void-of-reassignment"
        assert await owner(db, org, "lead-1") == "rep-ben"
        assert len(await rows(db, org)) == 2


class TestAManagerWritesForTheirOwnTeam:
    async def test_a_rep_known_in_another_team_is_refused_even_when_claiming_the_manager_s(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "lead-x", "rep-xena", "t2")
        mgr = auth("manager", sub="mgr-1", team="t1")
        for claim in ("t1", None):
            r = await activity.post(
                "/v1/events",
                json=event(stream="lead-new", rep_id="rep-xena", team_id=claim),
                headers=mgr,
            )
            assert r.status_code == 404, r.text
            body = r.json()
            assert body["type"] == "urn:salesperf:problem:rep-not-in-team"
            assert body["errors"][0]["field"] == "rep_id"
        assert len(await rows(db, org)) == 1
        assert not await has_owner_row(db, org, "lead-new")

    async def test_a_rep_with_no_history_is_placed_in_the_manager_s_team(
        self, activity, auth, db, org
    ):
        mgr = auth("manager", sub="mgr-1", team="t1")
        r = await activity.post(
            "/v1/events",
            json=event("lead.created", stream="lead-n", rep_id="rep-new"),
            headers=mgr,
        )
        assert r.status_code == 201, r.text
        [stored] = await rows(db, org)
        assert (stored["rep_id"], stored["team_id"]) == ("rep-new", "t1")
        assert await owner(db, org, "lead-n") == "rep-new"
        # Placed now: another team's manager may no longer write for them.
        other = await activity.post(
            "/v1/events",
            json=event(stream="lead-m", rep_id="rep-new"),
            headers=auth("manager", sub="mgr-2", team="t2"),
        )
        assert other.status_code == 404
        assert len(await rows(db, org)) == 1
        # Their own manager still may, also in the rep's stream.
        again = await activity.post(
            "/v1/events", json=event(stream="lead-n", rep_id="rep-new"), headers=mgr
        )
        assert again.status_code == 201

    async def test_the_known_team_is_that_of_the_rep_s_most_recent_event(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        moved = event(stream="lead-1", rep_id="rep-anna", team_id="t2")  # an admin moves anna
        assert (await activity.post("/v1/events", json=moved, headers=auth())).status_code == 201
        t1 = auth("manager", sub="mgr-1", team="t1")
        t2 = auth("manager", sub="mgr-2", team="t2")
        refused = await activity.post(
            "/v1/events", json=event(stream="lead-1", rep_id="rep-anna"), headers=t1
        )
        assert (refused.status_code, refused.json()) == (404, not_found("lead-1"))
        ok = await activity.post(
            "/v1/events", json=event(stream="lead-1", rep_id="rep-anna"), headers=t2
        )
        assert ok.status_code == 201
        assert len(await rows(db, org)) == 3

    async def test_a_manager_cannot_append_to_another_team_s_stream(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-x", "rep-xena", "t2")
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        mgr = auth("manager", sub="mgr-1", team="t1")
        r = await activity.post(
            "/v1/events", json=event(stream="lead-x", rep_id="rep-anna"), headers=mgr
        )
        assert (r.status_code, r.json()) == (404, not_found("lead-x"))
        assert len(await rows(db, org, "lead-x")) == 1

    async def test_a_manager_s_batch_with_one_foreign_rep_stores_nothing(
        self, activity, auth, db, org
    ):
        await open_stream(activity, auth, "lead-x", "rep-xena", "t2")
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        events = [
            event(stream="lead-1", rep_id="rep-anna"),
            event(stream="lead-2", rep_id="rep-new"),
            event(stream="lead-3", rep_id="rep-xena"),
        ]
        r = await activity.post(
            "/v1/events/batch",
            json={"events": events},
            headers=auth("manager", sub="mgr-1", team="t1"),
        )
        assert r.status_code == 404
        assert [e["field"] for e in r.json()["errors"]] == ["events[2].rep_id"]
        assert len(await rows(db, org)) == 2
        assert not await has_owner_row(db, org, "lead-2")

    async def test_a_manager_writes_for_their_own_team_s_rep(self, activity, auth, db, org):
        await open_stream(activity, auth, "lead-1", "rep-anna", "t1")
        r = await activity.post(
            "/v1/events",
            json=event(stream="lead-1", rep_id="rep-anna"),
            headers=auth("manager", sub="mgr-1", team="t1"),
        )
        assert r.status_code == 201
        assert r.json()["stream_version"] == 2


class TestTheMigration:
    async def test_existing_streams_are_owned_by_the_rep_of_their_first_event(self, base_url):
        async with scratch_database(base_url, "owners", revision=None) as url:
            await asyncio.to_thread(run_migrations, url, "20261204_activity_connectors")
            # Rows as the older code stored them (global positions from the sequence default);
            # `event_json` as the service renders it, beginning with the position.
            conn = await asyncpg.connect(asyncpg_dsn(url))
            try:
                existing = [  # (org, stream, version, rep)
                    ("o1", "lead-1", 1, "rep-anna"),
                    ("o1", "lead-1", 2, "rep-ben"),
                    ("o1", "deal-2", 1, None),
                    ("o1", "deal-2", 2, "rep-ben"),
                    ("o2", "lead-1", 1, "rep-cleo"),
                ]
                for i, (org, stream, version, rep) in enumerate(reversed(existing)):
                    position = await conn.fetchval("SELECT nextval('activity.event_position_seq')")
                    await conn.execute(
                        "INSERT INTO activity.events (position, org_id, event_id, type, stream,"
                        " stream_version, rep_id, occurred_at, schema_version, data, metadata,"
                        " content_hash, event_json) VALUES ($7, $1, $2, 'visit.logged', $3, $4,"
                        " $5, now(), 1, '{}', '{}', $6, $8)",
                        org,
                        uuid.uuid4(),
                        stream,
                        version,
                        rep,
                        bytes([i]),
                        position,
                        f'{{"position":{position},"data":{{}}}}',
                    )
                await asyncio.to_thread(run_migrations, url, "head")
                got = await conn.fetch(
                    "SELECT o.org_id, o.stream, o.rep_id, e.stream_version"
                    " FROM activity.stream_owners o JOIN activity.events e"
                    " ON e.org_id = o.org_id AND e.position = o.position ORDER BY 1, 2"
                )
            finally:
                await conn.close()
            assert [tuple(r) for r in got] == [
                ("o1", "deal-2", None, 1),
                ("o1", "lead-1", "rep-anna", 1),
                ("o2", "lead-1", "rep-cleo", 1),
            ]
