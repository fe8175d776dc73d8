"""Answers kept in memory (services/scoring/answer/answers.py): served again while the org's
projection stays at the same position, never once it moves. To tell an answer from memory from
one read again, the test changes a stored rollup behind the service's back."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, span, visit

JULY = {"owner": "org", "period": "month", **span("2026-07-01", "2026-07-31")}


async def visits(scoring: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    answer = await scoring.get("/v1/kpis", params={**JULY, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["up_to"]["position"], body["buckets"][0]["metrics"]["visits"]["value"]


async def tamper(db: asyncpg.Pool, org: str) -> None:
    """Add 100 to the org's stored July visits (one month row), as no service ever would."""
    status = await db.execute(
        "UPDATE scoring.kpi_values SET value = value + 100 WHERE (org_id, series_id) = (SELECT"
        " org_id, series_id FROM scoring.kpi_rollups WHERE org_id = $1 AND metric = 'visits'"
        " AND grain = 'm' AND owner_kind = 'org' LIMIT 1) AND grain = 'm'",
        org,
    )
    assert status == "UPDATE 1"


async def test_an_answer_is_kept_until_the_projection_moves(
    scoring, post_events, auth, db, org
) -> None:
    headers = auth()
    first = await post_events([visit("r1", "t1", "acc-1", at("2026-07-03"))])
    await settled(scoring, headers, first)
    assert await visits(scoring, headers) == (first, 1)

    await tamper(db, org)
    # Same question, same position: the answer kept in memory, not the changed row.
    assert await visits(scoring, headers) == (first, 1)
    # Another question at the same position is read from the rollups.
    assert await visits(scoring, headers, metrics="visits,calls") == (first, 101)

    second = await post_events([visit("r1", "t1", "acc-1", at("2026-07-04"))])
    await settled(scoring, headers, second)
    # The position moved: the question is answered from the rollups again.
    assert await visits(scoring, headers) == (second, 102)


async def test_a_rescore_does_not_move_a_kpi_answer(
    scoring, scoring_app, post_events, auth, db, org
) -> None:
    """Scores are rescored in the background (new day, new model): that moves where the org's
    scores stand, not its KPIs, so a kept KPI answer stays kept (CI once saw it recomputed)."""
    headers = auth()
    first = await post_events([visit("r1", "t1", "acc-1", at("2026-07-03"))])
    await settled(scoring, headers, first)
    assert await visits(scoring, headers) == (first, 1)

    await tamper(db, org)
    status = await db.execute(
        "UPDATE scoring.orgs SET scored_on = DATE '2001-01-01', scored_models = 'rescored'"
        " WHERE org_id = $1",
        org,
    )
    assert status == "UPDATE 1"
    # Wait until this replica has been told of the change (its view of the org moved).
    for _ in range(200):
        standing = await scoring_app.state.runtime.org_rows.get(org)
        if standing is not None and standing["scored_models"] == "rescored":
            break
        await asyncio.sleep(0.01)
    assert await visits(scoring, headers) == (first, 1)


async def test_a_kept_answer_is_only_for_the_caller_it_was_computed_for(
    scoring, post_events, auth
) -> None:
    last = await post_events([visit("r1", "t1", "acc-1", at("2026-07-03"))])
    await settled(scoring, auth(), last)
    assert (await visits(scoring, auth()))[1] == 1  # the admin's answer, now kept

    # The same query string from a rep: the rep may not see the org, kept answer or not.
    rep = auth(role="rep", sub="r1", team="t1")
    answer = await scoring.get("/v1/kpis", params=JULY, headers=rep)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    # Their own numbers they may see, and those are theirs.
    mine = await scoring.get("/v1/kpis", params={**JULY, "owner": "rep:r1"}, headers=rep)
    assert mine.json()["owner"] == "rep:r1"
    assert mine.json()["buckets"][0]["metrics"]["visits"]["value"] == 1
