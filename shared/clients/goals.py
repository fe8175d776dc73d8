"""The client scoring uses to read goals: the roster as periods of membership.

    async with GoalsClient("http://127.0.0.1:8001", lambda: token) as goals:
        version, periods = await goals.roster()

Answers other than 2xx become our own errors, as for activity (shared/clients/_answers.py).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shared.clients._answers import ServiceClient, get
from shared.clients.activity import Bearer
from shared.contracts.goals import ManagerPeriod, RosterPeriod, RosterPeriodPage

PAGE_REPS = 1000


class GoalsClient(ServiceClient):
    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=Bearer(token),
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    async def roster_version(self) -> int:
        """The roster's version (0: none): a copy of that version is current."""
        return (await self._page(None, 1)).version

    async def roster(self) -> tuple[int, list[RosterPeriod], list[ManagerPeriod]]:
        """Every rep's periods and every team's managers, and the version of the first page (a
        roster that moved while the pages were read is read again next time: its version is
        newer than this)."""
        first = await self._page(None, PAGE_REPS)
        periods, page = list(first.items), first
        while page.next is not None:
            page = await self._page(page.next, PAGE_REPS)
            periods += page.items
        return first.version, periods, list(first.managers)

    async def _page(self, cursor: str | None, limit: int) -> RosterPeriodPage:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        answer = await get(self._http, "goals", "/v1/roster/periods", params=params)
        return RosterPeriodPage.model_validate_json(answer.content)
