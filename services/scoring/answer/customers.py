"""Customer health use cases: one account's health, and the org's accounts by risk and stage.

Health is kept per account by the consumer (follow/scorer.py), for the org's current day; the tier
suggestion depends on every account of the org (its share of the org's won revenue over the
last 12 months), so it is worked out when read, from the same rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from shared.auth import Principal
from shared.pagination import decode_keyset, encode_keyset

from .. import repository
from ..dependencies import Runtime
from ..exceptions import AccountNotFound, UnknownLifecycle
from ..priority.scores import suggested_tier
from .priorities import _scored_freshness, _visible, _who
from .service import org_view

HEALTH_CURSOR = "h1"
LIFECYCLES = ("prospect", "new", "growing", "mature", "declining")


def _render(row: Any, pareto: tuple[float, float]) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(row["doc"])
    total = row["total"] or Decimal(0)
    doc["suggested_tier"] = suggested_tier(row["before"], total, row["won_12m"], pareto)
    return doc


async def accounts(
    runtime: Runtime,
    principal: Principal,
    *,
    owner: str | None,
    risk: bool | None,
    lifecycle: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    rep, team = _who(principal, owner)
    if lifecycle is not None and lifecycle not in LIFECYCLES:
        raise UnknownLifecycle(LIFECYCLES)
    after = decode_keyset(HEALTH_CURSOR, cursor, 1, principal.org)[0] if cursor else None
    org = await org_view(runtime, principal.org)
    async with runtime.pool.acquire() as conn:
        rows = await repository.health_page(
            conn,
            principal.org,
            org.generation,
            rep=rep,
            team=team,
            risk=risk,
            lifecycle=lifecycle,
            after=after,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    pareto = runtime.settings.pareto
    return {
        "items": [_render(r, pareto) for r in rows],
        "next": (
            encode_keyset(HEALTH_CURSOR, [rows[-1]["account_id"]], principal.org) if more else None
        ),
        "has_more": more,
        "up_to": _scored_freshness(org),
    }


async def account(runtime: Runtime, principal: Principal, account_id: str) -> dict[str, Any]:
    org = await org_view(runtime, principal.org)
    async with runtime.pool.acquire() as conn:
        row = await repository.get_health(conn, principal.org, org.generation, account_id)
    if row is None or not _visible(principal, row["rep_id"], row["team_id"]):
        raise AccountNotFound(account_id)
    return _render(row, runtime.settings.pareto)
