"""Incentive statements and payouts (issue 15, part 2): a rep's statement of a month against a
hand-made log whose every figure is known to the cent, payout runs, a void after a payout clawed
back in the next month, `as_of`, who may read what. Real PostgreSQL, the three apps in-process;
plans are made through `POST /v1/incentives/plans`.

Events are recorded now, so the months are this month (the statement's period) and last month
(the period paid, then restated); every event happens on a day of those months up to today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.goals.main import create_app
from tests.api.goals.conftest import goals_settings
from tests.api.goals.helpers import assert_problem, create
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, invoice, opened, payment, tier, void, won
from tests.conftest import running

TODAY = datetime.now(UTC).date()
THIS = TODAY.replace(day=1)
LAST = (THIS - timedelta(days=1)).replace(day=1)
NEXT = (THIS + timedelta(days=32)).replace(day=1)
YESTERDAY = TODAY - timedelta(days=1)


def label(month: date) -> str:
    return f"{month.year}-{month.month:02d}"


def when(month: date, time: str = "00:00:01") -> str:
    """A moment of `month` that has passed: its first day (this month) or its 15th."""
    day = month if month == THIS else month.replace(day=15)
    return at(day.isoformat(), time)


def plan(**overrides: Any) -> dict[str, Any]:
    """A monthly EUR plan for rep r1 from this month: 3 % to 100 % of target, 5 % above."""
    return {
        "name": "Field sales",
        "currency": "EUR",
        "period": "month",
        "applies_to": ["rep:r1"],
        "effective_from": THIS.isoformat(),
        "commission": {
            "metric": "revenue_won",
            "tiers": [{"from_pct": 0, "rate": "0.03"}, {"from_pct": 100, "rate": "0.05"}],
        },
        **overrides,
    }


async def make_plan(goals: httpx.AsyncClient, auth: Any, body: dict[str, Any]) -> str:
    answer = await goals.post("/v1/incentives/plans", json=body, headers=auth())
    assert answer.status_code == 201, answer.text
    plan_id: str = answer.json()["id"]
    return plan_id


def deal(
    rep: str, team: str, name: str, amount: str, month: date, currency: str = "EUR", **kw: Any
) -> list[dict[str, Any]]:
    """A deal opened and won in `month`."""
    account = kw.get("account", f"acc-{name}")
    return [
        opened(rep, team, name, amount, currency, "pl", account, when(month, "00:00:01")),
        won(rep, team, name, amount, currency, when(month, "00:00:02")),
    ]


async def logged(
    post_events: Any, scoring: httpx.AsyncClient, auth: Any, events: list[Any]
) -> None:
    position = await post_events(events)
    await settled(scoring, auth(), position)


async def revenue_goal(
    goals: httpx.AsyncClient,
    auth: Any,
    owner: str,
    target: str,
    floor: str | None = None,
    currency: str = "EUR",
) -> None:
    body = {
        "owner": owner,
        "metric": "revenue_won",
        "period": "month",
        "start": THIS.isoformat(),
        "target": target,
        "currency": currency,
    }
    if floor is not None:
        body["floor"] = floor
    await create(goals, auth(), body)


async def statement(
    goals: httpx.AsyncClient, headers: dict[str, str], rep: str = "r1", **params: Any
) -> dict[str, Any]:
    query = {"owner": f"rep:{rep}", "period": label(THIS), **params}
    answer = await goals.get("/v1/incentives/statements", params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def amounts(section: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, name, amount) of each line."""
    return [(li["rule"]["kind"], li["rule"]["name"], li["amount"]) for li in section["lines"]]


