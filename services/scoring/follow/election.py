"""Taking part in the lease of orgs: each consuming replica holds a connection of its own on
which it holds an advisory lock per org it folds (leases.py). If a replica dies, PostgreSQL
drops its locks with its connection and the others take its orgs at their next look; a replica
that lost its connection (and every org with it) tries again every `election_seconds`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from .. import repository
from ..config import ScoringSettings
from .lag import ConsumerState

log = structlog.get_logger(__name__)


async def elect(
    dsn: str,
    settings: ScoringSettings,
    state: ConsumerState,
    lead: Callable[[asyncpg.Connection], Awaitable[None]],
) -> None:
    """For ever: open the lease connection, join the replicas, and `lead` on it until it fails."""
    while True:
        try:
            conn = await asyncpg.connect(
                dsn, server_settings={"application_name": "scoring-leases"}
            )
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot reach the database to lease orgs", error=repr(exc))
            await asyncio.sleep(settings.election_seconds)
            continue
        try:
            await repository.join_replicas(conn)
            state.connected = True
            await lead(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("lost the lease connection (and every org with it)", error=repr(exc))
        finally:
            state.connected = False
            state.leased.clear()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
        await asyncio.sleep(settings.election_seconds)
