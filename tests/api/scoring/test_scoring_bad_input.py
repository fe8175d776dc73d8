"""Bad input to the scoring API: a 4xx `application/problem+json` whose `errors` name the field
at fault (as activity does, tests/api/activity/test_bad_input.py), 401 for a bad token, never a
500. A 500 would surface here as the exception the in-process transport re-raises.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import httpx
import jwt
import orjson
import pytest

from tests.api.scoring.helpers import assert_problem, at, span, visit
from tests.conftest import JWT_SECRET

OTHER_SECRET = "another-secret-" + "y" * 32


def case(case_id: str, params: dict[str, Any], *fields: str, marks: Any = ()) -> Any:
    return pytest.param(params, fields, id=case_id, marks=marks)


async def get(
    scoring: httpx.AsyncClient, path: str, params: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await scoring.get(path, params=params, headers=headers)


# --------------------------------------------------------------------------------- /v1/kpis

KPI_CASES = [
    case("owner boss", {"owner": "boss"}, "owner"),
    case("owner rep without id", {"owner": "rep:"}, "owner"),
    case("owner team without id", {"owner": "team:"}, "owner"),
    case("owner org with id", {"owner": "org:acme"}, "owner"),
    case("owner kind in capitals", {"owner": "REP:r1"}, "owner"),
    case("owner empty id after colon twice", {"owner": ":r1"}, "owner"),
    case("period unknown", {"period": "fortnight"}, "period"),
    case("period in capitals", {"period": "MONTH"}, "period"),
    case("from not a date", {"from": "yesterday"}, "from"),
    case("from not a calendar day", {"from": "2026-02-30"}, "from"),
    case("from as Unix seconds", {"from": "86400"}, "from"),
    case("to as digits", {"to": "20261101"}, "to"),
    case("from as Unix seconds in exponent form", {"from": "1.79496e9"}, "from"),
    case("metrics unknown", {"metrics": "visits,profit"}, "metrics"),
    case("metrics only commas", {"metrics": ",,"}, "metrics"),
    case("currency not ISO 4217", {"currency": "EURO"}, "currency"),
    case("currency in lower case", {"currency": "eur"}, "currency"),
    case("as_of naive", {"as_of": "2026-07-01T10:00:00"}, "as_of"),
    case("as_of garbage", {"as_of": "last tuesday"}, "as_of"),
    case("as_of with an impossible offset", {"as_of": "2026-07-01T10:00:00+25:00"}, "as_of"),
    case("as_of as Unix seconds", {"as_of": "1795000000"}, "as_of"),
    case("as_of as fractional Unix seconds", {"as_of": "1795000000.5"}, "as_of"),
    case("as_of as Unix seconds in exponent form", {"as_of": "1.79496e9"}, "as_of"),
    case("to before from", span("2026-07-31", "2026-07-01"), "to"),
    case("1001 daily buckets", {"period": "day", **span("2026-01-01", "2028-09-27")}, "to"),
    case("1001 weekly buckets", {"period": "week", **span("2026-01-05", "2045-03-06")}, "to"),
]


class TestKpisRefuseABadQueryNamingTheParameter:
    @pytest.mark.parametrize(("params", "fields"), KPI_CASES)
    async def test_422_problem_naming_it(self, scoring, auth, params, fields) -> None:
        answer = await get(scoring, "/v1/kpis", params, auth())
        assert_problem(answer, 422, *fields, location="query")

    async def test_exactly_1000_buckets_are_served(self, scoring, auth) -> None:
        params = {"period": "day", "metrics": "visits", **span("2026-01-01", "2028-09-26")}
        answer = await get(scoring, "/v1/kpis", params, auth())
        assert answer.status_code == 200, answer.text
        buckets = answer.json()["buckets"]
        assert len(buckets) == 1000
        assert (buckets[0]["start"], buckets[-1]["end"]) == ("2026-01-01", "2028-09-26")

    async def test_every_unknown_metric_is_named_in_the_detail(self, scoring, auth) -> None:
        answer = await get(scoring, "/v1/kpis", {"metrics": "profit,visits,margin"}, auth())
        body = assert_problem(answer, 422, "metrics", location="query")
        assert len(body["errors"]) == 2
        assert "profit" in body["detail"]
        assert "margin" in body["detail"]


# --------------------------------------------------------------------------------- /v1/funnel

FUNNEL_CASES = [
    case("owner boss", {"owner": "boss"}, "owner"),
    case("owner rep without id", {"owner": "rep:"}, "owner"),
    case("from not a date", {"from": "2026-7-1"}, "from"),
    case("as_of naive", {"as_of": "2026-07-01T10:00:00"}, "as_of"),
    case("as_of garbage", {"as_of": "soon"}, "as_of"),
    case("as_of as Unix seconds", {"as_of": "1795000000"}, "as_of"),
    case("from as Unix seconds", {"from": "0"}, "from"),
    case("to as a tiny exponent", {"to": "-1.00000000e-10"}, "to"),
    case("to before from", span("2026-07-31", "2026-07-01"), "to"),
]


class TestTheFunnelRefusesABadQueryNamingTheParameter:
    @pytest.mark.parametrize(("params", "fields"), FUNNEL_CASES)
    async def test_422_problem_naming_it(self, scoring, auth, params, fields) -> None:
        answer = await get(scoring, "/v1/funnel", params, auth())
        assert_problem(answer, 422, *fields, location="query")


# --------------------------------------------------------------------------------- /v1/leaderboard

LEADERBOARD_CASES = [
    case("no metric", {}, "metric"),
    case("metric unknown", {"metric": "profit"}, "metric"),
    case("open pipeline", {"metric": "open_pipeline"}, "metric"),
    case("weighted pipeline", {"metric": "weighted_pipeline"}, "metric"),
    case("repeat purchase rate", {"metric": "repeat_purchase_rate"}, "metric"),
    case("scope a rep", {"metric": "visits", "scope": "rep:x"}, "scope"),
    case("scope garbage", {"metric": "visits", "scope": "boss"}, "scope"),
    case("scope team without id", {"metric": "visits", "scope": "team:"}, "scope"),
    case("period unknown", {"metric": "visits", "period": "decade"}, "period"),
    case("at not a date", {"metric": "visits", "at": "today"}, "at"),
    case("at as Unix seconds", {"metric": "visits", "at": "1795046400"}, "at"),
    case("currency not ISO 4217", {"metric": "revenue_won", "currency": "ABC"}, "currency"),
]


class TestTheLeaderboardRefusesABadQueryNamingTheParameter:
    @pytest.mark.parametrize(("params", "fields"), LEADERBOARD_CASES)
    async def test_422_problem_naming_it(self, scoring, auth, params, fields) -> None:
        answer = await get(scoring, "/v1/leaderboard", params, auth())
        assert_problem(answer, 422, *fields, location="query")


# --------------------------------------------------------------------------------- export


def cursor_of(key: Any) -> str:
    """A cursor in the export's old readable form (refused: cursors are sealed), around any JSON."""
    return "k2." + base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def sealed(key: list[str], org: str) -> str:
    """A cursor sealed as the export seals its own (what a holder of the key could forge)."""
    from shared.pagination import encode_keyset

    return encode_keyset("k2", key, org)


