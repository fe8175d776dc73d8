"""How far behind the feed this replica's followers are, and what `/readyz` reports of it; and
when a follower that far behind should replay the org's whole log instead of paging through."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.clients.activity import ActivityClient

# How often a follower that is behind asks activity how far (a count over the backlog: far
# behind, that is a scan of most of the org's log).
LAG_CHECK_SECONDS = 5.0
# A rebuild replays an org's log about this many times faster than a follower folds it page by
# page (bench.scoring at 1M events: 11.4k against 3.3k events/s): a backlog worth more than
# 1/BULK_ADVANTAGE of the org's log is caught up faster by rebuilding the whole log.
BULK_ADVANTAGE = 3


@dataclass(slots=True)
class Lag:
    events: int = 0
    seconds: float = 0.0
    checked: float = 0.0  # monotonic time of the last backlog check


@dataclass(slots=True)
class ConsumerState:
    """What `/readyz` reports: the orgs this replica folds, and each one's lag."""

    connected: bool = False  # holds its lease connection (and so takes part)
    replicas: int = 0  # consuming replicas alive at the last look, this one included
    leased: set[str] = field(default_factory=set)
    lag: dict[str, Lag] = field(default_factory=dict)
    errors: int = 0

    @property
    def leading(self) -> bool:
        """Whether this replica folds any org."""
        return bool(self.leased)


async def track(
    lags: dict[str, Lag],
    org: str,
    client: ActivityClient,
    cursor: str | None,
    page: dict[str, Any],
) -> None:
    """After a page: caught up, no lag; behind, ask activity how far, every LAG_CHECK_SECONDS."""
    lag = lags.setdefault(org, Lag())
    if not page["has_more"]:
        lag.events, lag.seconds = 0, 0.0
        return
    now = time.monotonic()
    if now - lag.checked < LAG_CHECK_SECONDS:
        return
    lag.checked = now
    backlog = await client.backlog(cursor)
    lag.events = backlog.events
    if backlog.head_recorded_at is not None and page["items"]:
        last = datetime.fromisoformat(page["items"][-1]["recorded_at"])
        lag.seconds = max(0.0, (backlog.head_recorded_at - last).total_seconds())


def bulk_due(lag: Lag | None, threshold: int, folded: int) -> bool:
    """Far enough behind (`threshold` events, `bulk_catchup_events`, and a backlog of at least
    1/BULK_ADVANTAGE of the org's log, `folded` events so far) that replaying the whole log
    catches up sooner than folding the backlog page by page."""
    if threshold <= 0 or lag is None:
        return False
    return lag.events >= threshold and lag.events * BULK_ADVANTAGE >= folded + lag.events
