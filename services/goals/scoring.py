"""Scoring as goals asks it.

- Actuals and rates are asked **with the caller's own token** (`as_caller`): scoring's rule of
  who sees what (a manager: their team, and a rep's numbers only while in that team) then holds
  for every number goals shows, whatever goals itself stored or remembers.
- Where a rep's history places them (`GET /v1/reps/{rep}`) is asked with goals' service token,
  which may read any rep of the org: goals needs to know, the caller may not. Answers are kept a
  few seconds (`GOALS_REP_TEAM_SECONDS`) for reads; writes ask afresh.

The answer's model mirrors scoring's (services/scoring/reps/schemas.py); it belongs in
shared/contracts when that file is next open for changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Self
from urllib.parse import quote

import httpx
from cachetools import TTLCache
from pydantic import BaseModel, ValidationError

from shared.clients._answers import raise_for
from shared.clients.scoring import ScoringClient
from shared.errors import UpstreamUnavailable

NO_HISTORY = "urn:salesperf:problem:rep-not-found"
"""The problem type of scoring's 404 for a rep without history (or one the asker may not see)."""


class RepPlacement(BaseModel):
    rep: str
    team: str
    last_seen: date


class GoalsScoring(ScoringClient):
    def __init__(
        self,
        base_url: str,
        tokens: Callable[[str], str],
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        rep_team_seconds: float = 5.0,
    ) -> None:
        super().__init__(base_url, tokens, timeout=timeout, transport=transport)
        self._service_tokens = tokens
        self._teams: TTLCache[tuple[str, str], str | None] | None = (
            TTLCache(maxsize=50_000, ttl=rep_team_seconds) if rep_team_seconds > 0 else None
        )

    def as_caller(self, token: str) -> Self:
        """This client asking scoring's numbers as the caller (same connections, same cache of
        rep teams). Not to be closed: the app closes the client it was made from."""
        view = copy.copy(self)
        view._tokens = lambda _org: token
        return view

    async def rep_team(self, org: str, rep: str, *, fresh: bool = False) -> str | None:
        """The team `rep`'s own history places them in, None for a rep without history.
        `fresh`: ask scoring now (a write decides on it); else a few seconds' old answer."""
        key = (org, rep)
        if not fresh and self._teams is not None and key in self._teams:
            return self._teams[key]
        headers = {"Authorization": f"Bearer {self._service_tokens(org)}"}
        path = f"/v1/reps/{quote(rep, safe='')}"
        try:
            response = await self._http.get(path, headers=headers)
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(f"scoring is unreachable: {exc!r}") from exc
        if response.status_code == 404:
            if _problem_type(response) != NO_HISTORY:  # a scoring without the route: no answer
                raise UpstreamUnavailable("scoring does not say where a rep works (/v1/reps).")
            team = None
        else:
            raise_for("scoring", response)
            try:
                team = RepPlacement.model_validate_json(response.content).team
            except ValidationError as exc:
                raise UpstreamUnavailable(
                    f"scoring answered something else: {exc.errors()[:1]}"
                ) from exc
        if self._teams is not None:
            self._teams[key] = team
        return team


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None
