"""CPU-heavy work of the scoring service in worker processes of lower priority.

Training an org's models, rescoring a whole org and a backtest take seconds of pure-Python CPU
(decoding profiles, building features, fitting). In a thread of the serving process they hold
its interpreter lock, so every read, append-to-visible and page folded meanwhile waits behind
them (measured: append-to-visible p99 79 → 470 ms at 200k events while an org trained). In a
process of their own, at a lower CPU priority (`nice`), the serving process keeps the CPU it
needs and the heavy work takes what is left; their memory is theirs too, not the serving
process's.

The work is plain functions (jobs.py) whose arguments and results pickle: raw profile states
from the database go in (decoding them is part of the work), models, score rows and reports come
out. `SCORING_WORKER_PROCESSES=0` runs the same functions in a thread instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.connection import Connection
from typing import Any, TypeVar

T = TypeVar("T")
PARENT_CHECK_SECONDS = 1.0


def _start(nice: int, parent: int) -> None:
    """In each worker: lower its priority, and end it when the serving process is gone (killed,
    or exited without shutting the pool down: a worker's queue never tells it)."""
    os.nice(nice)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class Workers:
    """A lazily started pool of `processes` worker processes (0: threads); `close()` ends it."""

    def __init__(self, processes: int, nice: int) -> None:
        self._processes, self._nice = processes, nice
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the serving process runs threads and an event loop.
            self._pool = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self._nice, os.getpid()),
            )
        return self._pool

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = partial(fn, *args, **kwargs)
        if self._processes == 0:
            return await asyncio.to_thread(call)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), call)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start a new pool for the next job; this
            # one fails like any other error of the work.
            self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class WorkerDied(RuntimeError):
    """A process of its own ended without an answer (killed, out of memory)."""


def _alone(
    send: Connection, nice: int, parent: int, fn: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    _start(nice, parent)
    try:
        answer: tuple[bool, Any] = (True, fn(*args))
    except BaseException as exc:  # every failure goes back to the caller
        answer = (False, exc)
    try:
        send.send(answer)
    except Exception as exc:  # an answer or error that does not pickle
        send.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


async def alone(fn: Callable[..., T], *args: Any, nice: int) -> T:
    """`fn(*args)` in a new process of its own, which ends with the work, so that the memory the
    work took goes back to the operating system; killed if the caller is cancelled."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_alone, args=(send, nice, os.getpid(), fn, args), daemon=True)
    process.start()
    send.close()
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(receive.fileno(), readable)
    try:
        await ready
        try:
            ok, value = receive.recv()
        except EOFError:
            await asyncio.to_thread(process.join)
            raise WorkerDied(f"the worker process ended with code {process.exitcode}") from None
    except BaseException:
        process.kill()
        raise
    finally:
        loop.remove_reader(receive.fileno())
        receive.close()
        await asyncio.to_thread(process.join)
    if not ok:
        raise value
    result: T = value
    return result
