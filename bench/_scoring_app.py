"""The scoring app as the benchmarks serve it: `uvicorn --factory bench._scoring_app:app`.

Database, JWT secret and activity's URL come from BENCH_DATABASE_URL, BENCH_JWT_SECRET and
BENCH_ACTIVITY_URL; BENCH_REBUILD_SECONDS spaces void-triggered rebuilds.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import SecretStr

from services.scoring.config import ScoringSettings
from services.scoring.main import create_app


def app() -> FastAPI:
    settings = ScoringSettings(
        jwt_secret=SecretStr(os.environ["BENCH_JWT_SECRET"]),
        activity_url=os.environ["BENCH_ACTIVITY_URL"],
        rebuild_seconds=float(os.environ.get("BENCH_REBUILD_SECONDS", "5")),
        log_level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    return create_app(settings, database_url=os.environ["BENCH_DATABASE_URL"])
