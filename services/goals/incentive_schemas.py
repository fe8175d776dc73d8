"""What the incentive routes answer (the bodies they take are incentive_spec.py's `PlanIn` and
`PlanPatch`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.dates import Day
from shared.events import Identifier

from .incentive_spec import ChampionBonus, Clawbacks, Commission, Spiff, TeamBonus

# --------------------------------------------------------------------------- plans


class PlanVersionBrief(BaseModel):
    """One version of a plan, in short."""

    version: int
    effective_from: date
    created_at: datetime
    created_by: str
    reason: str | None
    active: bool


class PlanVersionOut(BaseModel):
    """One version of a plan, whole: the plan's id, the version's own facts and its body."""

    id: UUID
    version: int
    effective_from: date = Field(
        description="The first day of the first period this version governs (until a higher "
        "version's `effective_from`)."
    )
    reason: str | None
    created_by: str = Field(description="Who wrote this version.")
    created_at: datetime = Field(description="When this version was written.")
    name: str
    currency: str
    period: Literal["month", "quarter"]
    applies_to: list[str]
    commission: Commission | None
    spiffs: list[Spiff]
    champion_bonuses: list[ChampionBonus]
    team_bonuses: list[TeamBonus]
    clawbacks: Clawbacks
    active: bool


class PlanOut(PlanVersionOut):
    """A plan as of one version (by default its latest), with every version in short."""

    versions: list[PlanVersionBrief] = Field(description="Every version, oldest first.")


class PlanPage(BaseModel):
    items: list[PlanOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class PlanVersionPage(BaseModel):
    items: list[PlanVersionOut] = Field(description="Every version, oldest first.")


# --------------------------------------------------------------------------- statements


PLAN_PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2]|Q[1-4])$"


class LineRule(BaseModel):
    kind: str = Field(
        description="commission, cap, spiff, champion_bonus, team_bonus, uncollected or "
        "true_up (a restatement of an earlier period: negative, a clawback)."
    )
    name: str = Field(description="The rule's name (a commission: its bracket).")


class StatementLine(BaseModel):
    """One line: the rule, the period it is about, and how its amount was made."""

    rule: LineRule
    about: str = Field(description="The period the line is about (2026-11, 2026-Q4).")
    metric: str | None
    kpi_value: str | None = Field(description="The metric's value the rule read.")
    rate: str | None = Field(description="The rate applied, or a spiff's amount per unit.")
    base: str | None = Field(description="What the rate applied to (or the pool, the bonus).")
    amount: str = Field(description="In the plan's currency, to its minor units (half-even).")
    note: str | None


class StatementSection(BaseModel):
    """What one plan pays the rep for the period, under the version governing it."""

    plan_id: UUID
    version: int
    name: str
    currency: str
    status: Literal["paid", "open"] = Field(
        description="`paid`: a payout stored it (by `as_of`), shown as stored; `open`: "
        "computed now."
    )
    lines: list[StatementLine]
    total: str = Field(description="The exact sum of the lines.")
    paid_at: datetime | None = None


class Statement(BaseModel):
    owner: str
    period: str
    start: date
    end: date
    as_of: date = Field(description="Computed as the log stood at the end of this day.")
    team: str | None = Field(description="The rep's team on the day that counts.")
    sections: list[StatementSection]
    totals: dict[str, str] = Field(description="By currency.")


class PayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(
        pattern=PLAN_PERIOD_PATTERN, description="A month (2026-11) or a quarter (2026-Q4)."
    )
    reps: list[Identifier] | None = Field(
        default=None,
        max_length=10_000,
        description="Only these reps (default: every rep the plans apply to).",
    )
    as_of: Day | None = Field(
        default=None, description="Pay the statements as of the end of this day (default today)."
    )


class PayoutOut(BaseModel):
    rep_id: str
    plan_id: UUID
    version: int
    period: str
    currency: str
    total: str
    lines: list[StatementLine]
    paid_by: str
    paid_at: datetime
    status: Literal["stored", "skipped"] = Field(
        description="`stored` by this run, or `skipped`: paid before."
    )


class PayoutRun(BaseModel):
    period: str
    stored: list[PayoutOut]
    skipped: list[PayoutOut] = Field(description="Sections already paid, left as they were.")


class PayoutPage(BaseModel):
    period: str
    items: list[PayoutOut]
    next: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null at the end."
    )
