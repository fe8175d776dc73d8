"""Replaying an org's whole log from activity's feed, in memory: what a rebuild writes and what
an `as_of` question is answered from.

Two passes. The first reads only the `event.voided` events (a filtered feed, cheap) to learn
which events are cancelled; the second folds everything else. A void that lands between the
passes is met in the second; the replay then starts over with it known, so the result is always
exactly "the log as if the voided events had never been logged".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from shared import tasks
from shared.clients.activity import ActivityClient

from ..projections.kpis import Book
from ..projections.packed import PackedBook
from ..projections.rollup import FactSums, Replay, Rollups, feed
from .voids_ahead import VOID, VoidsAhead, read_voids

Progress = Callable[[int], Awaitable[None]]
STAGE_EVERY = 100_000  # fact sums held in memory before they are handed to the stage


class Stage(Protocol):
    """Where a rebuild's fact sums go as it folds, so its memory stays bounded (the database
    adds them up); `reset` forgets them when the replay must start over."""

    async def add(self, sums: FactSums) -> None: ...

    async def reset(self) -> None: ...


@dataclass(slots=True)
class Replayed:
    replay: Replay
    cursor: str | None  # the feed cursor after the last event folded (None: empty log)
    position: int
    last_recorded_at: datetime | None
    # With `until`: the replay met an event recorded after it, so nothing recorded up to it can
    # come later (positions and recorded times grow together, and the feed never skips one).
    ended_past_until: bool = False
    # With `pack`: the book, the entities no recent page touched kept encoded (packed.py).
    packed: PackedBook | None = None
    _rollups: Rollups | None = None

    def rollups(self) -> Rollups:
        """The replay's rollup rows, expanded from its fact sums once (a finished replay's sums
        no longer change; `as_of` questions read them again and again: answer/replays.py)."""
        if self._rollups is None:
            self._rollups = self.replay.rollups
        return self._rollups


def _recorded(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["recorded_at"])


@dataclass(slots=True)
class Voids:
    """The voids in the log when a replay begins: the events they void, the void feed's cursor
    after the last one read, and that void's position (0: none)."""

    events: set[str]
    cursor: str | None
    last: int


async def voided_ids(client: ActivityClient, *, page_size: int, until: datetime | None) -> Voids:
    """The voids in the log (recorded up to `until`)."""
    found, cursor = await read_voids(client, None, page_size=page_size, until=until)
    return Voids({target for _, target in found}, cursor, found[-1][0] if found else 0)


async def replay_org(
    client: ActivityClient,
    timezone: ZoneInfo,
    *,
    page_size: int = 1000,
    until: datetime | None = None,
    progress: Progress | None = None,
    stage: Stage | None = None,
    after_page: Callable[[], object] | None = None,
    read_on: bool = False,
    most: int | None = None,
    pack: bool = False,
) -> Replayed:
    """Fold the org's log (events recorded up to `until`, if given) from an empty book. With a
    `stage`, fact sums are handed over as they pile up (the replay's own `sums` then holds only
    the last ones not yet handed over). `after_page` is called after each page is folded,
    before the next is read (generations.py collects the page's garbage there).

    `read_on` (a bulk catch-up, without `until`): read on as the log grows, up to its
    head, reading the voids logged meanwhile ahead of the pages (voids_ahead.py) and leaving
    their events out, until a void of an event already folded: the replay then ends right
    before it, and the follower folds that void (correcting in place) and what follows.
    `most`: it ends at the first page boundary past that many events (and past the last void
    it applied), if the log grows faster than it is replayed.
    `pack` (a rebuild): keep what no recent page touched encoded (packed.py); the result's
    `packed` then holds the book, and its `replay.book` only what was touched last."""
    listed = await voided_ids(client, page_size=page_size, until=until)
    voided = listed.events
    while True:
        # It reads at least up to the voids listed now: their events are left out.
        ahead = VoidsAhead(client, page_size, listed.cursor, reach=listed.last) if read_on else None
        restart = await _fold_all(
            client,
            timezone,
            voided,
            page_size,
            until,
            progress,
            stage,
            after_page,
            ahead,
            most,
            pack,
        )
        if isinstance(restart, Replayed):
            return restart
        voided |= restart
        if stage is not None:
            await stage.reset()


