"""Fresh planner statistics once a follower has folded a burst (a history import, a first day).

PostgreSQL plans every read from its statistics of the tables. Folded page by page into a young
database, the projection's tables grow from nothing while their statistics still say they are
empty, and reads are planned as walks over everything: `/v1/kpis` took 3–15 s a read on a
2,500-event org under load until autovacuum came by (up to a minute later, and later still on a
busy server). A rebuild refreshes them as it swaps (generations.py); this does the same for a
follower, once caught up, whenever the org has grown by as much again as the statistics were
last taken at (and by `floor` events at least): a few times in an org's life, not per page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Growth:
    """Events folded since the statistics were last refreshed, against the org's size then."""

    base: int  # events the statistics are taken to include (the org's size when last refreshed)
    grown: int = 0

    def add(self, events: int) -> None:
        self.grown += events

    def due(self, floor: int) -> bool:
        return floor > 0 and self.grown >= max(floor, self.base)

    def refreshed(self) -> None:
        self.base += self.grown
        self.grown = 0
