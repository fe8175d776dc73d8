"""Ending background tasks: cancel them, and wait until each has ended."""

from __future__ import annotations

import asyncio
from typing import Any

RECANCEL_SECONDS = 1.0  # how long a cancelled task may run on before it is cancelled again


async def stop(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel `tasks` (None is skipped) and wait until each has ended.

    A task that catches its cancellation and goes on is cancelled again every
    `RECANCEL_SECONDS`, so that stopping never waits for ever. On Python 3.11,
    `asyncio.wait_for` swallows a cancellation that arrives as its inner future completes, and
    a task that awaits a cancelled child inside `suppress(CancelledError)` swallows its own.
    What the tasks raised is taken and dropped: they are being stopped. A cancellation of the
    caller is not swallowed: it is raised, and the tasks go on being cancelled."""
    given = [task for task in tasks if task is not None]
    pending = set(given)
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_SECONDS)
        for task in pending:
            task.cancel()
    for task in given:
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" at collection
