"""A deal opened without an account counts in deal metrics from its opening, and in account
metrics (new customers, customer health) from the `deal.account_linked` that gives it one: a
win before the link is the account's first win at the link. A void of the link takes that back.

Each test posts into its own org, as admin.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import (
    at,
    linked,
    no_rebuild,
    opened,
    scores_settled,
    span,
    void,
    won,
)
from tests.problems import assert_problem

JULY = span("2026-07-01", "2026-07-31")
DEALS = "deals_opened,deals_won,revenue_won,open_pipeline"
ACCOUNTS = "new_customers"


def prospect_deal(rep: str, team: str, deal: str, amount: str, when: str) -> dict[str, Any]:
    """A deal.opened without an account."""
    return opened(rep, team, deal, amount, "EUR", "ovens", None, when)


async def kpis(
    scoring: httpx.AsyncClient, headers: dict[str, str], metrics: str, **params: Any
) -> dict[str, Any]:
    """{metric: value} of the one bucket of `params` (default: July as one month)."""
    query = {"period": "month", "metrics": metrics, **JULY, **params}
    answer = await scoring.get("/v1/kpis", params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    (bucket,) = answer.json()["buckets"]
    return {name: metric["value"] for name, metric in bucket["metrics"].items()}


async def days(scoring: httpx.AsyncClient, headers: dict[str, str], metric: str) -> dict[str, Any]:
    """{day: value} of `metric` over July, days with a non-zero value only."""
    query = {"period": "day", "metrics": metric, **JULY}
    answer = await scoring.get("/v1/kpis", params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    return {
        b["start"]: b["metrics"][metric]["value"]
        for b in answer.json()["buckets"]
        if b["metrics"][metric]["value"]
    }


async def health(scoring: httpx.AsyncClient, headers: dict[str, str], account: str) -> Any:
    return await scoring.get(f"/v1/accounts/{account}/health", headers=headers)


def facts_of_health(body: dict[str, Any]) -> dict[str, Any]:
    """What the log decides of an account's health (not today's date)."""
    keys = ("account_id", "rep_id", "team_id", "first_won_at", "won_12m")
    return {k: body[k] for k in keys}


class TestADealOpenedWithoutAnAccount:
    async def test_counts_in_deal_metrics_and_for_its_account_from_the_link(
        self, scoring, post_events, auth, db, org
    ) -> None:
        last = await post_events([prospect_deal("r1", "t1", "D1", "1000.00", at("2026-07-06"))])
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        assert await kpis(scoring, auth(), f"{DEALS},{ACCOUNTS}") == {
            "deals_opened": 1,
            "deals_won": 0,
            "revenue_won": "0",
            "open_pipeline": "1000.00",
            "new_customers": 0,
        }
        assert_problem(await health(scoring, auth(), "acc-N"), 404)

        last = await post_events(
            [
                linked("r1", "t1", "D1", "acc-N", at("2026-07-08")),
                won("r1", "t1", "D1", "1200.00", "EUR", at("2026-07-16")),
            ]
        )
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        assert await kpis(scoring, auth(), f"{DEALS},{ACCOUNTS}") == {
            "deals_opened": 1,
            "deals_won": 1,
            "revenue_won": "1200.00",
            "open_pipeline": "0.00",
            "new_customers": 1,
        }
        assert await days(scoring, auth(), "new_customers") == {"2026-07-16": 1}
        answer = await health(scoring, auth(), "acc-N")
        assert answer.status_code == 200, answer.text
        assert facts_of_health(answer.json()) == {
            "account_id": "acc-N",
            "rep_id": "r1",
            "team_id": "t1",
            "first_won_at": "2026-07-16T10:00:00+00:00",
            "won_12m": {"value": "1200.00", "currency": "EUR"},
        }

    async def test_a_win_before_the_link_counts_for_the_account_at_the_link(
        self, scoring, post_events, auth, db, org
    ) -> None:
        last = await post_events(
            [
                prospect_deal("r1", "t1", "D2", "500.00", at("2026-07-02")),
                won("r2", "t1", "D2", "600.00", "EUR", at("2026-07-10")),
            ]
        )
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        assert await kpis(scoring, auth(), f"{DEALS},{ACCOUNTS}") == {
            "deals_opened": 1,
            "deals_won": 1,
            "revenue_won": "600.00",
            "open_pipeline": "0.00",
            "new_customers": 0,  # nobody's customer yet
        }
        assert_problem(await health(scoring, auth(), "acc-L"), 404)

        link = linked("r1", "t1", "D2", "acc-L", at("2026-07-20"))
        last = await post_events([link])
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        assert await days(scoring, auth(), "new_customers") == {"2026-07-20": 1}
        assert await days(scoring, auth(), "deals_won") == {"2026-07-10": 1}  # unmoved
        assert await kpis(scoring, auth(), "new_customers", owner="rep:r2") == {
            "new_customers": 1  # whoever won the deal
        }
        answer = await health(scoring, auth(), "acc-L")
        assert answer.status_code == 200, answer.text
        assert facts_of_health(answer.json()) == {
            "account_id": "acc-L",
            "rep_id": "r2",
            "team_id": "t1",
            "first_won_at": "2026-07-20T10:00:00+00:00",
            "won_12m": {"value": "600.00", "currency": "EUR"},
        }

        # A second link to another account changes nothing: the deal keeps its first.
        last = await post_events([linked("r1", "t1", "D2", "acc-X", at("2026-07-22"))])
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        assert await days(scoring, auth(), "new_customers") == {"2026-07-20": 1}
        assert_problem(await health(scoring, auth(), "acc-X"), 404)

        # Voiding the link takes the account's part back, without a rebuild.
        last = await post_events([void(link, at("2026-07-25"), "wrong account")])
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        await no_rebuild(scoring, auth())
        assert await kpis(scoring, auth(), f"{DEALS},{ACCOUNTS}") == {
            "deals_opened": 1,
            "deals_won": 1,
            "revenue_won": "600.00",
            "open_pipeline": "0.00",
            "new_customers": 1,  # now the later link's: acc-X
        }
        assert await days(scoring, auth(), "new_customers") == {"2026-07-22": 1}
        assert_problem(await health(scoring, auth(), "acc-L"), 404)
        answer = await health(scoring, auth(), "acc-X")
        assert answer.status_code == 200, answer.text
        assert facts_of_health(answer.json())["first_won_at"] == "2026-07-22T10:00:00+00:00"
