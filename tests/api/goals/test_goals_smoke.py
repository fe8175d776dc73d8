from __future__ import annotations

from decimal import Decimal


async def test_a_yearly_team_goal_decomposed_to_months_sums_to_the_parent(goals, auth) -> None:
    created = await goals.post(
        "/v1/goals",
        headers=auth(),
        json={
            "owner": "team:team-north",
            "metric": "revenue_won",
            "period": "year",
            "start": "2026-01-01",
            "target": "1000000.00",
            "currency": "EUR",
            "buffer_pct": 10,
        },
    )
    assert created.status_code == 201, created.text
    goal = created.json()
    assert (goal["floor"], goal["stretch"], goal["revision"]) == ("900000.00", "1100000.00", 1)
    split = await goals.post(
        f"/v1/goals/{goal['id']}/decompose",
        headers=auth(),
        json={"by": "time", "into": "month", "strategy": "working_days"},
    )
    assert split.status_code == 201, split.text
    months = split.json()["children"]
    assert len(months) == 12
    assert sum(Decimal(m["target"]) for m in months) == Decimal("1000000.00")
    rec = (await goals.get(f"/v1/goals/{goal['id']}/reconcile", headers=auth())).json()
    assert rec["balanced"] is True
    assert rec["difference"] == "0.00"
    progress = await goals.get(
        f"/v1/goals/{goal['id']}/progress", headers=auth(), params={"at": "2026-07-15"}
    )
    assert progress.status_code == 200, progress.text
    body = progress.json()
    assert body["actual"] == "0.00", body
    assert body["status"] == "behind", body
