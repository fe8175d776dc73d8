"""What every client of our services shares: its httpx client's lifetime, and how a non-2xx
answer becomes our own errors."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from shared.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)

_BY_STATUS: dict[int, type[DomainError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound}


def raise_for(service: str, response: httpx.Response) -> None:
    """401 `Unauthorized`, 403 `Forbidden`, 404 `NotFound`, another 4xx `InvalidInput`, a 5xx
    `UpstreamUnavailable`; the problem's `detail` (or the start of the body) goes along."""
    if response.is_success:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        detail = str(problem.get("detail") or problem.get("title"))
    else:
        detail = response.text[:200]
    if response.status_code >= 500:
        raise UpstreamUnavailable(f"{service} answered {response.status_code}: {detail}")
    raise _BY_STATUS.get(response.status_code, InvalidInput)(f"{service}: {detail}")


async def get(http: httpx.AsyncClient, service: str, path: str, **kwargs: object) -> httpx.Response:
    """GET that answers our errors: no connection or a timeout is `UpstreamUnavailable`."""
    try:
        response = await http.get(path, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(f"{service} is unreachable: {exc!r}") from exc
    raise_for(service, response)
    return response


class ServiceClient:
    """An httpx client of one of our services, closed by `aclose` or `async with`."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
