"""Settings of the activity service (environment prefix `ACTIVITY_`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field, field_validator
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
    import_process_bytes: int = Field(
        default=8 * 1024**2,
        ge=0,
        description="A file of at least this size is read, validated and rendered by a process "
        "of its own beside the one storing it (a smaller one in a thread: no process to start).",
    )
    public_url: str | None = Field(
        default=None,
        description="The external base URL CRMs call activity at (scheme, host and any path "
        "prefix the proxy strips, e.g. `https://crm-hooks.example.com`): HubSpot signs the full "
        "URI it called, so behind a TLS-terminating proxy the signature is checked against this "
        "base + the path and query of the request instead of the URL the service sees. Unset: "
        "the URL the service sees.",
    )

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        scheme, sep, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not sep or not rest or "?" in rest:
            raise ValueError("an http(s) base URL without a query, e.g. https://hooks.example.com")
        return value
