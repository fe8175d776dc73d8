"""What the scoring service answers that other services (goals) and BI tools read."""

from __future__ import annotations

from datetime import date, datetime

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


class FunnelStep(BaseModel):
    step: str = Field(description="leads, opportunities, deals_opened, stage:<name>…, won.")
    count: int
    conversion: Conversion | None = Field(default=None, description="From the step before.")


class FunnelReport(BaseModel):
    owner: str
    from_: date = Field(alias="from")
    to: date
    timezone: str
    filters: Filters
    as_of: datetime | None
    up_to: Freshness
    steps: list[FunnelStep]
    win_rate: Conversion


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
        "distinct_rate or pipeline: how its value is made from its stored parts."
    )
    description: str


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


def _m(unit: str, additive: bool) -> MetricInfo:
    return MetricInfo(unit=unit, additive=additive)


METRICS: dict[str, MetricInfo] = {
    **{name: _m("count", True) for name in (
        "visits", "effective_visits", "calls", "connected_calls", "engagements",
        "engaged_seconds", "new_leads", "opportunities",
        "disqualified_leads", "deals_opened", "deals_won", "deals_lost", "new_customers",
        "followed_up_72h")},
    **{name: _m("money", True) for name in ("revenue_won", "invoiced", "collected")},
    **{name: _m("money", False) for name in (
        "average_deal_size", "open_pipeline", "weighted_pipeline")},
    **{name: _m("ratio", False) for name in (
        "effective_visit_rate", "call_connect_rate", "lead_to_opportunity_rate", "win_rate",
        "repeat_purchase_rate", "collection_rate", "followed_up_72h_rate")},
    **{name: _m("days", False) for name in (
        "avg_days_lead_to_opportunity", "avg_sales_cycle_days")},
}  # fmt: skip
"""Every metric scoring serves (its `GET /v1/metrics`), as goals sees it."""
