"""Incentive statements and payouts (issue 15, part 2): a rep's statement of a month against a
hand-made log whose every figure is known to the cent, payout runs, a void after a payout clawed
back in the next month, `as_of`, who may read what. Real PostgreSQL, the three apps in-process;
plans are made through `POST /v1/incentives/plans`.

Events are recorded now (back-dated through `occurred_at`), so the months are this month (the
statement's period), last month and the month before (the periods paid, then restated: a payout
run pays ended periods only); every event happens on a day of those months up to today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from services.goals import repository, statements
from services.goals.incentive_math import GoalBounds
from services.goals.main import create_app
from tests.api.goals.conftest import goals_settings
from tests.api.goals.helpers import assert_problem, create
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, invoice, opened, payment, tier, void, won
from tests.conftest import running

TODAY = datetime.now(UTC).date()
THIS = TODAY.replace(day=1)
LAST = (THIS - timedelta(days=1)).replace(day=1)
EARLIER = (LAST - timedelta(days=1)).replace(day=1)
NEXT = (THIS + timedelta(days=32)).replace(day=1)
QUARTER = THIS.replace(month=3 * ((THIS.month - 1) // 3) + 1)
LAST_QUARTER = (QUARTER - timedelta(days=1)).replace(day=1)
LAST_QUARTER = LAST_QUARTER.replace(month=LAST_QUARTER.month - 2)
YESTERDAY = TODAY - timedelta(days=1)


def label(month: date) -> str:
    return f"{month.year}-{month.month:02d}"


def q_label(start: date) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


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
        won_event = won("r1", "t1", "D1", "12000.00", "EUR", when(EARLIER, "10:00:02"))
        events = [
            opened("r1", "t1", "D1", "12000.00", "EUR", "pl", "acc-1", when(EARLIER, "10:00:01")),
            won_event,
        ]
        await logged(post_events, scoring, auth, events)
        plan_id = await make_plan(goals, auth, plan(effective_from=EARLIER.isoformat()))

        run = await goals.post(
            "/v1/incentives/payouts", json={"period": label(EARLIER)}, headers=auth()
        )
        assert run.status_code == 201, run.text
        (stored,) = run.json()["stored"]
        assert (stored["rep_id"], stored["plan_id"], stored["total"]) == ("r1", plan_id, "360.00")
        again = await goals.post(
            "/v1/incentives/payouts", json={"period": label(EARLIER)}, headers=auth()
        )
        assert again.status_code == 200, again.text
        assert again.json()["stored"] == []
        assert [s["rep_id"] for s in again.json()["skipped"]] == ["r1"]

        await logged(post_events, scoring, auth, [void(won_event, when(THIS, "00:00:03"))])
        paid = await statement(goals, auth(), period=label(EARLIER))
        (section,) = paid["sections"]
        assert (section["status"], section["total"]) == ("paid", "360.00")  # as stored

        body = await statement(goals, auth(), period=label(LAST))
        (section,) = body["sections"]
        assert section["status"] == "open"
        nothing, line = section["lines"]  # last month's commission (nothing won), the true-up
        assert (nothing["rule"]["kind"], nothing["amount"]) == ("commission", "0.00")
        assert (line["rule"]["kind"], line["about"], line["amount"]) == (
            "true_up",
            label(EARLIER),
            "-360.00",
        )
        assert line["note"].startswith(
            f"clawback: {label(EARLIER)} restated: revenue_won 12000.00 → 0"
        )

        # Last month paid, this month owes nothing more about the month before.
        run = await goals.post(
            "/v1/incentives/payouts", json={"period": label(LAST)}, headers=auth()
        )
        assert run.status_code == 201, run.text
        assert run.json()["stored"][0]["total"] == "-360.00"
        later = await statement(goals, auth(), period=label(THIS))
        assert [li["amount"] for s in later["sections"] for li in s["lines"]] == ["0.00"]

        listed = await goals.get(
            "/v1/incentives/payouts", params={"period": label(EARLIER)}, headers=auth("bi")
        )
        assert listed.status_code == 200, listed.text
        assert [(p["rep_id"], p["total"]) for p in listed.json()["items"]] == [("r1", "360.00")]

    async def test_a_payout_pays_the_members_of_the_named_team(
        self, goals, scoring, post_events, auth
    ) -> None:
        for rep, team in (("r1", "t1"), ("r2", "t1"), ("r3", "t2")):
            answer = await goals.put(
                f"/v1/reps/{rep}",
                json={"team_id": team, "from": EARLIER.isoformat()},
                headers=auth(),
            )
            assert answer.status_code == 200, answer.text
        events = [*deal("r1", "t1", "D1", "100.00", LAST), *deal("r3", "t2", "D3", "100.00", LAST)]
        await logged(post_events, scoring, auth, events)
        await make_plan(goals, auth, plan(applies_to=["team:t1"], effective_from=LAST.isoformat()))
        run = await goals.post(
            "/v1/incentives/payouts", json={"period": label(LAST)}, headers=auth()
        )
        assert run.status_code == 201, run.text
        assert [(p["rep_id"], p["total"]) for p in run.json()["stored"]] == [
            ("r1", "3.00"),
            ("r2", "0.00"),
        ]
        mine = await statement(goals, auth("rep", sub="r1", team="t1"), period=label(LAST))
        (section,) = mine["sections"]
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
            await make_plan(goals, auth, plan(effective_from=LAST.isoformat()))
            answer = await goals.get(
                "/v1/incentives/statements",
                params={"owner": "rep:r1", "period": label(THIS)},
                headers=auth(),
            )
            assert_problem(answer, 503)
            run = await goals.post(
                "/v1/incentives/payouts", json={"period": label(LAST)}, headers=auth()
            )
            assert_problem(run, 503)
            listed = await goals.get(
                "/v1/incentives/payouts", params={"period": label(THIS)}, headers=auth()
            )
            assert (listed.status_code, listed.json()["items"]) == (200, [])


async def put_rep(goals: httpx.AsyncClient, auth: Any, rep: str, **body: Any) -> None:
    answer = await goals.put(f"/v1/reps/{rep}", json=body, headers=auth())
    assert answer.status_code == 200, answer.text


async def pay(goals: httpx.AsyncClient, auth: Any, **body: Any) -> httpx.Response:
    return await goals.post("/v1/incentives/payouts", json=body, headers=auth())


class TestReviewedRules:
    async def test_monthly_and_quarterly_payouts_stay_in_their_own_statements(
        self, goals, scoring, post_events, auth
    ) -> None:
        """The month paid starts the quarter paid: each statement shows its own plan only."""
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "1000.00", LAST_QUARTER))
        start = LAST_QUARTER.isoformat()
        monthly = await make_plan(goals, auth, plan(name="Monthly", effective_from=start))
        quarterly = await make_plan(
            goals, auth, plan(name="Quarterly", period="quarter", effective_from=start)
        )
        month_run = await pay(goals, auth, period=label(LAST_QUARTER))
        assert month_run.status_code == 201, month_run.text
        quarter_run = await pay(goals, auth, period=q_label(LAST_QUARTER))
        assert quarter_run.status_code == 201, quarter_run.text
        assert [p["plan_id"] for p in quarter_run.json()["stored"]] == [quarterly]
        assert quarter_run.json()["skipped"] == []
        month = await statement(goals, auth(), period=label(LAST_QUARTER))
        quarter = await statement(goals, auth(), period=q_label(LAST_QUARTER))
        assert [(s["plan_id"], s["status"]) for s in month["sections"]] == [(monthly, "paid")]
        assert [(s["plan_id"], s["status"]) for s in quarter["sections"]] == [(quarterly, "paid")]
        again = await pay(goals, auth, period=q_label(LAST_QUARTER))
        assert [p["plan_id"] for p in again.json()["skipped"]] == [quarterly]

    async def test_a_period_not_ended_by_the_as_of_day_is_not_paid(self, goals, auth) -> None:
        await make_plan(goals, auth, plan(effective_from=LAST.isoformat()))
        for period in (label(THIS), label(NEXT), q_label(QUARTER)):
            assert_problem(await pay(goals, auth, period=period), 422, "period", location="body")
        before_its_end = (THIS - timedelta(days=2)).isoformat()
        answer = await pay(goals, auth, period=label(LAST), as_of=before_its_end)
        assert_problem(answer, 422, "as_of", location="body")
        assert (await pay(goals, auth, period=label(LAST))).status_code == 201

    async def test_a_manager_the_roster_replaced_reads_none_of_the_team(
        self, goals, scoring, post_events, auth
    ) -> None:
        await put_rep(goals, auth, "r1", team_id="t1", **{"from": EARLIER.isoformat()})
        team = {"name": "T1", "manager_id": "m1", "from": EARLIER.isoformat()}
        answer = await goals.put("/v1/teams/t1", json=team, headers=auth())
        assert answer.status_code == 200, answer.text
        await logged(post_events, scoring, auth, deal("r1", "t1", "D1", "1000.00", LAST))
        await make_plan(goals, auth, plan(effective_from=LAST.isoformat()))
        query = {"owner": "rep:r1", "period": label(LAST)}
        m1 = auth("manager", sub="m1", team="t1")
        answer = await goals.get("/v1/incentives/statements", params=query, headers=m1)
        assert answer.status_code == 200, answer.text
        team = {**team, "manager_id": "m-new", "from": THIS.isoformat()}
        answer = await goals.put("/v1/teams/t1", json=team, headers=auth())
        assert answer.status_code == 200, answer.text
        answer = await goals.get("/v1/incentives/statements", params=query, headers=m1)
        assert_problem(answer, 403)

    async def test_a_rep_who_left_during_the_period_is_paid_for_it(
        self, goals, scoring, post_events, auth
    ) -> None:
        for rep in ("r1", "r2"):
            await put_rep(goals, auth, rep, team_id="t1", **{"from": EARLIER.isoformat()})
        left = LAST.replace(day=20).isoformat()
        await put_rep(goals, auth, "r2", team_id="t1", status="left", **{"from": left})
        events = [*deal("r1", "t1", "D1", "100.00", LAST), *deal("r2", "t1", "D2", "200.00", LAST)]
        await logged(post_events, scoring, auth, events)
        await make_plan(goals, auth, plan(applies_to=["team:t1"], effective_from=LAST.isoformat()))
        (section,) = (await statement(goals, auth(), "r2", period=label(LAST)))["sections"]
        assert (section["status"], section["total"]) == ("open", "6.00")
        run = await pay(goals, auth, period=label(LAST))
        assert run.status_code == 201, run.text
        assert [(p["rep_id"], p["total"]) for p in run.json()["stored"]] == [
            ("r1", "3.00"),
            ("r2", "6.00"),
        ]

    async def test_the_pool_is_split_among_the_members_the_plan_covers(
        self, goals, scoring, post_events, auth
    ) -> None:
        """r3 works in t1 but the plan names r1 and r2 only: their lines are the whole pool."""
        events = [
            *deal("r1", "t1", "D1", "2000.00", THIS),
            *deal("r2", "t1", "D2", "1000.00", THIS),
            *deal("r3", "t1", "D3", "1000.00", THIS),
        ]
        await logged(post_events, scoring, auth, events)
        await revenue_goal(goals, auth, "team:t1", "3000.00")
        pool = {"name": "Team goal", "pool": "1000.00", "share_by": "revenue_won"}
        body = plan(applies_to=["rep:r1", "rep:r2"], commission=None, team_bonuses=[pool])
        await make_plan(goals, auth, body)
        r1 = (await statement(goals, auth(), "r1"))["sections"][0]
        r2 = (await statement(goals, auth(), "r2"))["sections"][0]
        assert amounts(r1) == [("team_bonus", "Team goal", "666.67")]
        assert amounts(r2) == [("team_bonus", "Team goal", "333.33")]
        note = r1["lines"][0]["note"]
        assert "3000" not in note  # the team's figures stay unsaid
        assert "4000" not in note
        assert note.startswith("the team reached 100 % of its goal on revenue_won")

    async def test_a_true_up_outlives_the_plan(self, goals, scoring, post_events, auth) -> None:
        """Q (the month before last) paid, the plan inactive from P (last month), Q's win
        voided: P's statement and payout still claw it back."""
        won_event = won("r1", "t1", "D1", "12000.00", "EUR", when(EARLIER, "10:00:02"))
        events = [
            opened("r1", "t1", "D1", "12000.00", "EUR", "pl", "acc-1", when(EARLIER, "10:00:01")),
            won_event,
        ]
        await logged(post_events, scoring, auth, events)
        plan_id = await make_plan(goals, auth, plan(effective_from=EARLIER.isoformat()))
        assert (await pay(goals, auth, period=label(EARLIER))).status_code == 201
        stopped = await goals.patch(
            f"/v1/incentives/plans/{plan_id}",
            json={"effective_from": LAST.isoformat(), "active": False},
            headers=auth(),
        )
        assert stopped.status_code == 200, stopped.text
        await logged(post_events, scoring, auth, [void(won_event, when(LAST, "00:00:03"))])
        (section,) = (await statement(goals, auth(), period=label(LAST)))["sections"]
        assert (section["plan_id"], section["version"], section["status"]) == (plan_id, 2, "open")
        assert [(li["rule"]["kind"], li["about"]) for li in section["lines"]] == [
            ("true_up", label(EARLIER))
        ]
        assert section["total"] == "-360.00"
        run = await pay(goals, auth, period=label(LAST))
        assert run.status_code == 201, run.text
        assert [(p["rep_id"], p["total"]) for p in run.json()["stored"]] == [("r1", "-360.00")]
        assert (await statement(goals, auth(), period=label(THIS)))["sections"] == []

    async def test_thousands_of_payouts_are_stored_in_chunks(
        self, goals, goals_app, org, auth
    ) -> None:
        plan_id = await make_plan(goals, auth, plan())
        rows = [
            {
                "org_id": org,
                "rep_id": f"r{i:05d}",
                "plan_id": plan_id,
                "period_start": LAST,
                "version": 1,
                "currency": "EUR",
                "total": "0.00",
                "lines": [],
                "paid_by": "admin",
            }
            for i in range(3_700)
        ]
        async with goals_app.state.sessionmaker.begin() as session:
            stored = await repository.add_payouts(session, rows)
            assert len(stored) == 3_700
            assert await repository.add_payouts(session, rows) == []


