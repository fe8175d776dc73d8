"""What the scoring service answers that other services (goals) and BI tools read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.operations import Readiness


class MetricValue(BaseModel):
    """One metric in one bucket. Counts are integers, money a decimal string with its currency;
    a rate or average comes with the numerator and denominator it was computed from (re-aggregate
    those, never the rates) and is null when the denominator is zero."""

    value: int | float | str | None
    numerator: int | float | str | None = None
    denominator: int | str | None = None
    currency: str | None = None
    unit: str | None = Field(default=None, description="`days` for the average durations.")
    by_stage: dict[str, str] | None = Field(
        default=None, description="open_pipeline: the amount open in each stage."
    )


class KpiBucket(BaseModel):
    start: date
    end: date = Field(description="Inclusive.")
    metrics: dict[str, MetricValue]


class Freshness(BaseModel):
    position: int = Field(
        description="Position of the last event folded into the answer, in the org's own log "
        "(its events are numbered 1, 2, 3…)."
    )
    recorded_at: datetime | None = Field(description="When that event was recorded.")


class Filters(BaseModel):
    product_line: str | None = None
    tier: str | None = None
    channel: str | None = None


class KpiReport(BaseModel):
    owner: str = Field(examples=["team:team-north"])
    period: str
    from_: date = Field(alias="from")
    to: date
    timezone: str
    currency: str = Field(description="The reporting currency of the money metrics.")
    filters: Filters
    as_of: datetime | None
    up_to: Freshness
    buckets: list[KpiBucket]


class Conversion(BaseModel):
    value: float | None
    numerator: int
    denominator: int


class FunnelReading(StrEnum):
    """`period`: what happened in the range, each step counted on its own day. `cohort`: of the
    leads (and, under `deals`, the deals) created in the range, how many ever reached each step,
    whenever they did."""

    PERIOD = "period"
    COHORT = "cohort"


class LostReason(BaseModel):
    reason: str
    count: int


class FunnelStep(BaseModel):
    step: str = Field(description="leads, opportunities, deals_opened, stage:<name>…, won, lost.")
    count: int
    conversion: Conversion | None = Field(
        default=None, description="From the step before (`lost`: of the deals opened)."
    )
    reasons: list[LostReason] | None = Field(
        default=None, description="`lost` only: its deals by reason, the most frequent first."
    )


class DealCohort(BaseModel):
    """The cohort reading's deals opened in the range, and how many ever reached each step."""

    steps: list[FunnelStep]
    win_rate: Conversion


class FunnelReport(BaseModel):
    owner: str
    reading: FunnelReading
    from_: date = Field(alias="from")
    to: date
    timezone: str
    filters: Filters
    as_of: datetime | None
    up_to: Freshness
    steps: list[FunnelStep]
    win_rate: Conversion
    deals: DealCohort | None = Field(
        default=None, description="`cohort` only: of the deals opened in the range."
    )


class Ranked(MetricValue):
    rank: int = Field(description="1 is best; equal values share a rank.")
    rep_id: str


class Leaderboard(BaseModel):
    metric: str
    period: str
    start: date
    end: date
    scope: str
    currency: str
    items: list[Ranked]


class OrgSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(
        description="IANA timezone KPIs are bucketed in.", examples=["Europe/Berlin"]
    )
    currency: str | None = Field(
        default=None, description="Reporting currency (ISO 4217); null: the first one logged."
    )


class OrgSettingsSet(OrgSettings):
    """What `PUT /v1/settings` answers: the settings, and whether they asked for a rebuild."""

    rebuilding: bool = Field(
        description="A rebuild of the org's projection is pending or running (a new timezone "
        "re-buckets every event); reads answer from the old projection until it swaps."
    )


class RebuildStatus(BaseModel):
    state: str = Field(description="idle, requested, running or done.")
    generation: int
    done: int
    total: int
    reason: str | None = Field(
        None,
        description="Why it runs (or ran): `asked` (an admin, a void too large to correct in "
        "place, a new timezone) or `catch_up` (scoring was far behind the log: replaying it in "
        "bulk was faster than folding it page by page).",
    )
    seconds: float | None = None
    phases: dict[str, float] | None = Field(
        None,
        description="When done: seconds spent replaying the log (reading and folding it), "
        "scoring its leads, deals and accounts (beside the writing, which it overlaps), writing "
        "the new tables (from the replay's end), and catching up with the feed before the swap.",
    )
    write_steps: dict[str, float] | None = Field(
        None,
        description="When done: the seconds of `phases.write` by step: `rollups` (summed from "
        "the staged facts), `entities` (with the wins), `scores` (with health) and "
        "`statistics` (the planner's, for the new tables).",
    )


class ConsumerLag(BaseModel):
    events: int = Field(description="Events of all followed orgs not folded yet.")
    seconds: float = Field(description="How far behind the newest event the furthest org is.")


