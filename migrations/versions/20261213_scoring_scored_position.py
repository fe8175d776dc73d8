"""scoring: the log position an org's lead scores and customer health were brought up to

While a follower is behind the feed (a history import, a burst), the leads, deals and accounts
its pages change are scored once it has caught up (or every `SCORING_SCORES_LAG_SECONDS`), not
after every page: `scored_position` and `scored_recorded_at` say how far scores and health go,
and the priority, customer and alert answers report them as their `up_to`. Orgs already in the
table were scored page by page: they start where their projection stands.

Revision ID: 20261213_scoring_scored_position
Revises: 20261212_activity_imports
"""

from __future__ import annotations

from alembic import op

revision = "20261213_scoring_scored_position"
down_revision = "20261212_activity_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE scoring.orgs
            ADD COLUMN scored_position    bigint NOT NULL DEFAULT 0,
            ADD COLUMN scored_recorded_at timestamptz
        """
    )
    op.execute(
        "UPDATE scoring.orgs SET scored_position = position, scored_recorded_at = last_recorded_at"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE scoring.orgs DROP COLUMN scored_position, DROP COLUMN scored_recorded_at"
    )
