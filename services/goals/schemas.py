"""Request and response bodies of the goals API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)
from typing_extensions import TypeAliasType

from shared.dates import FIRST_DAY, LAST_DAY, Day
from shared.events import Amount, Channel, Currency, Identifier, Priced, Tier
from shared.owners import OwnerText
from shared.periods import Listed, Period

PeriodKind = TypeAliasType(
    "PeriodKind",
    Annotated[
        Period,
        Listed("PeriodKind", Period.YEAR, Period.QUARTER, Period.MONTH, Period.WEEK, Period.DAY),
    ],
)
"""A period as goals publishes it (OpenAPI, 422s): coarsest first. In code: the enum."""


def _int_or_str(value: object) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('must be an integer (counts) or a decimal string ("1250.00")')
    return value


def _number(value: object) -> int | str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('must be a number such as 10 or a decimal string such as "12.5"')
    return value


# Counts as integers, everything else as decimal strings; checked further per metric.
Value = Annotated[
    int | str,
    PlainValidator(_int_or_str),
    WithJsonSchema(
        {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]}
    ),
]
Percent = Annotated[
    int | str,
    PlainValidator(_number),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
]
Weight = Percent
Note = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
Reason = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoalIn(Strict):
    owner: OwnerText = Field(examples=["team:team-north"])
    team_id: Identifier | None = Field(
        default=None, description="A rep goal's team (a manager's own team when omitted)."
    )
    metric: str = Field(examples=["revenue_won"], description="Any metric scoring serves.")
    period: PeriodKind
    start: Day = Field(
        description="First day of the period (1 Jan, a quarter's or month's "
        "first day, a Monday, or any day), 1970-01-01 to 2099-12-31."
    )
    target: Value = Field(
        description="An integer for counts; a decimal string otherwise "
        '("1000000.00" for money, "0.30" for a rate).'
    )
    currency: Currency | None = Field(default=None, description="Required for money metrics.")
    floor: Value | None = None
    stretch: Value | None = None
    buffer_pct: Percent | None = Field(
        default=None, description="10: floor = target × 0.9, stretch = target × 1.1."
    )
    base_pct: Percent | None = Field(default=None, description="80: floor = target × 0.8.")
    challenge_pct: Percent | None = Field(default=None, description="120: stretch = target × 1.2.")
    product_line: Identifier | None = None
    tier: Tier | None = None
    channel: Channel | None = None
    note: Note | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "owner": "team:team-north",
                    "metric": "revenue_won",
                    "period": "year",
                    "start": "2026-01-01",
                    "target": "1000000.00",
                    "currency": "EUR",
                    "buffer_pct": 10,
                    "note": "FY26 team target",
                }
            ]
        },
    )


class GoalPatch(Strict):
    target: Value | None = None
    floor: Value | None = None
    stretch: Value | None = None
    buffer_pct: Percent | None = None
    base_pct: Percent | None = None
    challenge_pct: Percent | None = None
    note: Note | None = None
    archived: StrictBool | None = None
    expected_revision: StrictInt | None = Field(
        default=None, ge=1, description="409 when the goal has moved past this revision."
    )
    reason: Reason | None = Field(default=None, description="Why: kept with the revision.")


class Decomposition(BaseModel):
    by: str
    into: str | None = None
    strategy: str
    children: list[UUID]


class GoalOut(BaseModel):
    id: UUID
    revision: int
    parent_id: UUID | None
    owner: str
    team_id: str | None
    metric: str
    unit: str
    period: PeriodKind
    start: date
    end: date
    target: Value
    floor: Value
    stretch: Value
    currency: str | None
    product_line: str | None
    tier: str | None
    channel: str | None
    note: str | None
    archived: bool
    decomposition: Decomposition | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class GoalPage(BaseModel):
    items: list[GoalOut]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class RevisionOut(BaseModel):
    revision: int
    changed: list[str]
    reason: str | None
    changed_by: str
    changed_at: datetime
    goal: GoalOut = Field(description="The goal as of this revision.")


class RevisionPage(BaseModel):
    items: list[RevisionOut]


MAX_PARTS = 500
"""Most children one decomposition across reps, tiers or product lines makes."""


class DecomposeIn(Strict):
    by: Literal["time", "tier", "product_line", "rep"]
    into: PeriodKind | None = Field(default=None, description="by=time: the finer period.")
    strategy: Literal["even", "working_days", "seasonal", "last_year", "weights", "past_share"] = (
        "even"
    )
    seasonal: dict[Annotated[int, Field(ge=1, le=12)], Weight] | None = Field(
        default=None, description="strategy=seasonal: a weight per month number (1–12)."
    )
    weights: dict[Identifier, Weight] | None = Field(
        default=None,
        max_length=MAX_PARTS,
        description='by=tier/product_line/rep: {"A": 60, "B": 30, "C": 10} '
        f"(at most {MAX_PARTS}).",
    )
    reps: list[Identifier] | None = Field(
        default=None,
        max_length=MAX_PARTS,
        description=f"by=rep: the team's reps (at most {MAX_PARTS}).",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"by": "time", "into": "month", "strategy": "working_days"},
                {"by": "tier", "strategy": "weights", "weights": {"A": 60, "B": 30, "C": 10}},
                {"by": "rep", "strategy": "even", "reps": ["rep-anna", "rep-ben"]},
            ]
        },
    )


class Decomposed(BaseModel):
    parent: GoalOut
    children: list[GoalOut]


class Reconciliation(BaseModel):
    goal_id: UUID
    target: Value
    children_target: Value
    difference: Value = Field(description="Parent minus the sum of its children.")
    floor: Value
    children_floor: Value
    stretch: Value
    children_stretch: Value
    balanced: bool
    children: list[GoalOut]


class CalendarIO(Strict):
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"
    weekend: list[Annotated[StrictInt, Field(ge=0, le=6)]] = Field(
        default=[5, 6], description="Weekday numbers, Monday 0 … Sunday 6.", max_length=7
    )
    holidays: list[Day] = Field(default_factory=list, max_length=1000)
    workdays: list[Day] = Field(
        default_factory=list,
        max_length=1000,
        description="Make-up working days on a weekend (China's adjusted weekends).",
    )


class FunnelPlanIn(Strict):
    owner: OwnerText
    goal: Literal["revenue", "new_customers"] = "revenue"
    target: Value
    currency: Currency | None = None
    start: Day
    end: Day
    lookback_days: StrictInt = Field(default=90, ge=7, le=730)
    challenge: Percent = "1.1"
    rates: dict[str, Percent] = Field(default_factory=dict, description="Overrides by name.")


class ProgressOut(BaseModel):
    goal: GoalOut
    at: date
    actual: Value
    attainment_pct: float | None
    floor_pct: float | None
    stretch_pct: float | None
    expected_to_date: Value
    gap: str
    projected_run_rate: Value | None
    projected_with_pipeline: Value | None
    status: Literal["on_track", "at_risk", "behind"]
    rule: str
    next_checkpoint: date | None
    shape: str = Field(
        description="What expected-to-date follows: the children's targets "
        "(their own shape) or the calendar's working days."
    )


class ProgressPage(BaseModel):
    items: list[ProgressOut]


class AlertGoal(BaseModel):
    """One side of an alert: the goal and its numbers exactly as its own progress shows them
    (`GET /v1/goals/{id}/progress?at=` on the same day)."""

    goal_id: UUID
    metric: str
    unit: str
    period: PeriodKind
    start: date
    end: date
    currency: str | None
    product_line: str | None
    tier: str | None
    channel: str | None
    status: Literal["on_track", "at_risk", "behind"]
    actual: Value
    expected_to_date: Value
    target: Value
    attainment_pct: float | None
    rule: str


class PaceAlert(BaseModel):
    kind: Literal["leading_behind"] = Field(
        description="A leading indicator behind its pace while a lagging one is on track."
    )
    owner: str
    leading: AlertGoal = Field(description="The activity goal, `behind` or `at_risk`.")
    lagging: AlertGoal = Field(description="The result goal, still `on_track`.")
    message: str


class PaceAlertPage(BaseModel):
    owner: str | None = Field(description="As asked; null: every owner the caller may read.")
    at: date
    items: list[PaceAlert]


# --------------------------------------------------------------------------- the roster

RepStatusText = Literal["active", "left"]
TeamStatusText = Literal["active", "closed"]
TeamName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
FROM = (
    "The day the entry takes effect, 1970-01-01 to 2099-12-31 (earlier: a back-dated "
    "correction; later: a planned change)."
)


class RepEntryIn(Strict):
    """A rep's team (and manager, and status) from a day: also one row of a roster CSV."""

    team_id: Identifier = Field(description="For `left`: the team the rep leaves.")
    manager_id: Identifier | None = Field(
        default=None, description="The rep's own manager, when not the team's."
    )
    status: RepStatusText = "active"
    from_: Day = Field(alias="from", description=FROM)
    reason: Reason | None = Field(default=None, description="Why: kept with the entry.")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"team_id": "team-north", "from": "2026-03-16", "reason": "moved"}]
        },
    )


