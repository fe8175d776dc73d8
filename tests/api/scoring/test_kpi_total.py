"""`GET /v1/kpis/total`: one bucket from `from` to `to` exactly, whatever the calendar (what a
goal's progress asks). It equals what the day buckets of `/v1/kpis` add up to over the same
days: counts and money summed, rates and averages from their summed parts, the pipeline at the
end of the last day; months wholly inside the range are read from month rows, the days at the
ends from day rows, and a range within one month from day rows only."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

import httpx
import pytest

from salesperf.synthetic import iter_events
from tests.api.scoring.conftest import settled
from tests.conftest import TokenFactory
from tests.problems import assert_problem

METRICS = (
    "visits,calls,new_leads,opportunities,deals_won,revenue_won,invoiced,collected,"
    "win_rate,lead_to_opportunity_rate,average_deal_size,avg_sales_cycle_days,open_pipeline"
)
RANGES = [
    ("2026-02-15", "2026-04-10"),  # a whole March between two partial months
    ("2026-03-01", "2026-03-31"),  # exactly one month
    ("2026-03-05", "2026-03-20"),  # inside one month
    ("2026-01-01", "2026-06-30"),  # whole months only
]


def summed(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """The day buckets of /v1/kpis added up as the README says a range adds up."""
    parts: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(Decimal))
    out: dict[str, Any] = {}
    for bucket in buckets:
        for name, value in bucket["metrics"].items():
            if name == "open_pipeline":
                out[name] = value["value"]  # a stock: the last day's
            elif value.get("numerator") is not None:
                parts[name]["num"] += Decimal(str(value["numerator"]))
                parts[name]["den"] += Decimal(str(value["denominator"]))
            else:
                parts[name]["value"] += Decimal(str(value["value"]))
    for name, p in parts.items():
        out[name] = (p["num"], p["den"]) if "num" in p else p["value"]
    return out


def flattened(bucket: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in bucket["metrics"].items():
        if name == "open_pipeline":
            out[name] = value["value"]
        elif value.get("numerator") is not None:
            out[name] = (Decimal(str(value["numerator"])), Decimal(str(value["denominator"])))
        else:
            out[name] = Decimal(str(value["value"]))
    return out


@pytest.mark.parametrize("owner", ["org", "team:team-north"])
async def test_the_total_is_what_the_days_add_up_to(
    auth: TokenFactory, scoring: httpx.AsyncClient, post_events: Any, owner: str
) -> None:
    admin = auth()
    events = list(
        islice(iter_events(teams=2, start=date(2026, 1, 1), days=200, scale=0.3, seed=5), 3000)
    )
    await settled(scoring, admin, await post_events(events), timeout=60)
    for first, last in RANGES:
        params = {"owner": owner, "from": first, "to": last, "metrics": METRICS}
        total = await scoring.get("/v1/kpis/total", params=params, headers=admin)
        assert total.status_code == 200, total.text
        body = total.json()
        assert (body["period"], body["from"], body["to"]) == ("range", first, last)
        (bucket,) = body["buckets"]
        assert (bucket["start"], bucket["end"]) == (first, last)
        days = await scoring.get("/v1/kpis", params={**params, "period": "day"}, headers=admin)
        assert days.status_code == 200, days.text
        expected = summed(days.json()["buckets"])
        assert flattened(bucket) == expected, (first, last)
        assert expected["visits"] > 0, (first, last)  # the log reaches the range


async def test_a_range_needs_both_ends_in_order(
    auth: TokenFactory, scoring: httpx.AsyncClient
) -> None:
    admin = auth()
    missing = await scoring.get("/v1/kpis/total", params={"from": "2026-03-01"}, headers=admin)
    assert_problem(missing, 422, "to", location="query")
    reversed_ = await scoring.get(
        "/v1/kpis/total", params={"from": "2026-03-02", "to": "2026-03-01"}, headers=admin
    )
    assert_problem(reversed_, 422, "to", location="query")
