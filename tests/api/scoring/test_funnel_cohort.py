"""`GET /v1/funnel?reading=cohort` against `reading=period` on one hand-made log, posted through
activity and folded by scoring (timezone UTC). Asked for September, the period reading counts
September's steps; the cohort reading follows September's leads (and deals) to every step they
ever reached, October's and November's included.

    L1 r1 t1 referral acc-A Sep 3  → qualified Oct 5 → D1 (r1) Oct 6 → proposal Oct 20 → won Nov 10
    L2 r1 t1 online   acc-B Sep 10 → qualified Sep 15 → D2 (r1) Sep 20 → lost (price) Oct 2
    L3 r2 t1 referral acc-C Sep 25, never qualified
    L4 r3 t2 referral acc-D Oct 1  → qualified Oct 3
    D3 r3 t2 ovens acc-D, without a lead, Sep 12 → won Sep 30
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from services.scoring.projections.kpis import Deal
from tests.api.scoring.helpers import (
    SharedOrg,
    assert_problem,
    at,
    lead,
    lost,
    opened,
    qualified,
    seed,
    span,
    stage,
    won,
)

SCENARIO = [
    lead("r1", "t1", "L1", "referral", "acc-A", at("2026-09-03")),
    lead("r1", "t1", "L2", "online", "acc-B", at("2026-09-10")),
    opened("r3", "t2", "D3", "500.00", "EUR", "ovens", "acc-D", at("2026-09-12")),
    qualified("r1", "t1", "L2", at("2026-09-15")),
    opened("r1", "t1", "D2", "2000.00", "EUR", "mixers", "acc-B", at("2026-09-20"), lead_id="L2"),
    lead("r2", "t1", "L3", "referral", "acc-C", at("2026-09-25")),
    won("r3", "t2", "D3", "500.00", "EUR", at("2026-09-30")),
    lead("r3", "t2", "L4", "referral", "acc-D", at("2026-10-01")),
    lost("r1", "t1", "D2", at("2026-10-02")),
    qualified("r3", "t2", "L4", at("2026-10-03")),
    qualified("r1", "t1", "L1", at("2026-10-05")),
    opened("r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-10-06"), lead_id="L1"),
    stage("r1", "t1", "D1", "proposal", at("2026-10-20")),
    won("r1", "t1", "D1", "1000.00", "EUR", at("2026-11-10")),
]

SEPTEMBER = span("2026-09-01", "2026-09-30")


@pytest.fixture(scope="module")
async def shop(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    return await seed(activity_app, scoring, SCENARIO)


async def funnel(
    scoring: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    answer = await scoring.get("/v1/funnel", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def conversion(numerator: int, denominator: int, value: float | None) -> dict[str, Any]:
    return {"value": value, "numerator": numerator, "denominator": denominator}


def counts(steps: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(s["step"], s["count"]) for s in steps]


COHORT_STEPS = [
    {"step": "leads", "count": 3},
    {"step": "opportunities", "count": 2, "conversion": conversion(2, 3, 0.666667)},
    {"step": "deals_opened", "count": 2, "conversion": conversion(2, 2, 1.0)},
    {"step": "stage:qualification", "count": 2, "conversion": conversion(2, 2, 1.0)},
    {"step": "stage:proposal", "count": 1, "conversion": conversion(1, 2, 0.5)},
    {"step": "won", "count": 1, "conversion": conversion(1, 1, 1.0)},
    {
        "step": "lost",
        "count": 1,
        "conversion": conversion(1, 2, 0.5),
        "reasons": [{"reason": "price", "count": 1}],
    },
]
DEAL_COHORT = {
    "steps": [
        {"step": "deals_opened", "count": 2},
        {"step": "stage:qualification", "count": 2, "conversion": conversion(2, 2, 1.0)},
        {"step": "won", "count": 1, "conversion": conversion(1, 2, 0.5)},
        {
            "step": "lost",
            "count": 1,
            "conversion": conversion(1, 2, 0.5),
            "reasons": [{"reason": "price", "count": 1}],
        },
    ],
    "win_rate": conversion(1, 2, 0.5),
}


class TestThePeriodReading:
    async def test_counts_only_september_s_steps(self, scoring, shop) -> None:
        body = await funnel(scoring, shop.headers(), **SEPTEMBER)
        assert body["reading"] == "period"
        assert body["steps"] == [
            {"step": "leads", "count": 3},
            {"step": "opportunities", "count": 1, "conversion": conversion(1, 3, 0.333333)},
            {"step": "deals_opened", "count": 2, "conversion": conversion(2, 1, 2.0)},
            {"step": "stage:qualification", "count": 2, "conversion": conversion(2, 2, 1.0)},
            {"step": "won", "count": 1, "conversion": conversion(1, 2, 0.5)},
            {"step": "lost", "count": 0, "conversion": conversion(0, 2, 0.0), "reasons": []},
        ]
        assert body["win_rate"] == conversion(1, 1, 1.0)
        assert "deals" not in body

    async def test_is_the_default_with_the_same_bytes(self, scoring, shop) -> None:
        implicit = await scoring.get("/v1/funnel", params=SEPTEMBER, headers=shop.headers())
        explicit = await scoring.get(
            "/v1/funnel", params={**SEPTEMBER, "reading": "period"}, headers=shop.headers()
        )
        assert implicit.status_code == explicit.status_code == 200
        assert implicit.content == explicit.content


class TestTheCohortReading:
    async def test_follows_september_s_leads_to_every_step_they_ever_reached(
        self, scoring, shop
    ) -> None:
        body = await funnel(scoring, shop.headers(), reading="cohort", **SEPTEMBER)
        assert (body["reading"], body["owner"], body["from"], body["to"]) == (
            "cohort",
            "org",
            "2026-09-01",
            "2026-09-30",
        )
        assert body["steps"] == COHORT_STEPS
        assert body["win_rate"] == conversion(1, 2, 0.5)

    async def test_follows_september_s_deals_whatever_lead_they_came_from(
        self, scoring, shop
    ) -> None:
        body = await funnel(scoring, shop.headers(), reading="cohort", **SEPTEMBER)
        assert body["deals"] == DEAL_COHORT

    async def test_answers_the_same_by_recorded_time_once_everything_was_recorded(
        self, scoring, shop
    ) -> None:
        now = datetime.now(UTC).isoformat()
        body = await funnel(scoring, shop.headers(), reading="cohort", as_of=now, **SEPTEMBER)
        assert body["as_of"] is not None
        assert (body["steps"], body["deals"]) == (COHORT_STEPS, DEAL_COHORT)

    async def test_a_rep_sees_their_own_leads_and_deals(self, scoring, shop) -> None:
        body = await funnel(scoring, shop.headers("rep", sub="r1"), reading="cohort", **SEPTEMBER)
        assert body["owner"] == "rep:r1"
        assert counts(body["steps"]) == [
            ("leads", 2),
            ("opportunities", 2),
            ("deals_opened", 2),
            ("stage:qualification", 2),
            ("stage:proposal", 1),
            ("won", 1),
            ("lost", 1),
        ]
        assert counts(body["deals"]["steps"]) == [
            ("deals_opened", 1),
            ("stage:qualification", 1),
            ("won", 0),
            ("lost", 1),
        ]

    async def test_a_rep_asking_for_another_is_refused(self, scoring, shop) -> None:
        answer = await scoring.get(
            "/v1/funnel",
            params={**SEPTEMBER, "reading": "cohort", "owner": "rep:r2"},
            headers=shop.headers("rep", sub="r1"),
        )
        assert_problem(answer, 403)

    async def test_a_manager_sees_their_team(self, scoring, shop) -> None:
        headers = shop.headers("manager", sub="m2", team="t2")
        body = await funnel(scoring, headers, reading="cohort", **SEPTEMBER)
        assert body["owner"] == "team:t2"
        assert counts(body["steps"]) == [
            ("leads", 0),
            ("opportunities", 0),
            ("deals_opened", 0),
            ("won", 0),
            ("lost", 0),
        ]
        assert counts(body["deals"]["steps"]) == [
            ("deals_opened", 1),
            ("stage:qualification", 1),
            ("won", 1),
            ("lost", 0),
        ]

    async def test_keeps_to_the_cut(self, scoring, shop) -> None:
        body = await funnel(
            scoring, shop.headers(), reading="cohort", channel="online", **SEPTEMBER
        )
        assert body["filters"]["channel"] == "online"
        assert counts(body["steps"]) == [
            ("leads", 1),
            ("opportunities", 1),
            ("deals_opened", 1),
            ("stage:qualification", 1),
            ("won", 0),
            ("lost", 1),
        ]
        assert counts(body["deals"]["steps"])[0] == ("deals_opened", 1)


class TestAProjectionFoldedBeforeDealsKeptTheirLead:
    async def test_finds_a_deal_s_lead_in_its_profile_and_names_no_reason(
        self, activity_app, scoring, db
    ) -> None:
        """Stored deal states written before `lead` and `lost_reason` (their arrays end
        before them) until the org is rebuilt: the lead is read from the deal's profile."""
        old = await seed(activity_app, scoring, SCENARIO)
        kept = Deal._fields.index("lead")
        rows = await db.fetch(
            "SELECT generation, key, state FROM scoring.entities "
            "WHERE org_id = $1 AND kind = 'deals'",
            old.org,
        )
        assert rows
        for r in rows:
            await db.execute(
                "UPDATE scoring.entities SET state = $4 "
                "WHERE org_id = $1 AND generation = $2 AND kind = 'deals' AND key = $3",
                old.org,
                r["generation"],
                r["key"],
                orjson.dumps(orjson.loads(r["state"])[:kept]).decode(),
            )
        body = await funnel(scoring, old.headers(), reading="cohort", **SEPTEMBER)
        unknown = [{"reason": "unknown", "count": 1}]
        assert body["steps"] == [*COHORT_STEPS[:-1], {**COHORT_STEPS[-1], "reasons": unknown}]
        assert body["deals"]["steps"][-1]["reasons"] == unknown


class TestABadReading:
    async def test_is_a_422_problem_naming_it(self, scoring, shop) -> None:
        answer = await scoring.get(
            "/v1/funnel", params={**SEPTEMBER, "reading": "cohorts"}, headers=shop.headers()
        )
        assert_problem(answer, 422, "reading", location="query")