async def _fold_all(
    client: ActivityClient,
    timezone: ZoneInfo,
    voided: set[str],
    page_size: int,
    until: datetime | None,
    progress: Progress | None,
    stage: Stage | None,
    after_page: Callable[[], object] | None = None,
    voids_ahead: VoidsAhead | None = None,
    most: int | None = None,
    pack: bool = False,
) -> Replayed | set[str]:
    """The replay, or the voids it met that it did not know (then it must start over, unless
    it reads `voids_ahead`: then it ends before the first void of an event it had folded)."""
    result = Replay(Book(timezone))
    packed = PackedBook(result.book) if pack else None
    cursor: str | None = None
    position, last_recorded = 0, None
    seen = 0
    past_until = False
    # The next page is fetched while this one folds: activity serves it (its own process and
    # the database) while this process folds, instead of each waiting for the other.
    asked: str | None = None  # the cursor the page in hand was asked with
    ahead = asyncio.ensure_future(client.raw_page(None, limit=page_size))
    try:
        while True:
            page = await ahead
            if page["has_more"]:
                ahead = asyncio.ensure_future(client.raw_page(page["next"], limit=page_size))
            items: list[dict[str, Any]] = page["items"]
            reach = 0  # a bulk catch-up may not end before the last void it applied
            if until is not None:
                kept = [e for e in items if _recorded(e) <= until]
                done = past_until = len(kept) < len(items)
                items = kept
            else:
                done = not page["has_more"]
            if voids_ahead is not None and items:
                if voids_ahead.due(items[-1]["position"]):
                    await voids_ahead.read(voided, folded_to=position, after=cursor)
                if voids_ahead.end_before is not None:
                    kept = [e for e in items if e["position"] < voids_ahead.end_before]
                    if len(kept) < len(items):
                        items, done = kept, True
                reach = voids_ahead.reach
            new_voids = {e["data"]["voided_event_id"] for e in items if _is_new_void(e, voided)}
            if new_voids:
                if voids_ahead is None:
                    return new_voids
                first = next(i for i, e in enumerate(items) if _is_new_void(e, voided))
                items, done = items[:first], True
            if most is not None and seen + len(items) >= most:
                done = True
                if voids_ahead is not None:  # ends at the last void it applied, no further
                    voids_ahead.closed = True
            feed(result, items, voided)
            if packed is not None:
                packed.after_page()
            if after_page is not None:
                after_page()
            if stage is not None and len(result.sums) >= STAGE_EVERY:
                await stage.add(result.sums)
                result.sums = {}
            seen += len(items)
            if items:
                position, last_recorded = items[-1]["position"], _recorded(items[-1])
                cursor = (
                    page["next"]
                    if len(items) == len(page["items"])
                    else await _cursor_after(client, asked, len(items))
                )
            if progress is not None:
                await progress(seen)
            if position < reach and len(items) == len(page["items"]):
                # Voids it applied lie further on: read on to them, whatever ended it.
                if not page["has_more"]:
                    ahead = asyncio.ensure_future(client.raw_page(page["next"], limit=page_size))
                asked = page["next"]
                continue
            if done or not page["has_more"]:
                return Replayed(result, cursor, position, last_recorded, past_until, packed)
            asked = page["next"]
    finally:  # a page fetched ahead and never used: stop it, and take its error if it failed
        await tasks.stop(ahead)


def _is_new_void(event: dict[str, Any], voided: set[str]) -> bool:
    return event["type"] == VOID and event["data"]["voided_event_id"] not in voided


async def _cursor_after(client: ActivityClient, asked: str | None, count: int) -> str:
    """The cursor after the first `count` events of the page asked with `asked`: cursors are
    activity's and opaque, so activity makes it (the same page, shorter: positions are final)."""
    shorter = await client.raw_page(asked, limit=count)
    cursor: str = shorter["next"]
    return cursor
