"""activity: when each value a connector remembers of a CRM deal was true

`activity.connector_deals` remembers a deal's amount (and stage) between deliveries, for the
events that need it later (HubSpot's won carries the amount last seen). Deliveries come in no
promised order, so each value now keeps the provider's time of the change it came from
(`amount_at`, `stage_at`): an older change still becomes an event, but no longer replaces a newer
value (`repository.save_deals`). Rows kept so far have no time: the next change replaces them.

Revision ID: 20261214_activity_watermarks
Revises: 20261214_scoring_refold_deals
"""

from __future__ import annotations

from alembic import op

revision = "20261214_activity_watermarks"
down_revision = "20261214_scoring_refold_deals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE activity.connector_deals
            ADD COLUMN amount_at timestamptz,
            ADD COLUMN stage_at  timestamptz
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE activity.connector_deals DROP COLUMN amount_at, DROP COLUMN stage_at")