class TeamEntryIn(Strict):
    name: TeamName
    manager_id: Identifier | None = None
    status: TeamStatusText = "active"
    from_: Day = Field(alias="from", description=FROM)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "North", "manager_id": "mgr-1", "from": "2026-01-01"}]
        },
    )


class _Dated(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    from_: date = Field(alias="from", description="The day it took (takes) effect.")
    recorded_at: datetime = Field(description="When the roster learnt it.")
    recorded_by: str


class RepEntryOut(_Dated):
    team_id: str
    manager_id: str | None
    status: RepStatusText
    reason: str | None
    superseded: bool = Field(
        description="A later record for the same day replaced it: kept, no longer in force."
    )


class TeamEntryOut(_Dated):
    name: str
    manager_id: str | None
    status: TeamStatusText
    superseded: bool = Field(
        description="A later record for the same day replaced it: kept, no longer in force."
    )


class MembershipOut(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    team_id: str
    from_: date = Field(alias="from")
    to: date | None = Field(description="The last day in the team; null: still there.")


class RepRecord(BaseModel):
    rep_id: str
    on: date = Field(description="The day `state` is of (`?on=`, default today).")
    state: RepEntryOut | None = Field(description="The entry in force on `on`; null: none yet.")
    periods: list[MembershipOut] = Field(description="Time in each team, oldest first.")
    history: list[RepEntryOut] = Field(
        description="Every entry ever recorded, newest first (by day, then by record)."
    )


class RepState(_Dated):
    rep_id: str
    team_id: str
    manager_id: str | None
    status: RepStatusText
    reason: str | None


class RepPage(BaseModel):
    on: date
    items: list[RepState] = Field(description="In rep id order.")
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class TeamRecord(BaseModel):
    team_id: str
    on: date = Field(description="The day `state` is of (`?on=`, default today).")
    state: TeamEntryOut | None = Field(description="The entry in force on `on`; null: none yet.")
    history: list[TeamEntryOut] = Field(description="Every entry ever recorded, newest first.")


class TeamState(_Dated):
    team_id: str
    name: str
    manager_id: str | None
    status: TeamStatusText


class TeamPage(BaseModel):
    on: date
    items: list[TeamState] = Field(description="In team id order.")
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class RosterImported(BaseModel):
    rows: int = Field(description="Rows in the file.")
    stored: int = Field(description="Rows that changed the roster: a new entry each.")
    unchanged: int = Field(description="Rows saying what the roster already said on their day.")


# --------------------------------------------------------------------------- channel ROI

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def _month(value: object) -> date:
    if isinstance(value, date):
        return value.replace(day=1)
    if not isinstance(value, str) or not re.match(MONTH_PATTERN, value):
        raise ValueError("must be a month as YYYY-MM, e.g. 2026-09")
    month = date(int(value[:4]), int(value[5:7]), 1)
    if not FIRST_DAY <= month <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY:%Y-%m} and {LAST_DAY:%Y-%m}")
    return month


Month = Annotated[
    date,
    PlainValidator(_month),
    PlainSerializer(lambda d: f"{d:%Y-%m}", return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN, "examples": ["2026-09"]}),
]


