"""scoring: NOTIFY `scoring_orgs` with the org id whenever an org's row changes

Every change that moves what a read of the org returns (a page folded: the cursor and position;
a rebuild swapped in: the generation; new settings) updates `scoring.orgs`. Replicas LISTEN and
drop the org's view they keep in memory, so a read needs no query to learn where the org stands.

Revision ID: 20261123_scoring_org_notify
Revises: 20261122_goals
"""

from __future__ import annotations

from alembic import op

revision = "20261123_scoring_org_notify"
down_revision = "20261122_goals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION scoring.notify_org_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('scoring_orgs', NEW.org_id);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER orgs_notify AFTER INSERT OR UPDATE ON scoring.orgs"
        " FOR EACH ROW EXECUTE FUNCTION scoring.notify_org_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER orgs_notify ON scoring.orgs")
    op.execute("DROP FUNCTION scoring.notify_org_change()")
