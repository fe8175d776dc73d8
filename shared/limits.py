"""An ASGI middleware that refuses request bodies over a size limit with 413, and query strings
over `MAX_QUERY_BYTES` with 414, before parsing."""

from __future__ import annotations

from pydantic_settings import BaseSettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLarge, Problem, UriTooLong, field_error, problem_response

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_QUERY_BYTES = 8 * 1024
"""The longest query string any route takes (filters, cursors, comma-separated lists)."""


def max_body_bytes(settings: BaseSettings) -> int:
    """The body limit of a service: its settings' `max_body_bytes` (`ACTIVITY_`, `SCORING_`,
    `GOALS_MAX_BODY_BYTES`, 4 MiB by default)."""
    declared = getattr(settings, "max_body_bytes", None)
    if not isinstance(declared, int):
        raise TypeError(f"{type(settings).__name__} declares no max_body_bytes")
    return declared


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Checks `Content-Length` up front, and counts the bytes of bodies sent without one; and
    refuses a query string longer than `MAX_QUERY_BYTES`."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, *, larger: dict[tuple[str, str], int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (method, path) of routes that take larger bodies (a file upload) and their limit.
        self.larger = larger or {}

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
        max_bytes = self.larger.get((scope.get("method", ""), scope.get("path", "")),
                                    self.max_bytes)  # fmt: skip
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await problem_response(self._problem(max_bytes))(scope, receive, send)
                return

        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app answers to the interrupted body is replaced below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        if exceeded and not started:
            await problem_response(self._problem(max_bytes))(scope, receive, send)
