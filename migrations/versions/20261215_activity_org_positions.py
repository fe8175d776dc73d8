"""activity and scoring: positions per org (an org's events are numbered 1, 2, 3… in its own log)

Positions were drawn from one global sequence, so the numbers an org saw (append results, feed
items, scoring's `up_to.position`) told how busy every other org was (issue 11, §6). They are now
allocated under the org's append lock, on from the org's newest position: the primary key of
`activity.events` becomes `(org_id, position)` and the sequence goes.

Existing events are numbered again per org in their order (`row_number()` over the org's old
positions), and so is the position at the head of each stored event's JSON (`event_json` begins
with `{"position":N,`). Every stored position is moved to the new number of the same place in the
org's log: the owners' `activity.stream_owners.position`, and scoring's `position` and
`scored_position`. A position p of org o becomes the number of o's events at or before p (the
event's own new number when p is one of o's events, 0 for 0), so nothing is skipped or folded
twice. Scoring's stored feed cursor is sealed around the old position, which SQL cannot reseal:
it becomes the readable form of the new one (`shared.pagination.readable_cursor`, encoded here
the same way), which activity takes from scoring's service tokens, and the next page's sealed
cursor replaces it. A rebuild caught mid-way (its `next_cursor` is sealed too, and has no position
stored beside it) is dropped and asked for again: its follower starts it afresh, as after a crash.

Nothing appends, folds or reads meanwhile: the tables are locked for the migration's transaction.

Downgrade raises: the global numbers are gone (they interleaved the orgs in an order no table
records), so the older code's positions cannot be given back; and numbering the whole log anew
would move every position clients and scoring hold. Restore the backup taken before upgrading.

Revision ID: 20261215_activity_org_positions
Revises: 20261214_activity_watermarks
"""

from __future__ import annotations

from alembic import op

revision = "20261215_activity_org_positions"
down_revision = "20261214_activity_watermarks"
branch_labels = None
depends_on = None

# `shared.pagination.readable_cursor(p)` in SQL: URL-safe base64 of `v1.<p>`, without padding.
READABLE_CURSOR_SQL = (
    "rtrim(translate(encode(convert_to('v1.' || ({position})::text, 'UTF8'), 'base64'),"
    " '+/' || chr(10) || chr(13), '-_'), '=')"
)

# The new number of old position {position} in org {org}: how many of its events lie at or before.
_REMAP = (
    "(SELECT coalesce(max(m.new), 0) FROM position_map m"
    " WHERE m.org_id = {org} AND m.old <= {position})"
)


def remap(org: str, position: str) -> str:
    return _REMAP.format(org=org, position=position)


def upgrade() -> None:
    op.execute(
        "LOCK TABLE activity.events, activity.stream_owners, scoring.orgs IN ACCESS EXCLUSIVE MODE"
    )
    # Every event the service stored begins with its position; anything else is not ours to
    # guess at.
    op.execute(
        """
        DO $$
        DECLARE
            bad text;
        BEGIN
            SELECT org_id || ' at ' || position INTO bad FROM activity.events
            WHERE NOT starts_with(event_json, '{"position":' || position || ',') LIMIT 1;
            IF bad IS NOT NULL THEN
                RAISE EXCEPTION 'activity.events: the JSON of the event of % does not begin'
                    ' with its position', bad;
            END IF;
        END $$
        """
    )
    op.execute(
        """
        CREATE TEMPORARY TABLE position_map AS
        SELECT org_id, position AS old,
               row_number() OVER (PARTITION BY org_id ORDER BY position) AS new
        FROM activity.events
        """
    )
    op.execute("CREATE UNIQUE INDEX ON position_map (old)")
    op.execute("CREATE UNIQUE INDEX ON position_map (org_id, old)")
    op.execute("ANALYZE position_map")

    op.execute("ALTER TABLE activity.events DROP CONSTRAINT events_pkey")
    op.execute("ALTER TABLE activity.events ALTER COLUMN position DROP DEFAULT")
    op.execute("DROP SEQUENCE activity.event_position_seq")
    op.execute("ALTER TABLE activity.events DISABLE TRIGGER events_append_only")
    op.execute(
        """
        UPDATE activity.events e
        SET position = m.new,
            event_json = '{"position":' || m.new || ','
                || substr(e.event_json, length('{"position":' || e.position || ',') + 1)
        FROM position_map m
        WHERE m.old = e.position
        """
    )
    op.execute("ALTER TABLE activity.events ENABLE TRIGGER events_append_only")
    op.execute(
        "ALTER TABLE activity.events ADD CONSTRAINT pk_events PRIMARY KEY (org_id, position)"
    )
    op.execute("DROP INDEX activity.ix_events_org_id_position")  # the primary key's index now

    op.execute(f"UPDATE activity.stream_owners o SET position = {remap('o.org_id', 'o.position')}")

    # A row's new values are computed from its old ones (SET reads the row as it was).
    new_position = remap("s.org_id", "s.position")
    op.execute(
        f"""
        UPDATE scoring.orgs s
        SET position = {new_position},
            scored_position = {remap("s.org_id", "s.scored_position")},
            cursor = CASE WHEN s.cursor IS NULL THEN NULL
                          ELSE {READABLE_CURSOR_SQL.format(position=new_position)} END,
            next_generation = NULL,
            next_cursor = NULL,
            rebuild_requested = s.rebuild_requested OR s.next_generation IS NOT NULL
        """
    )
    op.execute("DROP TABLE position_map")


def downgrade() -> None:
    raise NotImplementedError(
        "Positions are per org since 20261215_activity_org_positions: the global numbers they"
        " replaced are gone (no table records how the orgs' events interleaved), so the older"
        " code's positions cannot be given back, and numbering the log anew would move every"
        " position clients and scoring hold. Restore the database from the backup taken before"
        " upgrading."
    )
