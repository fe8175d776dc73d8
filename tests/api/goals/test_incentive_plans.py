"""Incentive plans (issue 15, part 2): an admin makes a plan (version 1) and changes it (a new
version each time, never overwritten); whom a plan concerns reads it. Real PostgreSQL, the
goals app in-process; stored rows are checked through the API and, where it matters that
nothing was written, in the tables."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.goals.incentive_spec import PlanIn
from tests.api.goals.helpers import assert_problem
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, visit

EXAMPLE: dict[str, Any] = PlanIn.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index,call-overload]
PLANS = "/v1/incentives/plans"
ROSTER_DAY = "2020-01-01"


def plan(**overrides: Any) -> dict[str, Any]:
    """The documented example (team:team-north, EUR, monthly), fields replaced."""
    return {**copy.deepcopy(EXAMPLE), **overrides}


def answered(example: dict[str, Any]) -> dict[str, Any]:
    """The body fields as the API answers them: every default filled in."""
    body = {k: v for k, v in example.items() if k != "effective_from"}
    spiffs = [{"tier": None, "product_line": None, "channel": None, **s} for s in body["spiffs"]]
    bonuses = [{"scope": "team", **b} for b in body["champion_bonuses"]]
    teams = [{"reach_pct": 100, **t} for t in body["team_bonuses"]]
    return {
        **body,
        "spiffs": spiffs,
        "champion_bonuses": bonuses,
        "team_bonuses": teams,
        "active": True,
    }


async def create(goals: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    answer = await goals.post(PLANS, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def patch(
    goals: httpx.AsyncClient, headers: dict[str, str], plan_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await goals.patch(f"{PLANS}/{plan_id}", json=body, headers=headers)


async def stored_versions(db: Any, org: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM goals.incentive_plan_versions WHERE org_id = $1", org
        )
    )


async def listed(goals: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[Any]:
    """Every plan a list returns, following `next` to the end."""
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await goals.get(PLANS, params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


class TestMakingAPlan:
    async def test_the_example_is_stored_as_version_1_and_read_back_equal(
        self, goals, auth, db, org
    ) -> None:
        answer = await goals.post(PLANS, json=EXAMPLE, headers=auth())
        assert answer.status_code == 201, answer.text
        made = answer.json()
        assert answer.headers["location"] == f"{PLANS}/{made['id']}"
        facts = {k: made.pop(k) for k in ("id", "created_at", "versions")}
        assert made == {
            **answered(EXAMPLE),
            "version": 1,
            "effective_from": "2027-01-01",
            "created_by": "user-1",
            "reason": None,
        }
        assert facts["versions"] == [
            {
                "version": 1,
                "effective_from": "2027-01-01",
                "created_at": facts["created_at"],
                "created_by": "user-1",
                "reason": None,
                "active": True,
            }
        ]
        again = await goals.get(answer.headers["location"], headers=auth())
        assert again.status_code == 200, again.text
        assert again.json() == answer.json()
        row = await db.fetchrow(
            "SELECT p.version, v.effective_from::text AS day, v.body, v.created_by"
            " FROM goals.incentive_plans p JOIN goals.incentive_plan_versions v"
            " ON v.plan_id = p.id WHERE p.id = $1::text::uuid",
            facts["id"],
        )
        assert (row["version"], row["day"], row["created_by"]) == (1, "2027-01-01", "user-1")
        assert "effective_from" not in row["body"]

    async def test_the_example_validates_and_the_least_plan_gets_its_defaults(
        self, goals, auth
    ) -> None:
        PlanIn.model_validate(EXAMPLE)
        least = {
            "name": "Spiffs only",
            "currency": "JPY",
            "period": "quarter",
            "applies_to": ["org"],
            "effective_from": "2027-04-01",
        }
        made = await create(goals, auth(), least)
        assert made["commission"] is None
        assert (made["spiffs"], made["champion_bonuses"], made["team_bonuses"]) == ([], [], [])
        assert made["clawbacks"] == {"restate": True, "lookback_periods": 3, "uncollected": None}

    async def test_amounts_in_yen_are_whole(self, goals, auth) -> None:
        body = plan(currency="JPY", commission={"tiers": [{"from_pct": 0, "rate": "0.03"}]})
        body["spiffs"][0]["amount"] = "250"
        body["champion_bonuses"][0]["amount"] = "500"
        body["team_bonuses"][0]["pool"] = "3000"
        made = await create(goals, auth(), body)
        assert made["spiffs"][0]["amount"] == "250"


def _tiers(*pairs: tuple[Any, str]) -> list[dict[str, Any]]:
    return [{"from_pct": p, "rate": r} for p, r in pairs]


def _with(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change of the example at a dotted path (`spiffs.0.metric`)."""

    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


