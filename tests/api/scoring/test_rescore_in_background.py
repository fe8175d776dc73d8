"""A whole-org rescore (a new day, a new model) runs beside the feed: at a million events it
takes seconds, and the follower goes on folding pages meanwhile. Those pages leave their leads,
deals and accounts unscored, and they are scored once the rescore is written, so nothing it
read before them is left standing."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from services.scoring import jobs
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import at, eventually, lead, visit


async def test_pages_are_folded_while_the_org_is_rescored_and_scored_after_it(
    scoring, post_events, auth, db, org, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = await post_events(
        [
            lead("r1", "t1", "L1", "referral", "acc-A", at("2026-07-01")),
            visit("r1", "t1", "acc-A", at("2026-07-02")),
        ]
    )
    await settled(scoring, auth(), last)
    score = "SELECT count(*) FROM scoring.scores WHERE org_id = $1 AND key = $2"
    assert await eventually(lambda: db.fetchval(score, org, "lead-L1"))

    async def scored_to(position: int) -> bool:
        row = await db.fetchrow(
            "SELECT position, scored_position, scored_on FROM scoring.orgs WHERE org_id = $1", org
        )
        return bool(row["scored_position"] == row["position"] == position and row["scored_on"])

    await eventually(lambda: scored_to(last))  # the new org's first rescore is written

    # Scoring (in a thread: the org is small) waits until released: a slow rescore.
    release, started = threading.Event(), threading.Event()
    original = jobs.score_org

    def slow(*args: Any, **kwargs: Any) -> Any:
        prospects = args[0]
        # Only this org's whole rescore (it reads every profile); other orgs' work goes on.
        if isinstance(prospects, jobs.Stored) and prospects.org == org and prospects.keys is None:
            started.set()
            release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(jobs, "score_org", slow)
    try:
        # A new day for the org: its scores are due again.
        await db.execute("UPDATE scoring.orgs SET scored_on = NULL WHERE org_id = $1", org)

        async def rescoring() -> bool:
            return started.is_set()

        await eventually(rescoring)
        last = await post_events([lead("r2", "t1", "L2", "online", "acc-B", at("2026-07-03"))])
        await settled(scoring, auth(), last, timeout=5)  # folded while the rescore waits
        assert not release.is_set()
        row = await db.fetchrow(
            "SELECT position, scored_position, scored_on FROM scoring.orgs WHERE org_id = $1", org
        )
        assert row["position"] == last
        assert row["scored_on"] is None
        assert await db.fetchval(score, org, "lead-L2") == 0  # left for after the rescore
    finally:
        release.set()

    await eventually(lambda: scored_to(last))
    assert await db.fetchval(score, org, "lead-L1") == 1
    assert await db.fetchval(score, org, "lead-L2") == 1
    priority = await scoring.get("/v1/leads/priority", headers=auth())
    assert priority.status_code == 200, priority.text
    assert {item["id"] for item in priority.json()["items"]} == {"lead-L1", "lead-L2"}
    assert priority.json()["up_to"]["position"] == last
