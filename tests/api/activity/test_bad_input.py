"""Bad input to the activity API: always a 4xx problem+json naming the field, never a 500,
never a partial write.

Every test runs in its own org (the `org` fixture), so "nothing was stored" is checked by
counting that org's rows in `activity.events` after the request. A 500 would surface here as
an exception raised by the in-process transport, which fails the test just the same.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import jwt
import orjson
import pytest

from tests.conftest import JWT_SECRET, make_event
from tests.problems import assert_problem

OTHER_SECRET = "another-secret-" + "y" * 32
BATCH_SIZE = 20
BAD_INDEX = 17


# --------------------------------------------------------------------------------- helpers


async def stored(db: asyncpg.Pool, org: str) -> int:
    return await db.fetchval("SELECT count(*) FROM activity.events WHERE org_id=$1", org)  # type: ignore[no-any-return]


async def assert_nothing_stored(db: asyncpg.Pool, org: str) -> None:
    assert await stored(db, org) == 0, "a rejected request left rows behind"


def with_data(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`event` with some fields of its `data` changed (None: removed)."""
    data = {**event["data"], **changes}
    return {**event, "data": {k: v for k, v in data.items() if v is not None}}


def without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


def batch_with_bad_item(bad: dict[str, Any], *, index: int = BAD_INDEX) -> dict[str, Any]:
    events = [make_event() for _ in range(BATCH_SIZE)]
    events[index] = bad
    return {"events": events}


