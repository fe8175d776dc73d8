"""Settings of the activity service (environment prefix `ACTIVITY_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class ActivitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACTIVITY_", extra="ignore")

    port: int = 8002
    max_body_bytes: int = 4 * 1024 * 1024
    max_group_events: int = 5000
    pool_size: int = 10
