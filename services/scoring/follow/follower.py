"""Following one org's feed (a task per leased org): long-poll its next page, apply it
(pages.py), and keep its scores up (upkeep.py).

While behind the feed (a history import, a burst), a follower folds several pages at once, and
folds each while the one before is written; it leaves the leads, deals and accounts they change
unscored, and scores those once caught up, or every `scores_lag_seconds` (scorer.py): a profile
that the next page changes again is scored once, not page after page. Those scores are written
while the next pages are folded (which leave theirs for the next round); `scored_position` says
how far scores go; a restart that forgot the keys rescores the whole org. Far enough behind
(lag.py), it replays the whole log in a rebuild instead (rebuild.py), and follows on from there.

It rebuilds an org when asked to (by an admin at once; by voids once caught up), or when its
timezone changes; reads use the old generation until the swap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import structlog

from shared import tasks
from shared.clients.activity import ActivityClient
from shared.errors import UpstreamUnavailable

from .. import repository
from ..config import ScoringSettings
from . import lag
from .entity_cache import EntityCache
from .lag import ConsumerState
from .pages import Applied, Fenced, Gathered, Pages, has_voids
from .pokes import Pokes
from .statistics import Growth
from .upkeep import Upkeep

log = structlog.get_logger(__name__)
Rebuild = Callable[..., Coroutine[Any, Any, None]]


class Follower:
    def __init__(
        self,
        settings: ScoringSettings,
        pool: asyncpg.Pool,
        state: ConsumerState,
        *,
        pokes: Pokes,
        upkeep: Upkeep,
        pages: Pages,
        rebuild: Rebuild,
        client: Callable[[str], ActivityClient],
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._state = state
        self._pokes = pokes
        self._upkeep = upkeep
        self._pages = pages
        self._rebuild = rebuild
        self._client = client

    async def follow(self, org: str) -> None:
        """Follow `org` for ever, starting over from the database when it moved under us or
        something failed."""
        backoff = 0.5
        async with self._client(org) as client:
            while True:
                try:
                    await self._follow_once(org, client)
                except Fenced:
                    log.info("org moved under us; reloading", org=org)
                except (
                    UpstreamUnavailable,
                    OSError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                ) as exc:
                    self._state.errors += 1
                    log.warning(
                        "following failed; retrying", org=org, error=repr(exc), retry_in=backoff
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30)
                    continue
                backoff = 0.5

    async def _next_page(
        self, org: str, client: ActivityClient, cursor: str | None, wait: float
    ) -> dict[str, Any] | None:
        """The next page, or None when a rebuild request woke the long-poll first."""
        poke = self._pokes.of(org)
        fetch = asyncio.ensure_future(
            client.raw_page(cursor, limit=self._settings.page_size, wait=wait)
        )
        woken = asyncio.ensure_future(poke.wait())
        try:
            await asyncio.wait({fetch, woken}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled (shutdown): the fetch must not outlive its follower
            await tasks.stop(fetch)
            raise
        finally:
            woken.cancel()
        if fetch.done():
            return fetch.result()
        await tasks.stop(fetch)  # raises if this follower is cancelled meanwhile
        poke.clear()
        return None

    async def _follow_once(self, org: str, client: ActivityClient) -> None:
        settings, upkeep = self._settings, self._upkeep
        async with self._pool.acquire() as conn:
            row = await repository.ensure_org(conn, org, settings.default_timezone)
        cursor: str | None = row["cursor"]
        growth = Growth(row["folded"])
        rebuilding: asyncio.Task[None] | None = None
        last_rebuild = -float("inf")
        due = True
        behind = True
        cache = EntityCache(settings.fold_cache)
        writing: asyncio.Task[Applied] | None = None  # while behind: the page being written
        scoring: asyncio.Task[None] | None = None  # while behind: scores of earlier pages

        async def settle() -> None:
            """Wait for the page being written (raising what failed it)."""
            nonlocal writing
            if writing is not None:
                await writing
                writing = None

        async def scored() -> None:
            """Wait for the scores being written (raising what failed them)."""
            nonlocal scoring
            if scoring is not None:
                task, scoring = scoring, None
                await task

        try:
            while True:
                if rebuilding is not None and rebuilding.done():
                    rebuilding.result()  # a failed rebuild raises here; the follower restarts
                    rebuilding = None
                rescoring = upkeep.rescoring.get(org)
                if rescoring is not None and rescoring.done():
                    del upkeep.rescoring[org]
                    rescoring.result()  # a failed rescore raises here; the follower restarts
                    if not behind and org in upkeep.unscored and scoring is None:
                        await settle()  # what pages left meanwhile
                        scoring = await upkeep.score_left(org, caught_up=True)
                if rebuilding is None:
                    async with self._pool.acquire() as conn:
                        row = await repository.get_org(conn, org)
                    assert row is not None
                    # Asked by an admin: now. Asked by voids: once caught up (catching up
                    # matters more), and not more often than configured.
                    due = row["rebuild_asked"] or (
                        not behind and time.monotonic() - last_rebuild >= settings.rebuild_seconds
                    )
                    if row["rebuild_requested"] and due:
                        last_rebuild = time.monotonic()
                        rebuilding = asyncio.create_task(self._rebuild(org), name=f"rebuild-{org}")
                    elif not behind:
                        await upkeep.keep_scored(org, row)
                # While a rebuild runs, poll often enough to see it finish.
                wait = 0.0 if cursor is None else settings.long_poll_seconds
                if rebuilding is not None or (row["rebuild_requested"] and not due):
                    wait = min(wait, 0.5)
                page = await self._next_page(org, client, cursor, wait)
                if page is None:
                    continue
                page = await self._coalesce(client, page)
                behind = page["has_more"]
                if page["items"]:
                    lagging = settings.scores_lag_seconds > 0 and (
                        behind or org in upkeep.unscored or scoring is not None
                    )
                    # While the whole org is rescored, pages leave their keys for after it.
                    defer = lagging or org in upkeep.rescoring
                    if behind and not has_voids(page):
                        # Fold it while the page before is written; write it in turn.
                        writing = await self._pages.apply_ahead(
                            org,
                            page,
                            expected=cursor,
                            defer_scores=defer,
                            cache=cache,
                            writing=writing,
                        )
                    else:  # caught up, or voids: written before the next page is folded
                        # A correction's slice is read from activity while the page before
                        # is still being written (it does not depend on what scoring holds).
                        gathering = (
                            asyncio.ensure_future(self._pages.slice(client, page))
                            if has_voids(page)
                            else None
                        )
                        try:
                            await settle()
                        except BaseException:
                            if gathering is not None:
                                gathering.cancel()
                            raise
                        gathered = None if gathering is None else Gathered(await gathering)
                        if not behind:
                            cache.clear()
                        await self._pages.apply(
                            org,
                            page,
                            expected=cursor,
                            defer_scores=defer,
                            client=client,
                            gathered=gathered,
                            cache=cache if behind else None,
                        )
                cursor = page["next"]
                growth.add(len(page["items"]))
                if not behind and growth.due(settings.analyze_after_events):
                    upkeep.refresh_statistics()
                    growth.refreshed()
                await lag.track(self._state.lag, org, client, cursor, page)
                if behind and rebuilding is None and self._bulk_due(org, row):
                    await settle()
                    await scored()
                    await self._rebuild(org, reason="catch_up", chase=False)
                    upkeep.unscored.pop(org, None)  # the new generation is scored throughout
                    self._state.lag.pop(org, None)  # measured again from the new cursor
                    return  # and followed on from there
                if scoring is not None and scoring.done():
                    await scored()
                unscored = upkeep.unscored.get(org)
                if unscored is None or org in upkeep.rescoring:  # scored once it is written
                    continue
                if scoring is None and (
                    not behind  # caught up: score the rest now
                    or unscored.age() >= settings.scores_lag_seconds
                    or len(unscored) >= settings.unscored_keys
                ):  # beside the next pages (which leave theirs for the next round)
                    await settle()
                    scoring = await upkeep.score_left(org, caught_up=not behind)
        finally:
            await tasks.stop(writing, scoring, rebuilding)

    def _bulk_due(self, org: str, row: asyncpg.Record) -> bool:
        """Far enough behind that replaying the whole log catches up sooner (lag.py); not
        while a whole-org rescore runs."""
        if org in self._upkeep.rescoring:
            return False
        return lag.bulk_due(
            self._state.lag.get(org), self._settings.bulk_catchup_events, row["folded"]
        )

    async def _coalesce(self, client: ActivityClient, page: dict[str, Any]) -> dict[str, Any]:
        """While behind, fold several pages in one transaction: keys repeat from page to page,
        so fewer rows are written per event (measured: ~2× the catch-up rate)."""
        items = list(page["items"])
        while page["has_more"] and len(items) < self._settings.fold_events:
            page = await client.raw_page(page["next"], limit=self._settings.page_size)
            items += page["items"]
        return {**page, "items": items}