def cursor_of(text: str) -> str:
    """A cursor built the way the API builds its own, but around arbitrary text."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def raw_token(secret: str = JWT_SECRET, algorithm: str = "HS256", **claims: Any) -> dict[str, str]:
    token = jwt.encode(claims, secret, algorithm=algorithm)
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------------- bad events
#
# One table of invalid events, used both for POST /v1/events (the field as written) and for
# item 17 of a POST /v1/events/batch (the field prefixed with `events[17].`).

BadEvent = Callable[[], dict[str, Any]]

LEAD = "lead.created"
WON = "deal.won"


def bad(
    case_id: str, build: BadEvent, *fields: str, marks: Any = ()
) -> Any:  # a pytest ParameterSet
    return pytest.param(build, fields, id=case_id, marks=marks)


BAD_EVENTS = [
    bad("unknown type", lambda: make_event(type="visit.loged"), "type"),
    bad("missing type", lambda: without(make_event(), "type"), "type"),
    bad("type not a string", lambda: make_event(type=42), "type"),
    bad(
        "deal.won payload on visit.logged",
        lambda: make_event(data=make_event(WON)["data"]),
        "data.mode",
        "data.effective",
        "data.duration_minutes",
        "data.amount",
        "data.currency",
    ),
    bad(
        "missing required payload field",
        lambda: with_data(make_event(), duration_minutes=None),
        "data.duration_minutes",
    ),
    bad("unknown payload field", lambda: with_data(make_event(), colour="red"), "data.colour"),
    bad("unknown envelope field", lambda: make_event(colour="red"), "colour"),
    bad(
        "unknown metadata field", lambda: make_event(metadata={"colour": "red"}), "metadata.colour"
    ),
    bad("data not an object", lambda: make_event(data=["onsite"]), "data"),
    bad(
        "negative duration",
        lambda: with_data(make_event(), duration_minutes=-1),
        "data.duration_minutes",
    ),
    bad("negative amount", lambda: with_data(make_event(WON), amount="-5.00"), "data.amount"),
    bad("amount as a JSON float", lambda: with_data(make_event(WON), amount=1250.5), "data.amount"),
    bad("amount as a JSON integer", lambda: with_data(make_event(WON), amount=1250), "data.amount"),
    bad(
        "amount with 5 decimals",
        lambda: with_data(make_event(WON), amount="1.23456"),
        "data.amount",
    ),
    bad(
        "amount with 16 digits", lambda: with_data(make_event(WON), amount="1" * 16), "data.amount"
    ),
    bad(
        "amount in exponent notation",
        lambda: with_data(make_event(WON), amount="1e3"),
        "data.amount",
    ),
    bad("amount not a number", lambda: with_data(make_event(WON), amount="lots"), "data.amount"),
    bad("unknown currency", lambda: with_data(make_event(WON), currency="XXY"), "data.currency"),
    bad("lowercase currency", lambda: with_data(make_event(WON), currency="eur"), "data.currency"),
    bad(
        "value without currency",
        lambda: with_data(make_event(LEAD), currency=None),
        "data",
    ),
    bad("naive occurred_at", lambda: make_event(occurred_at="2026-11-20T10:30:00"), "occurred_at"),
    bad("date-only occurred_at", lambda: make_event(occurred_at="2026-11-20"), "occurred_at"),
    bad("occurred_at not a time", lambda: make_event(occurred_at="yesterday"), "occurred_at"),
    bad(
        "occurred_at that leaves the datetime range in UTC",
        lambda: make_event(occurred_at="0001-01-01T00:00:00+14:00"),
        "occurred_at",  # was a 500: OverflowError in domain.content_hash's astimezone(UTC)
    ),
    bad(
        "occurred_at at the far end of the datetime range",
        lambda: make_event(occurred_at="9999-12-31T23:59:59-14:00"),
        "occurred_at",
    ),
    bad(  # scoring and goals answer for no day in 2100: the system has one range
        "occurred_at in 2100",
        lambda: make_event(occurred_at="2100-01-01T00:00:00+00:00"),
        "occurred_at",
    ),
    bad(
        "occurred_at that is 2100-01-01 in Tokyo",
        lambda: make_event(occurred_at="2099-12-31T20:00:00+00:00"),
        "occurred_at",
    ),
    bad(
        "occurred_at that is 1969-12-31 in Honolulu",
        lambda: make_event(occurred_at="1970-01-01T05:00:00+00:00"),
        "occurred_at",
    ),
    bad(  # goals refuses a yen target with decimals: the system has one currency rule
        "yen with decimals",
        lambda: with_data(make_event(WON), amount="1500.50", currency="JPY"),
        "data.amount",
    ),
    bad(
        "euros with 3 decimals",
        lambda: with_data(make_event(WON), amount="1500.125", currency="EUR"),
        "data.amount",
    ),
    bad(
        "a lead's estimated value in yen with decimals",
        lambda: with_data(make_event(LEAD), estimated_value="10.5", currency="JPY"),
        "data.estimated_value",
    ),
    bad("event_id not a UUID", lambda: make_event(event_id="not-a-uuid"), "event_id"),
    bad("event_id a number", lambda: make_event(event_id=12345), "event_id"),
    bad("deal.won on a lead stream", lambda: make_event(WON, stream="lead-L-1"), "stream"),
    bad("lead.created on a deal stream", lambda: make_event(LEAD, stream="deal-D-1"), "stream"),
    bad(
        "contact.left on a deal stream",
        lambda: make_event("contact.left", stream="deal-D-1"),
        "stream",
    ),
    bad(
        "expected_close as Unix seconds in a string",
        lambda: with_data(make_event("deal.opened"), expected_close="1797292800"),
        "data.expected_close",
    ),
    bad(
        "due_date as a JSON number",
        lambda: with_data(make_event("invoice.issued"), due_date=1799884800),
        "data.due_date",
    ),
    bad("stream of an unknown kind", lambda: make_event(stream="opportunity-1"), "stream"),
    bad("stream without an id", lambda: make_event(stream="deal-"), "stream"),
    bad("stream with a space", lambda: make_event(stream="deal-D 88"), "stream"),
    bad("rep_id with a slash", lambda: make_event(rep_id="rep/1"), "rep_id"),
    bad(
        "attribute value a number",
        lambda: with_data(make_event(LEAD), attributes={"city": 5}),
        "data.attributes.city",
    ),
    bad(
        "attribute value a boolean",
        lambda: with_data(make_event(LEAD), attributes={"city": True}),
        "data.attributes.city",
    ),
    bad(
        "attribute value null",
        lambda: with_data(make_event(LEAD), attributes={"city": None}),
        "data.attributes.city",
    ),
    bad(
        "attribute value a list",
        lambda: with_data(make_event(LEAD), attributes={"city": ["Leipzig"]}),
        "data.attributes.city",
    ),
    bad(
        "attribute value an object",
        lambda: with_data(make_event(LEAD), attributes={"city": {"name": "Leipzig"}}),
        "data.attributes.city",
    ),
    bad(
        "attributes not an object",
        lambda: with_data(make_event(LEAD), attributes=["city"]),
        "data.attributes",
    ),
    bad("expected_version negative", lambda: make_event(expected_version=-1), "expected_version"),
    bad(
        "expected_version fractional", lambda: make_event(expected_version=1.5), "expected_version"
    ),
    bad("schema_version from the future", lambda: make_event(schema_version=2), "schema_version"),
    bad(
        "metadata source not a known kind",
        lambda: make_event(metadata={"source": "crm:HubSpot"}),
        "metadata.source",
    ),
    bad(
        "NUL character in a text field",
        lambda: with_data(make_event(), note="left at\u0000reception"),
        "data.note",  # was a 500: Postgres jsonb refuses U+0000 (UntranslatableCharacterError)
    ),
    bad(
        "NUL character in an attribute value",
        lambda: with_data(make_event(LEAD), attributes={"city": "Leip\u0000zig"}),
        "data.attributes.city",
    ),
    bad(
        "expected_version a boolean", lambda: make_event(expected_version=True), "expected_version"
    ),
    bad(
        "a count sent as a string",
        lambda: with_data(make_event(), duration_minutes="45"),
        "data.duration_minutes",
    ),
    bad("a flag sent as a number", lambda: with_data(make_event(), effective=1), "data.effective"),
    bad("occurred_at as Unix seconds", lambda: make_event(occurred_at=1795000000), "occurred_at"),
    bad(
        "occurred_at as Unix seconds in a string",
        lambda: make_event(occurred_at="1795000000"),
        "occurred_at",
    ),
    bad(
        "occurred_at as Unix seconds in exponent form",
        lambda: make_event(occurred_at="1.7950000000e9"),
        "occurred_at",
    ),
    bad(
        "occurred_at as fractional Unix seconds in a string",
        lambda: make_event(occurred_at="1795000000.5"),
        "occurred_at",
    ),
    bad(
        "an amount with spaces around it",
        lambda: with_data(make_event(WON), amount=" 5.00"),
        "data.amount",
    ),
]


class TestAnInvalidEventIsRejectedNamingTheField:
    @pytest.mark.parametrize(("build", "fields"), BAD_EVENTS)
    async def test_single_append_answers_422_and_stores_nothing(
        self, activity, auth, db, org, build: BadEvent, fields: tuple[str, ...]
    ) -> None:
        r = await activity.post("/v1/events", json=build(), headers=auth())
        assert_problem(r, 422, fields=fields, location="body")
        await assert_nothing_stored(db, org)

    @pytest.mark.parametrize(("build", "fields"), BAD_EVENTS)
    async def test_batch_append_names_the_item_and_stores_none_of_the_batch(
        self, activity, auth, db, org, build: BadEvent, fields: tuple[str, ...]
    ) -> None:
        r = await activity.post(
            "/v1/events/batch", json=batch_with_bad_item(build()), headers=auth()
        )
        prefixed = tuple(f"events[{BAD_INDEX}].{f}" for f in fields)
        body = assert_problem(r, 422, fields=prefixed, location="body")
        assert all(e["field"].startswith(f"events[{BAD_INDEX}]") for e in body["errors"]), body
        await assert_nothing_stored(db, org)

    async def test_a_bad_value_under_a_dotted_attribute_key_is_named_by_that_key(
        self, activity, auth, db, org
    ) -> None:
        """render_loc used to drop every path part with a dot, so this said `data.attributes`."""
        event = with_data(make_event(LEAD), attributes={"utm.source": 5})
        r = await activity.post("/v1/events", json=event, headers=auth())
        assert_problem(r, 422, fields=("data.attributes.utm.source",))
        await assert_nothing_stored(db, org)


# --------------------------------------------------------------------------------- the body

APPEND_PATHS = ["/v1/events", "/v1/events/batch"]


def valid_body(path: str) -> dict[str, Any]:
    return make_event() if path == "/v1/events" else {"events": [make_event(), make_event()]}


class TestMalformedJsonIsA400:
    @pytest.mark.parametrize("path", APPEND_PATHS)
    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"{not json", id="unquoted key"),
            pytest.param(b'{"type": "visit.logged",}', id="trailing comma"),
            pytest.param(b'{"type": "visit.logged"', id="truncated"),
            pytest.param(b"\xff\xfe{}", id="not UTF-8"),
            pytest.param(b"{'type': 'visit.logged'}", id="single quotes"),
        ],
    )
    async def test_a_body_that_does_not_parse_is_named_body(
        self, activity, auth, db, org, path: str, content: bytes
    ) -> None:
        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post(path, content=content, headers=headers)
        assert_problem(r, 400, fields=("body",))
        await assert_nothing_stored(db, org)

    @pytest.mark.parametrize("path", APPEND_PATHS)
    async def test_json_nested_too_deep_is_a_malformed_json_problem(
        self, activity, auth, db, org, path: str
    ) -> None:
        """The parser's RecursionError used to surface as a bare `http-error` without `errors`."""
        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post(path, content=b"[" * 100_000 + b"]" * 100_000, headers=headers)
        body = assert_problem(r, 400, fields=("body",))
        assert body["type"] == "urn:salesperf:problem:malformed-json"
        await assert_nothing_stored(db, org)

    @pytest.mark.parametrize("path", APPEND_PATHS)
    async def test_an_empty_body_is_a_422_naming_body(self, activity, auth, db, org, path) -> None:
        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post(path, content=b"", headers=headers)
        assert_problem(r, 422, fields=("body",))
        await assert_nothing_stored(db, org)

    @pytest.mark.parametrize("path", APPEND_PATHS)
    @pytest.mark.parametrize("json_body", [[1, 2], "visit.logged", 42, None], ids=repr)
    async def test_a_body_that_is_not_an_object_is_a_422(
        self, activity, auth, db, org, path: str, json_body: Any
    ) -> None:
        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post(path, content=orjson.dumps(json_body), headers=headers)
        assert_problem(r, 422, fields=("body",))
        await assert_nothing_stored(db, org)


