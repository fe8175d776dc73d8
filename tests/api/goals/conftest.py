"""Settings of the goals app the API tests run (its fixture, `goals`, is in tests/api/conftest.py,
beside activity's and scoring's)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from services.goals.config import GoalsSettings
from tests.conftest import JWT_SECRET


def goals_settings(**overrides: Any) -> GoalsSettings:
    return GoalsSettings(jwt_secret=SecretStr(JWT_SECRET), **overrides)
