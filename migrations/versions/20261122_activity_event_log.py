"""activity: the append-only event log

Revision ID: 20261122_activity
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "20261122_activity"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS activity")
    op.execute("CREATE SEQUENCE activity.event_position_seq AS bigint")
    op.execute(
        """
        CREATE TABLE activity.events (
            position        bigint PRIMARY KEY DEFAULT nextval('activity.event_position_seq'),
            org_id          text        NOT NULL,
            event_id        uuid        NOT NULL,
            type            text        NOT NULL,
            stream          text        NOT NULL,
            stream_version  integer     NOT NULL CHECK (stream_version > 0),
            rep_id          text,
            team_id         text,
            occurred_at     timestamptz NOT NULL,
            recorded_at     timestamptz NOT NULL DEFAULT now(),
            schema_version  smallint    NOT NULL,
            data            jsonb       NOT NULL,
            metadata        jsonb       NOT NULL,
            content_hash    bytea       NOT NULL,
            event_json      text        NOT NULL,  -- the event as the API serves it, rendered once
            CONSTRAINT uq_events_org_id_event_id UNIQUE (org_id, event_id),
            CONSTRAINT uq_events_org_id_stream_version UNIQUE (org_id, stream, stream_version)
        )
        """
    )
    op.execute("ALTER SEQUENCE activity.event_position_seq OWNED BY activity.events.position")
    op.execute("CREATE INDEX ix_events_org_id_position ON activity.events (org_id, position)")
    op.execute(
        "CREATE INDEX ix_events_org_id_rep_id_position ON activity.events (org_id, rep_id, position)"
    )
    op.execute(
        "CREATE INDEX ix_events_org_id_team_id_position ON activity.events (org_id, team_id, position)"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_events_voided_event_id ON activity.events "
        "(org_id, ((data->>'voided_event_id'))) WHERE type = 'event.voided'"
    )
    # Append-only, enforced by the database itself: corrections are new events (event.voided).
    op.execute(
        """
        CREATE FUNCTION activity.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'activity.events is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON activity.events
        FOR EACH ROW EXECUTE FUNCTION activity.reject_change()
        """
    )
    op.execute(
        """
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON activity.events
        FOR EACH STATEMENT EXECUTE FUNCTION activity.reject_change()
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA activity CASCADE")