def _yen_with_cents(body: dict[str, Any]) -> None:
    body["currency"] = "JPY"  # "20000.00" is a whole number of yen: allowed
    body["spiffs"][0]["amount"] = "250.50"


REFUSED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "tiers that do not rise": (
        _with("commission.tiers", _tiers((0, "0.03"), (100, "0.04"), (100, "0.05"))),
        "commission.tiers[2].from_pct",
    ),
    "a rate lower than the tier before": (
        _with("commission.tiers", _tiers((0, "0.05"), (100, "0.03"))),
        "commission.tiers[1].rate",
    ),
    "a first tier above 0": (
        _with("commission.tiers", _tiers((10, "0.03"))),
        "commission.tiers[0].from_pct",
    ),
    "a decelerator above the first rate": (
        _with("commission.decelerator", {"rate": "0.04"}),
        "commission.decelerator.rate",
    ),
    "a rate given as a number": (
        _with("commission.tiers.0.rate", 0.03),
        "commission.tiers[0].rate",
    ),
    "a rate above 1": (_with("commission.tiers.0.rate", "1.5"), "commission.tiers[0].rate"),
    "a cap with 3 decimals in EUR": (_with("commission.cap", "100.001"), "commission.cap"),
    "cents in yen": (_yen_with_cents, "spiffs[0].amount"),
    "an unknown metric": (_with("commission.metric", "made_up"), "commission.metric"),
    "a count metric for a commission": (_with("commission.metric", "visits"), "commission.metric"),
    "a money metric for a spiff": (_with("spiffs.0.metric", "revenue_won"), "spiffs[0].metric"),
    "a rate metric to rank by": (
        _with("champion_bonuses.0.metric", "win_rate"),
        "champion_bonuses[0].metric",
    ),
    "not a month's first day": (_with("effective_from", "2027-01-15"), "effective_from"),
    "a month's first day for a quarterly plan": (_with("period", "quarter"), "effective_from"),
    "an owner named twice": (_with("applies_to", ["org", "team:t1", "org"]), "applies_to"),
    "an owner that is not one": (_with("applies_to", ["everyone"]), "applies_to[0]"),
    "no owner": (_with("applies_to", []), "applies_to"),
    "an extra field": (_with("bonus", 1), "bonus"),
    "an extra field inside": (_with("clawbacks.forever", True), "clawbacks.forever"),
    "an unknown currency": (_with("currency", "EURO"), "currency"),
    "too long a lookback": (_with("clawbacks.lookback_periods", 13), "clawbacks.lookback_periods"),
    "a day out of range": (_with("effective_from", "2100-01-01"), "effective_from"),
}


class TestStrictValidation:
    @pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
    async def test_a_broken_rule_is_a_422_naming_the_field_and_nothing_is_stored(
        self, goals, auth, db, org, case
    ) -> None:
        change, field = REFUSED[case]
        body = plan(effective_from="2027-02-01")
        change(body)
        answer = await goals.post(PLANS, json=body, headers=auth())
        assert_problem(answer, 422, field, location="body")
        assert await stored_versions(db, org) == 0
        assert (
            await db.fetchval("SELECT count(*) FROM goals.incentive_plans WHERE org_id = $1", org)
            == 0
        )

    async def test_every_fault_is_named_at_once(self, goals, auth) -> None:
        body = plan(effective_from="2027-01-31", applies_to=["org", "org"])
        body["commission"]["tiers"] = _tiers((0, "0.05"), (100, "0.03"))
        answer = await goals.post(PLANS, json=body, headers=auth())
        assert_problem(answer, 422, "effective_from", "applies_to", "commission.tiers[1].rate")

    async def test_a_body_that_is_not_json_is_refused(self, goals, auth) -> None:
        answer = await goals.post(
            PLANS, content=b"{", headers={**auth(), "Content-Type": "application/json"}
        )
        assert_problem(answer, 400)