class TestABodyThatIsNotJsonIsA415:
    @pytest.mark.parametrize("path", APPEND_PATHS)
    @pytest.mark.parametrize(
        "content_type",
        [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"],
        ids=str,
    )
    async def test_a_valid_event_without_a_json_content_type_is_refused(
        self, activity, auth, db, org, path: str, content_type: str | None
    ) -> None:
        headers = auth()
        if content_type is not None:
            headers["Content-Type"] = content_type
        r = await activity.post(path, content=orjson.dumps(valid_body(path)), headers=headers)
        assert "content-type" not in r.request.headers or content_type is not None
        assert_problem(r, 415, fields=("content-type",), location="header")
        await assert_nothing_stored(db, org)


class TestAnOversizedBodyIsA413:
    """ACTIVITY_MAX_BODY_BYTES defaults to 4 MiB; 5 MB must be refused before it is parsed."""

    FIVE_MB = 5_000_000

    @pytest.mark.parametrize("path", APPEND_PATHS)
    async def test_a_5_mb_body_with_a_content_length_is_refused(
        self, activity, auth, db, org, path: str
    ) -> None:
        event = with_data(make_event(), note="x" * 4000)
        body = {"events": [event] * (self.FIVE_MB // 4100)}
        content = orjson.dumps(body if path.endswith("batch") else {**event, "padding": body})
        assert len(content) > self.FIVE_MB
        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post(path, content=content, headers=headers)
        assert_problem(r, 413)
        await assert_nothing_stored(db, org)

    async def test_a_small_chunked_body_is_accepted(self, activity, auth, db, org) -> None:
        """Control for the next test: chunked transfer itself is fine."""
        content = orjson.dumps(make_event())

        async def chunks() -> AsyncIterator[bytes]:
            yield content

        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post("/v1/events", content=chunks(), headers=headers)
        assert "content-length" not in r.request.headers
        assert r.status_code == 201, r.text
        assert await stored(db, org) == 1

    async def test_a_5_mb_chunked_body_without_a_content_length_is_refused(
        self, activity, auth, db, org
    ) -> None:
        """BodySizeLimit's error raised inside receive() used to be caught by FastAPI's body
        reader and answered as 400 'There was an error parsing the body'."""

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(50):
                yield b" " * 100_000

        headers = {**auth(), "Content-Type": "application/json"}
        r = await activity.post("/v1/events", content=chunks(), headers=headers)
        assert "content-length" not in r.request.headers
        assert_problem(r, 413)
        await assert_nothing_stored(db, org)


# --------------------------------------------------------------------------------- batch shape


class TestTheBatchItselfMustBeWellFormed:
    async def test_1001_events_is_a_422_naming_events(self, activity, auth, db, org) -> None:
        body = {"events": [make_event() for _ in range(1001)]}
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert_problem(r, 422, fields=("events",), location="body")
        await assert_nothing_stored(db, org)

    async def test_1000_events_is_accepted(self, activity, auth, db, org) -> None:
        """Control: the limit is inclusive."""
        body = {"events": [make_event(stream=f"lead-L{i}") for i in range(1000)]}
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert r.status_code == 201, r.text
        assert await stored(db, org) == 1000

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"events": []}, id="empty list"),
            pytest.param({"events": {}}, id="events an object"),
            pytest.param({"events": None}, id="events null"),
            pytest.param({}, id="events missing"),
        ],
    )
    async def test_a_batch_without_a_list_of_events_is_a_422_naming_events(
        self, activity, auth, db, org, body: dict[str, Any]
    ) -> None:
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert_problem(r, 422, fields=("events",), location="body")
        await assert_nothing_stored(db, org)

    async def test_an_unknown_top_level_key_is_a_422_naming_it(
        self, activity, auth, db, org
    ) -> None:
        body = {"events": [make_event()], "atomic": True}
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert_problem(r, 422, fields=("atomic",))
        await assert_nothing_stored(db, org)

    async def test_a_single_event_posted_to_the_batch_endpoint_is_a_422(
        self, activity, auth, db, org
    ) -> None:
        r = await activity.post("/v1/events/batch", json=make_event(), headers=auth())
        assert_problem(r, 422, fields=("events",))
        await assert_nothing_stored(db, org)

    async def test_every_bad_item_is_named_not_only_the_first(
        self, activity, auth, db, org
    ) -> None:
        body = batch_with_bad_item(make_event(event_id="nope"), index=3)
        body["events"][17] = with_data(make_event(WON), amount=5)
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert_problem(r, 422, fields=("events[3].event_id", "events[17].data.amount"))
        await assert_nothing_stored(db, org)


