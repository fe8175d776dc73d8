"""The activity app as the benchmarks serve it: `uvicorn --factory bench._activity_app:app`.

The database and the JWT secret come from the environment the benchmark sets for the server
process (BENCH_DATABASE_URL, BENCH_JWT_SECRET), so the server never touches development data.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from pydantic import SecretStr

from services.activity.config import ActivitySettings
from services.activity.main import create_app


def app() -> FastAPI:
    settings = ActivitySettings(
        jwt_secret=SecretStr(os.environ["BENCH_JWT_SECRET"]),
        log_level=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    return create_app(settings, database_url=os.environ["BENCH_DATABASE_URL"])
