"""Finding the orgs to fold: every `discovery_seconds`, list them (activity's `GET /v1/orgs`,
a platform token, and the orgs scoring knows), count the live replicas, let go of the orgs past
this replica's share (a replica joined), lease free ones up to it (leases.py), and follow each
one held in a task of its own (follower.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import structlog

from shared import tasks
from shared.auth import PLATFORM_ORG
from shared.clients.activity import ActivityClient
from shared.errors import DomainError

from .. import repository
from ..config import ScoringSettings
from . import leases
from .lag import ConsumerState
from .pokes import Pokes
from .upkeep import Upkeep

log = structlog.get_logger(__name__)


class Discovery:
    def __init__(
        self,
        settings: ScoringSettings,
        pool: asyncpg.Pool,
        state: ConsumerState,
        *,
        replica: str,
        pokes: Pokes,
        upkeep: Upkeep,
        follow: Callable[[str], Coroutine[Any, Any, None]],
        client: Callable[[str], ActivityClient],
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._state = state
        self._replica = replica  # this replica's name in the lease ranking
        self._pokes = pokes
        self._upkeep = upkeep
        self._follow = follow
        self._client = client

    async def lead(self, leases_conn: asyncpg.Connection) -> None:
        """Every `discovery_seconds`: find the orgs, count the live replicas, let go of the
        orgs past this replica's share, lease free ones up to it, and follow each one held."""
        settings, state = self._settings, self._state
        followers: dict[str, asyncio.Task[None]] = {}
        self._pokes.clear()
        platform = self._client(PLATFORM_ORG)
        poked: set[str] = set()  # orgs flagged for a rebuild at the last look, already woken
        try:
            while True:
                try:
                    orgs = [o.org_id for o in (await platform.orgs()).items]
                except DomainError as exc:
                    log.warning("cannot list orgs", error=str(exc))
                    orgs = []
                async with self._pool.acquire() as conn:
                    known = [r["org_id"] for r in await repository.list_orgs(conn)]
                    flagged = set(await repository.orgs_to_rebuild(conn))
                every = list(dict.fromkeys([*orgs, *known]))
                replicas = await repository.count_replicas(leases_conn)
                mine = leases.share(len(every), replicas, settings.max_orgs)
                for org in leases.to_release(self._replica, followers, mine):
                    await self._let_go(org, followers.pop(org), leases_conn)
                taken = await repository.leases_of_others(leases_conn)
                room = mine - len(followers)
                for org in leases.to_take(self._replica, every, set(followers), taken, room):
                    if await repository.try_lease(leases_conn, leases.key(org)):
                        followers[org] = self._start_following(org)
                for org, task in followers.items():
                    if task.done():  # a follower never ends on its own: it failed; again
                        followers[org] = self._start_following(org)
                    elif org in flagged and org not in poked:
                        # Wake a long-poll once: a rebuild was asked for. Once only: a poke
                        # cancels the fetch in flight, and poking every round could cancel
                        # every fetch of a follower that is behind, which then never catches
                        # up enough to start the rebuild.
                        self._pokes.poke(org)
                poked = flagged
                state.replicas = replicas
                state.leased = set(followers)
                await asyncio.sleep(settings.discovery_seconds)
        finally:
            await tasks.stop(*followers.values(), *self._upkeep.tasks())
            self._upkeep.clear()
            state.lag.clear()
            await platform.aclose()

    def _start_following(self, org: str) -> asyncio.Task[None]:
        self._pokes.renew(org)
        return asyncio.create_task(self._follow(org), name=f"follow-{org}")

    async def _let_go(
        self, org: str, follower: asyncio.Task[None], leases_conn: asyncpg.Connection
    ) -> None:
        """Stop following `org` (a page being written is rolled back: the replica that takes
        the org folds it again from the cursor) and free its lease for another replica."""
        await tasks.stop(follower, *self._upkeep.take_tasks(org))
        await repository.release_lease(leases_conn, leases.key(org))
        # What only this replica knew: the next one rescores the org (it cannot know which
        # keys were left) and finds when its models were trained in the database.
        self._upkeep.forget(org)
        self._state.lag.pop(org, None)
        log.info("let go of org for another replica", org=org)
