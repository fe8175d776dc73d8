"""goals: goals, their revisions, and org calendars

Revision ID: 20261122_goals
Revises: 20261122_scoring
Create Date: 2026-11-22

A goal is the latest of its revisions; `goals.goals` indexes the current one for filtering and
`goals.revisions` keeps every one of them, never updated.
"""

from alembic import op

revision = "20261122_goals"
down_revision = "20261122_scoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS goals")
    op.execute(
        """
        CREATE TABLE goals.goals (
            id           uuid PRIMARY KEY,
            org_id       text        NOT NULL,
            parent_id    uuid        REFERENCES goals.goals (id),
            revision     integer     NOT NULL,
            owner_kind   text        NOT NULL,
            owner_id     text        NOT NULL,
            team_id      text,
            metric       text        NOT NULL,
            period_kind  text        NOT NULL,
            period_start date        NOT NULL,
            archived     boolean     NOT NULL DEFAULT false,
            created_at   timestamptz NOT NULL DEFAULT now(),
            created_by   text        NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_goals_org_owner ON goals.goals (org_id, owner_kind, owner_id, period_start)"
    )
    op.execute("CREATE INDEX ix_goals_parent ON goals.goals (parent_id)")
    op.execute(
        """
        CREATE TABLE goals.revisions (
            goal_id       uuid        NOT NULL REFERENCES goals.goals (id),
            revision      integer     NOT NULL,
            org_id        text        NOT NULL,
            body          jsonb       NOT NULL,   -- the whole goal as of this revision
            changed       text[]      NOT NULL,   -- the fields this revision changed
            reason        text,
            changed_by    text        NOT NULL,
            changed_at    timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_revisions PRIMARY KEY (goal_id, revision)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION goals.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'goals.revisions is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON goals.revisions "
        "FOR EACH ROW EXECUTE FUNCTION goals.reject_change()"
    )
    op.execute(
        """
        CREATE TABLE goals.calendars (
            org_id     text PRIMARY KEY,
            timezone   text        NOT NULL DEFAULT 'UTC',
            weekend    smallint[]  NOT NULL DEFAULT '{5,6}',
            holidays   date[]      NOT NULL DEFAULT '{}',
            workdays   date[]      NOT NULL DEFAULT '{}',
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA goals CASCADE")