class ChannelCostIn(Priced):
    """What a channel cost the org in a month: at most the currency's decimals."""

    channel: Channel
    month: Month
    amount: Amount = Field(description='Non-negative decimal string, e.g. "1200.00".')
    currency: Currency


class ChannelCostsIn(Strict):
    costs: list[ChannelCostIn] = Field(min_length=1, max_length=500)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "costs": [
                        {
                            "channel": "exhibition",
                            "month": "2026-09",
                            "amount": "1200.00",
                            "currency": "EUR",
                        }
                    ]
                }
            ]
        },
    )


class ChannelCostOut(BaseModel):
    channel: Channel
    month: Month
    amount: str = Field(examples=["1200.00"])
    currency: str
    recorded_by: str
    recorded_at: datetime


class ChannelCostPage(BaseModel):
    items: list[ChannelCostOut]


class Ratio(BaseModel):
    """A rate or an average as scoring gives it: the value (null when the denominator is 0)
    and the parts it is computed from."""

    value: int | float | str | None
    numerator: int | float | str | None = None
    denominator: int | str | None = None


class ChannelLine(BaseModel):
    channel: Channel
    new_leads: int
    opportunities: int
    deals_won: int
    revenue_won: str = Field(description="In the report's currency.")
    lead_to_opportunity_rate: Ratio
    win_rate: Ratio
    avg_sales_cycle_days: Ratio
    cost: str | None = Field(
        description="The channel's costs in the report's currency pro-rated to the range; "
        "null for a team or a rep (costs are the org's)."
    )
    other_currency_costs: dict[str, str] | None = Field(
        description="Costs recorded in other currencies, pro-rated the same way, by currency: "
        "never converted, never in the ratios. Null for a team or a rep."
    )
    cost_per_lead: str | None = Field(description="cost ÷ new_leads; null when either is.")
    cost_per_won_deal: str | None = Field(description="cost ÷ deals_won; null when either is.")
    revenue_per_cost: str | None = Field(description="revenue_won ÷ cost; null when cost is 0.")


class ChannelReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    owner: str = Field(examples=["org"])
    from_: date = Field(alias="from")
    to: date
    currency: str = Field(description="Scoring's reporting currency of the answer.")
    items: list[ChannelLine]
