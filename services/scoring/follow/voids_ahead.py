"""Voids read ahead of a bulk catch-up, so that it folds on through a log that keeps growing with
corrections (a history being imported) instead of ending at the first one.

A replay lists the voids in the log before it folds (replayer.py), and leaves their events
out. A bulk catch-up reads on past the head it began at, where new voids keep coming: one whose
event the replay has not folded yet is harmless if the replay learns of it in time (it leaves
the event out, and must then read on at least up to the void, so that what it ends with is a
prefix of the log with its voids applied). One whose event it has already folded cannot be
taken back out in memory: the replay ends right before it, and the follower, which folds on
from there, corrects it in place (follow/corrections.py).

So, whenever the page in hand comes within `AHEAD` pages of what the replay knows of the log
(the `frontier`), it reads the head, then every void logged since it last looked (the feed's
`types` filter), then where the events those voids name lie (the feed's `ids` filter, a few
hundred ids a request), and decides each void in log order with `decide`. Reading only once
past the frontier would be too late: the voids just past it name events the replay has just
folded (a correction comes minutes after its event), and it would end there every time
(measured: a 1M import replayed in two passes instead of one). So a void ends the replay only
if it names an event some `AHEAD` pages older than the log's head was when the replay last
looked; when the replay is that close to the head, it reads ahead at every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clients.activity import ActivityClient

VOID = "event.voided"
IDS = 200  # event ids one feed request may name (activity's MAX_IDS)
AHEAD = 20  # pages before the frontier at which the voids past it are read


async def read_voids(
    client: ActivityClient, cursor: str | None, *, page_size: int, until: datetime | None = None
) -> tuple[list[tuple[int, str]], str | None]:
    """The voids after the void feed's `cursor` (recorded up to `until`), as (position, the
    event it voids) in log order, and the void feed's cursor after the last page read."""
    found: list[tuple[int, str]] = []
    while True:
        page = await client.raw_page(cursor, limit=page_size, types=[VOID])
        for event in page["items"]:
            if until is not None and datetime.fromisoformat(event["recorded_at"]) > until:
                return found, cursor
            found.append((event["position"], event["data"]["voided_event_id"]))
        cursor = page["next"]
        if not page["has_more"]:
            return found, cursor


def decide(
    voids: Sequence[tuple[int, str]], targets: dict[str, int], *, folded_to: int
) -> tuple[list[str], int | None]:
    """Voids new to the replay, as (position, the event it voids) in log order, all past
    `folded_to` (the last position the replay folded), and where the voided events lie
    (`targets`). The events to leave out (those not folded yet), in order, up to the first void
    whose event was folded already (or lies nowhere the feed shows), and that void's position
    (None: none such): the replay must end before it."""
    left_out: list[str] = []
    for position, target in voids:
        at = targets.get(target)
        if at is None or at <= folded_to:
            return left_out, position
        left_out.append(target)
    return left_out, None


@dataclass(slots=True)
class VoidsAhead:
    """What a bulk catch-up knows of the voids ahead of it."""

    client: ActivityClient
    page_size: int
    cursor: str | None  # the void feed's: the voids after it are not read yet
    frontier: int = 0  # every void up to this position has been read
    end_before: int | None = None  # a void whose event was folded before it was read
    # The last void whose event is left out (listed first, or read ahead): it reads on to it.
    reach: int = 0
    closed: bool = False  # the replay is ending (`most`): read no more, so `reach` stays put

    def due(self, page_end: int) -> bool:
        """Whether the page in hand (ending at `page_end`) comes within `AHEAD` pages of the
        log's end as last read (and must pass it only once the voids up to it are read)."""
        margin = AHEAD * self.page_size
        return not self.closed and self.end_before is None and page_end > self.frontier - margin

    async def read(self, voided: set[str], *, folded_to: int, after: str | None) -> None:
        """Read the voids logged since the last call and decide them: add the events to leave
        out to `voided`, or set `end_before`. `after`: the feed cursor at `folded_to`."""
        head = folded_to + (await self.client.backlog(after)).events  # read before the voids
        found, self.cursor = await read_voids(self.client, self.cursor, page_size=self.page_size)
        new = [(position, target) for position, target in found if target not in voided]
        targets = await self._positions([target for _, target in new])
        left_out, self.end_before = decide(new, targets, folded_to=folded_to)
        voided.update(left_out)
        if left_out:  # `decide` leaves out a prefix of `new`
            self.reach = new[len(left_out) - 1][0]
        self.frontier = head

    async def _positions(self, ids: list[str]) -> dict[str, int]:
        """Where the events `ids` lie in the log (the feed's `ids` filter)."""
        found: dict[str, int] = {}
        for first in range(0, len(ids), IDS):
            batch = ids[first : first + IDS]
            cursor: str | None = None
            while True:
                page: dict[str, Any] = await self.client.raw_page(
                    cursor, limit=self.page_size, ids=batch
                )
                found.update((e["event_id"], e["position"]) for e in page["items"])
                cursor = page["next"]
                if not page["has_more"]:
                    break
        return found
