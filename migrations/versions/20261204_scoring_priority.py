"""scoring: lead and deal priority, customer health, and the models that score them

- `scoring.scores`: one row per OPEN lead and deal of a generation, with its score, tier and the
  rendered answer (factors, next touch); rows go when the prospect closes. Reads page through it
  by score, per rep, team or org.
- `scoring.health`: one row per account of a generation: lifecycle, risk, the rendered answer.
- `scoring.models`: each org's learnt models, versioned (not per generation: a rebuild keeps them);
  one active per org and kind (lead, deal).
- `scoring.orgs` learns how many outcomes (closed leads and deals) its projection has seen, and
  for which day and which models its scores were last computed, so the consumer knows when to
  train and when to rescore.

Every existing org is flagged for one rebuild, so its profiles, scores and health are folded
from the whole log.

Revision ID: 20261204_scoring_priority
Revises: 20261124_scoring_refold_pipeline
"""

from __future__ import annotations

from alembic import op

revision = "20261204_scoring_priority"
down_revision = "20261124_scoring_refold_pipeline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scoring.scores (
            org_id           text    NOT NULL,
            generation       integer NOT NULL,
            kind             text    NOT NULL,      -- lead, deal
            key              text    COLLATE "C" NOT NULL,  -- the stream (code point order)
            rep_id           text    NOT NULL,
            team_id          text    NOT NULL,
            score            smallint NOT NULL,     -- 0..100
            tier             text    NOT NULL,      -- A, B, C
            next_touch_due   date    NOT NULL,
            model_version    integer NOT NULL,      -- 0: the prior
            doc              text    NOT NULL,      -- the rendered answer (JSON)
            CONSTRAINT pk_scores PRIMARY KEY (org_id, generation, kind, key)
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_scores_rep ON scoring.scores"
        " (org_id, generation, kind, rep_id, score DESC, key)"
    )
    op.execute(
        "CREATE INDEX ix_scores_team ON scoring.scores"
        " (org_id, generation, kind, team_id, score DESC, key)"
    )
    op.execute(
        "CREATE INDEX ix_scores_org ON scoring.scores (org_id, generation, kind, score DESC, key)"
    )
    op.execute(
        """
        CREATE TABLE scoring.health (
            org_id      text    NOT NULL,
            generation  integer NOT NULL,
            account_id  text    COLLATE "C" NOT NULL,  -- code point order, as Python's
            rep_id      text    NOT NULL,
            team_id     text    NOT NULL,
            lifecycle   text    NOT NULL,
            at_risk     boolean NOT NULL,
            won_12m     numeric NOT NULL,           -- in the org's currency, for tier suggestions
            doc         text    NOT NULL,           -- the rendered answer (JSON)
            CONSTRAINT pk_health PRIMARY KEY (org_id, generation, account_id)
        )
        """
    )
    # The tier suggestion ranks an org's accounts by won revenue: read in index order.
    op.execute(
        "CREATE INDEX ix_health_revenue ON scoring.health"
        " (org_id, generation, won_12m DESC, account_id)"
    )
    op.execute(
        """
        CREATE TABLE scoring.models (
            org_id      text        NOT NULL,
            kind        text        NOT NULL,       -- lead, deal
            version     integer     NOT NULL,
            model_kind  text        NOT NULL,       -- logistic, naive_bayes, prior
            trained_at  timestamptz NOT NULL DEFAULT now(),
            outcomes    integer     NOT NULL,       -- closed leads/deals it learnt from
            body        text        NOT NULL,       -- the model (JSON)
            report      text        NOT NULL,       -- its validation figures (JSON)
            CONSTRAINT pk_models PRIMARY KEY (org_id, kind, version)
        )
        """
    )
    op.execute(
        """
        ALTER TABLE scoring.orgs
            ADD COLUMN outcomes        bigint  NOT NULL DEFAULT 0,
            ADD COLUMN lead_model      integer NOT NULL DEFAULT 0,
            ADD COLUMN deal_model      integer NOT NULL DEFAULT 0,
            ADD COLUMN trained_outcomes bigint NOT NULL DEFAULT -1,
            ADD COLUMN scored_on       date,
            ADD COLUMN scored_models   text
        """
    )
    op.execute(
        "UPDATE scoring.orgs SET rebuild_requested = true, rebuild_seq = rebuild_seq + 1,"
        " updated_at = now()"
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE scoring.orgs DROP COLUMN outcomes, DROP COLUMN lead_model,
            DROP COLUMN deal_model, DROP COLUMN trained_outcomes, DROP COLUMN scored_on,
            DROP COLUMN scored_models
        """
    )
    op.execute("DROP TABLE scoring.models")
    op.execute("DROP TABLE scoring.health")
    op.execute("DROP TABLE scoring.scores")
