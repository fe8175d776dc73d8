"""Settings of the activity service (environment prefix `ACTIVITY_`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class ActivitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACTIVITY_", extra="ignore")

    port: int = 8002
    max_body_bytes: int = 4 * 1024 * 1024
    max_group_events: int = 5000
    pool_size: int = 10
    import_dir: Path = Field(
        default=Path(tempfile.gettempdir()) / "salesperf-imports",
        description="Where uploaded import files wait until their job ends; a persistent "
        "volume lets a restarted replica resume its jobs.",
    )
    import_max_bytes: int = 10 * 1024**3
    import_chunk_rows: int = Field(default=5000, ge=1, le=50_000)