class TestCommission:
    async def test_each_bracket_is_paid_its_rate_to_the_cent(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(
            post_events,
            scoring,
            auth,
            [*deal("r1", "t1", "D1", "7000.00", THIS), *deal("r1", "t1", "D2", "5000.00", THIS)],
        )
        await revenue_goal(goals, auth, "rep:r1", "10000.00", "6000.00")
        plan_id = await make_plan(goals, auth, plan())
        body = await statement(goals, auth())
        assert (body["owner"], body["period"], body["as_of"]) == (
            "rep:r1",
            label(THIS),
            TODAY.isoformat(),
        )
        (section,) = body["sections"]
        assert (section["plan_id"], section["version"], section["status"]) == (plan_id, 1, "open")
        assert amounts(section) == [
            ("commission", "tier 1: from 0 % to 100 % of target", "300.00"),
            ("commission", "tier 2: from 100 % of target", "100.00"),
        ]
        first, second = section["lines"]
        assert (first["kpi_value"], first["rate"], first["base"]) == (
            "12000.00",
            "0.03",
            "10000.00",
        )
        assert (second["rate"], second["base"], second["about"]) == ("0.05", "2000.00", label(THIS))
        assert section["total"] == "400.00"
        assert body["totals"] == {"EUR": "400.00"}

    async def test_below_the_floor_the_decelerator_pays_on_the_whole_value(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "5000.00", THIS))
        await revenue_goal(goals, auth, "rep:r1", "10000.00", "6000.00")
        commission = {**plan()["commission"], "decelerator": {"rate": "0.01"}}
        await make_plan(goals, auth, plan(commission=commission))
        (section,) = (await statement(goals, auth()))["sections"]
        assert amounts(section) == [("commission", "decelerator", "50.00")]
        assert section["total"] == "50.00"

    async def test_a_cap_takes_back_what_is_above_it(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "12000.00", THIS))
        await revenue_goal(goals, auth, "rep:r1", "10000.00", "6000.00")
        commission = {**plan()["commission"], "cap": "350.00"}
        await make_plan(goals, auth, plan(commission=commission))
        (section,) = (await statement(goals, auth()))["sections"]
        assert [a for _, _, a in amounts(section)] == ["300.00", "100.00", "-50.00"]
        assert section["lines"][-1]["rule"]["kind"] == "cap"
        assert section["total"] == "350.00"

    async def test_without_a_goal_the_first_tier_pays_the_whole_value_and_says_so(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "12000.00", THIS))
        await make_plan(goals, auth, plan())
        (section,) = (await statement(goals, auth()))["sections"]
        (line,) = section["lines"]
        assert line["amount"] == "360.00"
        assert "no goal" in line["note"]

    async def test_a_yen_plan_pays_whole_yen(self, goals, scoring, post_events, auth) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "1234567", THIS, "JPY"))
        await revenue_goal(goals, auth, "rep:r1", "1000000", "0", currency="JPY")
        await make_plan(goals, auth, plan(currency="JPY"))
        body = await statement(goals, auth())
        (section,) = body["sections"]
        assert [a for _, _, a in amounts(section)] == ["30000", "11728"]  # 11,728.35 half-even
        assert body["totals"] == {"JPY": "41728"}


class TestSpiffsAndBonuses:
    async def test_a_spiff_pays_each_new_customer_of_its_tier(
        self, goals, scoring, post_events, auth
    ) -> None:
        events = [
            tier("acc-A1", "A", when(THIS, "00:00:00")),
            tier("acc-B1", "B", when(THIS, "00:00:00")),
            *deal("r1", "t1", "D1", "100.00", THIS, account="acc-A1"),
            *deal("r1", "t1", "D2", "100.00", THIS, account="acc-B1"),
        ]
        await logged(post_events, scoring, auth, events)
        spiffs = [{"name": "New A customer", "tier": "A", "amount": "250.00"}]
        await make_plan(goals, auth, plan(commission=None, spiffs=spiffs))
        (section,) = (await statement(goals, auth()))["sections"]
        assert amounts(section) == [("spiff", "New A customer", "250.00")]
        assert (section["lines"][0]["kpi_value"], section["lines"][0]["rate"]) == ("1", "250.00")

    async def test_tied_champions_share_the_bonus_to_the_cent(
        self, goals, scoring, post_events, auth
    ) -> None:
        events = [
            *deal("r1", "t1", "D1", "1000.00", THIS),
            *deal("r2", "t1", "D2", "1000.00", THIS),
            *deal("r3", "t1", "D3", "1000.00", THIS),
            *deal("r4", "t1", "D4", "999.99", THIS),
            *deal("r5", "t2", "D5", "5000.00", THIS),  # another team: not a rival
        ]
        await logged(post_events, scoring, auth, events)
        bonus = {"name": "Revenue champion", "metric": "revenue_won", "amount": "100.00"}
        await make_plan(
            goals, auth, plan(applies_to=["team:t1"], commission=None, champion_bonuses=[bonus])
        )
        paid = {}
        for rep in ("r1", "r2", "r3", "r4"):
            sections = (await statement(goals, auth(), rep))["sections"]
            paid[rep] = [a for _, _, a in amounts(sections[0])] if sections else None
        assert paid == {"r1": ["33.34"], "r2": ["33.33"], "r3": ["33.33"], "r4": []}

    async def test_a_team_that_reaches_its_goal_shares_the_pool_by_revenue(
        self, goals, scoring, post_events, auth
    ) -> None:
        events = [
            *deal("r1", "t1", "D1", "2000.00", THIS),
            *deal("r2", "t1", "D2", "1000.00", THIS),
        ]
        await logged(post_events, scoring, auth, events)
        await revenue_goal(goals, auth, "team:t1", "3000.00")
        pool = {"name": "Team goal", "pool": "1000.00", "share_by": "revenue_won"}
        await make_plan(
            goals, auth, plan(applies_to=["team:t1"], commission=None, team_bonuses=[pool])
        )
        r1 = (await statement(goals, auth(), "r1"))["sections"][0]
        r2 = (await statement(goals, auth(), "r2"))["sections"][0]
        assert amounts(r1) == [("team_bonus", "Team goal", "666.67")]
        assert amounts(r2) == [("team_bonus", "Team goal", "333.33")]

    async def test_a_team_short_of_its_goal_gets_no_pool(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "2999.99", THIS))
        await revenue_goal(goals, auth, "team:t1", "3000.00")
        pool = {"name": "Team goal", "pool": "1000.00"}
        await make_plan(
            goals, auth, plan(applies_to=["team:t1"], commission=None, team_bonuses=[pool])
        )
        (section,) = (await statement(goals, auth()))["sections"]
        assert (section["lines"], section["total"]) == ([], "0.00")