class TestVersions:
    async def test_a_patch_makes_version_2_of_the_merged_body_and_keeps_version_1(
        self, goals, auth, db, org
    ) -> None:
        made = await create(goals, auth(), EXAMPLE)
        tiers = _tiers((0, "0.03"), (100, "0.06"))
        answer = await patch(
            goals,
            auth(sub="boss"),
            made["id"],
            {
                "effective_from": "2027-04-01",
                "reason": "Q2: a higher top tier",
                "expected_version": 1,
                "commission": {"tiers": tiers},
                "name": "Field sales 2027 (Q2)",
            },
        )
        assert answer.status_code == 200, answer.text
        v2 = answer.json()
        expected = answered(EXAMPLE) | {
            "name": "Field sales 2027 (Q2)",
            "commission": {
                "metric": "revenue_won",
                "tiers": tiers,
                "decelerator": None,
                "cap": None,
            },
        }
        assert {k: v2[k] for k in expected} == expected
        assert (v2["version"], v2["effective_from"], v2["reason"], v2["created_by"]) == (
            2,
            "2027-04-01",
            "Q2: a higher top tier",
            "boss",
        )
        assert [(v["version"], v["effective_from"], v["reason"]) for v in v2["versions"]] == [
            (1, "2027-01-01", None),
            (2, "2027-04-01", "Q2: a higher top tier"),
        ]
        latest = await goals.get(f"{PLANS}/{made['id']}", headers=auth())
        assert latest.json() == v2
        first = await goals.get(f"{PLANS}/{made['id']}", params={"version": 1}, headers=auth())
        assert first.status_code == 200, first.text
        assert first.json() == {**made, "versions": v2["versions"]}
        every = await goals.get(f"{PLANS}/{made['id']}/versions", headers=auth())
        assert every.status_code == 200, every.text
        assert every.json()["items"] == [
            {k: v for k, v in one.items() if k != "versions"} for one in (made, v2)
        ]
        assert await stored_versions(db, org) == 2

    async def test_commission_null_removes_it_and_active_false_stops_the_plan(
        self, goals, auth
    ) -> None:
        made = await create(goals, auth(), EXAMPLE)
        answer = await patch(
            goals,
            auth(),
            made["id"],
            {"effective_from": "2027-03-01", "commission": None, "active": False},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["commission"] is None
        assert [v["active"] for v in answer.json()["versions"]] == [True, False]

    async def test_a_back_dated_version_is_kept_beside_the_others(self, goals, auth) -> None:
        made = await create(goals, auth(), EXAMPLE)
        for day in ("2027-06-01", "2026-12-01"):
            answer = await patch(goals, auth(), made["id"], {"effective_from": day})
            assert answer.status_code == 200, answer.text
        days = [v["effective_from"] for v in answer.json()["versions"]]
        assert days == ["2027-01-01", "2027-06-01", "2026-12-01"]

    async def test_a_stale_expected_version_is_a_409_and_stores_nothing(
        self, goals, auth, db, org
    ) -> None:
        made = await create(goals, auth(), EXAMPLE)
        ok = await patch(goals, auth(), made["id"], {"effective_from": "2027-02-01"})
        assert ok.status_code == 200, ok.text
        stale = await patch(
            goals, auth(), made["id"], {"effective_from": "2027-03-01", "expected_version": 1}
        )
        body = assert_problem(stale, 409, "expected_version")
        assert "version 2" in body["detail"]
        assert await stored_versions(db, org) == 2

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"currency": "USD"}, "currency"),
            ({"period": "quarter"}, "period"),
            ({"effective_from": "2027-04-02"}, "effective_from"),
            (
                {"commission": {"tiers": _tiers((0, "0.05"), (50, "0.01"))}},
                "commission.tiers[1].rate",
            ),
            ({"spiffs": [{"name": "x", "metric": "collected", "amount": "1"}]}, "spiffs[0].metric"),
            ({"applies_to": ["org", "org"]}, "applies_to"),
            ({"name": None}, "name"),
            ({"clawbacks": {"lookback_periods": 0}}, "clawbacks.lookback_periods"),
            ({"reason": "x" * 501}, "reason"),
            ({"expected_version": "1"}, "expected_version"),
            ({"effective_from": None}, "effective_from"),
            ({"bonus": 1}, "bonus"),
        ],
    )
    async def test_a_refused_patch_names_the_field_and_stores_nothing(
        self, goals, auth, db, org, change, field
    ) -> None:
        made = await create(goals, auth(), EXAMPLE)
        answer = await patch(goals, auth(), made["id"], {"effective_from": "2027-04-01", **change})
        assert_problem(answer, 422, field, location="body")
        assert await stored_versions(db, org) == 1
        again = await goals.get(f"{PLANS}/{made['id']}", headers=auth())
        assert again.json() == made

    async def test_the_same_currency_and_period_may_be_given(self, goals, auth) -> None:
        made = await create(goals, auth(), EXAMPLE)
        answer = await patch(
            goals,
            auth(),
            made["id"],
            {"effective_from": "2027-04-01", "currency": "EUR", "period": "month"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["version"], body["effective_from"]) == (2, "2027-04-01")
        assert (body["currency"], body["period"]) == ("EUR", "month")
        unchanged = {k: made[k] for k in ("name", "applies_to", "commission", "spiffs")}
        assert {k: body[k] for k in unchanged} == unchanged

    async def test_concurrent_patches_are_numbered_one_after_the_other(
        self, goals, auth, db, org
    ) -> None:
        made = await create(goals, auth(), EXAMPLE)
        answers = await asyncio.gather(
            patch(goals, auth(), made["id"], {"effective_from": "2027-02-01", "name": "A"}),
            patch(goals, auth(), made["id"], {"effective_from": "2027-03-01", "name": "B"}),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert sorted(a.json()["version"] for a in answers) == [2, 3]
        every = await goals.get(f"{PLANS}/{made['id']}/versions", headers=auth())
        names = {v["version"]: v["name"] for v in every.json()["items"]}
        assert names[1] == EXAMPLE["name"]
        assert {names[2], names[3]} == {"A", "B"}
        assert await stored_versions(db, org) == 3

    async def test_unknown_plans_and_versions_are_404(self, goals, auth) -> None:
        made = await create(goals, auth(), EXAMPLE)
        missing = await goals.get(f"{PLANS}/{uuid.uuid4()}", headers=auth())
        assert_problem(missing, 404)
        version = await goals.get(f"{PLANS}/{made['id']}", params={"version": 2}, headers=auth())
        assert_problem(version, 404, "version", location="query")
        gone = await patch(goals, auth(), str(uuid.uuid4()), {"effective_from": "2027-02-01"})
        assert_problem(gone, 404)
        assert_problem(await goals.get(f"{PLANS}/{uuid.uuid4()}/versions", headers=auth()), 404)
        assert_problem(await goals.get(f"{PLANS}/not-a-uuid", headers=auth()), 422, "plan_id")


# --------------------------------------------------------------------------------- access


async def roster(goals: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """t1 led by m1 with r1 and r2; t2 led by m2 with r3; r4 in t1, then moved to t2."""
    for team, manager in (("t1", "m1"), ("t2", "m2")):
        body = {"name": team, "manager_id": manager, "from": ROSTER_DAY}
        answer = await goals.put(f"/v1/teams/{team}", json=body, headers=admin)
        assert answer.status_code == 200, answer.text
    for rep, team, day in (
        ("r1", "t1", ROSTER_DAY),
        ("r2", "t1", ROSTER_DAY),
        ("r3", "t2", ROSTER_DAY),
        ("r4", "t1", ROSTER_DAY),
        ("r4", "t2", "2021-01-01"),
    ):
        answer = await goals.put(
            f"/v1/reps/{rep}", json={"team_id": team, "from": day}, headers=admin
        )
        assert answer.status_code == 200, answer.text


async def seeded(goals: httpx.AsyncClient, auth: Any) -> dict[str, str]:
    """The roster and one plan for each of t1, t2, r1, r3 and the org."""
    await roster(goals, auth())
    ids = {}
    for name, owner in (
        ("t1", "team:t1"),
        ("t2", "team:t2"),
        ("r1", "rep:r1"),
        ("r3", "rep:r3"),
        ("org", "org"),
    ):
        ids[name] = (await create(goals, auth(), plan(name=name, applies_to=[owner])))["id"]
    return ids


SEES = {
    "r1": {"t1", "r1", "org"},
    "r2": {"t1", "org"},
    "r3": {"t2", "r3", "org"},
    "r4": {"t1", "t2", "org"},  # t2 today, t1 before: a past statement's plan stays readable
    "r9": {"org"},  # a rep the roster does not know
    "m1": {"t1", "r1", "org"},
    "m2": {"t2", "r3", "org"},
}


def caller(auth: Any, who: str) -> dict[str, str]:
    if who.startswith("m"):
        return dict(auth("manager", sub=who, team={"m1": "t1", "m2": "t2"}[who]))
    return dict(auth("rep", sub=who, team="t1"))


class TestWhoReadsAPlan:
    @pytest.mark.parametrize("who", list(SEES))
    async def test_reps_and_managers_read_the_plans_that_concern_them(
        self, goals, auth, who
    ) -> None:
        ids = await seeded(goals, auth)
        headers = caller(auth, who)
        names = {p["name"] for p in await listed(goals, headers, limit=2)}
        assert names == SEES[who]
        for name, plan_id in ids.items():
            one = await goals.get(f"{PLANS}/{plan_id}", headers=headers)
            versions = await goals.get(f"{PLANS}/{plan_id}/versions", headers=headers)
            if name in SEES[who]:
                assert one.status_code == 200, one.text
                assert one.json()["name"] == name
                assert versions.status_code == 200, versions.text
            else:
                assert_problem(one, 404)
                assert_problem(versions, 404)

    @pytest.mark.parametrize("role", ["admin", "bi", "service"])
    async def test_the_orgs_readers_read_every_plan(self, goals, auth, role) -> None:
        ids = await seeded(goals, auth)
        items = await listed(goals, auth(role, sub="reader"))
        assert {p["id"] for p in items} == set(ids.values())

    async def test_a_plan_that_named_the_rep_in_any_version_stays_readable(
        self, goals, auth
    ) -> None:
        ids = await seeded(goals, auth)
        moved = await patch(
            goals, auth(), ids["t1"], {"effective_from": "2027-02-01", "applies_to": ["team:t2"]}
        )
        assert moved.status_code == 200, moved.text
        r2 = caller(auth, "r2")
        assert (await goals.get(f"{PLANS}/{ids['t1']}", headers=r2)).status_code == 200
        assert ids["t1"] in {p["id"] for p in await listed(goals, r2)}

    async def test_a_rep_the_roster_does_not_know_is_placed_by_their_history(
        self, goals, scoring, post_events, auth
    ) -> None:
        ids = await seeded(goals, auth)
        position = await post_events([visit("r7", "t2", "A7", at("2026-11-02"))])
        await settled(scoring, auth(), position)
        names = {p["name"] for p in await listed(goals, caller(auth, "r7"))}
        assert names == {"t2", "org"}
        one = await goals.get(f"{PLANS}/{ids['t2']}", headers=caller(auth, "r7"))
        assert one.status_code == 200, one.text

    async def test_a_manager_the_roster_does_not_name_reads_the_orgs_plans_only(
        self, goals, auth
    ) -> None:
        await seeded(goals, auth)
        other = auth("manager", sub="m-other", team="t1")
        assert {p["name"] for p in await listed(goals, other)} == {"org"}

    async def test_another_org_reads_none_of_them(self, goals, auth) -> None:
        ids = await seeded(goals, auth)
        theirs = auth(org_id=f"org-{uuid.uuid4().hex[:10]}")
        assert await listed(goals, theirs) == []
        assert_problem(await goals.get(f"{PLANS}/{ids['org']}", headers=theirs), 404)
        gone = await patch(goals, theirs, ids["org"], {"effective_from": "2027-02-01"})
        assert_problem(gone, 404)

    async def test_the_list_narrows_to_the_plans_of_one_rep(self, goals, auth) -> None:
        await seeded(goals, auth)
        for who in ("r1", "r4"):
            names = {p["name"] for p in await listed(goals, auth(), applies_to=f"rep:{who}")}
            assert names == SEES[who]
        mine = await listed(goals, caller(auth, "r1"), applies_to="rep:r1")
        assert {p["name"] for p in mine} == SEES["r1"]
        assert await listed(goals, caller(auth, "r1"), applies_to="rep:r2") == []
        manager = await listed(goals, caller(auth, "m1"), applies_to="rep:r3")
        assert {p["name"] for p in manager} == {"org"}
        bad = await goals.get(PLANS, params={"applies_to": "team:t1"}, headers=auth())
        assert_problem(bad, 422, "applies_to", location="query")

    @pytest.mark.parametrize(
        ("role", "team"),
        [("manager", "t1"), ("rep", "t1"), ("bi", None), ("service", None)],
    )
    async def test_only_an_admin_makes_or_changes_a_plan(
        self, goals, auth, db, org, role, team
    ) -> None:
        made = await create(goals, auth(), plan(applies_to=["team:t1"]))
        headers = auth(role, sub="m1" if role == "manager" else "r1", team=team)
        assert_problem(await goals.post(PLANS, json=EXAMPLE, headers=headers), 403)
        refused = await patch(goals, headers, made["id"], {"effective_from": "2027-02-01"})
        assert_problem(refused, 403)
        assert await stored_versions(db, org) == 1

    async def test_no_token_is_a_401(self, goals) -> None:
        assert_problem(await goals.get(PLANS), 401)
        assert_problem(await goals.post(PLANS, json=EXAMPLE), 401)


class TestPages:
    async def test_pages_follow_one_another_to_the_end(self, goals, auth) -> None:
        made = {(await create(goals, auth(), plan(name=f"p{i}")))["id"] for i in range(7)}
        first = await goals.get(PLANS, params={"limit": 3}, headers=auth())
        assert first.status_code == 200, first.text
        page = first.json()
        assert len(page["items"]) == 3
        assert first.headers["x-next-cursor"] == page["next"]
        assert 'rel="next"' in first.headers["link"]
        ids = [p["id"] for p in await listed(goals, auth(), limit=3)]
        assert ids == sorted(ids, key=uuid.UUID)
        assert set(ids) == made
        assert len(ids) == 7
        last = await goals.get(PLANS, params={"limit": 7}, headers=auth())
        assert last.json()["next"] is None
        assert "link" not in last.headers

    async def test_a_reps_pages_skip_what_they_may_not_read(self, goals, auth) -> None:
        await roster(goals, auth())
        theirs = set()
        for i in range(12):
            owner = "team:t1" if i % 3 == 0 else "team:t2"
            made = await create(goals, auth(), plan(name=f"p{i}", applies_to=[owner]))
            if owner == "team:t1":
                theirs.add(made["id"])
        r1 = caller(auth, "r1")
        first = await goals.get(PLANS, params={"limit": 1}, headers=r1)
        assert len(first.json()["items"]) == 1
        assert {p["id"] for p in await listed(goals, r1, limit=1)} == theirs

    async def test_a_cursor_not_ours_is_a_422(self, goals, auth) -> None:
        answer = await goals.get(PLANS, params={"cursor": "c2.nonsense"}, headers=auth())
        assert_problem(answer, 422, "cursor", location="query")
        for _ in range(3):
            await create(goals, auth(), EXAMPLE)
        page = (await goals.get(PLANS, params={"limit": 1}, headers=auth())).json()
        elsewhere = auth(org_id="org-elsewhere")
        answer = await goals.get(PLANS, params={"cursor": page["next"]}, headers=elsewhere)
        assert_problem(answer, 422, "cursor", location="query")


ODD: list[tuple[str, Any]] = [
    ("commission.tiers.0.rate", "NaN"),
    ("commission.tiers.0.rate", "1e-7"),
    ("commission.tiers.1.from_pct", "Infinity"),
    ("commission.tiers.1.from_pct", True),
    ("commission.tiers.1.from_pct", "1e9999"),
    ("commission.cap", "1e9999"),
    ("commission.cap", "-5.00"),
    ("spiffs.0.amount", "sNaN"),
    ("spiffs.0.tier", "Z"),
    ("name", "nul\x00here"),
    ("name", ""),
    ("applies_to", ["rep:" + "x" * 200]),
    ("clawbacks.uncollected.days", 0),
    ("effective_from", "2027-13-01"),
    ("effective_from", 20270101),
]


class TestOddInput:
    @pytest.mark.parametrize(("path", "value"), ODD, ids=[f"{p}={v!r}"[:60] for p, v in ODD])
    async def test_an_odd_value_is_a_422_whether_new_or_patched(
        self, goals, auth, db, org, path, value
    ) -> None:
        body = plan()
        _with(path, value)(body)
        assert_problem(await goals.post(PLANS, json=body, headers=auth()), 422)
        made = await create(goals, auth(), EXAMPLE)
        top = path.split(".")[0]
        change = {"effective_from": "2027-02-01", top: body[top]}
        if top == "effective_from":
            change = {"effective_from": value}
        assert_problem(await patch(goals, auth(), made["id"], change), 422)
        assert await stored_versions(db, org) == 1
