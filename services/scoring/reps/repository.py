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
        SELECT s.team_id, v.bucket
        FROM scoring.kpi_series s
        CROSS JOIN LATERAL (  -- each of the rep's series: its latest day row, from the index
            SELECT bucket FROM scoring.kpi_values v
            WHERE v.org_id = s.org_id AND v.generation = $2 AND v.series_id = s.series_id
              AND v.grain = 'd' AND v.value <> 0
            ORDER BY v.bucket DESC
            LIMIT 1
        ) v
        WHERE s.org_id = $1 AND s.owner_kind = 'rep' AND s.owner_id = $3
        ORDER BY v.bucket DESC, s.team_id
        LIMIT 1
        """,
        org_id, generation, rep_id,
    )  # fmt: skip
    return None if row is None else (row["team_id"], row["bucket"])