class TestUncollected:
    async def test_what_is_not_collected_within_the_days_is_clawed_back(
        self, goals, scoring, post_events, auth
    ) -> None:
        """Invoices whose 30 days run out this month were issued from 30 days before its
        first day to 30 days before its last: last month's 15th is among them."""
        events = [
            *deal("r1", "t1", "D1", "1000.00", LAST),
            invoice("r1", "t1", "I1", "acc-D1", "D1", "1000.00", when(LAST, "00:00:03")),
            payment("r1", "t1", "I1", "acc-D1", "400.00", when(THIS, "00:00:04")),
        ]
        await logged(post_events, scoring, auth, events)
        clawbacks = {"uncollected": {"days": 30, "rate": "0.03"}}
        await make_plan(goals, auth, plan(commission=None, clawbacks=clawbacks))
        (section,) = (await statement(goals, auth()))["sections"]
        (line,) = section["lines"]
        assert (line["rule"]["kind"], line["kpi_value"], line["base"], line["amount"]) == (
            "uncollected",
            "1000.00",
            "600.00",
            "-18.00",
        )


class TestVersionsAndPeriods:
    async def test_each_period_is_paid_under_the_version_governing_it(
        self, goals, scoring, post_events, auth
    ) -> None:
        events = [
            *deal("r1", "t1", "D1", "1000.00", LAST),
            *deal("r1", "t1", "D2", "1000.00", THIS),
        ]
        await logged(post_events, scoring, auth, events)
        plan_id = await make_plan(goals, auth, plan(effective_from=LAST.isoformat()))
        four = {"tiers": [{"from_pct": 0, "rate": "0.04"}]}
        patched = await goals.patch(
            f"/v1/incentives/plans/{plan_id}",
            json={"effective_from": THIS.isoformat(), "commission": four},
            headers=auth(),
        )
        assert patched.status_code == 200, patched.text
        last = (await statement(goals, auth(), period=label(LAST)))["sections"][0]
        this = (await statement(goals, auth()))["sections"][0]
        assert (last["version"], last["total"]) == (1, "30.00")
        assert (this["version"], this["total"]) == (2, "40.00")
        stopped = await goals.patch(
            f"/v1/incentives/plans/{plan_id}",
            json={"effective_from": THIS.isoformat(), "active": False},
            headers=auth(),
        )
        assert stopped.status_code == 200, stopped.text
        assert (await statement(goals, auth()))["sections"] == []
        assert (await statement(goals, auth(), period=label(LAST)))["sections"][0]["version"] == 1

    async def test_a_quarter_statement_holds_the_quarterly_plans(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "1000.00", THIS))
        quarter = THIS.replace(month=3 * ((THIS.month - 1) // 3) + 1)
        quarterly = await make_plan(
            goals,
            auth,
            plan(name="Quarterly", period="quarter", effective_from=quarter.isoformat()),
        )
        await make_plan(goals, auth, plan(name="Monthly"))
        q_label = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
        body = await statement(goals, auth(), period=q_label)
        assert (body["period"], body["start"]) == (q_label, quarter.isoformat())
        assert [(s["plan_id"], s["name"], s["total"]) for s in body["sections"]] == [
            (quarterly, "Quarterly", "30.00")
        ]
        monthly = await statement(goals, auth())
        assert [s["name"] for s in monthly["sections"]] == ["Monthly"]


class TestAsOf:
    async def test_a_plan_made_today_is_not_in_yesterdays_statement(
        self, goals, scoring, post_events, auth
    ) -> None:
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "1000.00", THIS))
        await make_plan(goals, auth, plan())
        now = await statement(goals, auth())
        today = await statement(goals, auth(), as_of=TODAY.isoformat())
        assert today == now
        assert len(now["sections"]) == 1
        then = await statement(goals, auth(), as_of=YESTERDAY.isoformat())
        assert (then["as_of"], then["sections"], then["totals"]) == (
            YESTERDAY.isoformat(),
            [],
            {},
        )