# --------------------------------------------------------------------------------- rules


class TestABatchBrokenByAnAppendRuleStoresNothing:
    """Items 0–16 are valid and would be stored on their own; item 17 breaks a rule."""

    async def test_a_rep_appending_for_another_rep_is_a_403_naming_the_item(
        self, activity, auth, db, org
    ) -> None:
        events = [make_event(rep_id="rep-1", team_id="t1") for _ in range(BATCH_SIZE)]
        events[BAD_INDEX]["rep_id"] = "rep-2"
        r = await activity.post(
            "/v1/events/batch", json={"events": events}, headers=auth("rep", sub="rep-1", team="t1")
        )
        assert_problem(r, 403, fields=(f"events[{BAD_INDEX}].rep_id",))
        await assert_nothing_stored(db, org)

    async def test_a_rep_appending_for_another_team_is_a_403_naming_the_item(
        self, activity, auth, db, org
    ) -> None:
        events = [make_event(rep_id=None, team_id=None) for _ in range(BATCH_SIZE)]
        events[BAD_INDEX]["team_id"] = "t2"
        r = await activity.post(
            "/v1/events/batch", json={"events": events}, headers=auth("rep", sub="rep-1", team="t1")
        )
        assert_problem(r, 403, fields=(f"events[{BAD_INDEX}].team_id",))
        await assert_nothing_stored(db, org)

    async def test_a_stale_expected_version_is_a_409_naming_the_item(
        self, activity, auth, db, org
    ) -> None:
        bad_item = make_event(stream="lead-brand-new", expected_version=4)
        r = await activity.post(
            "/v1/events/batch", json=batch_with_bad_item(bad_item), headers=auth()
        )
        assert_problem(r, 409, fields=(f"events[{BAD_INDEX}].expected_version",))
        await assert_nothing_stored(db, org)

    async def test_an_event_id_reused_for_other_content_is_a_409_naming_the_item(
        self, activity, auth, db, org
    ) -> None:
        body = batch_with_bad_item(make_event())
        body["events"][BAD_INDEX] = make_event(WON, event_id=body["events"][3]["event_id"])
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert_problem(r, 409, fields=(f"events[{BAD_INDEX}].event_id",))
        await assert_nothing_stored(db, org)

    async def test_voiding_an_unknown_event_is_a_422_naming_the_item(
        self, activity, auth, db, org
    ) -> None:
        bad_item = make_event("event.voided")  # names an event that does not exist in this org
        r = await activity.post(
            "/v1/events/batch", json=batch_with_bad_item(bad_item), headers=auth()
        )
        assert_problem(r, 422, fields=(f"events[{BAD_INDEX}].data.voided_event_id",))
        await assert_nothing_stored(db, org)