async def a_real_cursor_key(scoring: httpx.AsyncClient, post_events, auth, org) -> list[str]:
    """The key inside a real X-Next-Cursor of this test's org (so forged cursors follow the
    current key layout)."""
    last = await post_events(
        [visit("r1", "t1", "acc-A", at("2026-07-01")), visit("r2", "t1", "acc-A", at("2026-07-02"))]
    )
    from tests.api.scoring.conftest import settled

    await settled(scoring, auth(), last)
    answer = await scoring.get("/v1/export/kpis", params={"limit": 1}, headers=auth())
    from shared.pagination import decode_keyset

    return decode_keyset("k2", answer.headers["x-next-cursor"], 2, org)


def with_day(key: list[str], day: str) -> list[str]:
    """`key` with its day replaced by `day`."""
    index = next(i for i, k in enumerate(key) if len(k) == 10 and _is_day(k))
    return [day if i == index else k for i, k in enumerate(key)]


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


EXPORT_CASES = [
    case("format unknown", {"format": "xml"}, "format"),
    case("format in capitals", {"format": "CSV"}, "format"),
    case("limit 0", {"limit": 0}, "limit"),
    case("limit 100001", {"limit": 100_001}, "limit"),
    case("limit not a number", {"limit": "ten"}, "limit"),
    case("owner boss", {"owner": "boss"}, "owner"),
    case("cursor garbage", {"cursor": "garbage"}, "cursor"),
    case("cursor of the feed", {"cursor": "djEuMw"}, "cursor"),
    case("cursor prefix only", {"cursor": "k2."}, "cursor"),
    case("cursor not base64", {"cursor": "k2.###"}, "cursor"),
    case(
        "cursor not JSON", {"cursor": "k2." + base64.urlsafe_b64encode(b"{oops").decode()}, "cursor"
    ),
    case("cursor an object", {"cursor": cursor_of({"day": "2026-07-01"})}, "cursor"),
    case("cursor too short", {"cursor": cursor_of(["r1", "2026-07-01"])}, "cursor"),
    case("cursor of numbers", {"cursor": cursor_of(list(range(8)))}, "cursor"),
]


