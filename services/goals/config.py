"""Settings of the goals service (environment prefix `GOALS_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class GoalsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GOALS_", extra="ignore")

    port: int = 8001
    scoring_url: str = Field(
        default="http://127.0.0.1:8003", description="Where the scoring service answers."
    )
    scoring_timeout: float = Field(default=10.0, gt=0, description="Seconds per scoring call.")
    rep_team_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a rep's team, as scoring's history places them, is remembered "
        "for reads (0: ask every time; writes always ask).",
    )
    pool_size: int = 10
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1, description="Larger request bodies get 413."
    )
