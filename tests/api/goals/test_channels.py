"""Channel ROI (issue 15, part 3): costs per channel and month written by the admin, and each
channel's leads, conversions, revenue and cost over a range of days, against a hand-made log
whose every figure is known. Real PostgreSQL, the three apps in-process."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from services.goals.main import create_app
from tests.api.goals.conftest import goals_settings
from tests.api.goals.helpers import assert_problem
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, lead, lost, opened, qualified, won
from tests.conftest import running

FROM, TO = "2026-09-01", "2026-10-15"  # all of September, the first 15 of October's 31 days


def log() -> list[dict[str, Any]]:
    """referral (r1, t1): 3 leads, 2 qualified, D1 won (1000.00, 14 days), D2 lost; exhibition
    (r2, t2): 1 lead qualified, D3 won (5000.00, 33 days); inbound: 1 lead; online: leads only
    outside the range; a won deal without a lead (no channel) and a referral lead after it."""
    return [
        lead("r1", "t1", "L1", "referral", "A1", at("2026-09-02")),
        lead("r1", "t1", "L2", "referral", "A2", at("2026-09-10")),
        lead("r1", "t1", "L3", "referral", "A3", at("2026-10-03")),
        qualified("r1", "t1", "L1", at("2026-09-05")),
        qualified("r1", "t1", "L2", at("2026-09-12")),
        opened("r1", "t1", "D1", "1000.00", "EUR", "pl", "A1", at("2026-09-06"), lead_id="L1"),
        won("r1", "t1", "D1", "1000.00", "EUR", at("2026-09-20")),
        opened("r1", "t1", "D2", "700.00", "EUR", "pl", "A2", at("2026-09-15"), lead_id="L2"),
        lost("r1", "t1", "D2", at("2026-10-01")),
        lead("r2", "t2", "L4", "exhibition", "A4", at("2026-09-05")),
        qualified("r2", "t2", "L4", at("2026-09-06")),
        opened("r2", "t2", "D3", "5000.00", "EUR", "pl", "A4", at("2026-09-07"), lead_id="L4"),
        won("r2", "t2", "D3", "5000.00", "EUR", at("2026-10-10")),
        lead("r2", "t2", "L5", "online", "A5", at("2026-10-20")),
        lead("r2", "t2", "L6", "online", "A6", at("2026-08-31")),
        lead("r1", "t1", "L7", "inbound", "A7", at("2026-09-03")),
        opened("r1", "t1", "D9", "300.00", "EUR", "pl", "A9", at("2026-09-08")),
        won("r1", "t1", "D9", "300.00", "EUR", at("2026-09-09")),
        lead("r1", "t1", "L8", "referral", "A8", at("2026-10-16")),
    ]


COSTS = [
    {"channel": "referral", "month": "2026-09", "amount": "300.00", "currency": "EUR"},
    {"channel": "referral", "month": "2026-10", "amount": "310.00", "currency": "EUR"},
    {"channel": "exhibition", "month": "2026-09", "amount": "1200.00", "currency": "EUR"},
    {"channel": "exhibition", "month": "2026-10", "amount": "1000.00", "currency": "EUR"},
    {"channel": "online", "month": "2026-09", "amount": "50.00", "currency": "USD"},
    {"channel": "inbound", "month": "2026-09", "amount": "0", "currency": "EUR"},
    {"channel": "other", "month": "2026-11", "amount": "999.00", "currency": "EUR"},
]


def ratio(num: Decimal, den: Decimal) -> str:
    return format((num / den).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN), "f")


def rate(value: Any, numerator: int, denominator: int) -> dict[str, Any]:
    return {"value": value, "numerator": numerator, "denominator": denominator}


def line(channel: str, **values: Any) -> dict[str, Any]:
    empty = {
        "channel": channel,
        "new_leads": 0,
        "opportunities": 0,
        "deals_won": 0,
        "revenue_won": "0.00",
        "lead_to_opportunity_rate": rate(None, 0, 0),
        "win_rate": rate(None, 0, 0),
        "avg_sales_cycle_days": rate(None, 0, 0),
        "cost": "0.00",
        "other_currency_costs": {},
        "cost_per_lead": None,
        "cost_per_won_deal": None,
        "revenue_per_cost": None,
    }
    return {**empty, **values}


async def seeded(post_events, scoring, goals, auth) -> None:
    position = await post_events(log())
    await settled(scoring, auth(), position)
    answer = await goals.put("/v1/channels/costs", json={"costs": COSTS}, headers=auth())
    assert answer.status_code == 200, answer.text


class TestChannelRoi:
    async def test_the_org_sees_every_channel_with_its_pro_rated_cost(
        self, goals, scoring, post_events, auth
    ) -> None:
        await seeded(post_events, scoring, goals, auth)
        answer = await goals.get("/v1/channels", params={"from": FROM, "to": TO}, headers=auth())
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # October's share: days 1..15 of 31, half-even to the cent (31000·15/31 is whole).
        referral = 30000 + round(Fraction(31000 * 15, 31))
        exhibition = 120000 + round(Fraction(100000 * 15, 31))  # 48387.09… → 48387
        assert exhibition == 168387
        referral_cost, exhibition_cost = Decimal(referral) / 100, Decimal(exhibition) / 100
        assert body == {
            "owner": "org",
            "from": FROM,
            "to": TO,
            "currency": "EUR",
            "items": [
                line(
                    "referral",
                    new_leads=3,
                    opportunities=2,
                    deals_won=1,
                    revenue_won="1000.00",
                    lead_to_opportunity_rate=rate(0.666667, 2, 3),  # scoring's 6 decimals
                    win_rate=rate(0.5, 1, 2),
                    avg_sales_cycle_days=rate(14.0, 14, 1),
                    cost="450.00",
                    cost_per_lead="150.00",
                    cost_per_won_deal="450.00",
                    revenue_per_cost=ratio(Decimal("1000.00"), referral_cost),
                ),
                line("cold_visit"),
                line(
                    "exhibition",
                    new_leads=1,
                    opportunities=1,
                    deals_won=1,
                    revenue_won="5000.00",
                    lead_to_opportunity_rate=rate(1.0, 1, 1),
                    win_rate=rate(1.0, 1, 1),
                    avg_sales_cycle_days=rate(33.0, 33, 1),
                    cost="1683.87",
                    cost_per_lead="1683.87",
                    cost_per_won_deal="1683.87",
                    revenue_per_cost=ratio(Decimal("5000.00"), exhibition_cost),
                ),
                line("online", other_currency_costs={"USD": "50.00"}),
                line(
                    "inbound",
                    new_leads=1,
                    lead_to_opportunity_rate=rate(0.0, 0, 1),
                    cost_per_lead="0.00",  # a cost of 0 recorded: 0 a lead
                ),
                line("other"),
            ],
        }
        assert ratio(Decimal("5000.00"), exhibition_cost) == "2.9694"

    async def test_a_managers_team_has_its_numbers_and_no_costs(
        self, goals, scoring, post_events, auth
    ) -> None:
        await seeded(post_events, scoring, goals, auth)
        manager = auth("manager", sub="m1", team="t1")
        answer = await goals.get("/v1/channels", params={"from": FROM, "to": TO}, headers=manager)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["owner"] == "team:t1"
        by = {i["channel"]: i for i in body["items"]}
        assert (by["referral"]["new_leads"], by["referral"]["deals_won"]) == (3, 1)
        assert by["exhibition"]["new_leads"] == 0  # r2 works in t2
        for item in body["items"]:
            assert item["cost"] is None
            assert item["other_currency_costs"] is None
            assert item["cost_per_lead"] is None
            assert item["cost_per_won_deal"] is None
            assert item["revenue_per_cost"] is None
        # The org is not theirs to ask about, nor another team; their rep is.
        for owner in ("org", "team:t2"):
            refused = await goals.get(
                "/v1/channels", params={"from": FROM, "to": TO, "owner": owner}, headers=manager
            )
            assert_problem(refused, 403)
        rep = await goals.get(
            "/v1/channels", params={"from": FROM, "to": TO, "owner": "rep:r1"}, headers=manager
        )
        assert rep.status_code == 200, rep.text
        assert rep.json()["items"][0]["new_leads"] == 3

    async def test_a_rep_sees_themselves_only(self, goals, scoring, post_events, auth) -> None:
        await seeded(post_events, scoring, goals, auth)
        r2 = auth("rep", sub="r2", team="t2")
        answer = await goals.get("/v1/channels", params={"from": FROM, "to": TO}, headers=r2)
        assert answer.status_code == 200, answer.text
        by = {i["channel"]: i for i in answer.json()["items"]}
        assert answer.json()["owner"] == "rep:r2"
        assert (by["exhibition"]["new_leads"], by["referral"]["new_leads"]) == (1, 0)
        assert by["exhibition"]["cost"] is None
        other = await goals.get(
            "/v1/channels", params={"from": FROM, "to": TO, "owner": "rep:r1"}, headers=r2
        )
        assert_problem(other, 403)

    async def test_the_range_is_required_and_in_order(self, goals, auth) -> None:
        assert_problem(await goals.get("/v1/channels", headers=auth()), 422, "from", "to")
        reversed_ = await goals.get(
            "/v1/channels", params={"from": "2026-10-02", "to": "2026-10-01"}, headers=auth()
        )
        assert_problem(reversed_, 422, "to", location="query")
        bad = await goals.get(
            "/v1/channels", params={"from": FROM, "to": TO, "currency": "EURO"}, headers=auth()
        )
        assert_problem(bad, 422, "currency", location="query")
        unknown = await goals.get(
            "/v1/channels", params={"from": FROM, "to": TO, "currency": "XXY"}, headers=auth()
        )
        assert_problem(unknown, 422, "currency", location="query")

    async def test_scoring_down_is_a_503(self, database_url, auth) -> None:
        app = create_app(
            goals_settings(scoring_url="http://127.0.0.1:9", scoring_timeout=2),
            database_url=database_url,
        )
        async with running(app, "goals-without-scoring") as goals:
            answer = await goals.get(
                "/v1/channels", params={"from": FROM, "to": TO}, headers=auth()
            )
            body = assert_problem(answer, 503)
            assert "scoring" in body["detail"]


class TestCosts:
    async def test_stored_replaced_and_listed(self, goals, auth, db, org) -> None:
        answer = await goals.put("/v1/channels/costs", json={"costs": COSTS}, headers=auth())
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [(i["month"], i["channel"], i["amount"], i["currency"]) for i in items] == sorted(
            (c["month"], c["channel"], c["amount"] if c["amount"] != "0" else "0.00", c["currency"])
            for c in COSTS
        )
        assert all(i["recorded_by"] == "user-1" for i in items)
        again = await goals.put(
            "/v1/channels/costs",
            json={
                "costs": [
                    {"channel": "referral", "month": "2026-09", "amount": "1", "currency": "JPY"}
                ]
            },
            headers=auth(sub="boss-2"),
        )
        assert again.status_code == 200, again.text
        assert [(i["amount"], i["currency"], i["recorded_by"]) for i in again.json()["items"]] == [
            ("1", "JPY", "boss-2")
        ]
        rows = await db.fetch(
            "SELECT channel, month, amount, currency FROM goals.channel_costs "
            "WHERE org_id = $1 ORDER BY month, channel",
            org,
        )
        assert len(rows) == len(COSTS)
        stored = {(r["channel"], f"{r['month']:%Y-%m}"): (r["amount"], r["currency"]) for r in rows}
        assert stored["referral", "2026-09"] == (Decimal("1"), "JPY")
        assert stored["exhibition", "2026-10"] == (Decimal("1000.00"), "EUR")
        for reader in (auth(), auth("bi", sub="analyst"), auth("manager", sub="m1", team="t1")):
            listed = await goals.get(
                "/v1/channels/costs", params={"from": "2026-10", "to": "2026-10"}, headers=reader
            )
            assert listed.status_code == 200, listed.text
            assert [(i["channel"], i["month"]) for i in listed.json()["items"]] == [
                ("exhibition", "2026-10"),
                ("referral", "2026-10"),
            ]
        everything = await goals.get("/v1/channels/costs", headers=auth())
        assert len(everything.json()["items"]) == len(COSTS)

    async def test_only_an_admin_writes_and_reps_do_not_read(self, goals, auth, db, org) -> None:
        body = {"costs": COSTS[:1]}
        for caller in (
            auth("rep", sub="r1", team="t1"),
            auth("manager", sub="m1", team="t1"),
            auth("bi", sub="analyst"),
            auth("service", sub="goals"),
        ):
            assert_problem(await goals.put("/v1/channels/costs", json=body, headers=caller), 403)
        assert_problem(
            await goals.get("/v1/channels/costs", headers=auth("rep", sub="r1", team="t1")), 403
        )
        stored = await db.fetchval(
            "SELECT count(*) FROM goals.channel_costs WHERE org_id = $1", org
        )
        assert stored == 0

    async def test_bad_items_are_named_and_nothing_is_stored(self, goals, auth, db, org) -> None:
        good = COSTS[0]
        bad = {
            "costs": [
                good,
                {**good, "channel": "billboard"},
                {**good, "month": "2026-13"},
                {**good, "amount": "10.5", "currency": "JPY"},
                {**good, "amount": "-1.00"},
                {**good, "amount": 12},
                {**good, "currency": "XXY"},
                {**good, "amount": "1.001"},
                {**good, "extra": 1},
                {"channel": "online", "month": "2026-09", "amount": "1.00"},
            ]
        }
        answer = await goals.put("/v1/channels/costs", json=bad, headers=auth())
        assert_problem(
            answer,
            422,
            "costs[1].channel",
            "costs[2].month",
            "costs[3].amount",
            "costs[4].amount",
            "costs[5].amount",
            "costs[6].currency",
            "costs[7].amount",
            "costs[8].extra",
            "costs[9].currency",
        )
        named = {e["field"] for e in answer.json()["errors"]}
        assert not any(f.startswith("costs[0]") for f in named), named
        twice = await goals.put(
            "/v1/channels/costs",
            json={"costs": [good, COSTS[1], {**good, "amount": "5.00"}]},
            headers=auth(),
        )
        assert_problem(twice, 422, "costs[2].month")
        for body in ({"costs": []}, {"costs": [good] * 501}, {}):
            assert_problem(
                await goals.put("/v1/channels/costs", json=body, headers=auth()), 422, "costs"
            )
        assert_problem(
            await goals.get("/v1/channels/costs", params={"from": "2026-9"}, headers=auth()),
            422,
            "from",
        )
        assert_problem(
            await goals.get(
                "/v1/channels/costs", params={"from": "2026-10", "to": "2026-09"}, headers=auth()
            ),
            422,
            "to",
        )
        assert_problem(
            await goals.get("/v1/channels/costs", params={"from": "0000-01"}, headers=auth()),
            422,
            "from",
        )
        stored = await db.fetchval(
            "SELECT count(*) FROM goals.channel_costs WHERE org_id = $1", org
        )
        assert stored == 0