class TestPayoutPages:
    async def test_payouts_come_by_rep_a_page_at_a_time(self, goals, goals_app, org, auth) -> None:
        plan_id = await make_plan(goals, auth, plan())
        rows = [
            {
                "org_id": org,
                "rep_id": f"r{i:04d}",
                "plan_id": plan_id,
                "period_start": LAST,
                "version": 1,
                "currency": "EUR",
                "total": f"{i}.00",
                "lines": [],
                "paid_by": "admin",
            }
            for i in range(1, 2501)
        ]
        async with goals_app.state.sessionmaker.begin() as session:
            await repository.add_payouts(session, rows)
        seen: list[str] = []
        params: dict[str, Any] = {"period": label(LAST), "limit": 1000}
        pages = 0
        while True:
            answer = await goals.get("/v1/incentives/payouts", params=params, headers=auth("bi"))
            assert answer.status_code == 200, answer.text
            body = answer.json()
            pages += 1
            seen += [p["rep_id"] for p in body["items"]]
            if body["next"] is None:
                assert "Link" not in answer.headers
                break
            assert answer.headers["X-Next-Cursor"] == body["next"]
            assert 'rel="next"' in answer.headers["Link"]
            params["cursor"] = body["next"]
        assert pages == 3
        assert seen == [f"r{i:04d}" for i in range(1, 2501)]

        one = await goals.get(
            "/v1/incentives/payouts",
            params={"period": label(LAST), "rep": "r0042"},
            headers=auth(),
        )
        assert [(p["rep_id"], p["total"]) for p in one.json()["items"]] == [("r0042", "42.00")]
        first = await goals.get(
            "/v1/incentives/payouts", params={"period": label(LAST), "limit": 1}, headers=auth()
        )
        elsewhere = await goals.get(
            "/v1/incentives/payouts",
            params={"period": label(EARLIER), "cursor": first.json()["next"]},
            headers=auth(),
        )
        assert_problem(elsewhere, 422, "cursor", location="query")
        quarter = await goals.get(
            "/v1/incentives/payouts", params={"period": q_label(LAST_QUARTER)}, headers=auth()
        )
        assert quarter.json()["items"] == []  # a monthly plan's payouts are no quarter's


