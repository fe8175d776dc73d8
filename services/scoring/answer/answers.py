"""Reports kept in memory while the projection they were computed from stays where it was.

An org's stored projection changes only when the consumer moves its cursor or a rebuild swaps a
generation in, both of which move `(generation, position)`. A report computed at one
`(generation, position)` is therefore the answer to the same question for as long as the org
stays there: dashboards, BI tools and goal pacing that ask the same question between two events
are answered from memory (where the org stands is itself kept in memory: org_views.py).

Keys hold the question and where the org stands (generation, position, timezone, currency), so
neither a newer event, a rebuild nor a settings change can serve an old answer. `/v1/funnel` and
`/v1/leaderboard` key on the question as the service normalised it (owner, the caller's team
filter, dates, cuts, currency); `/v1/kpis`, the endpoint dashboards poll, keeps its answers
rendered, keyed by the caller and the query string as sent (router.kpis_direct), so a repeated
question is answered without being parsed. Concurrent askers of the same missing answer share
one computation. `as_of` answers are not kept here (the replays they are read from are:
replays.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from cachetools import LRUCache

Report = Any  # a report as a dict, or rendered as bytes


class Answers:
    """An LRU of reports by question; `maxsize` 0 keeps nothing."""

    def __init__(self, maxsize: int) -> None:
        self._cache: LRUCache[Hashable, asyncio.Future[Report]] | None = (
            LRUCache(maxsize) if maxsize > 0 else None
        )

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Report]]) -> Report:
        if self._cache is None:
            return await compute()
        future = self._cache.get(key)
        if future is None:
            future = asyncio.ensure_future(compute())
            self._cache[key] = future
            # A failed computation is not an answer: the next asker computes again.
            future.add_done_callback(lambda f: self._forget(key, f))
        return await asyncio.shield(future)

    def _forget(self, key: Hashable, future: asyncio.Future[Report]) -> None:
        if (future.cancelled() or future.exception() is not None) and self._cache is not None:
            if self._cache.get(key) is future:
                del self._cache[key]

    def __len__(self) -> int:
        return len(self._cache) if self._cache is not None else 0
