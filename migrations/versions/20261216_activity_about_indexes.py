"""activity: indexes for the feed's `about` filter (the events about some entities)

`GET /v1/events?about=account:acc-1042,deal:D-88` keeps the events whose stream is one of those
entities' or whose data names one (`account_id`, `deal_id`, `lead_id`, `invoice_id`): scoring
reads one customer's slice of the log this way to correct a voided event. The stream part uses
the unique index `(org_id, stream, stream_version)`; these four indexes serve the rest, so
`repository.read_about` is a BitmapOr over the five rather than a pass over the org's log.

Partial (`WHERE data->>'x' IS NOT NULL`): most events name none of the four (a visit or a call
on a lead's stream names at most an account), so an append writes into only the indexes of the
fields its event has, and the indexes stay small. The planner uses them for `read_about`'s
query, with custom and generic plans alike (checked with EXPLAIN on PostgreSQL 15).

Built in the migration's transaction: appends wait while they are built (one pass over the
table each).

Revision ID: 20261216_activity_about_indexes
Revises: 20261215_activity_org_positions
"""

from __future__ import annotations

from alembic import op

revision = "20261216_activity_about_indexes"
down_revision = "20261215_activity_org_positions"
branch_labels = None
depends_on = None

FIELDS = ("account_id", "deal_id", "lead_id", "invoice_id")


def upgrade() -> None:
    for field in FIELDS:
        op.execute(
            f"CREATE INDEX ix_events_{field} ON activity.events (org_id, (data->>'{field}'))"
            f" WHERE data->>'{field}' IS NOT NULL"
        )


def downgrade() -> None:
    for field in FIELDS:
        op.execute(f"DROP INDEX activity.ix_events_{field}")
