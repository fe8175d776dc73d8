"""The scoring app in-process, with its consumer following the real activity app over an
in-process HTTP transport (httpx.ASGITransport): real HTTP semantics, real database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import SecretStr

from services.scoring.config import ScoringSettings
from tests.conftest import JWT_SECRET


def scoring_settings(**overrides: Any) -> ScoringSettings:
    fast = {"discovery_seconds": 0.05, "election_seconds": 0.2, "long_poll_seconds": 2}
    return ScoringSettings(jwt_secret=SecretStr(JWT_SECRET), **{**fast, **overrides})


async def settled(
    scoring: httpx.AsyncClient, headers: dict[str, str], position: int, timeout: float = 15
) -> None:
    """Wait until scoring has folded the org's log up to `position`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = await scoring.get("/v1/kpis", params={"metrics": "visits"}, headers=headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["up_to"]["position"] >= position:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"scoring did not reach position {position}: {answer.json()['up_to']}"
            )
        await asyncio.sleep(0.05)