class ConsumerState(BaseModel):
    enabled: bool = Field(description="Whether this replica folds the feed (`SCORING_CONSUME`).")
    leading: bool = Field(description="Whether this replica folds any org now.")
    replicas: int = Field(
        description="Consuming replicas alive at its last look, this one included (0: it has "
        "no database connection to lease orgs on)."
    )
    leases: int = Field(description="Orgs leased to this replica: the ones it folds.")
    lag: ConsumerLag | None = Field(description="Of the orgs it folds; null when it folds none.")
    orgs: int = Field(description="Orgs followed (with a lag known).")


class ScoringReadiness(Readiness):
    consumer: ConsumerState


class CatalogueEntry(BaseModel):
    name: str
    kind: str = Field(
        description="count, money, rate, money_rate, average_money, average_days, "
        "average_elapsed_days, "
        "distinct_rate or pipeline: how its value is made from its stored parts."
    )
    description: str
    rounding: str = Field(
        description="How `value` is rounded; numerators and denominators (where given) are "
        "exact unless said otherwise."
    )


class MetricCatalogue(BaseModel):
    """`GET /v1/metrics`: every metric `/v1/kpis` serves."""

    items: list[CatalogueEntry]


class MetricInfo(BaseModel):
    """What another service needs to know of a metric: its unit and whether it adds up."""

    model_config = ConfigDict(frozen=True)

    unit: str = Field(description="count, money, ratio or days.")
    additive: bool = Field(
        description="Sums over periods and owners (so a goal on it can be split)."
    )


class MetricKind(StrEnum):
    """How a metric's value is made from its stored parts (`CatalogueEntry.kind`)."""

    COUNT = "count"
    MONEY = "money"
    RATE = "rate"  # count / count
    MONEY_RATE = "money_rate"  # money / money, same currency
    AVERAGE_MONEY = "average_money"  # money / count
    AVERAGE_DAYS = "average_days"  # calendar days / count
    AVERAGE_ELAPSED_DAYS = "average_elapsed_days"  # seconds / count, in days
    DISTINCT_RATE = "distinct_rate"  # distinct customers, from the wins
    PIPELINE = "pipeline"  # money open at the end of the bucket

    @property
    def unit(self) -> str:
        """count, money, ratio or days (`MetricInfo.unit`)."""
        if self is MetricKind.COUNT:
            return "count"
        if self in (MetricKind.MONEY, MetricKind.AVERAGE_MONEY, MetricKind.PIPELINE):
            return "money"
        days = (MetricKind.AVERAGE_DAYS, MetricKind.AVERAGE_ELAPSED_DAYS)
        return "days" if self in days else "ratio"

    @property
    def rounding(self) -> str:
        """How a value of this kind is rounded (`CatalogueEntry.rounding`)."""
        return ROUNDING[self]

    @property
    def additive(self) -> bool:
        """Whether it sums over periods and owners: counts and plain amounts only."""
        return self in (MetricKind.COUNT, MetricKind.MONEY)


ROUNDING: dict[MetricKind, str] = {
    MetricKind.COUNT: "exact: a whole number",
    MetricKind.MONEY: "exact: a decimal string with the currency's minor units (2 for EUR, "
    "0 for JPY, 3 for KWD)",
    MetricKind.RATE: "a number rounded to 6 decimals (half to even); numerator and denominator "
    "exact counts",
    MetricKind.MONEY_RATE: "a number rounded to 6 decimals (half to even); numerator and "
    "denominator exact amounts",
    MetricKind.AVERAGE_MONEY: "a decimal string rounded to the currency's minor units (half to "
    "even); numerator an exact amount, denominator an exact count",
    MetricKind.AVERAGE_DAYS: "a number of days rounded to 2 decimals; numerator the calendar "
    "days summed and denominator the count, both exact",
    MetricKind.AVERAGE_ELAPSED_DAYS: "a number of days rounded to 2 decimals; numerator the "
    "elapsed days summed, rounded to 4 decimals (seconds ÷ 86,400); denominator an exact count",
    MetricKind.DISTINCT_RATE: "a number rounded to 6 decimals (half to even); numerator and "
    "denominator exact counts of customers",
    MetricKind.PIPELINE: "open: exact, in the currency's minor units; weighted: rounded to "
    "them (half to even)",
}
"""How each kind of value is rounded (the metric catalogue's `rounding`, the README's table)."""


@dataclass(frozen=True, slots=True)
class ServedMetric:
    name: str
    kind: MetricKind
    description: str


def _served(name: str, kind: MetricKind, description: str) -> ServedMetric:
    return ServedMetric(name, kind, description)


