"""goals: incentive plans, versioned and effective-dated (issue 15, incentives)

`goals.incentive_plans` indexes a plan (its org, its latest version, who made it);
`goals.incentive_plan_versions` keeps every version whole (`body`: the plan as
services/goals/incentive_spec.py validates it) with the first day of the first period it
governs. `goals.incentive_payouts` holds what a payout run paid: one row per rep, plan and
period, its statement's lines as paid. Neither versions nor payouts are ever updated or deleted
(triggers), so a statement of any period can be recomputed as of any day, and a later period's
true-up pays only the difference from what was paid.

Revision ID: 20261222_goals_incentive_plans
Revises: 20261221_goals_channel_costs
"""

from __future__ import annotations

from alembic import op

revision = "20261222_goals_incentive_plans"
down_revision = "20261221_goals_channel_costs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE goals.incentive_plans (
            id          uuid        PRIMARY KEY,
            org_id      text        NOT NULL,
            version     integer     NOT NULL CHECK (version >= 1),
            created_by  text        NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX ix_incentive_plans_org ON goals.incentive_plans (org_id, created_at)")
    op.execute(
        """
        CREATE TABLE goals.incentive_plan_versions (
            plan_id        uuid        NOT NULL REFERENCES goals.incentive_plans (id),
            version        integer     NOT NULL CHECK (version >= 1),
            org_id         text        NOT NULL,
            effective_from date        NOT NULL,
            body           jsonb       NOT NULL,
            reason         text,
            created_by     text        NOT NULL,
            created_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (plan_id, version)
        )
        """
    )
    # Statements ask for the versions of an org's plans in force over a range of periods.
    op.execute(
        "CREATE INDEX ix_incentive_plan_versions_org "
        "ON goals.incentive_plan_versions (org_id, effective_from)"
    )
    op.execute(
        """
        CREATE TABLE goals.incentive_payouts (
            org_id       text          NOT NULL,
            rep_id       text          NOT NULL,
            plan_id      uuid          NOT NULL REFERENCES goals.incentive_plans (id),
            period_start date          NOT NULL,
            version      integer       NOT NULL,
            currency     text          NOT NULL,
            total        numeric(19,4) NOT NULL,
            lines        jsonb         NOT NULL,
            paid_by      text          NOT NULL,
            paid_at      timestamptz   NOT NULL DEFAULT now(),
            PRIMARY KEY (org_id, rep_id, plan_id, period_start)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION goals.incentive_rows_are_kept() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER incentive_rows_are_kept
        BEFORE UPDATE OR DELETE ON goals.incentive_plan_versions
        FOR EACH ROW EXECUTE FUNCTION goals.incentive_rows_are_kept()
        """
    )
    op.execute(
        """
        CREATE TRIGGER incentive_payouts_are_kept
        BEFORE UPDATE OR DELETE ON goals.incentive_payouts
        FOR EACH ROW EXECUTE FUNCTION goals.incentive_rows_are_kept()
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE goals.incentive_payouts")
    op.execute("DROP TABLE goals.incentive_plan_versions")
    op.execute("DROP FUNCTION goals.incentive_rows_are_kept()")
    op.execute("DROP TABLE goals.incentive_plans")
