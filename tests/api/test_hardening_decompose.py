"""A decomposition across reps names at most 500 of them (or 500 weights): more is a 422 that
names the field, answered at once, and no child goal is stored."""

from __future__ import annotations

import httpx
import pytest

from tests.api.goals.helpers import count_goal, create, decompose, list_all
from tests.conftest import TokenFactory
from tests.problems import assert_problem


class TestADecompositionByRepIsBounded:
    @pytest.mark.parametrize(
        ("field", "body"),
        [
            ("reps", {"by": "rep", "reps": [f"rep-{i}" for i in range(501)]}),
            (
                "weights",
                {
                    "by": "rep",
                    "strategy": "weights",
                    "weights": {f"rep-{i}": 1 for i in range(501)},
                },
            ),
        ],
    )
    async def test_501_reps_answer_422_naming_the_field(
        self, goals: httpx.AsyncClient, auth: TokenFactory, field: str, body: dict[str, object]
    ) -> None:
        goal = await create(goals, auth(), count_goal(owner="team:t1"))
        answer = await goals.post(f"/v1/goals/{goal['id']}/decompose", json=body, headers=auth())
        assert_problem(answer, 422, field)
        assert [g["id"] for g in await list_all(goals, auth())] == [goal["id"]]

    async def test_a_team_of_reps_still_splits(
        self, goals: httpx.AsyncClient, auth: TokenFactory
    ) -> None:
        goal = await create(goals, auth(), count_goal(owner="team:t1"))
        reps = [f"rep-{i}" for i in range(20)]
        result = await decompose(goals, auth(), goal["id"], {"by": "rep", "reps": reps})
        assert len(result["children"]) == 20
