"""Where each org's projection stands (generation, position, timezone…), kept in memory.

Every read starts by asking where the org stands; most of the time nothing has moved since the
last read. `scoring.orgs` NOTIFYs `scoring_orgs` with the org id on every change of an org's
row (a trigger: pages folded, rebuilds swapped in, settings), and each replica LISTENs on a
connection of its own and forgets the org's row when told. A row is kept only while listening,
and only if no notification for its org arrived while it was being read, so a replica never
keeps a row older than the last change it was told of. What a read may see is a row a few
milliseconds old (between a commit and its notification): the answer as of the position it
reports in `up_to`, as any eventually consistent read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import asyncpg
import structlog

from shared import tasks

from .. import repository

log = structlog.get_logger(__name__)
CHANNEL = "scoring_orgs"
RETRY_SECONDS = 1.0


class OrgRows:
    """`get(org)`: the org's row of `scoring.orgs` (None: unknown org), from memory when it can."""

    def __init__(self, dsn: str, pool: asyncpg.Pool) -> None:
        self._dsn, self._pool = dsn, pool
        self._rows: dict[str, asyncpg.Record | None] = {}
        self._changes: defaultdict[str, int] = defaultdict(int)  # notifications seen per org
        self._listening = False
        self._epoch = 0  # times listening (re)started: rows read across a restart are not kept
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._listening

    async def get(self, org: str) -> asyncpg.Record | None:
        if self._listening and org in self._rows:
            return self._rows[org]
        seen = (self._listening, self._epoch, self._changes[org])
        async with self._pool.acquire() as conn:
            row = await repository.get_org(conn, org)
        if seen == (True, self._epoch, self._changes[org]) and self._listening:
            self._rows[org] = row
        return row

    def forget(self, org: str) -> None:
        """The org's row changed (here: no need to wait for the notification)."""
        self._changed(org)

    def _changed(self, org: str) -> None:
        self._changes[org] += 1
        self._rows.pop(org, None)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="scoring-org-listener")

    async def stop(self) -> None:
        await tasks.stop(self._task)

    async def _listen(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, server_settings={"application_name": "scoring-org-listener"}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, org: self._changed(org))
                self._epoch += 1
                self._listening = True
                await lost.wait()
                log.warning("lost the org listener connection; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot listen for org changes", error=repr(exc))
            finally:
                # Changes may be missed from here on: keep nothing until listening again.
                self._listening = False
                self._rows.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(RETRY_SECONDS)
