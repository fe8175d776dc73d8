"""ORM models of the goals schema (SQLAlchemy 2, typed)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Date,
    ForeignKey,
    Identity,
    MetaData,
    Numeric,
    SmallInteger,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(schema="goals")


class Goal(Base):
    """The index of a goal's current revision (what filters and access need)."""

    __tablename__ = "goals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("goals.goals.id"))
    revision: Mapped[int]
    owner_kind: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str | None] = mapped_column(Text)
    metric: Mapped[str] = mapped_column(Text)
    period_kind: Mapped[str] = mapped_column(Text)
    period_start: Mapped[date] = mapped_column(Date)
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text)


class Revision(Base):
    """One revision of a goal: the whole goal as it then was. Never updated (a trigger)."""

    __tablename__ = "revisions"

    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goals.goals.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    changed: Mapped[list[str]] = mapped_column(ARRAY(Text))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Calendar(Base):
    __tablename__ = "calendars"

    org_id: Mapped[str] = mapped_column(Text, primary_key=True)
    timezone: Mapped[str] = mapped_column(Text, default="UTC")
    weekend: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    workdays: Mapped[list[date]] = mapped_column(ARRAY(Date))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class RosterRep(Base):
    """One entry of the roster: a rep's team, manager and status from `effective_from`, as
    recorded at `recorded_at`. Never updated nor deleted (a trigger)."""

    __tablename__ = "roster_reps"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    rep_id: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    team_id: Mapped[str] = mapped_column(Text)
    manager_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)


class RosterTeam(Base):
    """One entry of the roster: a team's name, manager and status from `effective_from`, as
    recorded at `recorded_at`. Never updated nor deleted (a trigger)."""

    __tablename__ = "roster_teams"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    name: Mapped[str] = mapped_column(Text)
    manager_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(Text)


class ChannelCost(Base):
    """What a channel cost the org in a month (`month`: its first day), in one currency. A new
    amount for the same channel and month replaces it."""

    __tablename__ = "channel_costs"

    org_id: Mapped[str] = mapped_column(Text, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(19, 4))
    currency: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IncentivePlan(Base):
    """The index of an incentive plan: its org and latest version."""

    __tablename__ = "incentive_plans"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    version: Mapped[int]
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IncentivePlanVersion(Base):
    """One version of a plan, whole (`body`: incentive_spec.PlanBody), governing the periods
    from `effective_from` until the next version's. Never updated (a trigger)."""

    __tablename__ = "incentive_plan_versions"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("goals.incentive_plans.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[date] = mapped_column(Date)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IncentivePayout(Base):
    """What a payout run paid a rep under one plan for one period (`period_start`: its first
    day): the statement's lines as paid. Never updated (a trigger)."""

    __tablename__ = "incentive_payouts"

    org_id: Mapped[str] = mapped_column(Text, primary_key=True)
    rep_id: Mapped[str] = mapped_column(Text, primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("goals.incentive_plans.id"), primary_key=True
    )
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    version: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    total: Mapped[Decimal] = mapped_column(Numeric(19, 4))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    paid_by: Mapped[str] = mapped_column(Text)
    paid_at: Mapped[datetime] = mapped_column(server_default=func.now())