class TestPayoutsAndTrueUps:
    async def test_a_win_voided_after_its_payout_is_clawed_back_next_month(
        self, goals, scoring, post_events, auth
    ) -> None:
        won_event = won("r1", "t1", "D1", "12000.00", "EUR", when(LAST, "10:00:02"))
        events = [
            opened("r1", "t1", "D1", "12000.00", "EUR", "pl", "acc-1", when(LAST, "10:00:01")),
            won_event,
        ]
        await logged(post_events, scoring, auth, events)
        plan_id = await make_plan(goals, auth, plan(effective_from=LAST.isoformat()))

        run = await goals.post(
            "/v1/incentives/payouts", json={"period": label(LAST)}, headers=auth()
        )
        assert run.status_code == 201, run.text
        (stored,) = run.json()["stored"]
        assert (stored["rep_id"], stored["plan_id"], stored["total"]) == ("r1", plan_id, "360.00")
        again = await goals.post(
            "/v1/incentives/payouts", json={"period": label(LAST)}, headers=auth()
        )
        assert again.status_code == 200, again.text
        assert again.json()["stored"] == []
        assert [s["rep_id"] for s in again.json()["skipped"]] == ["r1"]

        await logged(post_events, scoring, auth, [void(won_event, when(THIS, "00:00:03"))])
        paid = await statement(goals, auth(), period=label(LAST))
        (section,) = paid["sections"]
        assert (section["status"], section["total"]) == ("paid", "360.00")  # as stored

        body = await statement(goals, auth())
        (section,) = body["sections"]
        assert section["status"] == "open"
        nothing, line = section["lines"]  # this month's commission (nothing won), the true-up
        assert (nothing["rule"]["kind"], nothing["amount"]) == ("commission", "0.00")
        assert (line["rule"]["kind"], line["about"], line["amount"]) == (
            "true_up",
            label(LAST),
            "-360.00",
        )
        assert line["note"].startswith(
            f"clawback: {label(LAST)} restated: revenue_won 12000.00 → 0"
        )

        # This month paid, the next month owes nothing more about last month.
        run = await goals.post(
            "/v1/incentives/payouts", json={"period": label(THIS)}, headers=auth()
        )
        assert run.status_code == 201, run.text
        assert run.json()["stored"][0]["total"] == "-360.00"
        later = await statement(goals, auth(), period=label(NEXT))
        assert [li["amount"] for s in later["sections"] for li in s["lines"]] == ["0.00"]

        listed = await goals.get(
            "/v1/incentives/payouts", params={"period": label(LAST)}, headers=auth("bi")
        )
        assert listed.status_code == 200, listed.text
        assert [(p["rep_id"], p["total"]) for p in listed.json()["items"]] == [("r1", "360.00")]

    async def test_a_payout_pays_the_members_of_the_named_team(
        self, goals, scoring, post_events, auth
    ) -> None:
        for rep, team in (("r1", "t1"), ("r2", "t1"), ("r3", "t2")):
            answer = await goals.put(
                f"/v1/reps/{rep}", json={"team_id": team, "from": LAST.isoformat()}, headers=auth()
            )
            assert answer.status_code == 200, answer.text
        events = [*deal("r1", "t1", "D1", "100.00", THIS), *deal("r3", "t2", "D3", "100.00", THIS)]
        await logged(post_events, scoring, auth, events)
        await make_plan(goals, auth, plan(applies_to=["team:t1"]))
        run = await goals.post(
            "/v1/incentives/payouts", json={"period": label(THIS)}, headers=auth()
        )
        assert run.status_code == 201, run.text
        assert [(p["rep_id"], p["total"]) for p in run.json()["stored"]] == [
            ("r1", "3.00"),
            ("r2", "0.00"),
        ]
        (section,) = (await statement(goals, auth("rep", sub="r1", team="t1")))["sections"]
        assert (section["status"], section["total"]) == ("paid", "3.00")