class TestASingleEventBrokenByAnAppendRuleIsRefused:
    async def test_a_rep_appending_for_another_rep_is_a_403_naming_rep_id(
        self, activity, auth, db, org
    ) -> None:
        event = make_event(rep_id="rep-2", team_id=None)
        r = await activity.post(
            "/v1/events", json=event, headers=auth("rep", sub="rep-1", team="t1")
        )
        assert_problem(r, 403, fields=("rep_id",))
        await assert_nothing_stored(db, org)

    async def test_a_manager_appending_for_another_team_is_a_403_naming_team_id(
        self, activity, auth, db, org
    ) -> None:
        event = make_event(team_id="t2")
        r = await activity.post("/v1/events", json=event, headers=auth("manager", team="t1"))
        assert_problem(r, 403, fields=("team_id",))
        await assert_nothing_stored(db, org)

    async def test_expected_version_on_a_new_stream_other_than_0_is_a_409(
        self, activity, auth, db, org
    ) -> None:
        r = await activity.post("/v1/events", json=make_event(expected_version=3), headers=auth())
        assert_problem(r, 409, fields=("expected_version",))
        await assert_nothing_stored(db, org)

    async def test_voiding_an_unknown_event_is_a_422_naming_voided_event_id(
        self, activity, auth, db, org
    ) -> None:
        r = await activity.post("/v1/events", json=make_event("event.voided"), headers=auth())
        assert_problem(r, 422, fields=("data.voided_event_id",))
        await assert_nothing_stored(db, org)


