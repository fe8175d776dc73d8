"""Wakes long-polling feed readers when new events commit.

Each replica LISTENs on the channel the writer NOTIFYs at commit, so a reader on any replica
wakes within milliseconds of an append on any other. If the listening connection drops, readers
fall back to re-querying every `fallback_seconds` until it is back: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from shared import tasks

from .repository import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)


class FeedNotifier:
    def __init__(self, dsn: str, *, fallback_seconds: float = 1.0) -> None:
        self._dsn = dsn
        self._waiters: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.fallback_seconds = fallback_seconds
        self.closed = False  # set at shutdown: long-polls answer at once

    @property
    def listening(self) -> bool:
        return self._connected.is_set()

    def subscribe(self, org: str) -> asyncio.Event:
        """An event set at the next commit for `org`; take it *before* querying the feed."""
        waiter = self._waiters.get(org)
        if waiter is None:  # `wake` removes an org's event as it sets it
            waiter = self._waiters[org] = asyncio.Event()
        return waiter

    def wake(self, org: str) -> None:
        waiter = self._waiters.pop(org, None)
        if waiter is not None:
            waiter.set()

    async def wait(self, waiter: asyncio.Event, timeout: float) -> None:
        """Until `waiter` fires or `timeout` passes (capped while not listening)."""
        if not self.listening:
            timeout = min(timeout, self.fallback_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="activity-feed-listener")

    def drain(self) -> None:
        """Answer every waiting long-poll now, and every later one at once: a server that is
        stopping must not wait out their `wait` before it can close its connections."""
        self.closed = True
        for org in list(self._waiters):
            self.wake(org)

    async def stop(self) -> None:
        """Stop listening, and drain."""
        await tasks.stop(self._task)
        self.drain()

    async def _listen(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(NOTIFY_CHANNEL, lambda _c, _pid, _ch, org: self.wake(org))
                self._connected.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("feed listener disconnected; retrying", exc_info=True)
            finally:
                self._connected.clear()
                for org in list(self._waiters):
                    self.wake(org)
                if conn is not None and not conn.is_closed():
                    await conn.close()
            await asyncio.sleep(1.0)
