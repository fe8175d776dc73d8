"""What scoring answers about what to do next: lead and deal priority, the models behind it and
their backtest, customer health and alerts (wire models; the service renders plain dicts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.contracts.scoring import Freshness


class Factor(BaseModel):
    name: str = Field(description="The feature: channel, visits_14d, signal:asked_for_price…")
    value: str = Field(description="Its value (numbers in buckets).", examples=["3+"])
    contribution: float = Field(
        description="Log-odds it adds to (or takes from) the model's base; the factors of a "
        "score add up exactly to `log_odds - base_log_odds`."
    )
    sentence: str = Field(examples=["3 effective visits in the last 14 days"])


class ModelRef(BaseModel):
    version: int = Field(description="0: the global prior, before the org's first training.")
    kind: str = Field(description="logistic, naive_bayes or prior.")
    trained_at: datetime | None
    outcomes: int = Field(description="Closed leads (or deals) it learnt from.")
    base_rate: float


class Score(BaseModel):
    id: str = Field(description="The lead's or deal's stream.", examples=["lead-L-2026-0117"])
    kind: str = Field(description="lead or deal.")
    rep_id: str | None
    team_id: str | None
    win_probability: float = Field(description="Calibrated, 0–1.")
    score: int = Field(description="0–100: the win probability in percent.")
    tier: str = Field(
        description="A: likely to close, act today; B: follow up this week; C: nurture."
    )
    log_odds: float
    base_log_odds: float = Field(
        description="The model's log-odds for an average lead (naive Bayes, prior: the base rate)."
    )
    factors: list[Factor] = Field(description="Largest effect first.")
    last_touch_at: datetime | None = Field(description="The last visit or call.")
    next_touch_due: date = Field(description="The last touch (else creation) + the tier's days.")
    overdue: bool = Field(description="`next_touch_due` is before today (the org's timezone).")
    created_at: datetime | None
    scored_for: date = Field(description="The org-local day the score looks at.")
    model: ModelRef


class PriorityPage(BaseModel):
    items: list[Score]
    next: str | None = Field(description="Cursor of the next page (also in `X-Next-Cursor`).")
    has_more: bool
    as_of: datetime | None
    up_to: Freshness = Field(
        description="How far the scores go in the log. While scoring catches up with a large "
        "backlog (a history import), scores are brought up to date once it has caught up (or "
        "every `SCORING_SCORES_LAG_SECONDS`), so this can trail the KPIs' `up_to` for a while."
    )


class ModelInfo(BaseModel):
    kind: str = Field(description="lead or deal.")
    version: int
    model_kind: str = Field(description="logistic, naive_bayes or prior.")
    active: bool
    trained_at: datetime
    outcomes: int
    report: dict[str, Any] = Field(
        description="How it was chosen: the candidates and their held-out figures (AUC, Brier "
        "score, log loss, calibration), or why the prior was kept."
    )


class ModelList(BaseModel):
    items: list[ModelInfo]


class Quality(BaseModel):
    kind: str | None = None
    count: int
    positives: int | None = None
    auc: float | None = None
    brier: float | None = None
    log_loss: float | None = None
    ece: float | None = Field(default=None, description="Expected calibration error (deciles).")
    calibration: list[dict[str, Any]] | None = Field(
        default=None, description="Deciles: count, mean predicted, observed rate."
    )


class Backtest(BaseModel):
    kind: str
    cutoff: datetime
    horizon_days: int
    trained_on: int = Field(description="Outcomes recorded before the cutoff the model learnt.")
    evaluated_on: int = Field(description="Leads (deals) created on or after it, outcome known.")
    model: Quality
    baselines: dict[str, Quality] = Field(description="stage_only and naive_bayes.")


class BacktestReport(BaseModel):
    items: list[Backtest] = Field(description="One for leads, one for deals.")


class Signal(BaseModel):
    signal: str = Field(
        description="revenue_down, key_contact_left, no_touch, renewal_due or onboarding."
    )
    since: date | None
    evidence: dict[str, Any]
    message: str


class Money(BaseModel):
    value: str
    currency: str


class Health(BaseModel):
    account_id: str
    tier: str | None = Field(description="The tier the account has (null: none yet).")
    suggested_tier: str = Field(description="By share of the org's won revenue, last 12 months.")
    lifecycle: str = Field(description="prospect, new, growing, mature or declining.")
    at_risk: bool
    signals: list[Signal]
    owner: str | None
    rep_id: str | None = None
    team_id: str | None = None
    first_won_at: datetime | None
    last_touch_at: datetime | None
    won_12m: Money


class HealthPage(BaseModel):
    items: list[Health]
    next: str | None
    has_more: bool
    up_to: Freshness = Field(
        description="How far customer health goes in the log (see `PriorityPage.up_to`)."
    )


class Alert(BaseModel):
    kind: str = Field(description="rate_drop.")
    metric: str
    from_: date = Field(alias="from")
    to: date
    value: float | None
    numerator: int | str
    denominator: int | str
    baseline: dict[str, Any] = Field(
        description="`value`: the MEAN of the previous periods' rates (each period counts "
        "once, whatever its volume), which is what the drop is measured against; `numerator` "
        "and `denominator`: their sums, for information (their ratio is the pooled rate, not "
        "the baseline); `periods`: each earlier period with its own rate and parts."
    )
    drop: float = Field(description="Relative fall against the baseline.")
    threshold: float
    message: str


class AlertReport(BaseModel):
    owner: str
    from_: date = Field(alias="from")
    to: date
    rules: dict[str, Any]
    items: list[Alert]
    up_to: Freshness