class TestInputNames:
    async def test_the_owner_is_a_rep_id(self, goals, auth) -> None:
        for owner in ("rep:", "rep:-x", "rep:a b", "rep:r1/x", "rep:" + "x" * 200):
            answer = await goals.get(
                "/v1/incentives/statements",
                params={"owner": owner, "period": label(THIS)},
                headers=auth(),
            )
            assert_problem(answer, 422, "owner", location="query")

    async def test_the_period_is_between_1970_and_2099(self, goals, auth) -> None:
        for period in ("1969-12", "2100-01", "0001-01", "9999-Q4"):
            answer = await goals.get(
                "/v1/incentives/statements",
                params={"owner": "rep:r1", "period": period},
                headers=auth(),
            )
            assert_problem(answer, 422, "period", location="query")
            run = await pay(goals, auth, period=period)
            assert_problem(run, 422, "period", location="body")


class TestGoalsAsTheyStood:
    async def test_attainment_reads_the_goal_revision_in_force_at_the_moment(
        self, goals, goals_app, org, auth
    ) -> None:
        """A past day's statement measures attainment against the goal as it then stood: a
        target changed since, or a goal set since, does not reach back."""
        body = {
            "owner": "rep:r1",
            "metric": "revenue_won",
            "period": "month",
            "start": THIS.isoformat(),
            "target": "10000.00",
            "floor": "6000.00",
            "currency": "EUR",
        }
        goal = await create(goals, auth(), body)
        changed = await goals.patch(
            f"/v1/goals/{goal['id']}", json={"target": "20000.00"}, headers=auth()
        )
        assert changed.status_code == 200, changed.text
        history = await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())
        first, second = (datetime.fromisoformat(r["changed_at"]) for r in history.json()["items"])
        between = first + (second - first) / 2
        period = statements.period_of(label(THIS))

        async def bounds(until: datetime | None) -> GoalBounds | None:
            async with goals_app.state.sessionmaker.begin() as session:
                ctx = statements.Context(
                    session,
                    org,
                    None,  # type: ignore[arg-type]  # no scoring is asked
                    statements.Moment(TODAY, until),
                    {},
                )
                return await statements.goal_bounds(
                    ctx, ("rep", "r1"), "revenue_won", period, "EUR"
                )

        now = await bounds(None)
        assert now is not None
        assert now.target == Decimal("20000.00")
        then = await bounds(between)
        assert then is not None
        assert (then.target, then.floor) == (
            Decimal("10000.00"),
            Decimal("6000.00"),
        )
        assert await bounds(first - timedelta(seconds=1)) is None  # not set yet
