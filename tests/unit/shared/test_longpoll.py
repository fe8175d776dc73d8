"""shared/longpoll.py: a long-poll's work is dropped as soon as its client hangs up, and
answers as usual when it finishes first."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from shared.longpoll import unless_disconnected


def request_hanging_up_after(seconds: float) -> Request:
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, object]:
        if messages:
            return messages.pop()
        await asyncio.sleep(seconds)
        return {"type": "http.disconnect"}

    return Request({"type": "http", "method": "GET", "path": "/", "headers": []}, receive)


async def test_the_work_is_cancelled_when_the_client_hangs_up() -> None:
    cancelled = asyncio.Event()

    async def long_poll() -> bytes:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b"page"

    started = asyncio.get_running_loop().time()
    assert await unless_disconnected(request_hanging_up_after(0.05), long_poll()) is None
    assert asyncio.get_running_loop().time() - started < 5
    assert cancelled.is_set()


async def test_the_answer_comes_through_when_the_work_ends_first() -> None:
    async def quick() -> bytes:
        await asyncio.sleep(0.01)
        return b"page"

    assert await unless_disconnected(request_hanging_up_after(30), quick()) == b"page"


async def test_an_error_of_the_work_is_raised() -> None:
    async def broken() -> bytes:
        raise ValueError("no database")

    try:
        await unless_disconnected(request_hanging_up_after(30), broken())
    except ValueError as exc:
        assert str(exc) == "no database"
    else:
        raise AssertionError("the error was swallowed")
