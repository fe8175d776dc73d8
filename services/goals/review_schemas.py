"""What the review digests answer (`GET /v1/reviews/daily|weekly|monthly`).

Every number is one that goals' progress or scoring's KPIs, funnel or leaderboard give for the
same question: counts as integers, money as decimal strings exact to the currency's minor units
(as progress shows them), conversions as scoring's numbers with their parts.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.contracts.priority import Alert
from shared.contracts.scoring import LostReason

from .schemas import GoalOut, PaceAlert, PeriodKind, ProgressOut, Value

_DAY_VALUE = (
    "In the goal's unit: an integer for a count, a decimal string with the currency's minor "
    "units for money."
)


class CarryOver(BaseModel):
    """The day's shortfall against pace, carried to the next working day."""

    day: date = Field(description="The next working day of the org calendar after the day.")
    in_period: bool = Field(description="Whether that day is still in the goal's period.")
    planned: Value = Field(description="That day's own share of the target. " + _DAY_VALUE)
    carried: Value = Field(
        description="The shortfall carried: expected to date − actual on the day, never below "
        "0 (progress's `expected_to_date` and `actual`). " + _DAY_VALUE
    )
    total: Value = Field(description="planned + carried: what that day asks for. " + _DAY_VALUE)


class DailyGoal(BaseModel):
    progress: ProgressOut = Field(
        description="The goal's progress on the day, exactly as `GET /v1/progress?at=` gives it."
    )
    day_target: Value | None = Field(
        description="The day's share of the target along the goal's own shape: expected to "
        "date through the day minus through the day before (0 on a day not worked); null for "
        "a rate or an average. " + _DAY_VALUE
    )
    day_actual: Value | None = Field(
        description="Scoring's total of the goal's metric for the day alone, with the goal's "
        "cuts (`GET /v1/kpis/total?from=day&to=day`); null for a rate or an average."
    )
    carry_over: CarryOver | None = Field(
        description="Null for a rate or an average, or when no working day follows."
    )


class FirstAction(BaseModel):
    id: str = Field(description="The lead (its stream).")
    score: int = Field(description="0–100: scoring's win probability in percent.")
    tier: str = Field(description="A, B or C.")
    next_touch_due: date
    overdue: bool = Field(description="Scoring's: the touch is due before today.")
    top_factor: str | None = Field(description="The sentence of its largest factor.")
    why: list[Literal["tier_a", "overdue", "due"]] = Field(
        description="Listed for being tier A, overdue, or due by the next working day."
    )


class FirstActions(BaseModel):
    due_by: date | None = Field(description="The next working day: touches due by it are listed.")
    items: list[FirstAction] = Field(
        description="Tier-A open leads (highest score first), then the other leads whose touch "
        "is overdue or due by `due_by` (of the first 100 of every tier)."
    )


class Money(BaseModel):
    value: str = Field(description="Exact to the currency's minor units.")
    currency: str


class WinsAndLosses(BaseModel):
    deals_won: int = Field(description="Scoring's `deals_won` over the range.")
    revenue_won: list[Money] = Field(
        description="Scoring's `revenue_won` over the range, in the reporting currency first, "
        "then in each other currency of the owner's money goals (never converted)."
    )
    deals_lost: int = Field(description="Scoring's `deals_lost` over the range.")
    lost_reasons: list[LostReason] = Field(
        description="The funnel's `lost` step's reasons over the range, the most frequent first."
    )


class DailyDigest(BaseModel):
    kind: Literal["daily"] = "daily"
    owner: str
    day: date
    timezone: str = Field(description="The org's: the day is a day there.")
    working_day: bool = Field(description="Whether the org calendar works that day.")
    goals: list[DailyGoal] = Field(
        description="The owner's current goals on the day, as `GET /v1/progress` lists them."
    )
    first_actions: FirstActions | None = Field(
        description="Tomorrow's first actions of a rep or a team; null for the org."
    )
    wins_and_losses: WinsAndLosses


class StepComparison(BaseModel):
    step: str = Field(description="The funnel's step: leads, opportunities, …, won, lost.")
    week_count: int
    trailing_count: int = Field(description="Over the four weeks before (not averaged).")
    week_conversion: float | None = Field(description="The week's conversion, as the funnel's.")
    week_numerator: int | None
    week_denominator: int | None
    trailing_conversion: float | None = Field(
        description="The four weeks' pooled conversion (one funnel over the 28 days)."
    )
    trailing_numerator: int | None
    trailing_denominator: int | None
    difference_pp: float | None = Field(
        description="week − trailing, in percentage points (2 decimals); null if either is."
    )


class FunnelWeek(BaseModel):
    trailing_from: date | None = Field(description="First of the 28 days before the week.")
    trailing_to: date | None
    steps: list[StepComparison]
    win_rate: StepComparison = Field(description="The funnel's win rate, compared the same way.")


