"""Each org's roster, copied from goals: who was in which team on each day.

Goals owns the roster (effective-dated entries, never overwritten: a move recorded on the 20th
may take effect on the 15th). Scoring keeps a copy of it as periods of membership (rep, team,
first day, last day) in `scoring.roster_periods`, read from goals' `GET /v1/roster/periods`
every `SCORING_ROSTER_SECONDS` for each org it knows, and only when goals' roster `version` has
moved. Goals is not asked when `SCORING_GOALS_URL` is unset (no roster: teams are as the events
name them).

The copy is applied when a team's numbers are read, not when events are folded: a rep's day
rows stay the rep's (a rep's KPIs follow the rep), and a team's KPIs, funnel and leaderboard sum
each rep's days for the team the roster places the rep in that day (repository.SqlSource). A
back-dated move so changes every answer at the next read, without replaying the log. A day the
roster places the rep in no team (before the rep's first entry, or after leaving) counts for the
team the events named. Replays `as_of` a past moment count teams as the events named them.

The teams' managers are copied too: a manager's token for a team whose roster entry names
another manager today reads nothing of it (answer/reach.py), as in goals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import httpx
import structlog

from shared import tasks
from shared.clients.goals import GoalsClient
from shared.errors import DomainError

from . import repository
from .config import ScoringSettings

log = structlog.get_logger(__name__)


class RosterCopies:
    """Keeps `scoring.roster_periods` current with goals' rosters (`start`/`stop`)."""

    def __init__(
        self,
        settings: ScoringSettings,
        pool: asyncpg.Pool,
        token: Callable[[str], str],
        changed: Callable[[str], None],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`changed(org)`: the org's row moved (its roster version): this process's reads must
        not wait for the notification to see it (OrgRows.forget)."""
        self._settings, self._pool, self._token = settings, pool, token
        self._changed, self._transport = changed, transport
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._settings.goals_url and self._settings.roster_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="scoring-rosters")

    async def stop(self) -> None:
        await tasks.stop(self._task)

    async def _run(self) -> None:
        while True:
            await self.copy_all()
            await asyncio.sleep(self._settings.roster_seconds)

    async def copy_all(self) -> int:
        """Copy every known org's roster whose version moved; how many were copied."""
        try:
            async with self._pool.acquire() as conn:
                orgs = [r["org_id"] for r in await repository.list_orgs(conn)]
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("rosters not copied", error=repr(exc))
            return 0
        copied = 0
        for org in orgs:
            try:
                copied += await self.copy(org)
            except (DomainError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("roster not copied", org=org, error=repr(exc))
        return copied

    async def copy(self, org: str) -> bool:
        """Copy `org`'s roster if goals' version is not the one held; whether it was."""
        assert self._settings.goals_url is not None
        async with GoalsClient(
            self._settings.goals_url, lambda: self._token(org), transport=self._transport
        ) as goals:
            async with self._pool.acquire() as conn:
                held = await repository.roster_version(conn, org)
            if held is None or await goals.roster_version() == held:
                return False
            version, periods, managers = await goals.roster()
        rows = [(p.rep_id, p.team_id, p.from_, p.to) for p in periods]
        led = [(m.team_id, m.manager_id, m.from_, m.to) for m in managers]
        async with self._pool.acquire() as conn, conn.transaction():
            copied = await repository.replace_roster(conn, org, version, rows, led)
        if copied:
            self._changed(org)
            log.info("roster copied", org=org, version=version, periods=len(rows))
        return copied
