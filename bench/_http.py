"""The load generator's HTTP clients: a lean HTTP/1.1 keep-alive client, and httpx for comparison.

Why not httpx by default: on this 2-core machine an `httpx.AsyncClient` costs about 1.5 ms of
client CPU per small request when used sequentially, and 3–5 ms with 32 requests sharing one
pool (its pool scheduling grows with the number of waiters; encode/httpx#3215). At the service's
rates that is more than a whole core, taken from the same two cores the service and PostgreSQL
need, so the benchmark would measure httpx. `LeanClient` sends pre-built HTTP/1.1 requests on
persistent connections (asyncio streams, Content-Length or chunked bodies) for about 0.1 ms of
CPU a request. `--client httpx` runs the same benchmark through httpx to show the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol
from urllib.parse import urlsplit

import httpx

_READ_BUFFER = 8 * 1024 * 1024  # a feed page is ~0.5 MB: read it without flow-control stalls
_MAX_IDLE_SECONDS = 2.0  # reconnect rather than reuse a connection idle this long (uvicorn: 5 s)


Headers = dict[str, str]  # names in lower case


class HttpClient(Protocol):
    """What the benchmarks need of a client: one request at a time per connection."""

    description: str

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]: ...

    async def exchange(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, Headers, bytes]: ...

    async def aclose(self) -> None: ...


class _Connection:
    def __init__(self, host: str, port: int, header_block: bytes) -> None:
        self._host, self._port = host, port
        self._header_block = header_block
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def request(
        self, method: str, target: str, body: bytes | None
    ) -> tuple[int, Headers, bytes]:
        if self._writer is not None and time.monotonic() - self._last_used > _MAX_IDLE_SECONDS:
            await self.close()  # the server may be closing it right now (keep-alive timeout)
        reused = self._writer is not None
        try:
            return await self._exchange(method, target, body)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            partial = isinstance(exc, asyncio.IncompleteReadError) and exc.partial
            if not reused or partial:
                raise
            # The server closed an idle keep-alive connection before reading this request
            # (nothing came back): send it again on a new connection, as HTTP clients do.
            return await self._exchange(method, target, body)
        finally:
            self._last_used = time.monotonic()

    async def _exchange(
        self, method: str, target: str, body: bytes | None
    ) -> tuple[int, Headers, bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port, limit=_READ_BUFFER
            )
        reader, writer = self._reader, self._writer
        payload = body or b""
        writer.write(
            b"%s %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), target.encode(), self._header_block, len(payload), payload)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = None, False, False
        headers: Headers = {}
        for line in head.split(b"\r\n")[1:-2]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            headers[name.decode()] = value.strip().decode()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            content = await self._read_chunked(reader)
        elif length is not None:
            content = await reader.readexactly(length)
        else:  # no framing: the body runs to the end of the connection
            content, close = await reader.read(), True
        if close:
            await self.close()
        return status, headers, content

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class LeanClient:
    """Up to `connections` keep-alive HTTP/1.1 connections, each used by one request at a time."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *, connections: int) -> None:
        url = urlsplit(base_url)
        assert url.hostname is not None
        assert url.port is not None
        block = f"Host: {url.hostname}:{url.port}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        self._all = [
            _Connection(url.hostname, url.port, block.encode()) for _ in range(connections)
        ]
        for conn in self._all:
            self._idle.put_nowait(conn)
        self.description = (
            f"lean asyncio HTTP/1.1 client (bench/_http.py), {connections} keep-alive connections"
        )

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[_Connection]:
        conn = await self._idle.get()
        try:
            yield conn
        except BaseException:
            await conn.close()  # a half-read response must not be read by the next request
            raise
        finally:
            self._idle.put_nowait(conn)

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        status, _, content = await self.exchange(method, target, body)
        return status, content

    async def exchange(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, Headers, bytes]:
        async with self._connection() as conn:
            return await conn.request(method, target, body)

    async def aclose(self) -> None:
        for conn in self._all:
            await conn.close()


class HttpxClient:
    """One `httpx.AsyncClient` with a pool of `connections`."""

    def __init__(self, base_url: str, headers: Mapping[str, str], *, connections: int) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers),
            timeout=httpx.Timeout(120.0),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self.description = f"httpx.AsyncClient, pool of {connections} keep-alive connections"

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        response = await self._client.request(method, target, content=body)
        return response.status_code, response.content

    async def exchange(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, Headers, bytes]:
        response = await self._client.request(method, target, content=body)
        return response.status_code, dict(response.headers), response.content

    async def aclose(self) -> None:
        await self._client.aclose()


CLIENTS: dict[str, type[LeanClient] | type[HttpxClient]] = {
    "lean": LeanClient,
    "httpx": HttpxClient,
}


def make_client(
    kind: str, base_url: str, headers: Mapping[str, str], *, connections: int
) -> HttpClient:
    return CLIENTS[kind](base_url, headers, connections=connections)
