"""An ASGI middleware that refuses request bodies over a size limit with 413, bodies that take
longer than `BODY_SECONDS` to arrive with 408, and query strings over `MAX_QUERY_BYTES` with 414,
before parsing."""

from __future__ import annotations

import asyncio

from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import (
    PayloadTooLarge,
    Problem,
    RequestTimeout,
    UriTooLong,
    field_error,
    problem_response,
)

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_QUERY_BYTES = 8 * 1024
"""The longest query string any route takes (filters, cursors, comma-separated lists)."""
BODY_SECONDS = 30.0
"""The longest a request's body may take to arrive, from the first read of it (a file upload:
the longest between two parts of it): a client that trickles a body, or stops sending one,
holds a connection and a task no longer than this."""


def max_body_bytes(settings: BaseSettings) -> int:
    """The body limit of a service: its settings' `max_body_bytes` (`ACTIVITY_`, `SCORING_`,
    `GOALS_MAX_BODY_BYTES`, 4 MiB by default)."""
    declared = getattr(settings, "max_body_bytes", None)
    if not isinstance(declared, int):
        raise TypeError(f"{type(settings).__name__} declares no max_body_bytes")
    return declared


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodySizeLimit:
    """Checks `Content-Length` up front, and counts the bytes of bodies sent without one;
    refuses a body still arriving `body_seconds` after it was first read; and refuses a query
    string longer than `MAX_QUERY_BYTES`."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        larger: dict[tuple[str, str], int] | None = None,
        body_seconds: float = BODY_SECONDS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_seconds = body_seconds
        # (method, path) of routes that take larger bodies (a file upload) and their limit.
        self.larger = larger or {}

    def _slow(self) -> Problem:
        return RequestTimeout(
            f"The request body did not arrive within {self.body_seconds:g} seconds.",
            errors=[field_error("body", f"not received within {self.body_seconds:g} s", "timeout")],
        ).problem()

    @staticmethod
    def _problem(max_bytes: int) -> Problem:
        return PayloadTooLarge(
            f"The request body is larger than {max_bytes} bytes; split it into smaller batches.",
            errors=[field_error("body", f"larger than {max_bytes} bytes", "too_large")],
        ).problem()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            too_long = UriTooLong(
                f"The query string is longer than {MAX_QUERY_BYTES} bytes.",
                errors=[
                    field_error(
                        "query", f"longer than {MAX_QUERY_BYTES} bytes", "too_long", "query"
                    )
                ],
            )
            await problem_response(too_long.problem())(scope, receive, send)
            return
        route = (scope.get("method", ""), scope.get("path", ""))
        max_bytes = self.larger.get(route, self.max_bytes)
        upload = route in self.larger  # a file may take long to arrive, not long between parts
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await problem_response(self._problem(max_bytes))(scope, receive, send)
                return

        seen = 0
        exceeded = slow = received = started = False
        deadline: float | None = None

        async def limited_receive() -> Message:
            nonlocal seen, exceeded, slow, received, deadline
            if received:  # the whole body is in: later reads wait for a disconnect, unbounded
                return await receive()
            if deadline is None or upload:  # an upload: each part within the time
                deadline = asyncio.get_running_loop().time() + self.body_seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                slow = True
            if slow:  # raised outside the handler: no TimeoutError for error handlers to see
                raise _TooSlow
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    exceeded = True
                    raise _TooLarge
                received = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded or slow:
                return  # whatever the app answers to the interrupted body is replaced below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except (_TooLarge, _TooSlow):
            pass
        if started:
            return
        if exceeded:
            await problem_response(self._problem(max_bytes))(scope, receive, send)
        elif slow:
            await problem_response(self._slow())(scope, receive, send)
