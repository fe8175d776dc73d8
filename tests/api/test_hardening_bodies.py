"""Scoring and goals refuse bodies over their limit (`SCORING_MAX_BODY_BYTES`,
`GOALS_MAX_BODY_BYTES`, 4 MiB by default) with a 413 problem before parsing them, and no
error body echoes more than an excerpt of the input."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
from fastapi import FastAPI

from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import TokenFactory
from tests.problems import assert_problem

MiB = 1024 * 1024


async def in_chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def padded_calendar(size: int) -> bytes:
    return orjson.dumps({"timezone": "UTC", "holidays": [], "pad": "x" * size})


class TestTheDefaultLimitIsFourMebibytes:
    async def test_goals_refuses_a_5_mib_body_with_413(
        self, goals: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        body = padded_calendar(5 * MiB)
        answer = await goals.put(
            "/v1/calendar", content=body, headers={**auth(), "content-type": "application/json"}
        )
        problem = assert_problem(answer, 413)
        assert len(answer.content) < 2000, problem

    async def test_scoring_refuses_a_5_mib_body_with_413(
        self, scoring: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        body = padded_calendar(5 * MiB)
        answer = await scoring.put(
            "/v1/settings", content=body, headers={**auth(), "content-type": "application/json"}
        )
        assert_problem(answer, 413)

    async def test_a_body_sent_without_a_length_is_counted(
        self, goals: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        chunks = in_chunks(padded_calendar(5 * MiB))
        answer = await goals.put(
            "/v1/calendar", content=chunks, headers={**auth(), "content-type": "application/json"}
        )
        assert "content-length" not in answer.request.headers
        assert_problem(answer, 413)


class TestTheLimitIsASetting:
    @pytest.mark.parametrize(
        ("variable", "create", "method", "path"),
        [
            ("GOALS_MAX_BODY_BYTES", lambda: create_goals(goals_settings()), "PUT", "/v1/calendar"),
            (
                "SCORING_MAX_BODY_BYTES",
                lambda: create_scoring(scoring_settings()),
                "PUT",
                "/v1/settings",
            ),
        ],
    )
    async def test_a_body_over_the_configured_limit_gets_413(
        self,
        monkeypatch: pytest.MonkeyPatch,
        variable: str,
        create: Callable[[], FastAPI],
        method: str,
        path: str,
    ) -> None:
        monkeypatch.setenv(variable, "1000")
        app = create()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            answer = await client.request(
                method,
                path,
                content=padded_calendar(1200),
                headers={"content-type": "application/json"},
            )
        problem = assert_problem(answer, 413)
        assert "1000 bytes" in problem["detail"]


class TestErrorsEchoOnlyAnExcerpt:
    async def test_a_flood_of_invalid_items_lists_a_few(
        self, goals: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        body = {"timezone": "UTC", "holidays": ["not a day " * 10] * 1000}
        answer = await goals.put("/v1/calendar", json=body, headers=auth())
        problem = assert_problem(answer, 422)
        assert len(answer.content) < 20_000
        assert 0 < len(problem["errors"]) <= 50
        assert "more errors" in problem["detail"]

    async def test_a_huge_string_is_not_echoed(
        self, goals: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        huge = "Z" * 1_000_000
        body = {
            "owner": "org",
            "metric": "visits",
            "period": "month",
            "start": "2026-03-01",
            "target": 1,
            huge: huge,
        }
        answer = await goals.post("/v1/goals", json=body, headers=auth())
        assert_problem(answer, 422)
        assert len(answer.content) < 5_000
