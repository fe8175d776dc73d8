"""Exact numbers of /v1/kpis, /v1/funnel, /v1/leaderboard and /v1/metrics for a small hand-made
scenario: reps r1, r2 (team t1) and r3 (team t2) working accounts acc-A (tier A), acc-B
(tier B) and acc-C (no tier) in July and August 2026, timezone UTC, reporting currency EUR.

The tests here only read, so the module posts the scenario once into an org of its own.

What happens (UTC; July 2026 starts on a Wednesday, so its first week runs Jun 29–Jul 5):

    leads    L1 r1 referral acc-A Jul 1 → qualified Jul 3 (2 d); L2 r2 online acc-B Jul 2 →
             qualified Jul 6 (4 d); L3 r3 referral acc-C Jul 3 → disqualified Jul 7
    visits   r1 acc-A Jul 5 (eff.), Jul 6; r2 acc-B Jul 10 (eff.), Jul 14; r3 acc-C Jul 15,
             Aug 3 (eff.)
    calls    r1 acc-A Jul 8 (conn.), Jul 17 (conn., a follow-up of D1's win); r3 acc-C Jul 9
    deals    D1 r1 ovens acc-A from L1, 1000 EUR, Jul 6 → proposal Jul 10 → won 1200 EUR Jul 16
             D2 r2 mixers acc-B from L2, 2000 EUR, Jul 7 → proposal Jul 20 → lost Aug 4
             D3 r3 ovens acc-C, 500 USD, Jul 8 → won 500 USD Aug 5 (28 d)
             D5 r3 mixers acc-C, 400 EUR, Jul 20 → proposal Aug 12 (open)
             D4 r1 ovens acc-A, 3000 EUR, Aug 10 (open)
    money    INV-1 for D1, 1200 EUR, Jul 17; paid 600 Jul 25 and 600 Aug 2
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.scoring.domain import CATALOGUE
from tests.api.scoring.helpers import (
    SharedOrg,
    at,
    call,
    disqualified,
    invoice,
    lead,
    lost,
    opened,
    payment,
    qualified,
    seed,
    span,
    stage,
    tier,
    visit,
    won,
)

SCENARIO = [
    tier("acc-A", "A", at("2026-07-01", "08:00:00")),
    tier("acc-B", "B", at("2026-07-01", "08:00:00")),
    lead("r1", "t1", "L1", "referral", "acc-A", at("2026-07-01", "09:00:00")),
    lead("r2", "t1", "L2", "online", "acc-B", at("2026-07-02", "09:00:00")),
    lead("r3", "t2", "L3", "referral", "acc-C", at("2026-07-03", "09:00:00")),
    qualified("r1", "t1", "L1", at("2026-07-03", "09:00:00")),
    qualified("r2", "t1", "L2", at("2026-07-06", "09:00:00")),
    disqualified("r3", "t2", "L3", at("2026-07-07", "09:00:00")),
    visit("r1", "t1", "acc-A", at("2026-07-05")),
    visit("r1", "t1", "acc-A", at("2026-07-06"), effective=False),
    visit("r2", "t1", "acc-B", at("2026-07-10")),
    visit("r2", "t1", "acc-B", at("2026-07-14"), effective=False),
    visit("r3", "t2", "acc-C", at("2026-07-15"), effective=False),
    visit("r3", "t2", "acc-C", at("2026-08-03")),
    call("r1", "t1", "acc-A", at("2026-07-08")),
    call("r3", "t2", "acc-C", at("2026-07-09"), connected=False),
    opened(
        "r1",
        "t1",
        "D1",
        "1000.00",
        "EUR",
        "ovens",
        "acc-A",
        at("2026-07-06", "12:00:00"),
        lead_id="L1",
    ),
    opened(
        "r2",
        "t1",
        "D2",
        "2000.00",
        "EUR",
        "mixers",
        "acc-B",
        at("2026-07-07", "12:00:00"),
        lead_id="L2",
    ),
    opened("r3", "t2", "D3", "500.00", "USD", "ovens", "acc-C", at("2026-07-08", "12:00:00")),
    stage("r1", "t1", "D1", "proposal", at("2026-07-10", "12:00:00")),
    won("r1", "t1", "D1", "1200.00", "EUR", at("2026-07-16", "12:00:00")),
    call("r1", "t1", "acc-A", at("2026-07-17", "09:00:00")),
    invoice("r1", "t1", "INV-1", "acc-A", "D1", "1200.00", at("2026-07-17", "12:00:00")),
    payment("r1", "t1", "INV-1", "acc-A", "600.00", at("2026-07-25")),
    stage("r2", "t1", "D2", "proposal", at("2026-07-20", "12:00:00")),
    opened("r3", "t2", "D5", "400.00", "EUR", "mixers", "acc-C", at("2026-07-20", "12:00:00")),
    payment("r1", "t1", "INV-1", "acc-A", "600.00", at("2026-08-02")),
    lost("r2", "t1", "D2", at("2026-08-04", "12:00:00")),
    won("r3", "t2", "D3", "500.00", "USD", at("2026-08-05", "12:00:00")),
    opened("r1", "t1", "D4", "3000.00", "EUR", "ovens", "acc-A", at("2026-08-10", "12:00:00")),
    stage("r3", "t2", "D5", "proposal", at("2026-08-12", "12:00:00")),
]

JULY = span("2026-07-01", "2026-07-31")
AUGUST = span("2026-08-01", "2026-08-31")
SUMMER = span("2026-07-01", "2026-08-31")


@pytest.fixture(scope="module")
async def shop(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    return await seed(activity_app, scoring, SCENARIO)


async def kpis(scoring: httpx.AsyncClient, shop: SharedOrg, **params: Any) -> dict[str, Any]:
    answer = await scoring.get("/v1/kpis", params=params, headers=shop.headers())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    return body


async def metric_per_bucket(
    scoring: httpx.AsyncClient, shop: SharedOrg, metric: str, **params: Any
) -> list[tuple[str, str, Any]]:
    body = await kpis(scoring, shop, metrics=metric, **params)
    return [(b["start"], b["end"], b["metrics"][metric]["value"]) for b in body["buckets"]]


async def month(
    scoring: httpx.AsyncClient, shop: SharedOrg, metrics: str, days: dict[str, str], **params: Any
) -> dict[str, Any]:
    """The metrics of the single month bucket of `days`."""
    body = await kpis(scoring, shop, period="month", metrics=metrics, **days, **params)
    (bucket,) = body["buckets"]
    metrics_of: dict[str, Any] = bucket["metrics"]
    return metrics_of


class TestTheReportDescribesItself:
    async def test_a_report_names_its_owner_period_range_timezone_currency_and_freshness(
        self, scoring, shop
    ) -> None:
        body = await kpis(
            scoring,
            shop,
            owner="team:t1",
            period="month",
            metrics="visits",
            product_line="ovens",
            **JULY,
        )
        assert body["owner"] == "team:t1"
        assert body["period"] == "month"
        assert (body["from"], body["to"]) == ("2026-07-01", "2026-07-31")
        assert body["timezone"] == "UTC"
        assert body["currency"] == "EUR"
        assert body["filters"] == {"product_line": "ovens", "tier": None, "channel": None}
        assert body["as_of"] is None
        assert body["up_to"]["position"] > 0
        assert body["up_to"]["recorded_at"].endswith("+00:00")

    async def test_without_metrics_every_metric_of_the_catalogue_is_served_in_its_order(
        self, scoring, shop
    ) -> None:
        body = await kpis(scoring, shop, period="month", **JULY)
        assert list(body["buckets"][0]["metrics"]) == list(CATALOGUE)


class TestBucketsFollowThePeriod:
    async def test_days_are_single_days(self, scoring, shop) -> None:
        assert await metric_per_bucket(
            scoring, shop, "visits", period="day", **span("2026-07-05", "2026-07-07")
        ) == [
            ("2026-07-05", "2026-07-05", 1),
            ("2026-07-06", "2026-07-06", 1),
            ("2026-07-07", "2026-07-07", 0),
        ]

    async def test_weeks_run_from_monday_and_cover_the_whole_first_week(
        self, scoring, shop
    ) -> None:
        # Sunday Jul 5 falls in the week of Monday Jun 29; Monday Jul 6 starts the next one.
        assert await metric_per_bucket(
            scoring, shop, "visits", period="week", **span("2026-07-01", "2026-07-19")
        ) == [
            ("2026-06-29", "2026-07-05", 1),
            ("2026-07-06", "2026-07-12", 2),
            ("2026-07-13", "2026-07-19", 2),
        ]

    async def test_months_are_calendar_months(self, scoring, shop) -> None:
        assert await metric_per_bucket(scoring, shop, "visits", period="month", **SUMMER) == [
            ("2026-07-01", "2026-07-31", 5),
            ("2026-08-01", "2026-08-31", 1),
        ]

    async def test_quarters_are_calendar_quarters_overlapping_the_range(
        self, scoring, shop
    ) -> None:
        assert await metric_per_bucket(
            scoring, shop, "visits", period="quarter", **span("2026-06-15", "2026-07-15")
        ) == [
            ("2026-04-01", "2026-06-30", 0),
            ("2026-07-01", "2026-09-30", 6),
        ]

    async def test_without_to_the_range_is_the_period_that_holds_from(self, scoring, shop) -> None:
        body = await kpis(scoring, shop, period="week", metrics="visits", **{"from": "2026-07-08"})
        assert (body["from"], body["to"]) == ("2026-07-08", "2026-07-12")
        assert [(b["start"], b["metrics"]["visits"]) for b in body["buckets"]] == [
            ("2026-07-06", {"value": 2})
        ]


class TestOwnersSumUpFromRepToTeamToOrg:
    @pytest.mark.parametrize(
        ("owner", "expected"),
        [
            (
                "rep:r1",
                {
                    "visits": 2,
                    "effective_visits": 1,
                    "calls": 2,
                    "new_leads": 1,
                    "deals_opened": 1,
                    "deals_won": 1,
                },
            ),
            (
                "rep:r2",
                {
                    "visits": 2,
                    "effective_visits": 1,
                    "calls": 0,
                    "new_leads": 1,
                    "deals_opened": 1,
                    "deals_won": 0,
                },
            ),
            (
                "team:t1",
                {
                    "visits": 4,
                    "effective_visits": 2,
                    "calls": 2,
                    "new_leads": 2,
                    "deals_opened": 2,
                    "deals_won": 1,
                },
            ),
            (
                "team:t2",
                {
                    "visits": 1,
                    "effective_visits": 0,
                    "calls": 1,
                    "new_leads": 1,
                    "deals_opened": 2,
                    "deals_won": 0,
                },
            ),
            (
                "org",
                {
                    "visits": 5,
                    "effective_visits": 2,
                    "calls": 3,
                    "new_leads": 3,
                    "deals_opened": 4,
                    "deals_won": 1,
                },
            ),
        ],
    )
    async def test_july_counts_of_each_owner(self, scoring, shop, owner, expected) -> None:
        got = await month(scoring, shop, ",".join(expected), JULY, owner=owner)
        assert {name: value["value"] for name, value in got.items()} == expected

    async def test_an_unknown_rep_has_zeros_not_an_error(self, scoring, shop) -> None:
        got = await month(scoring, shop, "visits,revenue_won", JULY, owner="rep:nobody")
        assert got == {"visits": {"value": 0}, "revenue_won": {"value": "0", "currency": "EUR"}}


class TestOrgMetricsOfJuly:
    async def test_activity_counts_and_their_rates(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "visits,effective_visits,effective_visit_rate,calls,connected_calls,call_connect_rate",
            JULY,
        )
        assert got == {
            "visits": {"value": 5},
            "effective_visits": {"value": 2},
            "effective_visit_rate": {"value": 0.4, "numerator": 2, "denominator": 5},
            "calls": {"value": 3},
            "connected_calls": {"value": 2},
            "call_connect_rate": {"value": 0.666667, "numerator": 2, "denominator": 3},
        }

    async def test_lead_metrics(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "new_leads,opportunities,disqualified_leads,lead_to_opportunity_rate,"
            "avg_days_lead_to_opportunity",
            JULY,
        )
        assert got == {
            "new_leads": {"value": 3},
            "opportunities": {"value": 2},
            "disqualified_leads": {"value": 1},
            "lead_to_opportunity_rate": {"value": 0.666667, "numerator": 2, "denominator": 3},
            # L1 qualified after 2 days, L2 after 4.
            "avg_days_lead_to_opportunity": {
                "value": 3.0,
                "numerator": 6.0,
                "denominator": 2,
                "unit": "days",
            },
        }

    async def test_deal_metrics(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "deals_opened,deals_won,deals_lost,win_rate,revenue_won,average_deal_size,"
            "avg_sales_cycle_days,new_customers,repeat_purchase_rate,followed_up_72h,"
            "followed_up_72h_rate",
            JULY,
        )
        assert got == {
            "deals_opened": {"value": 4},
            "deals_won": {"value": 1},
            "deals_lost": {"value": 0},
            "win_rate": {"value": 1.0, "numerator": 1, "denominator": 1},
            "revenue_won": {"value": "1200.00", "currency": "EUR"},
            "average_deal_size": {
                "value": "1200.00",
                "numerator": "1200.00",
                "denominator": 1,
                "currency": "EUR",
            },
            "avg_sales_cycle_days": {
                "value": 10.0,
                "numerator": 10.0,
                "denominator": 1,
                "unit": "days",
            },
            "new_customers": {"value": 1},
            "repeat_purchase_rate": {"value": 0.0, "numerator": 0, "denominator": 1},
            "followed_up_72h": {"value": 1},
            "followed_up_72h_rate": {"value": 1.0, "numerator": 1, "denominator": 1},
        }

    async def test_money_metrics(self, scoring, shop) -> None:
        got = await month(scoring, shop, "invoiced,collected,collection_rate", JULY)
        assert got == {
            "invoiced": {"value": "1200.00", "currency": "EUR"},
            "collected": {"value": "600.00", "currency": "EUR"},
            "collection_rate": {
                "value": 0.5,
                "numerator": "600.00",
                "denominator": "1200.00",
                "currency": "EUR",
            },
        }


class TestOrgMetricsOfAugust:
    async def test_a_loss_and_a_win_halve_the_win_rate(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "deals_opened,deals_won,deals_lost,win_rate,avg_sales_cycle_days,new_customers",
            AUGUST,
        )
        assert got == {
            "deals_opened": {"value": 1},
            "deals_won": {"value": 1},
            "deals_lost": {"value": 1},
            "win_rate": {"value": 0.5, "numerator": 1, "denominator": 2},
            "avg_sales_cycle_days": {
                "value": 28.0,
                "numerator": 28.0,
                "denominator": 1,
                "unit": "days",
            },
            "new_customers": {"value": 1},
        }

    async def test_a_rate_without_a_denominator_is_null_with_its_parts(self, scoring, shop) -> None:
        got = await month(
            scoring, shop, "collected,collection_rate,lead_to_opportunity_rate", AUGUST
        )
        assert got == {
            "collected": {"value": "600.00", "currency": "EUR"},
            "collection_rate": {
                "value": None,
                "numerator": "600.00",
                "denominator": "0",
                "currency": "EUR",
            },
            "lead_to_opportunity_rate": {"value": None, "numerator": 0, "denominator": 0},
        }


class TestTheCurrencyParameterPicksTheMoneyReported:
    async def test_in_eur_the_usd_win_of_august_is_not_revenue(self, scoring, shop) -> None:
        body = await kpis(
            scoring,
            shop,
            period="month",
            metrics="deals_won,revenue_won,average_deal_size",
            **AUGUST,
        )
        assert body["currency"] == "EUR"
        assert body["buckets"][0]["metrics"] == {
            "deals_won": {"value": 1},
            "revenue_won": {"value": "0", "currency": "EUR"},
            "average_deal_size": {
                "value": None,
                "numerator": "0",
                "denominator": 0,
                "currency": "EUR",
            },
        }

    async def test_in_usd_it_is(self, scoring, shop) -> None:
        body = await kpis(
            scoring,
            shop,
            period="month",
            currency="USD",
            metrics="deals_won,revenue_won,average_deal_size",
            **AUGUST,
        )
        assert body["currency"] == "USD"
        assert body["buckets"][0]["metrics"] == {
            "deals_won": {"value": 1},
            "revenue_won": {"value": "500.00", "currency": "USD"},
            "average_deal_size": {
                "value": "500.00",
                "numerator": "500.00",
                "denominator": 1,
                "currency": "USD",
            },
        }


class TestCutsKeepOnlyTheFactsOfTheCut:
    async def test_product_line_ovens(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "visits,new_leads,deals_opened,deals_won,revenue_won,invoiced,collected",
            JULY,
            product_line="ovens",
        )
        assert {k: v["value"] for k, v in got.items()} == {
            "visits": 0,
            "new_leads": 0,
            "deals_opened": 2,
            "deals_won": 1,
            "revenue_won": "1200.00",
            "invoiced": "1200.00",
            "collected": "600.00",
        }

    async def test_tier_a(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "visits,calls,new_leads,opportunities,deals_opened,deals_won,revenue_won",
            JULY,
            tier="A",
        )
        assert {k: v["value"] for k, v in got.items()} == {
            "visits": 2,
            "calls": 2,
            "new_leads": 1,
            "opportunities": 1,
            "deals_opened": 1,
            "deals_won": 1,
            "revenue_won": "1200.00",
        }

    async def test_tier_b(self, scoring, shop) -> None:
        got = await month(scoring, shop, "visits,new_leads,deals_opened,deals_won", JULY, tier="B")
        assert {k: v["value"] for k, v in got.items()} == {
            "visits": 2,
            "new_leads": 1,
            "deals_opened": 1,
            "deals_won": 0,
        }

    async def test_channel_referral(self, scoring, shop) -> None:
        got = await month(
            scoring,
            shop,
            "visits,new_leads,opportunities,disqualified_leads,deals_opened,deals_won,revenue_won",
            JULY,
            channel="referral",
        )
        assert {k: v["value"] for k, v in got.items()} == {
            "visits": 0,
            "new_leads": 2,
            "opportunities": 1,
            "disqualified_leads": 1,
            "deals_opened": 1,
            "deals_won": 1,
            "revenue_won": "1200.00",
        }

    async def test_a_cut_combines_with_an_owner(self, scoring, shop) -> None:
        got = await month(
            scoring, shop, "deals_opened", JULY, owner="team:t2", product_line="ovens"
        )
        assert got == {"deals_opened": {"value": 1}}


class TestPipelinesAreWhatIsOpenAtTheEndOfEachBucket:
    async def test_open_and_weighted_pipeline_per_month_in_eur(self, scoring, shop) -> None:
        body = await kpis(
            scoring, shop, period="month", metrics="open_pipeline,weighted_pipeline", **SUMMER
        )
        july, august = (b["metrics"] for b in body["buckets"])
        # End of July: D2 (proposal) and D5 (qualification) are open; D1 won having reached
        # both stages, so each stage's rate is (1 + 1) ÷ (1 + 2) = 2/3.
        assert july == {
            "open_pipeline": {
                "value": "2400.00",
                "currency": "EUR",
                "by_stage": {"proposal": "2000.00", "qualification": "400.00"},
            },
            "weighted_pipeline": {"value": "1600.00", "currency": "EUR"},
        }
        # End of August: D4 (qualification) and D5 (proposal) are open; closed by then: D1 won
        # (qualification, proposal), D2 lost (qualification, proposal), D3 won (qualification):
        # qualification (2 + 1) ÷ (3 + 2) = 0.6, proposal (1 + 1) ÷ (2 + 2) = 0.5.
        assert august == {
            "open_pipeline": {
                "value": "3400.00",
                "currency": "EUR",
                "by_stage": {"proposal": "400.00", "qualification": "3000.00"},
            },
            "weighted_pipeline": {"value": "2000.00", "currency": "EUR"},
        }

    async def test_a_team_pipeline_holds_its_own_deals_weighted_by_the_org_history(
        self, scoring, shop
    ) -> None:
        got = await month(scoring, shop, "open_pipeline,weighted_pipeline", JULY, owner="team:t1")
        assert got == {
            "open_pipeline": {
                "value": "2000.00",
                "currency": "EUR",
                "by_stage": {"proposal": "2000.00"},
            },
            "weighted_pipeline": {"value": "1333.33", "currency": "EUR"},
        }

    async def test_in_usd_only_the_usd_deal_is_open(self, scoring, shop) -> None:
        got = await month(scoring, shop, "open_pipeline,weighted_pipeline", JULY, currency="USD")
        assert got == {
            "open_pipeline": {
                "value": "500.00",
                "currency": "USD",
                "by_stage": {"qualification": "500.00"},
            },
            "weighted_pipeline": {"value": "333.33", "currency": "USD"},
        }

    async def test_a_daily_pipeline_moves_with_the_deals(self, scoring, shop) -> None:
        body = await kpis(
            scoring, shop, period="day", metrics="open_pipeline", **span("2026-07-05", "2026-07-07")
        )
        assert [b["metrics"]["open_pipeline"]["value"] for b in body["buckets"]] == [
            "0",
            "1000.00",
            "3000.00",
        ]


class TestTheFunnel:
    async def funnel(self, scoring, shop, **params: Any) -> dict[str, Any]:
        answer = await scoring.get("/v1/funnel", params=params, headers=shop.headers())
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def test_july_steps_with_their_conversions(self, scoring, shop) -> None:
        body = await self.funnel(scoring, shop, **JULY)
        assert (body["owner"], body["from"], body["to"]) == ("org", "2026-07-01", "2026-07-31")
        assert body["steps"] == [
            {"step": "leads", "count": 3},
            {
                "step": "opportunities",
                "count": 2,
                "conversion": {"value": 0.666667, "numerator": 2, "denominator": 3},
            },
            {
                "step": "deals_opened",
                "count": 4,
                "conversion": {"value": 2.0, "numerator": 4, "denominator": 2},
            },
            {
                "step": "stage:qualification",
                "count": 4,
                "conversion": {"value": 1.0, "numerator": 4, "denominator": 4},
            },
            {
                "step": "stage:proposal",
                "count": 2,
                "conversion": {"value": 0.5, "numerator": 2, "denominator": 4},
            },
            {
                "step": "won",
                "count": 1,
                "conversion": {"value": 0.5, "numerator": 1, "denominator": 2},
            },
            {
                "step": "lost",
                "count": 0,
                "conversion": {"value": 0.0, "numerator": 0, "denominator": 4},
                "reasons": [],
            },
        ]
        assert body["win_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}

    async def test_over_the_summer(self, scoring, shop) -> None:
        body = await self.funnel(scoring, shop, **SUMMER)
        assert [(s["step"], s["count"]) for s in body["steps"]] == [
            ("leads", 3),
            ("opportunities", 2),
            ("deals_opened", 5),
            ("stage:qualification", 5),
            ("stage:proposal", 3),
            ("won", 2),
            ("lost", 1),
        ]
        assert body["steps"][-1]["reasons"] == [{"reason": "price", "count": 1}]
        assert body["win_rate"] == {"value": 0.666667, "numerator": 2, "denominator": 3}

    async def test_of_a_team_a_step_after_zero_has_no_conversion_value(self, scoring, shop) -> None:
        body = await self.funnel(scoring, shop, owner="team:t2", **SUMMER)
        assert body["owner"] == "team:t2"
        assert body["steps"] == [
            {"step": "leads", "count": 1},
            {
                "step": "opportunities",
                "count": 0,
                "conversion": {"value": 0.0, "numerator": 0, "denominator": 1},
            },
            {
                "step": "deals_opened",
                "count": 2,
                "conversion": {"value": None, "numerator": 2, "denominator": 0},
            },
            {
                "step": "stage:qualification",
                "count": 2,
                "conversion": {"value": 1.0, "numerator": 2, "denominator": 2},
            },
            {
                "step": "stage:proposal",
                "count": 1,
                "conversion": {"value": 0.5, "numerator": 1, "denominator": 2},
            },
            {
                "step": "won",
                "count": 1,
                "conversion": {"value": 1.0, "numerator": 1, "denominator": 1},
            },
            {
                "step": "lost",
                "count": 0,
                "conversion": {"value": 0.0, "numerator": 0, "denominator": 2},
                "reasons": [],
            },
        ]
        assert body["win_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}

    async def test_a_cut_applies_to_every_step(self, scoring, shop) -> None:
        body = await self.funnel(scoring, shop, channel="online", **SUMMER)
        assert body["filters"] == {"product_line": None, "tier": None, "channel": "online"}
        assert [(s["step"], s["count"]) for s in body["steps"]] == [
            ("leads", 1),
            ("opportunities", 1),
            ("deals_opened", 1),
            ("stage:proposal", 1),
            ("stage:qualification", 1),
            ("won", 0),
            ("lost", 1),
        ]
        assert body["win_rate"] == {"value": 0.0, "numerator": 0, "denominator": 1}


class TestTheLeaderboard:
    async def board(self, scoring, shop, **params: Any) -> dict[str, Any]:
        answer = await scoring.get("/v1/leaderboard", params=params, headers=shop.headers())
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def test_ties_share_a_rank_and_the_next_rank_skips(self, scoring, shop) -> None:
        body = await self.board(
            scoring, shop, metric="visits", period="month", at="2026-07-15", scope="org"
        )
        assert {k: body[k] for k in ("metric", "period", "start", "end", "scope", "currency")} == {
            "metric": "visits",
            "period": "month",
            "start": "2026-07-01",
            "end": "2026-07-31",
            "scope": "org",
            "currency": "EUR",
        }
        assert body["items"] == [
            {"rank": 1, "rep_id": "r1", "value": 2},
            {"rank": 1, "rep_id": "r2", "value": 2},
            {"rank": 3, "rep_id": "r3", "value": 1},
        ]

    async def test_a_team_scope_ranks_only_that_teams_reps(self, scoring, shop) -> None:
        body = await self.board(scoring, shop, metric="visits", at="2026-07-15", scope="team:t1")
        assert body["scope"] == "team:t1"
        assert body["items"] == [
            {"rank": 1, "rep_id": "r1", "value": 2},
            {"rank": 1, "rep_id": "r2", "value": 2},
        ]

    async def test_a_week_is_ranked_on_its_own_days(self, scoring, shop) -> None:
        body = await self.board(scoring, shop, metric="visits", period="week", at="2026-07-15")
        assert (body["start"], body["end"]) == ("2026-07-13", "2026-07-19")
        assert body["items"] == [
            {"rank": 1, "rep_id": "r2", "value": 1},
            {"rank": 1, "rep_id": "r3", "value": 1},
        ]

    async def test_a_rate_is_ranked_with_its_parts(self, scoring, shop) -> None:
        body = await self.board(scoring, shop, metric="win_rate", at="2026-08-20")
        assert body["items"] == [
            {"rank": 1, "rep_id": "r3", "value": 1.0, "numerator": 1, "denominator": 1},
            {"rank": 2, "rep_id": "r2", "value": 0.0, "numerator": 0, "denominator": 1},
        ]

    async def test_money_is_ranked_in_the_currency_asked_for(self, scoring, shop) -> None:
        eur = await self.board(scoring, shop, metric="revenue_won", at="2026-07-20")
        assert eur["items"] == [{"rank": 1, "rep_id": "r1", "value": "1200.00", "currency": "EUR"}]
        usd = await self.board(scoring, shop, metric="revenue_won", at="2026-08-20", currency="USD")
        assert usd["currency"] == "USD"
        assert usd["items"] == [{"rank": 1, "rep_id": "r3", "value": "500.00", "currency": "USD"}]


class TestTheMetricCatalogue:
    async def test_lists_every_metric_with_its_kind_description_and_rounding(
        self, scoring, shop
    ) -> None:
        answer = await scoring.get("/v1/metrics", headers=shop.headers("rep", sub="r1"))
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [i["name"] for i in items] == list(CATALOGUE)
        by_name = {i["name"]: i for i in items}
        assert by_name["visits"] == {
            "name": "visits",
            "kind": "count",
            "description": "Visits logged.",
            "rounding": "exact: a whole number",
        }
        assert by_name["average_deal_size"]["rounding"].startswith(
            "a decimal string rounded to the currency's minor units"
        )
        assert "6 decimals" in by_name["win_rate"]["rounding"]
        assert {
            n: by_name[n]["kind"]
            for n in (
                "win_rate",
                "revenue_won",
                "collection_rate",
                "average_deal_size",
                "avg_sales_cycle_days",
                "repeat_purchase_rate",
                "open_pipeline",
            )
        } == {
            "win_rate": "rate",
            "revenue_won": "money",
            "collection_rate": "money_rate",
            "average_deal_size": "average_money",
            "avg_sales_cycle_days": "average_days",
            "repeat_purchase_rate": "distinct_rate",
            "open_pipeline": "pipeline",
        }
        assert all(isinstance(i["description"], str) and i["description"] for i in items)

    async def test_every_listed_metric_is_accepted_by_kpis(self, scoring, shop) -> None:
        answer = await scoring.get("/v1/metrics", headers=shop.headers())
        names = [i["name"] for i in answer.json()["items"]]
        body = await kpis(scoring, shop, period="month", metrics=",".join(names), **JULY)
        assert list(body["buckets"][0]["metrics"]) == names
