"""goals: what each channel cost the org, per month (issue 15, channel ROI)

`goals.channel_costs` holds one amount per org, channel and month (`month`: its first day), in
one currency, with who recorded it and when. A new amount for the same channel and month
replaces the old one (`PUT /v1/channels/costs` upserts); costs are the org's, written by its
admin, and never reach scoring.

Revision ID: 20261221_goals_channel_costs
Revises: 20261220_scoring_roster
"""

from __future__ import annotations

from alembic import op

revision = "20261221_goals_channel_costs"
down_revision = "20261220_scoring_roster"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE goals.channel_costs (
            org_id      text          NOT NULL,
            channel     text          NOT NULL CHECK (channel IN
                ('referral', 'cold_visit', 'exhibition', 'online', 'inbound', 'other')),
            month       date          NOT NULL CHECK (extract(day FROM month) = 1),
            amount      numeric(19,4) NOT NULL CHECK (amount >= 0),
            currency    text          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
            recorded_by text          NOT NULL,
            recorded_at timestamptz   NOT NULL DEFAULT now(),
            PRIMARY KEY (org_id, channel, month)
        )
        """
    )
    # Reads ask for a range of months across channels.
    op.execute("CREATE INDEX ix_channel_costs_month ON goals.channel_costs (org_id, month)")


def downgrade() -> None:
    op.execute("DROP TABLE goals.channel_costs")
