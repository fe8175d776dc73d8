"""The queries of `reps` (kept apart from scoring's repository.py, as the module is)."""

from __future__ import annotations

from datetime import date

import asyncpg


async def latest_day(
    conn: asyncpg.Connection, org_id: str, generation: int, rep_id: str
) -> tuple[str, date] | None:
    """The team and day of the rep's latest day rollup that still counts something (a voided
    event leaves its rows at zero: a correction places nobody), None without any.

    On a day spent in two teams, the first team by id (a roster will settle it)."""
    row = await conn.fetchrow(
        """
        SELECT team_id, bucket FROM scoring.kpi_rollups
        WHERE org_id = $1 AND generation = $2 AND grain = 'd' AND owner_kind = 'rep'
          AND owner_id = $3 AND value <> 0
        ORDER BY bucket DESC, team_id
        LIMIT 1
        """,
        org_id, generation, rep_id,
    )  # fmt: skip
    return None if row is None else (row["team_id"], row["bucket"])