# --------------------------------------------------------------------------------- reads

FEED_BAD_QUERIES = [
    pytest.param({"limit": "0"}, "limit", id="limit=0"),
    pytest.param({"limit": "-1"}, "limit", id="limit=-1"),
    pytest.param({"limit": "1001"}, "limit", id="limit=1001"),
    pytest.param({"limit": "abc"}, "limit", id="limit=abc"),
    pytest.param({"limit": "1.5"}, "limit", id="limit=1.5"),
    pytest.param({"wait": "31"}, "wait", id="wait=31"),
    pytest.param({"wait": "-1"}, "wait", id="wait=-1"),
    pytest.param({"wait": "abc"}, "wait", id="wait=abc"),
    pytest.param({"wait": "nan"}, "wait", id="wait=nan"),
    pytest.param({"wait": "inf"}, "wait", id="wait=inf"),
    pytest.param({"after": "%%%"}, "after", id="after=%%%"),
    pytest.param({"after": "Zm9v"}, "after", id="after=Zm9v (foo)"),
    pytest.param({"after": cursor_of("v1.abc")}, "after", id="after=v1.abc"),
    pytest.param({"after": cursor_of("v1.-5")}, "after", id="after=v1.-5"),
    pytest.param({"after": cursor_of("v2.5")}, "after", id="after=v2.5"),
    pytest.param({"after": "\u00e9t\u00e9"}, "after", id="after non-ASCII"),
    pytest.param(
        {"after": cursor_of("v1." + "9" * 30)},
        "after",
        id="after=v1.<beyond bigint>",  # was a 500: asyncpg DataError, value out of int64 range
    ),
    pytest.param({"after": cursor_of(f"v1.{2**63}")}, "after", id="after=v1.<bigint max + 1>"),
    pytest.param({"types": "visit.loged"}, "types", id="types=unknown"),
    pytest.param({"types": "visit.logged,deal.lost,nope"}, "types", id="types=one unknown of 3"),
    pytest.param({"types": "VISIT.LOGGED"}, "types", id="types=uppercase"),
]


