"""scoring: rebuild every org once, for the deal fold that reads a deal's events by occurred time

A deal's events now make the same KPIs whatever order they were delivered in
(services/scoring/projections/kpis.py, "deals"): its stage and amount are the latest by
`occurred_at`, a stage reached before the close but delivered after it counts in the funnel, and
a close delivered before the deal's opening is applied when the opening comes. Projections folded
before this revision lost those funnel counts and wins, and may hold a deal in the wrong stage.
Flagging every org makes its consumer replay the log with the new fold, in the background, as a
void would (reads keep answering from the current projection until the new one swaps in).

Revision ID: 20261214_scoring_refold_deals
Revises: 20261213_scoring_scored_position
"""

from __future__ import annotations

from alembic import op

revision = "20261214_scoring_refold_deals"
down_revision = "20261213_scoring_scored_position"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE scoring.orgs SET rebuild_requested = true, rebuild_seq = rebuild_seq + 1,"
        " updated_at = now()"
    )


def downgrade() -> None:
    """Nothing to undo: a rebuild with the older fold would need the older code."""
