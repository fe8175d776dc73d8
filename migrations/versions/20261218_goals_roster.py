"""goals: the roster, who is in which team since when (issue 14)

Two append-only, bitemporal tables: `goals.roster_reps` (a rep's team, manager and status from a
day) and `goals.roster_teams` (a team's name, manager and status from a day). `effective_from`
is when an entry takes effect in the world, `recorded_at` when we learnt it; a change is a new
row, never an UPDATE, so a back-dated correction keeps what was known before it.

The state of a rep (team) on day D, as known now: among its rows with `effective_from <= D`,
the one with the latest `effective_from`, then the latest `recorded_at`, then the latest `id`
(rows of one transaction share `now()`; the identity keeps their order). The indexes lead with
`org_id` and serve exactly that ordering (one index scan per rep for `DISTINCT ON`).

Revision ID: 20261218_goals_roster
Revises: 20261217_scoring_rollup_series
"""

from __future__ import annotations

from alembic import op

revision = "20261218_goals_roster"
down_revision = "20261217_scoring_rollup_series"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE goals.roster_reps (
            id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            org_id         text        NOT NULL,
            rep_id         text        NOT NULL,
            effective_from date        NOT NULL,
            recorded_at    timestamptz NOT NULL DEFAULT now(),
            team_id        text        NOT NULL,
            manager_id     text,
            status         text        NOT NULL CHECK (status IN ('active', 'left')),
            recorded_by    text        NOT NULL,
            reason         text
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_roster_reps_state ON goals.roster_reps "
        "(org_id, rep_id, effective_from DESC, recorded_at DESC, id DESC)"
    )
    # A team's members on a day are among the reps with an entry in it by then: this narrows
    # `repository.reps_on` to them before the state index picks each one's entry.
    op.execute(
        "CREATE INDEX ix_roster_reps_team ON goals.roster_reps (org_id, team_id, effective_from)"
    )
    op.execute(
        """
        CREATE TABLE goals.roster_teams (
            id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            org_id         text        NOT NULL,
            team_id        text        NOT NULL,
            effective_from date        NOT NULL,
            recorded_at    timestamptz NOT NULL DEFAULT now(),
            name           text        NOT NULL,
            manager_id     text,
            status         text        NOT NULL CHECK (status IN ('active', 'closed')),
            recorded_by    text        NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_roster_teams_state ON goals.roster_teams "
        "(org_id, team_id, effective_from DESC, recorded_at DESC, id DESC)"
    )
    # As goals.reject_change() (20261122_goals) does for goals.revisions, naming its table.
    op.execute(
        """
        CREATE FUNCTION goals.reject_roster_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%.% is append-only: % is not allowed',
                TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in ("roster_reps", "roster_teams"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON goals.{table} "
            "FOR EACH ROW EXECUTE FUNCTION goals.reject_roster_change()"
        )


def downgrade() -> None:
    op.execute("DROP TABLE goals.roster_teams")
    op.execute("DROP TABLE goals.roster_reps")
    op.execute("DROP FUNCTION goals.reject_roster_change()")