class TestTheExportRefusesABadQueryNamingTheParameter:
    @pytest.mark.parametrize(("params", "fields"), EXPORT_CASES)
    async def test_422_problem_naming_it(self, scoring, auth, params, fields) -> None:
        answer = await get(scoring, "/v1/export/kpis", params, auth())
        assert_problem(answer, 422, *fields, location="query")

    async def test_a_cursor_with_an_impossible_day_is_refused(
        self, scoring, post_events, auth, org
    ) -> None:
        key = await a_real_cursor_key(scoring, post_events, auth, org)
        forged = sealed(with_day(key, "2026-13-45"), org)
        answer = await get(scoring, "/v1/export/kpis", {"cursor": forged}, auth())
        assert_problem(answer, 422, "cursor", location="query")

    async def test_the_refusal_comes_before_any_row(self, scoring, auth) -> None:
        answer = await get(scoring, "/v1/export/kpis", {"format": "csv", "cursor": "x"}, auth())
        assert_problem(answer, 422, "cursor")
        assert "link" not in answer.headers
        assert "x-next-cursor" not in answer.headers


# --------------------------------------------------------------------------------- settings

SETTINGS_CASES = [
    case("timezone unknown", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    case("timezone a region only", {"timezone": "Europe"}, "timezone"),
    case("timezone a path", {"timezone": "../../etc/passwd"}, "timezone"),
    case("timezone empty", {"timezone": ""}, "timezone"),
    case("timezone a number", {"timezone": 1}, "timezone"),
    case("timezone missing", {"currency": "EUR"}, "timezone"),
    case("currency not ISO 4217", {"timezone": "UTC", "currency": "EURO"}, "currency"),
    case("currency in lower case", {"timezone": "UTC", "currency": "eur"}, "currency"),
    case("currency a number", {"timezone": "UTC", "currency": 978}, "currency"),
    case(
        "an unknown field",
        {"timezone": "UTC", "colour": "red"},
        "colour",
    ),
    case(
        "a misspelt field",
        {"timezone": "UTC", "curency": "USD"},
        "curency",
    ),
]


class TestSettingsRefuseABadBodyNamingTheField:
    @pytest.mark.parametrize(("body", "fields"), SETTINGS_CASES)
    async def test_422_problem_naming_it_and_nothing_changes(
        self, scoring, auth, body, fields
    ) -> None:
        answer = await scoring.put("/v1/settings", json=body, headers=auth())
        assert_problem(answer, 422, *fields, location="body")
        settings = await scoring.get("/v1/settings", headers=auth())
        assert settings.json() == {"timezone": "UTC", "currency": None}

    async def test_a_body_that_is_not_json_is_a_400_naming_body(self, scoring, auth) -> None:
        answer = await scoring.put(
            "/v1/settings",
            content=b"timezone=UTC",
            headers={**auth(), "content-type": "application/json"},
        )
        body = assert_problem(answer, 400, "body")
        assert body["type"] == "urn:salesperf:problem:malformed-json"

    async def test_a_body_that_is_not_an_object_is_a_422_naming_body(self, scoring, auth) -> None:
        answer = await scoring.put("/v1/settings", json=["UTC"], headers=auth())
        assert_problem(answer, 422, "body")

    async def test_an_empty_body_is_a_422_naming_body(self, scoring, auth) -> None:
        answer = await scoring.put(
            "/v1/settings", content=b"", headers={**auth(), "content-type": "application/json"}
        )
        assert_problem(answer, 422, "body")

    async def test_a_body_sent_as_text_is_a_415_naming_the_content_type(
        self, scoring, auth
    ) -> None:
        answer = await scoring.put(
            "/v1/settings",
            content=b'{"timezone": "UTC"}',
            headers={**auth(), "content-type": "text/plain"},
        )
        assert_problem(answer, 415, "content-type", location="header")


# --------------------------------------------------------------------------------- tokens


def raw_token(secret: str | None = JWT_SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bad_headers(kind: str, auth: Any, org: str) -> dict[str, str]:
    exp = 4_000_000_000
    makers = {
        "missing": lambda: {},
        "not bearer": lambda: {"Authorization": "Basic dXNlcjpwdw=="},
        "bearer without a token": lambda: {"Authorization": "Bearer "},
        "not a JWT": lambda: bearer("not-a-jwt"),
        "forged": lambda: auth(secret=OTHER_SECRET),
        "expired": lambda: auth(ttl=-60),
        "unsigned": lambda: bearer(
            raw_token(None, "none", org=org, role="admin", sub="x", exp=exp)
        ),
        "no expiry": lambda: bearer(raw_token(org=org, role="admin", sub="x")),
        "unknown role": lambda: bearer(raw_token(org=org, role="owner", sub="x", exp=exp)),
        "manager without a team": lambda: bearer(
            raw_token(org=org, role="manager", sub="x", exp=exp)
        ),
        "no org": lambda: bearer(raw_token(role="admin", sub="x", exp=exp)),
    }
    headers: dict[str, str] = makers[kind]()
    return headers


TOKENS = [
    "missing",
    "not bearer",
    "bearer without a token",
    "not a JWT",
    "forged",
    "expired",
    "unsigned",
    "no expiry",
    "unknown role",
    "manager without a team",
    "no org",
]
ENDPOINTS = [
    ("GET", "/v1/kpis"),
    ("GET", "/v1/funnel"),
    ("GET", "/v1/leaderboard?metric=visits"),
    ("GET", "/v1/metrics"),
    ("GET", "/v1/export/kpis"),
    ("GET", "/v1/settings"),
    ("PUT", "/v1/settings"),
    ("POST", "/v1/admin/rebuild"),
    ("GET", "/v1/admin/rebuild"),
]


class TestABadTokenIsA401:
    @pytest.mark.parametrize("kind", TOKENS)
    async def test_every_kind_of_bad_token_on_kpis(self, scoring, auth, org, kind) -> None:
        answer = await scoring.get("/v1/kpis", headers=bad_headers(kind, auth, org))
        body = assert_problem(answer, 401)
        assert body["type"] == "urn:salesperf:problem:unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(("method", "path"), ENDPOINTS)
    @pytest.mark.parametrize("kind", ["missing", "forged", "expired"])
    async def test_every_route_refuses_it(self, scoring, auth, org, method, path, kind) -> None:
        answer = await scoring.request(
            method,
            path,
            headers=bad_headers(kind, auth, org),
            json={"timezone": "Europe/Berlin"} if method == "PUT" else None,
        )
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"] == "Bearer"

    async def test_a_refused_settings_change_changes_nothing(self, scoring, auth, org) -> None:
        await scoring.put("/v1/settings", json={"timezone": "Europe/Berlin"}, headers=auth(ttl=-60))
        assert (await scoring.get("/v1/settings", headers=auth())).json()["timezone"] == "UTC"


# --------------------------------------------------------------------------------- the range


class TestToIsHonoured:
    """`to` (not a parameter of another name) sets the last day, and is checked."""

    @pytest.mark.parametrize("path", ["/v1/kpis", "/v1/funnel"])
    async def test_to_not_a_date_is_a_422_naming_to(self, scoring, auth, path) -> None:
        answer = await get(scoring, path, {"from": "2026-07-01", "to": "end of july"}, auth())
        assert_problem(answer, 422, "to", location="query")

    @pytest.mark.parametrize("path", ["/v1/kpis", "/v1/funnel"])
    async def test_to_before_from_is_a_422_naming_to(self, scoring, auth, path) -> None:
        answer = await get(scoring, path, {"from": "2026-07-31", "to": "2026-07-01"}, auth())
        assert_problem(answer, 422, "to", location="query")

    async def test_more_than_1000_buckets_is_a_422_naming_to(self, scoring, auth) -> None:
        params = {"period": "day", "from": "2026-01-01", "to": "2028-09-27"}
        answer = await get(scoring, "/v1/kpis", params, auth())
        assert_problem(answer, 422, "to", location="query")

    async def test_to_sets_the_last_bucket(self, scoring, auth) -> None:
        params = {"period": "month", "metrics": "visits", "from": "2026-07-01", "to": "2026-08-31"}
        answer = await get(scoring, "/v1/kpis", params, auth())
        assert answer.status_code == 200, answer.text
        assert answer.json()["to"] == "2026-08-31"
        assert [b["start"] for b in answer.json()["buckets"]] == ["2026-07-01", "2026-08-01"]


def assert_no_500_and_named(answer: httpx.Response, *fields: str) -> None:
    """Either an answer (200) or a 422 naming the field; never a 500."""
    if answer.status_code != 200:
        assert_problem(answer, 422, *fields, location="query")


LAST_DAY = "9999-12-31"


class TestNeverA500:
    @pytest.mark.parametrize(
        ("path", "params", "field"),
        [
            pytest.param(
                "/v1/kpis", {"period": "day", "from": LAST_DAY}, "from", id="kpis last day"
            ),
            pytest.param(
                "/v1/kpis", {"period": "month", "from": "9999-12-01"}, "from", id="kpis last month"
            ),
            pytest.param(
                "/v1/kpis",
                {"period": "year", **span("9999-01-01", LAST_DAY)},
                "to",
                id="kpis last year",
            ),
            pytest.param("/v1/funnel", {"from": "9999-12-15"}, "from", id="funnel last month"),
            pytest.param(
                "/v1/leaderboard",
                {"metric": "visits", "at": LAST_DAY},
                "at",
                id="leaderboard last day",
            ),
            pytest.param(
                "/v1/kpis", {"period": "week", "from": "0001-01-01"}, "from", id="kpis first week"
            ),
            pytest.param(
                "/v1/kpis", {"period": "day", "from": "0001-01-01"}, "from", id="kpis first day"
            ),
        ],
    )
    async def test_the_ends_of_the_calendar(self, scoring, auth, path, params, field) -> None:
        assert_no_500_and_named(await get(scoring, path, params, auth()), field)

    @pytest.mark.parametrize(
        ("path", "params", "field"),
        [
            pytest.param("/v1/kpis", {"owner": "rep:r\x001"}, "owner", id="owner"),
            pytest.param(
                "/v1/kpis", {"product_line": "ov\x00ens"}, "product_line", id="product_line"
            ),
            pytest.param("/v1/kpis", {"tier": "\x00"}, "tier", id="tier"),
            pytest.param("/v1/funnel", {"channel": "on\x00line"}, "channel", id="channel"),
            pytest.param(
                "/v1/leaderboard", {"metric": "visits", "scope": "team:t\x001"}, "scope", id="scope"
            ),
            pytest.param("/v1/export/kpis", {"owner": "rep:\x00"}, "owner", id="export owner"),
            pytest.param("/v1/kpis", {"metrics": "visits\x00"}, "metrics", id="metrics"),
            pytest.param("/v1/kpis", {"currency": "EU\x00"}, "currency", id="currency"),
        ],
    )
    async def test_a_nul_character_in_a_parameter(self, scoring, auth, path, params, field) -> None:
        answer = await get(scoring, path, params, auth())
        assert_problem(answer, 422, field, location="query")

    async def test_an_export_cursor_with_an_iso_week_day(
        self, scoring, post_events, auth, org
    ) -> None:
        key = await a_real_cursor_key(scoring, post_events, auth, org)
        forged = sealed(with_day(key, "2026-W27-3"), org)
        answer = await get(scoring, "/v1/export/kpis", {"cursor": forged}, auth())
        assert_problem(answer, 422, "cursor", location="query")


class TestTheRangeIsTheSystemsOne:
    """Scoring takes the days and moments events may have (shared.dates), no more, no less."""

    @pytest.mark.parametrize(
        "as_of",
        ["2099-12-31T20:00:00+00:00", "2100-01-01T00:00:00+00:00", "1970-01-01T05:00:00+00:00"],
    )
    async def test_an_as_of_that_no_event_could_have_is_a_422(self, scoring, auth, as_of) -> None:
        params = {"period": "month", "from": "2026-11-01", "as_of": as_of}
        answer = await get(scoring, "/v1/kpis", params, auth())
        assert_problem(answer, 422, "as_of", location="query")

    async def test_a_day_in_2100_is_a_422(self, scoring, auth) -> None:
        answer = await get(scoring, "/v1/kpis", {"period": "day", "from": "2100-01-01"}, auth())
        assert_problem(answer, 422, "from", location="query")

    async def test_the_last_moment_an_event_may_have_is_answered(self, scoring, auth) -> None:
        params = {"period": "month", "from": "2026-11-01", "as_of": "2099-12-31T09:00:00+00:00"}
        assert (await get(scoring, "/v1/kpis", params, auth())).status_code == 200
