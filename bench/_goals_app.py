"""The goals app as the benchmarks serve it: `uvicorn --factory bench._goals_app:app`.

Database, JWT secret and scoring's URL come from BENCH_DATABASE_URL, BENCH_JWT_SECRET and
BENCH_SCORING_URL.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import SecretStr

from services.goals.config import GoalsSettings
from services.goals.main import create_app


def app() -> FastAPI:
    settings = GoalsSettings(
        jwt_secret=SecretStr(os.environ["BENCH_JWT_SECRET"]),
        scoring_url=os.environ["BENCH_SCORING_URL"],
        log_level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    return create_app(settings, database_url=os.environ["BENCH_DATABASE_URL"])