class WeeklyDigest(BaseModel):
    kind: Literal["weekly"] = "weekly"
    owner: str
    week: str = Field(description="The ISO week, `2026-W49`.")
    start: date = Field(description="Its Monday.")
    end: date = Field(description="Its Sunday.")
    as_of_day: date = Field(
        description="The day goals are judged on: the week's last day once over, today while "
        "it runs."
    )
    timezone: str
    goals: list[ProgressOut] = Field(
        description="The owner's goals whose period holds `as_of_day`, as `GET /v1/progress` "
        "gives them that day."
    )
    funnel: FunnelWeek
    wins_and_losses: WinsAndLosses
    scoring_alerts: list[Alert] = Field(
        description="Scoring's `GET /v1/alerts` for the week: watched rates that fell."
    )
    pace_alerts: list[PaceAlert] = Field(
        description="Goals' own `GET /v1/progress/alerts` on `as_of_day`."
    )


class Attainment(BaseModel):
    goal_id: str
    metric: str
    unit: str
    period: PeriodKind
    start: date
    end: date
    currency: str | None
    as_of_day: date
    actual: Value = Field(description="Progress's `actual` on `as_of_day`.")
    target: Value
    floor: Value
    stretch: Value
    attainment_pct: float | None
    status: str = Field(description="Progress's status on `as_of_day`.")
    floor_reached: bool = Field(
        description="At or above the floor; for a duration (lower is better), at or under the "
        "far bound, `stretch` (as progress judges it: past it is `behind`)."
    )
    target_reached: bool
    stretch_reached: bool = Field(
        description="At or above the stretch; for a duration, at or under the near bound, `floor`."
    )


class Champion(BaseModel):
    rep_id: str
    value: int | str = Field(description="The leaderboard's value (money: a decimal string).")


class Improved(BaseModel):
    rep_id: str
    before: int | str = Field(description="The previous month's leaderboard value.")
    after: int | str
    increase: int | str


class RankedRep(BaseModel):
    rank: int = Field(description="The leaderboard's: 1 is best; equal values share a rank.")
    rep_id: str
    value: int | str = Field(description="Revenue won (a decimal string).")


class Champions(BaseModel):
    scope: str = Field(description="The leaderboard's: `team:ID` or `org`.")
    currency: str
    ranking: list[RankedRep] = Field(
        description="The month's `revenue_won` leaderboard of the scope, as scoring ranks it."
    )
    revenue: list[Champion] = Field(
        description="Rank 1 of `revenue_won` (ties: all), when above zero."
    )
    new_customers: list[Champion] = Field(description="Rank 1 of `new_customers`, when above 0.")
    most_improved: list[Improved] = Field(
        description="The largest increase of `revenue_won` over the previous month's board "
        "(ties: all); nobody when nobody grew."
    )


class RepRank(BaseModel):
    scope: str | None = Field(description="The rep's team's board (the roster's, else history).")
    metric: Literal["revenue_won"] = "revenue_won"
    rank: int | None
    of: int | None = Field(description="Reps on the board.")
    value: int | str | None
    unavailable: str | None = Field(description="Why there is no rank (null when there is).")


class NextGoal(BaseModel):
    id: str
    metric: str
    period: PeriodKind
    start: date
    end: date
    currency: str | None
    target: Value
    floor: Value
    stretch: Value
    plan: dict[str, Any] | None = Field(
        description="For revenue_won and new_customers: `POST /v1/plans/funnel`'s answer for "
        "the goal (owner, target, currency, period)."
    )
    plan_missing: list[str] = Field(
        description="The rates the plan could not use (zero or unknown), as the plan names them."
    )
    plan_unavailable: str | None = Field(description="Why no plan was made (null: it was).")


class MonthlyDigest(BaseModel):
    kind: Literal["monthly"] = "monthly"
    owner: str
    month: str = Field(description="`2026-11`.")
    start: date
    end: date
    as_of_day: date = Field(
        description="The day goals are judged on: the month's last day, or today while it runs."
    )
    timezone: str
    attainment: list[Attainment] = Field(
        description="The owner's month, quarter and year goals ending in the month."
    )
    champions: Champions | None = Field(description="For a team or the org; null for a rep.")
    rank: RepRank | None = Field(description="For a rep; null for a team or the org.")
    next_month: list[NextGoal] = Field(description="The owner's goals of the month after.")


def goal_ref(goal: GoalOut) -> dict[str, Any]:
    """The fields naming a goal, for the digests' own models."""
    return {
        "metric": goal.metric,
        "period": goal.period,
        "start": goal.start,
        "end": goal.end,
        "currency": goal.currency,
    }
