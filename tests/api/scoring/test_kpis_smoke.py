from __future__ import annotations

import asyncio

from tests.api.scoring.conftest import settled
from tests.conftest import make_event


async def test_visits_and_a_won_deal_show_up(scoring, post_events, auth) -> None:
    when = "2026-07-15T10:00:00+00:00"
    events = [
        make_event(
            "visit.logged",
            stream="account-acc-1",
            occurred_at=when,
            data={
                "mode": "onsite",
                "effective": True,
                "duration_minutes": 30,
                "account_id": "acc-1",
            },
        ),
        make_event(
            "visit.logged",
            stream="account-acc-1",
            occurred_at=when,
            data={"mode": "onsite", "effective": False, "duration_minutes": 30},
        ),
        make_event(
            "deal.opened",
            stream="deal-D1",
            occurred_at=when,
            data={
                "amount": "1000.00",
                "currency": "EUR",
                "product_line": "ovens",
                "account_id": "acc-1",
            },
        ),
        make_event(
            "deal.won",
            stream="deal-D1",
            occurred_at="2026-07-20T10:00:00+00:00",
            data={"amount": "1200.00", "currency": "EUR"},
        ),
    ]
    last = await post_events(events)
    await settled(scoring, auth(), last)
    answer = await scoring.get(
        "/v1/kpis",
        params={"owner": "org", "period": "month", "from": "2026-07-01", "to": "2026-07-31"},
        headers=auth(),
    )
    body = answer.json()
    m = body["buckets"][0]["metrics"]
    assert m["visits"] == {"value": 2}
    assert m["effective_visits"] == {"value": 1}
    assert m["revenue_won"] == {"value": "1200.00", "currency": "EUR"}
    assert m["deals_won"] == {"value": 1}
    assert m["new_customers"] == {"value": 1}
    assert m["avg_sales_cycle_days"]["value"] == 5.0


async def test_a_void_takes_the_visit_back_out_and_live_folding_goes_on(
    scoring, post_events, auth, db, org
) -> None:
    when = "2026-07-15T10:00:00+00:00"
    visits = [
        make_event("visit.logged", stream="account-acc-9", occurred_at=when) for _ in range(3)
    ]
    await post_events(visits)
    void = make_event(
        "event.voided",
        stream="account-acc-9",
        occurred_at=when,
        data={"voided_event_id": visits[0]["event_id"], "reason": "wrong account"},
    )
    last = await post_events(
        [void, make_event("visit.logged", stream="account-acc-9", occurred_at=when)]
    )
    await settled(scoring, auth(), last)
    params = {"owner": "org", "period": "month", "from": "2026-07-01", "metrics": "visits"}
    for _ in range(200):
        body = (await scoring.get("/v1/kpis", params=params, headers=auth())).json()
        if body["buckets"][0]["metrics"]["visits"]["value"] == 3:
            break
        await asyncio.sleep(0.05)
    assert body["buckets"][0]["metrics"]["visits"] == {"value": 3}
    row = await db.fetchrow(
        "SELECT generation, rebuild_requested, voided FROM scoring.orgs WHERE org_id = $1", org
    )
    # Corrected with its page: no rebuild, the same generation.
    assert (row["generation"], row["rebuild_requested"], row["voided"]) == (1, False, 1)
