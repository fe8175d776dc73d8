"""scoring: a copy of goals' roster as periods of membership, and the version it is of

`scoring.roster_periods` holds each rep's periods in a team (first and last day, both included;
last NULL: still there), copied from goals' `GET /v1/roster/periods`; `scoring.orgs.roster_version`
is the roster version the copy is of (0: no roster), so a read's cached answer moves with it.
A team's numbers count each rep's day rows for the team the roster places the rep in that day.
`scoring.roster_managers` holds each team's periods with a named manager: a manager's token for
a team the roster has given to someone else that day sees nothing of it.

And every org is rebuilt once: deal states now keep the lead they came from and their loss
reason (the cohort funnel), and deals opened without an account join one when linked.

Revision ID: 20261220_scoring_roster
Revises: 20261219_scoring_calendar_days
"""

from __future__ import annotations

from alembic import op

revision = "20261220_scoring_roster"
down_revision = "20261219_scoring_calendar_days"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scoring.roster_periods (
            org_id    text NOT NULL,
            rep_id    text NOT NULL,
            first_day date NOT NULL,
            last_day  date,
            team_id   text NOT NULL,
            CONSTRAINT pk_roster_periods PRIMARY KEY (org_id, rep_id, first_day),
            CONSTRAINT ck_roster_periods_days CHECK (last_day IS NULL OR last_day >= first_day)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE scoring.roster_managers (
            org_id     text NOT NULL,
            team_id    text NOT NULL,
            first_day  date NOT NULL,
            last_day   date,
            manager_id text NOT NULL,
            CONSTRAINT pk_roster_managers PRIMARY KEY (org_id, team_id, first_day),
            CONSTRAINT ck_roster_managers_days CHECK (last_day IS NULL OR last_day >= first_day)
        )
        """
    )
    op.execute("ALTER TABLE scoring.orgs ADD COLUMN roster_version bigint NOT NULL DEFAULT 0")
    op.execute(
        "UPDATE scoring.orgs SET rebuild_requested = true, rebuild_seq = rebuild_seq + 1,"
        " updated_at = now()"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE scoring.orgs DROP COLUMN roster_version")
    op.execute("DROP TABLE scoring.roster_managers")
    op.execute("DROP TABLE scoring.roster_periods")
