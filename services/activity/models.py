"""The activity schema as SQLAlchemy Core tables (the DDL itself lives in migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="activity")

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("type", Text, nullable=False),
    Column("stream", Text, nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("rep_id", Text),
    Column("team_id", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("content_hash", LargeBinary, nullable=False),
)
