"""The client goals uses to ask scoring for actuals and rates.

    async with ScoringClient("http://127.0.0.1:8003", tokens) as scoring:
        report = await scoring.kpis("acme", owner="team:north", period="month",
                                    first=date(2026, 7, 1), last=date(2026, 7, 31),
                                    metrics=["revenue_won"])

`tokens(org)` gives the bearer token to send for an org, asked at every request (goals gives a
short-lived service token signed with the current key, `shared.auth.service_token`). Answers parse into the `KpiReport` scoring declares; answers other than 2xx
become our errors: 401 `Unauthorized`, 403 `Forbidden`, 404 `NotFound`, another 4xx
`InvalidInput`, and a 5xx, a timeout or no connection `UpstreamUnavailable` (goals answers 503:
it never makes actuals up).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from shared.clients._answers import ServiceClient, get
from shared.contracts.priority import AlertReport, PriorityPage
from shared.contracts.scoring import FunnelReport, KpiReport, Leaderboard
from shared.errors import UpstreamUnavailable

_Answer = TypeVar("_Answer", bound=BaseModel)


class ScoringClient(ServiceClient):
    def __init__(
        self,
        base_url: str,
        tokens: Callable[[str], str],
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._tokens = tokens
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=httpx.Timeout(timeout), transport=transport
        )

    async def kpis(
        self,
        org: str,
        *,
        owner: str,
        period: str,
        first: date,
        last: date,
        metrics: Sequence[str],
        product_line: str | None = None,
        tier: str | None = None,
        channel: str | None = None,
        currency: str | None = None,
        as_of: datetime | None = None,
    ) -> KpiReport:
        """`GET /v1/kpis`: the buckets of `period` (`range`: one bucket from `first` to
        `last` exactly, `GET /v1/kpis/total`)."""
        params: dict[str, Any] = {
            "owner": owner,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "metrics": ",".join(metrics),
        }
        if period != "range":
            params["period"] = period
        for name, value in (
            ("product_line", product_line),
            ("tier", tier),
            ("channel", channel),
            ("currency", currency),
        ):
            if value is not None:
                params[name] = value
        if as_of is not None:
            params["as_of"] = as_of.isoformat()
        path = "/v1/kpis/total" if period == "range" else "/v1/kpis"
        return _parsed(KpiReport, await self._get(org, path, params))

    async def funnel(
        self,
        org: str,
        *,
        owner: str,
        first: date,
        last: date,
        reading: str = "period",
        as_of: datetime | None = None,
    ) -> FunnelReport:
        """`GET /v1/funnel`: the steps of `first..last`, each with its conversion, and the
        deals lost with their reasons."""
        params: dict[str, Any] = {
            "owner": owner,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "reading": reading,
        }
        if as_of is not None:
            params["as_of"] = as_of.isoformat()
        return _parsed(FunnelReport, await self._get(org, "/v1/funnel", params))

    async def leaderboard(
        self,
        org: str,
        *,
        metric: str,
        period: str,
        at: date,
        scope: str,
        currency: str | None = None,
    ) -> Leaderboard:
        """`GET /v1/leaderboard`: the reps of `scope` (`org` or `team:ID`, every member the
        roster places there in the period, silent ones at zero) ranked by `metric`."""
        params: dict[str, Any] = {
            "metric": metric,
            "period": period,
            "at": at.isoformat(),
            "scope": scope,
        }
        if currency is not None:
            params["currency"] = currency
        return _parsed(Leaderboard, await self._get(org, "/v1/leaderboard", params))

    async def priority(
        self,
        org: str,
        *,
        owner: str,
        kind: str = "lead",
        tier: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> PriorityPage:
        """`GET /v1/leads/priority`: a page of the owner's open leads (or deals), highest win
        probability first, each with its next touch and whether it is overdue (the first page,
        or the one after `cursor`: a page's `next`)."""
        params: dict[str, Any] = {"owner": owner, "kind": kind, "limit": limit}
        if tier is not None:
            params["tier"] = tier
        if cursor is not None:
            params["cursor"] = cursor
        return _parsed(PriorityPage, await self._get(org, "/v1/leads/priority", params))

    async def alerts(
        self,
        org: str,
        *,
        owner: str,
        first: date,
        last: date,
        currency: str | None = None,
    ) -> AlertReport:
        """`GET /v1/alerts`: the watched rates of `first..last` that fell against the four
        periods of the same length before."""
        params: dict[str, Any] = {"owner": owner, "from": first.isoformat(), "to": last.isoformat()}
        if currency is not None:
            params["currency"] = currency
        return _parsed(AlertReport, await self._get(org, "/v1/alerts", params))

    async def _get(self, org: str, path: str, params: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._tokens(org)}"}
        return await get(self._http, "scoring", path, params=params, headers=headers)


def _parsed(model: type[_Answer], response: httpx.Response) -> _Answer:
    """Scoring's answer as `model`; a 2xx that is not scoring's answer (a proxy page…) is
    `UpstreamUnavailable`."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable(f"scoring answered something else: {exc.errors()[:1]}") from exc
