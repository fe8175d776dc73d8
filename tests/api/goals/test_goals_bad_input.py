"""Bad input to the goals API: a 4xx `application/problem+json` whose `errors` name the field at
fault (as tests/api/scoring/test_scoring_bad_input.py checks scoring's), 401 for a bad token,
never a 500 (the in-process transport would re-raise it), and nothing stored on a refusal.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.goals.helpers import assert_problem, count_goal, create, list_all, money_goal

OTHER_SECRET = "another-secret-" + "y" * 32


def case(case_id: str, body: dict[str, Any], *fields: str, marks: Any = ()) -> Any:
    return pytest.param(body, fields, id=case_id, marks=marks)


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


# --------------------------------------------------------------------------------- POST /v1/goals

CREATE_CASES = [
    case("unknown metric", count_goal(metric="profit"), "metric"),
    case("metric in capitals", count_goal(metric="VISITS"), "metric"),
    case("owner garbage", count_goal(owner="boss"), "owner"),
    case("owner rep without id", count_goal(owner="rep:"), "owner"),
    case("owner org with id", count_goal(owner="org:acme"), "owner"),
    case("owner kind in capitals", count_goal(owner="TEAM:t1"), "owner"),
    case("period unknown", count_goal(period="fortnight"), "period"),
    case("start not a date", count_goal(start="next monday"), "start"),
    case("start not a calendar day", count_goal(start="2026-02-30"), "start"),
    case("start as Unix seconds in a string", count_goal(start="1795046400"), "start"),
    case("start as a JSON number", count_goal(start=1795046400), "start"),
    case("start as Unix seconds in exponent form", count_goal(start="1.79496e9"), "start"),
    case("start before 1970", count_goal(period="year", start="0001-01-01"), "start"),
    case("week near the calendar's end", count_goal(period="week", start="9999-12-27"), "start"),
    case("month in year 9999", count_goal(start="9999-12-01"), "start"),
    case("week ending in 2100", count_goal(period="week", start="2099-12-28"), "start"),
    case("year starting 2 January", count_goal(period="year", start="2026-01-02"), "start"),
    case("quarter starting in February", count_goal(period="quarter", start="2026-02-01"), "start"),
    case("month starting on the 15th", count_goal(start="2026-03-15"), "start"),
    case("week starting on a Tuesday", count_goal(period="week", start="2026-03-03"), "start"),
    case("count target as a string", count_goal(target="10"), "target"),
    case("count target fractional", count_goal(target=10.5), "target"),
    case("count target a boolean", count_goal(target=True), "target"),
    case("count target negative", count_goal(target=-1), "target"),
    case("count target too large", count_goal(target=10**15), "target"),
    case("count target missing", without(count_goal(), "target"), "target"),
    case("money target a number", money_goal(target=10), "target"),
    case("money target three decimals", money_goal(target="10.001"), "target"),
    case("money target negative", money_goal(target="-5"), "target"),
    case("money target not a number", money_goal(target="ten"), "target"),
    case("money target NaN", money_goal(target="NaN"), "target"),
    case("money target infinite", money_goal(target="Infinity"), "target"),
    case("money target in exponent form, too large", money_goal(target="1e20"), "target"),
    case("yen target with decimals", money_goal(target="10.5", currency="JPY"), "target"),
    case("dinar target with four decimals", money_goal(target="1.0001", currency="KWD"), "target"),
    case("rate above 1", count_goal(metric="win_rate", target="1.5"), "target"),
    case("rate as a number", count_goal(metric="win_rate", target=1), "target"),
    case("rate with five decimals", count_goal(metric="win_rate", target="0.12345"), "target"),
    case("money without currency", without(money_goal(), "currency"), "currency"),
    case("currency on a count", count_goal(currency="EUR"), "currency"),
    case(
        "currency on a rate",
        count_goal(metric="win_rate", target="0.3", currency="EUR"),
        "currency",
    ),
    case("currency not ISO 4217", money_goal(currency="EURO"), "currency"),
    case("currency in lower case", money_goal(currency="eur"), "currency"),
    case("floor above target", count_goal(target=10, floor=11), "floor"),
    case("floor negative", count_goal(target=10, floor=-1), "floor"),
    case("money floor above target", money_goal(target="100.00", floor="100.01"), "floor"),
    case("stretch below target", count_goal(target=10, stretch=9), "stretch"),
    case(
        "stretch with too many decimals", money_goal(target="100.00", stretch="120.001"), "stretch"
    ),
    case("floor and buffer_pct", count_goal(floor=5, buffer_pct=10), "floor", "buffer_pct"),
    case("stretch and base_pct", count_goal(stretch=150, base_pct=80), "floor", "base_pct"),
    case(
        "buffer_pct and challenge_pct",
        count_goal(buffer_pct=10, challenge_pct=120),
        "buffer_pct",
        "base_pct",
    ),
    case("buffer_pct above 100", count_goal(buffer_pct=150), "buffer_pct"),
    case("buffer_pct negative", count_goal(buffer_pct=-5), "buffer_pct"),
    case("buffer_pct not a number", count_goal(buffer_pct="ten"), "buffer_pct"),
    case("base_pct above 100", count_goal(base_pct=120), "base_pct"),
    case("challenge_pct below 100", count_goal(challenge_pct=90), "challenge_pct"),
    case("extra field", count_goal(color="red"), "color"),
    case("tier D", count_goal(tier="D"), "tier"),
    case("channel unknown", count_goal(channel="tv"), "channel"),
    case("product_line with a space", count_goal(product_line="big ovens"), "product_line"),
    case("note with NUL", count_goal(note="a\u0000b"), "note"),
    case("team_id garbage", count_goal(owner="rep:r1", team_id="t 1"), "team_id"),
]


class TestCreatingRefusesABadBodyNamingTheField:
    @pytest.mark.parametrize(("body", "fields"), CREATE_CASES)
    async def test_422_problem_naming_it_and_nothing_stored(
        self, goals, auth, body, fields
    ) -> None:
        answer = await goals.post("/v1/goals", json=body, headers=auth())
        assert_problem(answer, 422, *fields, location="body")
        assert await list_all(goals, auth(), include_archived="true") == []

    async def test_a_body_that_is_not_json_is_a_400(self, goals, auth) -> None:
        answer = await goals.post(
            "/v1/goals",
            content=b'{"owner": "org", ',
            headers={**auth(), "Content-Type": "application/json"},
        )
        assert_problem(answer, 400, "body")
        assert await list_all(goals, auth()) == []

    async def test_a_body_that_is_a_json_list_is_a_422(self, goals, auth) -> None:
        answer = await goals.post("/v1/goals", json=[count_goal()], headers=auth())
        assert_problem(answer, 422)
        assert await list_all(goals, auth()) == []

    async def test_a_form_body_is_a_415(self, goals, auth) -> None:
        answer = await goals.post(
            "/v1/goals",
            content=b"owner=org",
            headers={**auth(), "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert_problem(answer, 415, "content-type")

    async def test_every_wrong_field_is_named_at_once(self, goals, auth) -> None:
        body = count_goal(owner="boss", period="fortnight", color="red")
        answer = await goals.post("/v1/goals", json=body, headers=auth())
        assert_problem(answer, 422, "owner", "period", "color")


# --------------------------------------------------------------------------------- PATCH

PATCH_CASES = [
    case("count target as a string", {"target": "90"}, "target"),
    case("count target negative", {"target": -3}, "target"),
    case("floor above target", {"floor": 101}, "floor"),
    case("stretch below target", {"stretch": 99}, "stretch"),
    case("two styles", {"floor": 50, "buffer_pct": 10}, "floor", "buffer_pct"),
    case("expected_revision 0", {"expected_revision": 0}, "expected_revision"),
    case("expected_revision true", {"expected_revision": True}, "expected_revision"),
    case("expected_revision a string", {"expected_revision": "1"}, "expected_revision"),
    case("archived not a boolean", {"archived": "yes"}, "archived"),
    case("owner cannot be changed", {"owner": "team:t2"}, "owner"),
    case("metric cannot be changed", {"metric": "calls"}, "metric"),
    case("reason too long", {"reason": "x" * 501}, "reason"),
]


class TestChangingRefusesABadPatchNamingTheField:
    @pytest.mark.parametrize(("body", "fields"), PATCH_CASES)
    async def test_422_problem_naming_it_and_no_new_revision(
        self, goals, auth, body, fields
    ) -> None:
        goal = await create(goals, auth(), count_goal())
        answer = await goals.patch(f"/v1/goals/{goal['id']}", json=body, headers=auth())
        assert_problem(answer, 422, *fields, location="body")
        after = (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json()
        assert after == goal

    async def test_a_money_target_as_a_number_is_refused(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal())
        answer = await goals.patch(f"/v1/goals/{goal['id']}", json={"target": 5}, headers=auth())
        assert_problem(answer, 422, "target")

    async def test_a_patch_of_an_unknown_goal_is_a_404(self, goals, auth) -> None:
        answer = await goals.patch(
            "/v1/goals/00000000-0000-4000-8000-000000000000", json={"target": 1}, headers=auth()
        )
        assert_problem(answer, 404)


# --------------------------------------------------------------------------------- decompose

DECOMPOSE_CASES = [
    case("by unknown", {"by": "region"}, "by"),
    case("by time without into", {"by": "time"}, "into"),
    case("into coarser than the period", {"by": "time", "into": "quarter"}, "into"),
    case("into the same period", {"by": "time", "into": "month"}, "into"),
    case("into unknown", {"by": "time", "into": "fortnight"}, "into"),
    case("strategy unknown", {"by": "time", "into": "week", "strategy": "random"}, "strategy"),
    case(
        "seasonal without weights",
        {"by": "time", "into": "week", "strategy": "seasonal"},
        "seasonal",
    ),
    case(
        "seasonal missing the goal's month",
        {"by": "time", "into": "week", "strategy": "seasonal", "seasonal": {"1": 1, "2": 1}},
        "seasonal",
    ),
    case(
        "seasonal month 13",
        {"by": "time", "into": "week", "strategy": "seasonal", "seasonal": {"13": 1}},
        "seasonal.13.[key]",
    ),
    case(
        "seasonal weight negative",
        {"by": "time", "into": "week", "strategy": "seasonal", "seasonal": {"3": -1}},
        "seasonal.3",
    ),
    case(
        "seasonal weights all zero",
        {"by": "time", "into": "week", "strategy": "seasonal", "seasonal": {"3": 0}},
        "seasonal",
    ),
    case(
        "seasonal weight not a number",
        {"by": "time", "into": "week", "strategy": "seasonal", "seasonal": {"3": "lots"}},
        "seasonal.3",
    ),
    case(
        "past_share is not a time strategy",
        {"by": "time", "into": "week", "strategy": "past_share"},
        "strategy",
    ),
    case("tier without weights", {"by": "tier"}, "weights"),
    case(
        "tier weights with tier D",
        {"by": "tier", "weights": {"A": 60, "B": 30, "D": 10}},
        "weights",
    ),
    case("tier weight negative", {"by": "tier", "weights": {"A": 60, "B": -30}}, "weights.B"),
    case("tier weights all zero", {"by": "tier", "weights": {"A": 0, "B": 0}}, "weights"),
    case(
        "tier weight not a number", {"by": "tier", "weights": {"A": "sixty", "B": 40}}, "weights.A"
    ),
    case("product_line without weights", {"by": "product_line"}, "weights"),
    case(
        "product_line key with a space",
        {"by": "product_line", "weights": {"big ovens": 1}},
        "weights.big ovens.[key]",
    ),
    case("rep without reps", {"by": "rep"}, "reps"),
    case(
        "rep weights for reps not listed",
        {"by": "rep", "strategy": "weights", "reps": ["a", "b"], "weights": {"a": 1, "c": 1}},
        "weights",
    ),
    case("rep listed twice", {"by": "rep", "reps": ["a", "a"]}, "reps"),
    case("extra field", {"by": "time", "into": "week", "shape": "flat"}, "shape"),
]


class TestDecomposingRefusesABadRequestNamingTheField:
    @pytest.mark.parametrize(("body", "fields"), DECOMPOSE_CASES)
    async def test_422_problem_naming_it_and_nothing_stored(
        self, goals, auth, body, fields
    ) -> None:
        goal = await create(goals, auth(), count_goal())
        answer = await goals.post(f"/v1/goals/{goal['id']}/decompose", json=body, headers=auth())
        assert_problem(answer, 422, *fields, location="body")
        await nothing_decomposed(goals, auth(), goal)

    async def test_a_rep_goal_is_not_split_across_reps(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(owner="rep:r1", team_id="t1"))
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "rep", "reps": ["r1", "r2"]},
            headers=auth(),
        )
        assert_problem(answer, 422, "by")
        await nothing_decomposed(goals, auth(), goal)

    async def test_a_rate_goal_does_not_add_up_so_is_not_decomposed(self, goals, auth) -> None:
        goal = await create(
            goals,
            auth(),
            count_goal(metric="win_rate", period="year", start="2026-01-01", target="0.30"),
        )
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "time", "into": "quarter"},
            headers=auth(),
        )
        body = assert_problem(answer, 422, "by")
        assert body["errors"][0]["code"] == "not_additive"
        await nothing_decomposed(goals, auth(), goal)

    async def test_an_average_goal_is_not_decomposed_either(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(metric="average_deal_size", target="500.00"))
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "tier", "weights": {"A": 1, "B": 1}},
            headers=auth(),
        )
        assert_problem(answer, 422, "by")

    async def test_a_goal_cut_by_tier_is_not_cut_by_tier_again(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(tier="A"))
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "tier", "weights": {"A": 1}},
            headers=auth(),
        )
        assert_problem(answer, 422, "by")

    async def test_a_day_goal_has_nothing_finer(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(period="day", start="2026-03-04"))
        answer = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "time", "into": "day"},
            headers=auth(),
        )
        assert_problem(answer, 422, "into")

    async def test_decomposing_twice_is_a_409_and_adds_no_children(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal())
        first = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "time", "into": "week"},
            headers=auth(),
        )
        assert first.status_code == 201, first.text
        again = await goals.post(
            f"/v1/goals/{goal['id']}/decompose",
            json={"by": "tier", "weights": {"A": 1}},
            headers=auth(),
        )
        assert_problem(again, 409)
        children = await list_all(goals, auth(), parent_id=goal["id"])
        assert len(children) == 6  # the weeks of March 2026, the first and last clipped
        parent = (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json()
        assert parent["revision"] == 2
        assert parent["decomposition"]["by"] == "time"

    async def test_decomposing_an_unknown_goal_is_a_404(self, goals, auth) -> None:
        answer = await goals.post(
            "/v1/goals/00000000-0000-4000-8000-000000000000/decompose",
            json={"by": "time", "into": "week"},
            headers=auth(),
        )
        assert_problem(answer, 404)


async def nothing_decomposed(
    goals: httpx.AsyncClient, headers: dict[str, str], goal: dict[str, Any]
) -> None:
    assert await list_all(goals, headers, parent_id=goal["id"]) == []
    assert [g["id"] for g in await list_all(goals, headers, include_archived="true")] == [
        goal["id"]
    ]
    after = (await goals.get(f"/v1/goals/{goal['id']}", headers=headers)).json()
    assert (after["revision"], after["decomposition"]) == (1, None)


# --------------------------------------------------------------------------------- calendar

CALENDAR_CASES = [
    case("timezone unknown", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    case("timezone empty", {"timezone": ""}, "timezone"),
    case("timezone a path", {"timezone": "../../etc/passwd"}, "timezone"),
    case("weekend day 7", {"weekend": [5, 7]}, "weekend[1]"),
    case("weekend day negative", {"weekend": [-1]}, "weekend[0]"),
    case("weekend day as a name", {"weekend": ["saturday"]}, "weekend[0]"),
    case("weekend day as a boolean", {"weekend": [False, True]}, "weekend[0]", "weekend[1]"),
    case("weekend day as a string", {"weekend": ["5"]}, "weekend[0]"),
    case("holiday not a date", {"holidays": ["2026-13-01"]}, "holidays[0]"),
    case("holiday as Unix seconds", {"holidays": ["2026-12-25", "0"]}, "holidays[1]"),
    case("holiday in year 9999", {"holidays": ["9999-12-31"]}, "holidays[0]"),
    case("workday not a date", {"workdays": ["tomorrow"]}, "workdays[0]"),
    case("extra field", {"timezone": "UTC", "country": "DE"}, "country"),
]


class TestTheCalendarRefusesBadSettings:
    @pytest.mark.parametrize(("body", "fields"), CALENDAR_CASES)
    async def test_422_problem_naming_it_and_the_calendar_unchanged(
        self, goals, auth, body, fields
    ) -> None:
        answer = await goals.put("/v1/calendar", json=body, headers=auth())
        assert_problem(answer, 422, *fields, location="body")
        stored = (await goals.get("/v1/calendar", headers=auth())).json()
        assert stored == {"timezone": "UTC", "weekend": [5, 6], "holidays": [], "workdays": []}


# --------------------------------------------------------------------------------- funnel plan

PLAN = {
    "owner": "team:t1",
    "goal": "revenue",
    "target": "100000.00",
    "currency": "EUR",
    "start": "2026-04-01",
    "end": "2026-06-30",
}

PLAN_CASES = [
    case("end before start", {**PLAN, "end": "2026-03-31"}, "end"),
    case("challenge 0", {**PLAN, "challenge": 0}, "challenge"),
    case("challenge negative", {**PLAN, "challenge": "-1.1"}, "challenge"),
    case("challenge not a number", {**PLAN, "challenge": "lots"}, "challenge"),
    case("challenge infinite", {**PLAN, "challenge": "Infinity"}, "challenge"),
    case("unknown rate override", {**PLAN, "rates": {"close_rate": "0.3"}}, "rates.close_rate"),
    case("override win_rate 1.5", {**PLAN, "rates": {"win_rate": "1.5"}}, "rates.win_rate"),
    case("override win_rate 0", {**PLAN, "rates": {"win_rate": 0}}, "rates.win_rate"),
    case(
        "override deal size negative",
        {**PLAN, "rates": {"average_deal_size": "-100"}},
        "rates.average_deal_size",
    ),
    case(
        "override not a number",
        {**PLAN, "rates": {"visits_per_won": "many"}},
        "rates.visits_per_won",
    ),
    case("goal unknown", {**PLAN, "goal": "profit"}, "goal"),
    case("owner garbage", {**PLAN, "owner": "everyone"}, "owner"),
    case("revenue without currency", without(PLAN, "currency"), "currency"),
    case(
        "new customers with a currency", {**PLAN, "goal": "new_customers", "target": 10}, "currency"
    ),
    case(
        "new customers target a string",
        {**without(PLAN, "currency"), "goal": "new_customers", "target": "10"},
        "target",
    ),
    case("revenue target a number", {**PLAN, "target": 100000}, "target"),
    case("revenue target three decimals", {**PLAN, "target": "1.001"}, "target"),
    case("lookback too short", {**PLAN, "lookback_days": 6}, "lookback_days"),
    case("lookback too long", {**PLAN, "lookback_days": 731}, "lookback_days"),
    case("start missing", without(PLAN, "start"), "start"),
    case("end as Unix seconds", {**PLAN, "end": "1798675200"}, "end"),
    case("lookback as a string", {**PLAN, "lookback_days": "90"}, "lookback_days"),
    case("start on the first day there is", {**PLAN, "start": "1970-01-01"}, "start"),
    case("end in year 9999", {**PLAN, "end": "9999-12-31"}, "end"),
    case("extra field", {**PLAN, "region": "north"}, "region"),
]


class TestTheFunnelPlanRefusesABadRequest:
    @pytest.mark.parametrize(("body", "fields"), PLAN_CASES)
    async def test_422_problem_naming_it(self, goals, auth, body, fields) -> None:
        answer = await goals.post("/v1/plans/funnel", json=body, headers=auth())
        assert_problem(answer, 422, *fields, location="body")


# --------------------------------------------------------------------------------- queries


QUERY_CASES = [
    case("owner garbage", {"owner": "boss"}, "owner"),
    case("owner team without id", {"owner": "team:"}, "owner"),
    case("metric with a space", {"metric": "win rate"}, "metric"),
    case("period unknown", {"period": "fortnight"}, "period"),
    case("from not a date", {"from": "yesterday"}, "from"),
    case("to not a calendar day", {"to": "2026-02-30"}, "to"),
    case("from as Unix seconds", {"from": "86400"}, "from"),
    case("parent_id not a UUID", {"parent_id": "123"}, "parent_id"),
    case("include_archived not a boolean", {"include_archived": "maybe"}, "include_archived"),
    case("limit 0", {"limit": 0}, "limit"),
    case("limit 501", {"limit": 501}, "limit"),
    case("cursor garbage", {"cursor": "not-a-cursor"}, "cursor"),
    case("cursor of the right prefix, garbage after", {"cursor": "g1.!!!"}, "cursor"),
    case("cursor of base64 junk", {"cursor": "g1.aGVsbG8"}, "cursor"),
    case("cursor of the wrong shape", {"cursor": "g1.WzEsMl0"}, "cursor"),  # [1,2]
]


class TestListingRefusesABadQueryNamingTheParameter:
    @pytest.mark.parametrize(("params", "fields"), QUERY_CASES)
    async def test_422_problem_naming_it(self, goals, auth, params, fields) -> None:
        answer = await goals.get("/v1/goals", params=params, headers=auth())
        assert_problem(answer, 422, *fields, location="query")

    async def test_an_unknown_metric_is_named(self, goals, auth) -> None:
        answer = await goals.get("/v1/goals", params={"metric": "profit"}, headers=auth())
        assert_problem(answer, 422, "metric")

    async def test_an_unknown_metric_is_named_as_a_query_parameter(self, goals, auth) -> None:
        answer = await goals.get("/v1/goals", params={"metric": "profit"}, headers=auth())
        assert_problem(answer, 422, "metric", location="query")

    async def test_progress_refuses_a_bad_day(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal())
        for bad in ("yesterday", "2026-02-30", "1969-12-31", "1795046400"):
            answer = await goals.get(
                f"/v1/goals/{goal['id']}/progress", params={"at": bad}, headers=auth()
            )
            assert_problem(answer, 422, "at", location="query")
        answer = await goals.get("/v1/progress", params={"owner": "boss"}, headers=auth())
        assert_problem(answer, 422, "owner", location="query")


PATHS = [
    ("GET", "/v1/goals/{}"),
    ("PATCH", "/v1/goals/{}"),
    ("DELETE", "/v1/goals/{}"),
    ("GET", "/v1/goals/{}/revisions"),
    ("POST", "/v1/goals/{}/decompose"),
    ("GET", "/v1/goals/{}/reconcile"),
    ("GET", "/v1/goals/{}/progress"),
]


class TestABadIdInThePathIsNamed:
    @pytest.mark.parametrize(("method", "path"), PATHS, ids=[f"{m} {p}" for m, p in PATHS])
    @pytest.mark.parametrize("bad", ["not-a-uuid", "1234", "00000000-0000-4000-8000-00000000000g"])
    async def test_422_naming_goal_id_in_the_path(self, goals, auth, method, path, bad) -> None:
        body = {"by": "time", "into": "week"} if method == "POST" else {"note": "x"}
        answer = await goals.request(
            method,
            path.format(bad),
            headers=auth(),
            json=body if method in ("POST", "PATCH") else None,
        )
        assert_problem(answer, 422, "goal_id", location="path")


# --------------------------------------------------------------------------------- tokens

ROUTES = [
    *PATHS,
    ("GET", "/v1/goals"),
    ("POST", "/v1/goals"),
    ("GET", "/v1/progress"),
    ("POST", "/v1/plans/funnel"),
    ("GET", "/v1/calendar"),
    ("PUT", "/v1/calendar"),
]


def tokens(auth: Any) -> dict[str, dict[str, str]]:
    good = auth()["Authorization"].removeprefix("Bearer ")
    return {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {good}"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "forged": auth(secret=OTHER_SECRET),
        "expired": auth(ttl=-10),
        "tampered": {"Authorization": f"Bearer {good[:-4]}AAAA"},
    }


class TestEveryRouteNeedsAGoodToken:
    @pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
    async def test_401_problem_for_a_missing_or_bad_token(self, goals, auth, method, path) -> None:
        goal = await create(goals, auth(), count_goal())
        target = path.format(goal["id"])
        bodies = {
            "POST /v1/goals": count_goal(),
            "POST /v1/plans/funnel": PLAN,
            "PUT /v1/calendar": {"timezone": "Europe/Berlin"},
            "POST /v1/goals/{}/decompose": {"by": "time", "into": "week"},
        }
        body = bodies.get(f"{method} {path}", {"note": "x"})
        for name, headers in tokens(auth).items():
            answer = await goals.request(
                method,
                target,
                headers=headers,
                json=body if method in ("POST", "PATCH", "PUT") else None,
            )
            assert answer.status_code == 401, (name, answer.text)
            assert_problem(answer, 401)
            assert answer.headers.get("www-authenticate", "").startswith("Bearer"), name
        assert [g["id"] for g in await list_all(goals, auth(), include_archived="true")] == [
            goal["id"]
        ]
        after = (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json()
        assert after["revision"] == 1
        calendar = (await goals.get("/v1/calendar", headers=auth())).json()
        assert calendar["timezone"] == "UTC"
