"""scoring: rebuild every org once, for the pipeline fold that no longer goes negative

A deal's pipeline moves (stage, amount, close) now never count before the deal's previous one
(services/scoring/projections/kpis.py, `_pipeline_moment`): projections folded before this
revision may show a negative pipeline where a close was back-dated. Flagging every org makes its
consumer replay the log with the new fold, in the background, as a void would (reads keep
answering from the current projection until the new one swaps in).

Revision ID: 20261124_scoring_refold_pipeline
Revises: 20261123_scoring_org_notify
"""

from __future__ import annotations

from alembic import op

revision = "20261124_scoring_refold_pipeline"
down_revision = "20261123_scoring_org_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE scoring.orgs SET rebuild_requested = true, rebuild_seq = rebuild_seq + 1,"
        " updated_at = now()"
    )


def downgrade() -> None:
    """Nothing to undo: a rebuild with the older fold would need the older code."""
