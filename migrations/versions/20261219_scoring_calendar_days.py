"""scoring: rebuild every org once, for cycle times in calendar days and lost deals' reasons

`avg_sales_cycle_days` and `avg_days_lead_to_opportunity` now count calendar days in the org's
timezone (the day won minus the day opened), as CRM reports do, from new stored facts
(`sales_cycle_days`, `lead_to_opportunity_days`); the elapsed-time means moved to their own
metrics (`avg_sales_cycle_elapsed_days`, `avg_elapsed_days_lead_to_opportunity`); a lost deal
also counts under its reason (`lost:<reason>`), for the funnel's `lost` step. Projections
folded before this revision hold neither, so every org is flagged and its
consumer replays the log with the new fold in the background, as a void would (reads keep
answering from the current projection until the new one swaps in).

Revision ID: 20261219_scoring_calendar_days
Revises: 20261218_goals_roster
"""

from __future__ import annotations

from alembic import op

revision = "20261219_scoring_calendar_days"
down_revision = "20261218_goals_roster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE scoring.orgs SET rebuild_requested = true, rebuild_seq = rebuild_seq + 1,"
        " updated_at = now()"
    )


def downgrade() -> None:
    """Nothing to undo: a rebuild with the older fold would need the older code."""
