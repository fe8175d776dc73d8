"""shared/limits.py: a body that takes too long to arrive is refused with 408, whatever reads it.

Driven as uvicorn drives an app (ASGI messages on a receive channel), with a client that sends
the first part of its body and then stalls: the FastAPI app behind the middleware is a real one
that parses a JSON body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.types import Message

from shared.errors import install_problem_handlers
from shared.limits import BodySizeLimit


def app(body_seconds: float) -> Any:
    inner = FastAPI()
    install_problem_handlers(inner)
    stored: list[Any] = []

    @inner.post("/v1/things")
    async def things(request: Request) -> dict[str, Any]:
        stored.append(await request.json())
        return {"stored": len(stored)}

    return BodySizeLimit(inner, 1024, body_seconds=body_seconds), stored


async def call(asgi: Any, chunks: list[bytes], stall: float | None) -> tuple[int, dict[str, Any]]:
    """POST `chunks` (the last one ends the body unless `stall`: then wait that long after
    them, as a client that stopped sending would); the status and the JSON answer."""
    messages: list[Message] = [
        {
            "type": "http.request",
            "body": chunk,
            "more_body": stall is not None or i < len(chunks) - 1,
        }
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(stall if stall is not None else 3600)  # the client sends nothing more
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/things",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("c", 1),
        "root_path": "",
    }
    await asyncio.wait_for(asgi(scope, receive, send), timeout=10)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, orjson.loads(body)


async def test_a_body_that_stops_arriving_is_a_408_naming_the_body_and_nothing_is_stored() -> None:
    asgi, stored = app(body_seconds=0.2)
    started = asyncio.get_running_loop().time()
    status, problem = await call(asgi, [b'{"name": '], stall=5)
    # Not the client's 5 s (a fresh app's first request took 1.7 s on a loaded 2-core machine).
    assert asyncio.get_running_loop().time() - started < 4.5
    assert status == 408
    assert problem["title"] == "Request timeout"
    assert [e["field"] for e in problem["errors"]] == ["body"]
    assert stored == []


async def test_a_body_that_arrives_in_parts_within_the_time_is_served() -> None:
    asgi, stored = app(body_seconds=0.2)
    status, answer = await call(asgi, [b'{"name": ', b'"a"}'], stall=None)
    assert (status, answer, stored) == (200, {"stored": 1}, [{"name": "a"}])


async def test_an_upload_may_take_longer_than_the_time_while_its_parts_keep_coming() -> None:
    inner = FastAPI()
    install_problem_handlers(inner)

    @inner.post("/v1/things")
    async def things(request: Request) -> dict[str, Any]:
        return {"bytes": len(await request.body())}

    asgi = BodySizeLimit(inner, 1024, larger={("POST", "/v1/things"): 10_000}, body_seconds=2.0)
    parts = [b"x" * 100] * 6

    async def slow_parts() -> tuple[int, dict[str, Any]]:
        sent: list[Message] = []
        left = list(parts)

        async def receive() -> Message:
            # 2.4 s in all, past the time; each part well within it (1.6 s to spare: the
            # suite's event loop is shared, and once another test's task stalled it 0.7 s)
            await asyncio.sleep(0.4)
            chunk = left.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(left)}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/things",
            "query_string": b"",
            "headers": [],
            "http_version": "1.1",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("c", 1),
            "root_path": "",
        }
        await asgi(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, orjson.loads(body)

    assert await slow_parts() == (200, {"bytes": 600})
