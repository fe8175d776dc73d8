"""scoring: rollups keyed by a series id (issue 12)

A rollup row was keyed by twelve columns (org, generation, grain, owner, bucket, metric, team
and the cut): ~150 bytes of primary key a row, an index larger than the default shared buffers
at a million events, into which a rebuild inserted 1.4M rows in ~25 s. The dimensions of a row
(owner, team, cut, currency, metric) now live once per org in `scoring.kpi_series`, and a
rollup row is `(org_id, generation, series_id, grain, bucket, value)` in `scoring.kpi_values`.
Series are shared by every generation of an org and never change: a rebuild adds the series it
has not seen, and reuses the rest.

`scoring.kpi_rollups` stays, as a view with its old columns: what a BI tool on a read replica,
an operator or a test reads.

The upgrade moves the rows in one pass (series first, then values joined to them).

Revision ID: 20261217_scoring_rollup_series
Revises: 20261216_activity_about_indexes
"""

from __future__ import annotations

from alembic import op

revision = "20261217_scoring_rollup_series"
down_revision = "20261216_activity_about_indexes"
branch_labels = None
depends_on = None

DIMENSIONS = "owner_kind, owner_id, team_id, product_line, tier, channel, currency, metric"
SAME_SERIES = " AND ".join(f"s.{c} = r.{c}" for c in DIMENSIONS.split(", "))

VIEW = """
    CREATE VIEW scoring.kpi_rollups AS
    SELECT v.org_id, v.generation, v.grain, s.owner_kind, s.owner_id, v.bucket, s.metric,
           s.team_id, s.product_line, s.tier, s.channel, s.currency, v.value, v.series_id
    FROM scoring.kpi_values v
    JOIN scoring.kpi_series s ON s.org_id = v.org_id AND s.series_id = v.series_id
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE scoring.kpi_series (
            org_id       text    NOT NULL,
            series_id    bigint  GENERATED ALWAYS AS IDENTITY,
            owner_kind   text    NOT NULL,          -- rep, team, org
            owner_id     text    NOT NULL,
            team_id      text    NOT NULL,
            product_line text    NOT NULL,
            tier         text    NOT NULL,
            channel      text    NOT NULL,
            currency     text    NOT NULL,
            metric       text    NOT NULL,
            CONSTRAINT pk_kpi_series PRIMARY KEY (org_id, series_id),
            CONSTRAINT uq_kpi_series UNIQUE (org_id, owner_kind, owner_id, metric, team_id,
                product_line, tier, channel, currency)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE scoring.kpi_values (
            org_id     text    NOT NULL,
            generation integer NOT NULL,
            series_id  bigint  NOT NULL,
            grain      text    NOT NULL,            -- d: day rows, m: month rows
            bucket     date    NOT NULL,            -- the day, or the month's first day
            value      numeric NOT NULL,
            CONSTRAINT pk_kpi_values PRIMARY KEY (org_id, generation, series_id, grain, bucket)
        )
        """
    )
    op.execute(
        f"INSERT INTO scoring.kpi_series (org_id, {DIMENSIONS}) "
        f"SELECT DISTINCT org_id, {DIMENSIONS} FROM scoring.kpi_rollups"
    )
    op.execute(
        f"""
        INSERT INTO scoring.kpi_values (org_id, generation, series_id, grain, bucket, value)
        SELECT r.org_id, r.generation, s.series_id, r.grain, r.bucket, r.value
        FROM scoring.kpi_rollups r
        JOIN scoring.kpi_series s ON s.org_id = r.org_id AND {SAME_SERIES}
        """
    )
    op.execute("DROP TABLE scoring.kpi_rollups")
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("ALTER VIEW scoring.kpi_rollups RENAME TO kpi_rollups_view")
    op.execute(
        """
        CREATE TABLE scoring.kpi_rollups (
            org_id       text    NOT NULL,
            generation   integer NOT NULL,
            grain        text    NOT NULL,
            owner_kind   text    NOT NULL,
            owner_id     text    NOT NULL,
            bucket       date    NOT NULL,
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
        f"INSERT INTO scoring.kpi_rollups (org_id, generation, grain, bucket, value, {DIMENSIONS})"
        f" SELECT org_id, generation, grain, bucket, value, {DIMENSIONS}"
        " FROM scoring.kpi_rollups_view"
    )
    op.execute("DROP VIEW scoring.kpi_rollups_view")
    op.execute("DROP TABLE scoring.kpi_values")
    op.execute("DROP TABLE scoring.kpi_series")
