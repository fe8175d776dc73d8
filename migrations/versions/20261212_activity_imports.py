"""activity: bulk imports of history

`activity.imports` holds one row per uploaded file: its format, where the job stands (rows
read, stored, duplicates, rejected) and `rows_done`, the rows of the file whose fate is decided.
Each chunk of rows is appended, and its counts and `rows_done` written, in one transaction: a
job resumed after a crash starts exactly where the last committed chunk ended, never storing
half a chunk nor counting a row twice.

`activity.import_errors` keeps each rejected row's number and field errors (the first
10,000 of a job; the count in `imports.rejected` is always whole).

Revision ID: 20261212_activity_imports
Revises: 20261210_activity_stream_owners
"""

from __future__ import annotations

from alembic import op

revision = "20261212_activity_imports"
down_revision = "20261210_activity_stream_owners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activity.imports (
            id           uuid        PRIMARY KEY,
            org_id       text        NOT NULL,
            format       text        NOT NULL CHECK (format IN ('ndjson', 'csv', 'parquet')),
            filename     text,
            size_bytes   bigint      NOT NULL,
            rows_total   bigint,                -- when the format tells (Parquet)
            state        text        NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'running', 'done', 'failed')),
            subject      text        NOT NULL,  -- who uploaded it (the token's sub)
            role         text        NOT NULL,
            host         text        NOT NULL,  -- the replica holding the uploaded file
            rows_read    bigint      NOT NULL DEFAULT 0,
            rows_done    bigint      NOT NULL DEFAULT 0,
            stored       bigint      NOT NULL DEFAULT 0,
            duplicates   bigint      NOT NULL DEFAULT 0,
            rejected     bigint      NOT NULL DEFAULT 0,
            progress     double precision NOT NULL DEFAULT 0,  -- of the file read, 0-1
            error        text,                  -- why a failed job failed
            created_at   timestamptz NOT NULL DEFAULT now(),
            started_at   timestamptz,
            finished_at  timestamptz
        )
        """
    )
    op.execute("CREATE INDEX ix_imports_org ON activity.imports (org_id, created_at DESC, id)")
    op.execute(
        """
        CREATE TABLE activity.import_errors (
            import_id  uuid    NOT NULL REFERENCES activity.imports (id) ON DELETE CASCADE,
            row_number bigint  NOT NULL,           -- 1-based, data rows (a CSV header is row 0)
            event_id   text,
            errors     jsonb   NOT NULL,           -- [{field, message, type}]
            CONSTRAINT pk_import_errors PRIMARY KEY (import_id, row_number)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE activity.import_errors")
    op.execute("DROP TABLE activity.imports")
