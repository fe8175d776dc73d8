"""What every service's operational endpoints answer (`/readyz`), for probes and dashboards."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Readiness(BaseModel):
    """`GET /readyz`: 200 when `ready`, else 503 with the same body."""

    ready: bool
    checks: dict[str, bool] = Field(description="Each dependency checked, and whether it is up.")
