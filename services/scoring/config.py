"""Settings of the scoring service (environment prefix `SCORING_`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class ScoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_", extra="ignore")

    port: int = 8003
    activity_url: str = Field(
        default="http://127.0.0.1:8002", description="Where the activity service answers."
    )
    goals_url: str | None = Field(
        default=None,
        description="Where the goals service answers: each org's roster is copied from it "
        "(rosters.py; unset: no roster, a team is as the events name it).",
    )
    roster_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often each org's roster version is asked of goals (0: never).",
    )
    consume: bool = Field(
        default=True,
        description="Fold the feed: lease a share of the orgs (false: serve reads only).",
    )
    max_orgs: int | None = Field(
        default=None,
        ge=1,
        description="Most orgs this replica folds at once, whatever its share (unset: its "
        "share, the orgs divided among the live replicas, rounded up).",
    )
    default_timezone: str = Field(default="UTC", description="Timezone of an org not yet set.")
    default_currency: str = Field(
        default="EUR", description="Reporting currency of an org that has logged no money yet."
    )
    page_size: int = Field(default=1000, ge=1, le=1000)
    correction_events: int = Field(
        default=100_000,
        ge=1,
        description="Largest slice of the log a void is corrected from (the events about the "
        "voided event's customer or lead, and what they name); past it, the org is rebuilt.",
    )
    fold_events: int = Field(
        default=5000,
        ge=1,
        description="While behind, events folded per transaction (pages joined). Keys repeat "
        "from page to page, so the more a transaction folds, the fewer rows it writes an event "
        "(in-process on 100k events: 5,474 events/s at 5,000, 9,068 at 20,000; at 1M in "
        "bench.scoring, 20,000 folded 3,981 events/s but left the serving process at 383 MB "
        "against 210 MB at 5,000).",
    )
    fold_cache: int = Field(
        default=20_000,
        ge=0,
        description="While behind, entities kept in memory from page to page (besides those "
        "of the page being written, which the next page's fold must see).",
    )
    scores_lag_seconds: float = Field(
        default=60.0,
        ge=0,
        description="While behind, the leads, deals and accounts folded pages change are "
        "scored and judged once caught up, not page after page; at the latest this many "
        "seconds after the first of them was folded (0: every page).",
    )
    unscored_keys: int = Field(
        # High enough that the time bound is what scores a follower far behind (scoring while
        # folding takes CPU the fold needs: +8% live folding at 300k events with 1M here).
        default=200_000,
        ge=1,
        description="While behind, leads, deals and accounts left to score, past which they "
        "are scored without waiting any longer.",
    )
    long_poll_seconds: float = Field(default=20, ge=0, le=30)
    discovery_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often to look for new orgs, count the live replicas and lease free "
        "orgs (how soon a dead replica's orgs move to the others).",
    )
    election_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a replica that lost its database connection (and its orgs "
        "with it) tries again.",
    )
    bulk_catchup_events: int = Field(
        default=200_000,
        ge=0,
        description="A follower at least this many events behind, with a backlog that is a third "
        "or more of its org's log, stops folding page by page and rebuilds the org instead (a "
        "rebuild replays in bulk, ~3x the events/s), then follows on from there (0: never).",
    )
    analyze_after_events: int = Field(
        default=1000,
        ge=0,
        description="Once caught up after folding at least this many events, and as many again "
        "as its org held when they were last taken, a follower refreshes the projection's "
        "planner statistics (follow/statistics.py; 0: leave them to autovacuum).",
    )
    rebuild_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Least time between two rebuilds of an org (voids ask for them).",
    )
    answer_cache_size: int = Field(
        default=4096,
        ge=0,
        description="Reports kept in memory until their org's projection moves (0: none).",
    )
    as_of_replays: int = Field(
        default=2,
        ge=0,
        description="`as_of` replays of the log kept in memory, the most recently asked (0: "
        "none): questions as of the same past moment replay the log once (answer/replays.py).",
    )
    as_of_replay_events: int = Field(
        default=100_000,
        ge=0,
        description="Largest replay kept (events): a replay holds its org's whole book and "
        "rollups (measured on bench.fold's log: +67 MB at 50,000 events, +104 MB at 100,000).",
    )
    pool_size: int = 10
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1, description="Larger request bodies get 413."
    )

    # Lead and deal priority (README: "Lead and deal priority").
    tier_a: float = Field(
        default=0.6, gt=0, lt=1, description="Win probability from which a lead is tier A."
    )
    tier_b: float = Field(
        default=0.3, gt=0, lt=1, description="Win probability from which a lead is tier B."
    )
    touch_days: dict[str, int] = Field(
        default_factory=lambda: {"A": 1, "B": 7, "C": 30},
        description="Days after the last touch a tier's next touch is due.",
    )
    engagement_half_lives: dict[str, float] = Field(
        default_factory=dict,
        description="Days after which an engagement of a kind weighs half (default per kind).",
    )
    min_outcomes: int = Field(
        default=40,
        ge=2,
        description="Closed leads (or deals) an org needs before a learnt model replaces the "
        "prior-based score.",
    )
    train_after_outcomes: int = Field(
        default=25, ge=1, description="New outcomes since the last training that retrain."
    )
    train_seconds: float = Field(
        default=24 * 3600, gt=0, description="Retrain at least this often while outcomes come in."
    )
    worker_processes: int = Field(
        default=1,
        ge=0,
        le=32,
        description="Processes, apart from the one serving requests, that train and run "
        "backtests, and as many again that rescore whole orgs (0: threads of the serving "
        "process).",
    )
    worker_nice: int = Field(
        default=10, ge=0, le=19, description="How much lower those processes' CPU priority is."
    )

    # Customer health and alerts.
    no_touch_days: dict[str, int] = Field(
        default_factory=lambda: {"A": 14, "B": 30, "C": 60},
        description="Days without a visit or call after which an account of a tier is at risk.",
    )
    pareto: tuple[float, float] = Field(
        default=(0.8, 0.95),
        description="Cumulative shares of won revenue that suggest tier A, then B.",
    )
    alert_drop: float = Field(
        default=0.2, gt=0, le=1, description="Relative fall of a rate that raises an alert."
    )
    alert_min_denominator: int = Field(
        default=20, ge=1, description="Least volume behind a rate for an alert on it."
    )

    @model_validator(mode="after")
    def _tiers_in_order(self) -> ScoringSettings:
        if self.tier_b >= self.tier_a:
            raise ValueError("tier_b must be below tier_a")
        for tiers in (self.touch_days, self.no_touch_days):
            if set(tiers) != {"A", "B", "C"} or min(tiers.values()) < 1:
                raise ValueError("give A, B and C a number of days of at least 1")
        if not 0 < self.pareto[0] < self.pareto[1] <= 1:
            raise ValueError("pareto must be two increasing shares in (0, 1]")
        return self
