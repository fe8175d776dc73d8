"""Long-polls that end when their client hangs up.

A long-poll handler waits for something to happen, for up to `wait` seconds. If its client goes
away meanwhile (a consumer stopping, a process exiting), nothing tells the handler, and a
server shutting down waits for it until its graceful-shutdown time runs out, then cancels it
with an error in the log. `unless_disconnected` runs the handler's work beside a watch on the
ASGI connection and drops the work as soon as the client has gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


async def _hung_up(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None if the client disconnected first (the work is cancelled)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_hung_up(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (gone, task) if not task.done() else (gone,):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    return task.result() if not task.cancelled() else None