class TestTheFeedRefusesBadQueryParameters:
    @pytest.mark.parametrize(("params", "field"), FEED_BAD_QUERIES)
    async def test_a_bad_parameter_is_a_422_naming_it(
        self, activity, auth, params: dict[str, str], field: str
    ) -> None:
        r = await activity.get("/v1/events", params=params, headers=auth())
        assert_problem(r, 422, fields=(field,), location="query")

    async def test_a_cursor_the_api_issued_is_accepted(self, activity, auth) -> None:
        """Control: the garbage cursors above fail for being garbage, not for being cursors."""
        first = await activity.get("/v1/events", headers=auth())
        assert first.status_code == 200, first.text
        again = await activity.get(
            "/v1/events", params={"after": first.json()["next"]}, headers=auth()
        )
        assert again.status_code == 200, again.text


STREAM_BAD_QUERIES = [p for p in FEED_BAD_QUERIES if next(iter(p.values[0])) in {"limit", "after"}]


class TestAStreamReadRefusesBadInput:
    @pytest.mark.parametrize(("params", "field"), STREAM_BAD_QUERIES)
    async def test_a_bad_parameter_is_a_422_naming_it(
        self, activity, auth, params: dict[str, str], field: str
    ) -> None:
        r = await activity.get("/v1/streams/deal-D-88", params=params, headers=auth())
        assert_problem(r, 422, fields=(field,), location="query")

    @pytest.mark.parametrize("stream", ["opportunity-1", "deal-", "lead-a%20b"])
    async def test_a_bad_stream_name_is_a_422_naming_stream(self, activity, auth, stream) -> None:
        r = await activity.get(f"/v1/streams/{stream}", headers=auth())
        assert_problem(r, 422, fields=("stream",), location="path")

    async def test_an_event_id_that_is_not_a_uuid_is_a_422_naming_event_id(
        self, activity, auth
    ) -> None:
        r = await activity.get("/v1/events/not-a-uuid", headers=auth())
        assert_problem(r, 422, fields=("event_id",), location="path")


# --------------------------------------------------------------------------------- auth

