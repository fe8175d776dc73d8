"""scoring: KPI projections and the consumer's position

Revision ID: 20261122_scoring
Revises: 20261122_activity
Create Date: 2026-11-22

Every projection row carries the org and a *generation*: a rebuild writes generation g+1 beside
the live g and swaps the org's `generation` when it has caught up, so reads never stop.
"""

from alembic import op

revision = "20261122_scoring"
down_revision = "20261122_activity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS scoring")
    op.execute(
        """
        CREATE TABLE scoring.orgs (
            org_id            text PRIMARY KEY,
            generation        integer     NOT NULL DEFAULT 1,
            cursor            text,                    -- activity's `next` after the last page folded
            position          bigint      NOT NULL DEFAULT 0,
            last_recorded_at  timestamptz,             -- of the last event folded
            folded            bigint      NOT NULL DEFAULT 0,
            voided            bigint      NOT NULL DEFAULT 0,
            skipped           jsonb       NOT NULL DEFAULT '{}'::jsonb,
            timezone          text        NOT NULL DEFAULT 'UTC',
            currency          text,                    -- reporting currency; null: the first seen
            rebuild_requested boolean     NOT NULL DEFAULT false,
            rebuild_seq       bigint      NOT NULL DEFAULT 0,  -- +1 per reason to rebuild
            rebuild_asked     boolean     NOT NULL DEFAULT false,  -- by an admin: start at once
            next_generation   integer,                 -- a rebuild's generation, catching up
            next_cursor       text,                    -- and the cursor it has folded up to
            rebuild           jsonb,                   -- progress of the running or last rebuild
            updated_at        timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE scoring.kpi_rollups (
            org_id       text    NOT NULL,
            generation   integer NOT NULL,
            grain        text    NOT NULL,          -- d: day rows, m: month rows
            owner_kind   text    NOT NULL,          -- rep, team, org
            owner_id     text    NOT NULL,
            bucket       date    NOT NULL,          -- the day, or the month's first day
            metric       text    NOT NULL,
            team_id      text    NOT NULL,
            product_line text    NOT NULL,
            tier         text    NOT NULL,
            channel      text    NOT NULL,
            currency     text    NOT NULL,
            value        numeric NOT NULL,
            CONSTRAINT pk_kpi_rollups PRIMARY KEY (org_id, generation, grain, owner_kind, owner_id,
                bucket, metric, team_id, product_line, tier, channel, currency)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE scoring.wins (
            org_id       text    NOT NULL,
            generation   integer NOT NULL,
            deal         text    NOT NULL,
            account_id   text    NOT NULL,
            day          date    NOT NULL,
            rep_id       text    NOT NULL,
            team_id      text    NOT NULL,
            product_line text    NOT NULL,
            tier         text    NOT NULL,
            channel      text    NOT NULL,
            CONSTRAINT pk_wins PRIMARY KEY (org_id, generation, deal)
        )
        """
    )
    op.execute("CREATE INDEX ix_wins_org_day ON scoring.wins (org_id, generation, day)")
    op.execute(
        "CREATE INDEX ix_wins_org_account ON scoring.wins (org_id, generation, account_id, day)"
    )
    op.execute(
        """
        CREATE TABLE scoring.entities (
            org_id     text    NOT NULL,
            generation integer NOT NULL,
            kind       text    NOT NULL,            -- leads, deals, accounts, invoices
            key        text    NOT NULL,
            state      text    NOT NULL,            -- JSON, see services/scoring/projections/codec.py
            CONSTRAINT pk_entities PRIMARY KEY (org_id, generation, kind, key)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA scoring CASCADE")