class TestAccess:
    async def test_who_may_read_a_reps_statement(self, goals, scoring, post_events, auth) -> None:
        events = [*deal("r1", "t1", "D1", "1000.00", THIS), *deal("r2", "t2", "D2", "10.00", THIS)]
        await logged(post_events, scoring, auth, events)
        await make_plan(goals, auth, plan())
        query = {"owner": "rep:r1", "period": label(THIS)}
        callers = {
            "own": (auth("rep", sub="r1", team="t1"), 200),
            "other rep": (auth("rep", sub="r2", team="t1"), 403),
            "manager of the team": (auth("manager", sub="m1", team="t1"), 200),
            "other manager": (auth("manager", sub="m2", team="t2"), 403),
            "bi": (auth("bi"), 200),
            "admin": (auth(), 200),
        }
        for name, (headers, status) in callers.items():
            answer = await goals.get("/v1/incentives/statements", params=query, headers=headers)
            assert answer.status_code == status, (name, answer.text)
            if status == 403:
                assert_problem(answer, 403)
            else:
                assert answer.json()["totals"] == {"EUR": "30.00"}, name

    async def test_payouts_are_run_by_admins_and_read_by_admins_and_bi(self, goals, auth) -> None:
        body = {"period": label(THIS)}
        for role in ("rep", "manager", "bi"):
            answer = await goals.post(
                "/v1/incentives/payouts", json=body, headers=auth(role, team="t1")
            )
            assert_problem(answer, 403)
        for role in ("rep", "manager"):
            answer = await goals.get(
                "/v1/incentives/payouts", params=body, headers=auth(role, team="t1")
            )
            assert_problem(answer, 403)


class TestBadInput:
    async def test_the_owner_is_a_rep(self, goals, auth) -> None:
        for owner in ("team:t1", "org", "r1"):
            answer = await goals.get(
                "/v1/incentives/statements",
                params={"owner": owner, "period": label(THIS)},
                headers=auth(),
            )
            assert_problem(answer, 422, "owner")

    async def test_the_period_is_a_month_or_a_quarter(self, goals, auth) -> None:
        for period in ("2026-13", "2026-Q5", "2026", "2026-11-01"):
            answer = await goals.get(
                "/v1/incentives/statements",
                params={"owner": "rep:r1", "period": period},
                headers=auth(),
            )
            assert_problem(answer, 422, "period")
            run = await goals.post(
                "/v1/incentives/payouts", json={"period": period}, headers=auth()
            )
            assert_problem(run, 422, "period")


class TestScoringDown:
    async def test_a_statement_without_scoring_is_a_503(self, database_url, auth) -> None:
        app = create_app(
            goals_settings(scoring_url="http://127.0.0.1:9", scoring_timeout=2),
            database_url=database_url,
        )
        async with running(app, "goals-without-scoring") as goals:
            await make_plan(goals, auth, plan())
            answer = await goals.get(
                "/v1/incentives/statements",
                params={"owner": "rep:r1", "period": label(THIS)},
                headers=auth(),
            )
            assert_problem(answer, 503)
            run = await goals.post(
                "/v1/incentives/payouts", json={"period": label(THIS)}, headers=auth()
            )
            assert_problem(run, 503)
            listed = await goals.get(
                "/v1/incentives/payouts", params={"period": label(THIS)}, headers=auth()
            )
            assert (listed.status_code, listed.json()["items"]) == (200, [])
