"""Replays of an org's log as it stood at a past moment (`as_of`), kept while they are asked
again.

An `as_of` question is answered from a replay of the log as recorded up to that moment, never
from the projection. Once a replay has met an event recorded after its moment, nothing recorded
up to the moment can still come (an org's positions and recorded times grow together, and the
feed never skips a position), so that replay is the answer for good, whoever asks: the KPIs,
funnel and priority as of one moment, or an incentive statement's dozen questions as of one
day, replay the log once. Kept: such replays of at most `most_events` events (a replay holds
its org's whole book and rollups), the `maxsize` most recently asked. Concurrent askers share
one replay; when every asker has gone (a client hung up), the replay is stopped, so abandoned
replays do not pile up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cachetools import LRUCache

from ..follow.replayer import Replayed

Key = tuple[str, str, datetime]  # org, timezone, as_of


@dataclass(slots=True)
class _Flight:
    replay: asyncio.Future[Replayed]
    waiting: int = 0


class Replays:
    def __init__(self, maxsize: int, most_events: int) -> None:
        self._cache: LRUCache[Key, _Flight] | None = LRUCache(maxsize) if maxsize > 0 else None
        self._most = most_events

    async def get(self, key: Key, compute: Callable[[], Awaitable[Replayed]]) -> Replayed:
        if self._cache is None:
            return await compute()
        flight = self._cache.get(key)
        if flight is None:
            flight = _Flight(asyncio.ensure_future(compute()))
            self._cache[key] = flight
            flight.replay.add_done_callback(lambda _: self._settled(key, flight))
        flight.waiting += 1
        try:
            return await asyncio.shield(flight.replay)
        finally:
            flight.waiting -= 1
            if flight.waiting == 0 and not flight.replay.done():
                flight.replay.cancel()  # nobody waits for it any more

    def _settled(self, key: Key, flight: _Flight) -> None:
        """Kept: a replay that ended past its moment and is small enough to hold. A failed or
        stopped replay is not (the next asker replays again), nor one that may still grow."""
        if self._cache is None or self._cache.get(key) is not flight:
            return
        future = flight.replay
        if future.cancelled() or future.exception() is not None:
            del self._cache[key]
            return
        replayed = future.result()
        if not replayed.ended_past_until or replayed.position > self._most:
            del self._cache[key]

    def __len__(self) -> int:
        return len(self._cache) if self._cache is not None else 0
