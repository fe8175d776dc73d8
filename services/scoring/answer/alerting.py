"""The alerts use case: which of an owner's rates fell against their recent past (alerts.py has
the rule), read from the stored projection in one query over the five windows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from shared.auth import Principal
from shared.dates import FIRST_DAY, LAST_DAY

from ..alerts import AlertRules, rate_alerts, stored_metrics, windows
from ..dependencies import Runtime
from ..domain import default_owner, parse_owner, team_filter
from ..exceptions import HistoryBeforeFirstDay
from ..follow.scorer import today
from ..repository import SqlSource
from .priorities import _freshness
from .service import _currency, org_view
from .sources import Scope

STAGE = "stage:"


async def alerts(
    runtime: Runtime,
    principal: Principal,
    *,
    owner: str | None,
    first: date | None,
    last: date | None,
    currency: str | None,
) -> dict[str, Any]:
    """Rates of `owner` that fell over `first..last` (default: the last 7 days) against the mean
    of the four periods of the same length before it."""
    who = parse_owner(owner) if owner else default_owner(principal)
    team = team_filter(principal, who)
    org = await org_view(runtime, principal.org)
    cur = _currency(currency, org)
    last = last or (min(first + timedelta(days=6), LAST_DAY) if first else today(org.timezone))
    first = first or last - timedelta(days=6)
    settings = runtime.settings
    rules = AlertRules(drop=settings.alert_drop, min_denominator=settings.alert_min_denominator)
    spans = windows(first, last, rules.history)
    if spans[0][0] < FIRST_DAY:
        raise HistoryBeforeFirstDay(rules.history, FIRST_DAY)
    source = SqlSource(runtime.pool, principal.org, org.generation, roster=org.roster_version > 0)
    scope = Scope(who, team)
    rows = await source.rows(
        scope, "d", spans[0][0], spans[-1][1], metrics=stored_metrics(()), prefixes=(STAGE,)
    )
    reached: dict[str, Decimal | int] = defaultdict(int)
    sums: list[dict[tuple[str, str], Decimal | int]] = [defaultdict(int) for _ in spans]
    for day, metric, money, value in rows:
        for i, (start, end) in enumerate(spans):
            if start <= day <= end:
                sums[i][(metric, money)] += value
                break
        if metric.startswith(STAGE):
            reached[metric.removeprefix(STAGE)] += value
    # The funnel's order: the stage most deals reach first (as /v1/funnel shows them).
    stages = sorted(reached, key=lambda s: (-reached[s], s))
    items = rate_alerts(sums, spans, currency=cur, stages=stages, rules=rules)
    return {
        "owner": str(who),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "rules": {
            "drop": rules.drop,
            "min_denominator": rules.min_denominator,
            "history": rules.history,
        },
        "items": items,
        "up_to": _freshness(org),
    }
