"""activity: who owns each stream

`activity.stream_owners` holds one row per stream: the rep who owns it (the rep of its first
event, NULL when that event named none), changed only by a `stream.reassigned` event, and the
position of the event that made them the owner. The append writes it in the same transaction
(and under the same per-org lock) as the events, so it never disagrees with the log; a rep may
append only to streams that are new or theirs.

Existing streams are backfilled from their first event (no reassignment existed before this
revision); the log is locked against appends meanwhile, so no stream is opened unrecorded.

Revision ID: 20261210_activity_stream_owners
Revises: 20261204_activity_connectors
"""

from __future__ import annotations

from alembic import op

revision = "20261210_activity_stream_owners"
down_revision = "20261204_activity_connectors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity.stream_owners (
            org_id    text   NOT NULL,
            stream    text   NOT NULL,
            rep_id    text,            -- NULL: opened by no rep; no rep may append until assigned
            position  bigint NOT NULL, -- the event that made them the owner
            CONSTRAINT pk_stream_owners PRIMARY KEY (org_id, stream)
        )
        """
    )
    op.execute("LOCK TABLE activity.events IN SHARE MODE")
    op.execute(
        """
        INSERT INTO activity.stream_owners (org_id, stream, rep_id, position)
        SELECT DISTINCT ON (org_id, stream) org_id, stream, rep_id, position
        FROM activity.events
        ORDER BY org_id, stream, stream_version
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE activity.stream_owners")