Request = tuple[str, str, Callable[[], Any]]
ENDPOINTS = [
    pytest.param(("POST", "/v1/events", make_event), id="POST /v1/events"),
    pytest.param(
        ("POST", "/v1/events/batch", lambda: {"events": [make_event()]}), id="POST /v1/events/batch"
    ),
    pytest.param(("GET", "/v1/events", lambda: None), id="GET /v1/events"),
    pytest.param(("GET", f"/v1/events/{uuid.uuid4()}", lambda: None), id="GET /v1/events/{id}"),
    pytest.param(("GET", "/v1/streams/deal-D-88", lambda: None), id="GET /v1/streams/{stream}"),
]


def _claims(org_id: str, **overrides: Any) -> dict[str, Any]:
    claims = {"org": org_id, "role": "admin", "sub": "user-1", "exp": int(time.time()) + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


BAD_CREDENTIALS = [
    pytest.param(lambda auth, org: {}, id="no Authorization header"),
    pytest.param(lambda auth, org: {"Authorization": "Bearer"}, id="Bearer without a token"),
    pytest.param(lambda auth, org: {"Authorization": "Basic dXNlcjpwdw=="}, id="Basic scheme"),
    pytest.param(lambda auth, org: {"Authorization": "Bearer not-a-jwt"}, id="not a JWT"),
    pytest.param(lambda auth, org: auth(ttl=-10), id="expired"),
    pytest.param(lambda auth, org: auth(secret=OTHER_SECRET), id="signed with another secret"),
    pytest.param(
        lambda auth, org: raw_token(None, algorithm="none", **_claims(org)), id="alg none"
    ),
    pytest.param(lambda auth, org: raw_token(**_claims(org, role="superuser")), id="unknown role"),
    pytest.param(lambda auth, org: raw_token(**_claims(org, role=None)), id="no role"),
    pytest.param(lambda auth, org: raw_token(**_claims(org, org=None)), id="no org"),
    pytest.param(lambda auth, org: raw_token(**_claims(org, exp=None)), id="no exp"),
    pytest.param(lambda auth, org: raw_token(**_claims(org, team=7)), id="team not a string"),
    pytest.param(lambda auth, org: auth("manager"), id="manager without team"),
]


async def send(
    client: httpx.AsyncClient, request: Request, headers: dict[str, str]
) -> httpx.Response:
    method, path, body = request
    payload = body()
    if payload is None:
        return await client.request(method, path, headers=headers)
    return await client.request(method, path, json=payload, headers=headers)


class TestEveryEndpointRefusesBadCredentialsWith401:
    @pytest.mark.parametrize("request_", ENDPOINTS)
    @pytest.mark.parametrize("credentials", BAD_CREDENTIALS)
    async def test_the_answer_is_401_with_a_bearer_challenge_and_nothing_is_stored(
        self, activity, auth, db, org, request_: Request, credentials: Any
    ) -> None:
        r = await send(activity, request_, credentials(auth, org))
        assert_problem(r, 401)
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.headers
        await assert_nothing_stored(db, org)

    @pytest.mark.parametrize("request_", ENDPOINTS)
    async def test_a_valid_token_gets_past_authentication(
        self, activity, auth, request_: Request
    ) -> None:
        """Control: the same requests with a good admin token are not refused."""
        r = await send(activity, request_, auth())
        assert r.status_code in {200, 201, 404}, r.text


class TestABiTokenReadsOnly:
    @pytest.mark.parametrize("request_", [p for p in ENDPOINTS if p.values[0][0] == "POST"])
    async def test_appending_with_a_bi_token_is_a_403_and_stores_nothing(
        self, activity, auth, db, org, request_: Request
    ) -> None:
        r = await send(activity, request_, auth("bi", sub="metabase"))
        assert_problem(r, 403)
        assert "www-authenticate" not in r.headers
        await assert_nothing_stored(db, org)

    async def test_reading_the_feed_with_a_bi_token_is_allowed(self, activity, auth) -> None:
        r = await activity.get("/v1/events", headers=auth("bi", sub="metabase"))
        assert r.status_code == 200, r.text
