"""shared/tasks.py: stopping background tasks ends them, even one that swallows a
cancellation, and never swallows the caller's own cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shared import tasks


async def stubborn(cancels_to_swallow: int, ended: list[str]) -> None:
    """Goes on after its first cancellations, as a task does when asyncio 3.11's `wait_for`
    swallows one (or it awaits a cancelled child inside `suppress(CancelledError)`)."""
    swallowed = 0
    try:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed == cancels_to_swallow:
                    raise
                swallowed += 1
    finally:
        ended.append(f"ended after {swallowed} swallowed")


async def test_a_task_that_swallows_its_cancellation_is_cancelled_until_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "RECANCEL_SECONDS", 0.01)
    ended: list[str] = []
    task = asyncio.create_task(stubborn(2, ended))
    await asyncio.sleep(0)
    async with asyncio.timeout(5):  # a single cancel and a wait would hang here
        await tasks.stop(task)
    assert task.cancelled()
    assert ended == ["ended after 2 swallowed"]


async def test_failures_and_nones_are_taken_without_raising() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    failed = asyncio.create_task(fails())
    await asyncio.sleep(0)  # it has failed before it is stopped
    done = asyncio.create_task(asyncio.sleep(0))
    await asyncio.sleep(0.01)
    await tasks.stop(failed, None, done)
    assert isinstance(failed.exception(), ValueError)
    assert done.done()
    assert not done.cancelled()


async def test_the_callers_own_cancellation_is_raised_not_swallowed() -> None:
    """A follower that stops a child (its fetch) and is itself cancelled meanwhile ends: the
    pattern `child.cancel(); with suppress(CancelledError): await child` went on instead."""
    went_on = asyncio.Event()
    child_cancelled = asyncio.Event()

    async def slow_to_end() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            child_cancelled.set()
            await asyncio.sleep(0.2)  # cleaning up
            raise

    async def parent() -> None:
        child = asyncio.create_task(slow_to_end())
        await asyncio.sleep(0)
        await tasks.stop(child)
        went_on.set()

    task = asyncio.create_task(parent())
    await child_cancelled.wait()
    task.cancel()  # while the parent waits for its child to end
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert not went_on.is_set()
