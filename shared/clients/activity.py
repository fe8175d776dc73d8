"""The client consumers (scoring) use to read activity's feed.

    async with ActivityClient("http://127.0.0.1:8002", token) as activity:
        async for page in activity.tail(after=cursor, wait=20):
            ...  # fold page.items, store page.next with the result, in one transaction

Pages parse straight from bytes into the same `EventPage` model activity declares as its
`response_model`. Answers other than 2xx become our own errors: 401 `Unauthorized`, 403
`Forbidden`, 404 `NotFound`, another 4xx `InvalidInput`; a 5xx, a timeout or no connection at
all `UpstreamUnavailable`, which `tail` rides out with capped exponential back-off.

`token` is a bearer token, or a function giving one, asked at every request: a long-lived client
(scoring's followers) then sends a token minted moments ago, never one that has expired
(`shared.auth.service_token`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import Any

import httpx
import orjson
from pydantic import TypeAdapter

from shared.clients._answers import ServiceClient, get
from shared.contracts.activity import Backlog, EventPage, OrgList
from shared.errors import UpstreamUnavailable

_page = TypeAdapter(EventPage)


class Bearer(httpx.Auth):
    """`Authorization: Bearer …` with the token `tokens()` gives at each request."""

    def __init__(self, tokens: Callable[[], str]) -> None:
        self._tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._tokens()}"
        yield request


class ActivityClient(ServiceClient):
    def __init__(
        self,
        base_url: str,
        token: str | Callable[[], str],
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"} if isinstance(token, str) else None,
            auth=None if isinstance(token, str) else Bearer(token),
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    async def page(
        self,
        after: str | None = None,
        *,
        limit: int = 1000,
        wait: float = 0,
        types: Sequence[str] | None = None,
        about: Sequence[str] | None = None,
    ) -> EventPage:
        """One page of the feed after the cursor `after` (None: from the start); with `wait`,
        the server holds the request until something arrives or the time is up. `types` and
        `about` (`kind:id` entities, at most 500) filter it as the feed's parameters do."""
        return _page.validate_json((await self._feed(after, limit, wait, types, about)).content)

    async def raw_page(
        self,
        after: str | None = None,
        *,
        limit: int = 1000,
        wait: float = 0,
        types: Sequence[str] | None = None,
        about: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """A page as plain JSON (dicts), for folds that read thousands of events a second and
        trust activity to have validated them; the shape is `EventPage`'s. `about`: only the
        events about any of these entities (`account:acc-1042`, `deal:D-88`…); `ids`: only
        these events (at most 200)."""
        answer = await self._feed(after, limit, wait, types, about, ids)
        page: dict[str, Any] = orjson.loads(answer.content)
        return page

    async def _feed(
        self,
        after: str | None,
        limit: int,
        wait: float,
        types: Sequence[str] | None,
        about: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> httpx.Response:
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        if wait:
            params["wait"] = wait
        if types:
            params["types"] = ",".join(types)
        if about is not None:  # an empty list asks about nothing (422), not for the whole feed
            params["about"] = ",".join(about)
        if ids is not None:  # likewise
            params["ids"] = ",".join(ids)
        return await get(
            self._http, "activity", "/v1/events", params=params, timeout=self._timeout + wait
        )

    async def orgs(self) -> OrgList:
        """The orgs with events and their heads (needs a platform service token)."""
        return OrgList.model_validate_json((await self._get("/v1/orgs", {})).content)

    async def backlog(self, after: str | None) -> Backlog:
        """How many events lie after the cursor `after`."""
        params = {"after": after} if after else {}
        return Backlog.model_validate_json((await self._get("/v1/events/backlog", params)).content)

    async def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return await get(self._http, "activity", path, params=params)

    async def tail(
        self,
        after: str | None = None,
        *,
        limit: int = 1000,
        wait: float = 20,
        types: Sequence[str] | None = None,
        max_backoff: float = 30.0,
    ) -> AsyncIterator[EventPage]:
        """Every page from `after` on, for ever: long-polls when caught up, and waits out
        activity being unavailable. Pages may be empty (the wait ran out)."""
        backoff = 0.5
        cursor = after
        while True:
            try:
                page = await self.page(
                    cursor, limit=limit, wait=0 if cursor is None else wait, types=types
                )
            except UpstreamUnavailable:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            backoff = 0.5
            cursor = page.next
            yield page
