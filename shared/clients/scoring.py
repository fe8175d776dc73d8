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
from typing import Any

import httpx
from pydantic import ValidationError

from shared.clients._answers import ServiceClient, get
from shared.contracts.scoring import KpiReport
from shared.errors import UpstreamUnavailable


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
        response = await self._get(org, path, params)
        try:
            return KpiReport.model_validate_json(response.content)
        except ValidationError as exc:  # a 2xx that is not scoring's answer (a proxy page…)
            raise UpstreamUnavailable(
                f"scoring answered something else: {exc.errors()[:1]}"
            ) from exc

    async def _get(self, org: str, path: str, params: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._tokens(org)}"}
        return await get(self._http, "scoring", path, params=params, headers=headers)
