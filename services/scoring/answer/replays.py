"""Replays of an org's log as it stood at a past moment (`as_of`), kept while they are asked
again.

An `as_of` question is answered from a replay of the log as recorded up to that moment, never
from the projection. The log before a moment that is past is final (events are only appended,
a void is an event of its own recorded later), so the replay up to it is the same whoever asks
and whenever: a statement of incentives asking five to fifteen questions as of one day, or a
dashboard paging through `as_of` answers, replays the log once. Kept: the replays of moments at
least `settle_seconds` old (the log just before now may still be committing), of at most
`most_events` events (a replay holds its whole book in memory), the `maxsize` most recently
asked. Concurrent askers of the same replay share one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from cachetools import LRUCache

from ..follow.replayer import Replayed

Key = tuple[str, str, datetime]  # org, timezone, as_of


class Replays:
    def __init__(self, maxsize: int, most_events: int, settle_seconds: float = 60.0) -> None:
        self._cache: LRUCache[Key, asyncio.Future[Replayed]] | None = (
            LRUCache(maxsize) if maxsize > 0 else None
        )
        self._most = most_events
        self._settle = timedelta(seconds=settle_seconds)

    async def get(self, key: Key, compute: Callable[[], Awaitable[Replayed]]) -> Replayed:
        as_of = key[2]
        if self._cache is None or as_of > datetime.now(UTC) - self._settle:
            return await compute()
        future = self._cache.get(key)
        if future is None:
            future = asyncio.ensure_future(compute())
            self._cache[key] = future
            future.add_done_callback(lambda f: self._settled(key, f))
        return await asyncio.shield(future)

    def _settled(self, key: Key, future: asyncio.Future[Replayed]) -> None:
        """A failed replay is not kept (the next asker replays again), nor one too large to
        hold (its askers still get it)."""
        if self._cache is None or self._cache.get(key) is not future:
            return
        if future.cancelled() or future.exception() is not None:
            del self._cache[key]
        elif future.result().position > self._most:
            del self._cache[key]

    def __len__(self) -> int:
        return len(self._cache) if self._cache is not None else 0
