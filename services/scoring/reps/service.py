"""The use case of `reps`: where one rep's history places them, if the caller may know."""

from __future__ import annotations

from typing import Any

from shared.auth import Principal

from .. import repository
from ..answer.priorities import _visible
from ..answer.service import org_view
from ..dependencies import Runtime
from ..exceptions import RepNotFound


async def placement(runtime: Runtime, principal: Principal, rep_id: str) -> dict[str, Any]:
    """The rep's team and last day. A rep may ask about themselves, a manager about their own
    team's reps, admin, bi and service tokens about any rep of the org; anything else, and a
    rep without history, is a 404 that tells nothing (not even that the rep exists)."""
    org = await org_view(runtime, principal.org)
    async with runtime.pool.acquire() as conn:
        found = await repository.latest_day(conn, principal.org, org.generation, rep_id)
    if found is None or not _visible(principal, rep_id, found[0]):
        raise RepNotFound(rep_id)
    team, day = found
    return {
        "rep": rep_id,
        "team": team,
        "last_seen": day.isoformat(),
        "up_to": {
            "position": org.position,
            "recorded_at": org.last_recorded_at.isoformat() if org.last_recorded_at else None,
        },
    }
