"""Stops the embedded PostgreSQL when the `salesperf run` that started it dies without stopping it.

`salesperf run` stops its embedded Postgres on every exit it sees (Ctrl-C, SIGTERM, an error).
A `kill -9` it cannot see: the postmaster, a daemon of its own, would outlive it. So `run`
starts this watchdog (`python -m salesperf.pg_watchdog PGDATA PID`) in a session of its own; it
waits for that process to be gone, then stops the server unless another live process still uses
it (pgserver's list of users, pruned of the dead).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from shared.db import stop_if_unused

POLL_SECONDS = 0.5


def watch(pgdata: Path, parent: int) -> None:
    while os.getppid() == parent:  # reparented: the run is gone, however it went
        time.sleep(POLL_SECONDS)
    stop_if_unused(pgdata)


if __name__ == "__main__":  # pragma: no cover - run as a process by `salesperf run`
    watch(Path(sys.argv[1]), int(sys.argv[2]))
