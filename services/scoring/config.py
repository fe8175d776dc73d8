"""Settings of the scoring service (environment prefix `SCORING_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class ScoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_", extra="ignore")

    port: int = 8003
    activity_url: str = Field(
        default="http://127.0.0.1:8002", description="Where the activity service answers."
    )
    consume: bool = Field(
        default=True, description="Take part in the election of the replica that folds the feed."
    )
    default_timezone: str = Field(default="UTC", description="Timezone of an org not yet set.")
    default_currency: str = Field(
        default="EUR", description="Reporting currency of an org that has logged no money yet."
    )
    page_size: int = Field(default=1000, ge=1, le=1000)
    fold_events: int = Field(
        default=5000,
        ge=1,
        description="While behind, events folded per transaction (pages joined).",
    )
    long_poll_seconds: float = Field(default=20, ge=0, le=30)
    discovery_seconds: float = Field(
        default=1.0, gt=0, description="How often to look for new orgs."
    )
    election_seconds: float = Field(
        default=1.0, gt=0, description="How often a follower tries to lead."
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
    pool_size: int = 10
