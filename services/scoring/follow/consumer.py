"""The consumer: follows every org's feed and keeps the projection in step, exactly once.

It wires the parts, each a module of its own:

- election.py: holds the lease connection (and so takes part), again after losing it;
- discovery.py: finds the orgs, leases this replica's share of them (leases.py) and follows
  each leased org in a task of its own;
- follower.py: one org's feed, long-polled, page after page;
- pages.py: folds a page and writes its effects, its voids' correction and the new cursor in
  one transaction;
- upkeep.py: the scores and models of the orgs followed (scorer.py computes them);
- lag.py: how far behind the feed each org is, as `/readyz` reports it;
- rebuild.py: an org's whole log replayed into a new generation and swapped in.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx

from shared import tasks
from shared.auth import service_token
from shared.clients.activity import ActivityClient

from ..config import ScoringSettings
from . import election
from .discovery import Discovery
from .follower import Follower
from .lag import ConsumerState
from .pages import Pages
from .pokes import Pokes
from .rebuild import Rebuilder
from .scorer import Scorer
from .upkeep import Upkeep

# Scoring's service tokens: short-lived, but a rebuild's replay in a worker process keeps the one
# it was handed for its whole run, at least half of this (2 h: ~70M events at the measured rate).
TOKEN_TTL = 4 * 3600


class Consumer:
    def __init__(
        self,
        settings: ScoringSettings,
        dsn: str,
        pool: asyncpg.Pool,
        secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._dsn = dsn
        self._pool = pool
        self._secret = secret
        self._transport = transport
        self._task: asyncio.Task[None] | None = None
        self.state = ConsumerState()
        self.scorer = Scorer(settings, dsn)
        pokes = Pokes()
        self.upkeep = Upkeep(pool, self.scorer, pokes)
        self.pages = Pages(settings, pool, self.scorer, self.upkeep)
        self.rebuilder = Rebuilder(
            settings,
            dsn,
            pool,
            self.scorer,
            self.pages,
            client=self.client,
            token=self.token,
            transport=transport,
        )
        self.follower = Follower(
            settings,
            pool,
            self.state,
            pokes=pokes,
            upkeep=self.upkeep,
            pages=self.pages,
            rebuild=self.rebuilder.rebuild,
            client=self.client,
        )
        self.discovery = Discovery(
            settings,
            pool,
            self.state,
            replica=uuid.uuid4().hex,
            pokes=pokes,
            upkeep=self.upkeep,
            follow=self.follower.follow,
            client=self.client,
        )
        # The one-call entry points (a rebuild asked for, a page applied by hand).
        self.rebuild = self.rebuilder.rebuild
        self.apply = self.pages.apply

    def start(self) -> None:
        self._task = asyncio.create_task(
            election.elect(self._dsn, self.settings, self.state, self.discovery.lead),
            name="scoring-consumer",
        )

    async def stop(self) -> None:
        await tasks.stop(self._task)

    def token(self, org: str) -> str:
        """Scoring's service token for `org`: signed with the current key, re-minted once half
        its life is gone (shared/auth.py)."""
        return service_token(
            self.settings, org=org, sub="scoring", ttl_seconds=TOKEN_TTL, secret=self._secret
        )

    def client(self, org: str) -> ActivityClient:
        """A client of activity for `org` that asks for the token at each request (a follower's
        client lives as long as the follower)."""
        return ActivityClient(
            self.settings.activity_url, lambda: self.token(org), transport=self._transport
        )