SERVED: tuple[ServedMetric, ...] = (
    _served("visits", MetricKind.COUNT, "Visits logged."),
    _served("effective_visits", MetricKind.COUNT, "Visits marked effective."),
    _served("effective_visit_rate", MetricKind.RATE, "Effective visits ÷ visits."),
    _served("calls", MetricKind.COUNT, "Calls logged."),
    _served("connected_calls", MetricKind.COUNT, "Calls that connected."),
    _served("call_connect_rate", MetricKind.RATE, "Connected ÷ calls."),
    _served(
        "engagements",
        MetricKind.COUNT,
        "Digital touches tracked (engagement.tracked `count`: e-mails sent, opened and clicked, "
        "pages viewed, forms, chats, SMS, webinars).",
    ),
    _served(
        "engaged_seconds",
        MetricKind.COUNT,
        "Seconds spent in those touches (engagement.tracked `seconds`).",
    ),
    _served("new_leads", MetricKind.COUNT, "Leads created."),
    _served("opportunities", MetricKind.COUNT, "Leads qualified (first time)."),
    _served("disqualified_leads", MetricKind.COUNT, "Leads disqualified."),
    _served(
        "lead_to_opportunity_rate",
        MetricKind.RATE,
        "Opportunities ÷ new leads, both in the period.",
    ),
    _served(
        "avg_days_lead_to_opportunity",
        MetricKind.AVERAGE_DAYS,
        "Mean calendar days from lead.created to lead.qualified (the qualifying day minus the "
        "creation day, in the org's timezone), over the leads qualified in the period.",
    ),
    _served(
        "avg_elapsed_days_lead_to_opportunity",
        MetricKind.AVERAGE_ELAPSED_DAYS,
        "Mean time elapsed from lead.created to lead.qualified, in days of 24 h, over the leads "
        "qualified in the period.",
    ),
    _served("deals_opened", MetricKind.COUNT, "Deals opened."),
    _served("deals_won", MetricKind.COUNT, "Deals won."),
    _served("deals_lost", MetricKind.COUNT, "Deals lost."),
    _served("win_rate", MetricKind.RATE, "Won ÷ (won + lost)."),
    _served("revenue_won", MetricKind.MONEY, "Amounts of deals won."),
    _served(
        "average_deal_size",
        MetricKind.AVERAGE_MONEY,
        "Revenue won ÷ deals won (in the reporting currency).",
    ),
    _served(
        "avg_sales_cycle_days",
        MetricKind.AVERAGE_DAYS,
        "Mean calendar days from deal.opened to deal.won (the day won minus the day opened, in "
        "the org's timezone, as CRM reports count), over the deals won in the period.",
    ),
    _served(
        "avg_sales_cycle_elapsed_days",
        MetricKind.AVERAGE_ELAPSED_DAYS,
        "Mean time elapsed from deal.opened to deal.won, in days of 24 h, over the deals won in "
        "the period.",
    ),
    _served(
        "new_customers",
        MetricKind.COUNT,
        "Accounts whose first won deal (in log order) falls in the period.",
    ),
    _served(
        "repeat_purchase_rate",
        MetricKind.DISTINCT_RATE,
        "Customers with a won deal in the period who had one before it ÷ customers with a won "
        "deal in the period.",
    ),
    _served("invoiced", MetricKind.MONEY, "Invoices issued."),
    _served("collected", MetricKind.MONEY, "Payments received."),
    _served("collection_rate", MetricKind.MONEY_RATE, "Collected ÷ invoiced, both in the period."),
    _served(
        "open_pipeline",
        MetricKind.PIPELINE,
        "Amounts of deals open at the end of the period.",
    ),
    _served(
        "weighted_pipeline",
        MetricKind.PIPELINE,
        "Open pipeline at the end of the period, each stage's amount × that stage's win rate "
        "(the org's deals that reached the stage and closed by then: (won + 1) ÷ (closed + 2)).",
    ),
    _served(
        "followed_up_72h",
        MetricKind.COUNT,
        "New customers touched (visit or call) within 72 h of their first won deal.",
    ),
    _served(
        "followed_up_72h_rate",
        MetricKind.RATE,
        "New customers followed up within 72 h ÷ new customers.",
    ),
)
"""Every metric scoring serves, in the order of its `GET /v1/metrics` (scoring adds how each is
derived from the stored sums: services/scoring/domain.py)."""

# The order goals lists them in (its 422 for an unknown metric): by unit, catalogue order within.
_BY_UNIT = [("count", True), ("money", True), ("money", False), ("ratio", False), ("days", False)]

METRICS: dict[str, MetricInfo] = {
    m.name: MetricInfo(unit=m.kind.unit, additive=m.kind.additive)
    for m in sorted(SERVED, key=lambda m: _BY_UNIT.index((m.kind.unit, m.kind.additive)))
}
"""Every metric scoring serves (its `GET /v1/metrics`), as goals sees it."""
