"""activity: the voids of an org in log order (a partial index)

Scoring reads an org's voids after a cursor (`GET /v1/events?types=event.voided&after=`)
whenever it replays the org, and again and again while a bulk catch-up reads voids ahead. The
unique index on voids is keyed by the voided event, which cannot give them in position order,
so PostgreSQL walked the org's log by its primary key `(org_id, position)` from the cursor,
filtering out every other event (a generic plan does so even when the voids are few: 107 ms at
500k events). This index holds only the voids, in position order: the read is an index scan of
the voids after the cursor, whatever their share of the log.

`repository.read_feed` writes the void type into that query as a literal, so that generic
plans (asyncpg prepares and caches its statements) can match the index's predicate.

Built in the migration's transaction: appends wait while it is built (one pass over the table).

Revision ID: 20261223_activity_void_positions
Revises: 20261222_goals_incentive_plans
"""

from __future__ import annotations

from alembic import op

revision = "20261223_activity_void_positions"
down_revision = "20261222_goals_incentive_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_events_voids ON activity.events (org_id, position)"
        " WHERE type = 'event.voided'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX activity.ix_events_voids")
