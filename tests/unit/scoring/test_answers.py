"""The in-memory answers (services/scoring/answer/answers.py): one computation per question
however many ask at once, failures never kept, size 0 keeps nothing."""

from __future__ import annotations

import asyncio

import pytest

from services.scoring.answer.answers import Answers


class Computation:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.release = asyncio.Event()

    async def __call__(self) -> dict[str, int]:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise ValueError("the database said no")
        return {"calls": self.calls}


async def test_concurrent_askers_share_one_computation() -> None:
    answers, compute = Answers(8), Computation()
    askers = [asyncio.create_task(answers.get(("q", 1), compute)) for _ in range(32)]
    await asyncio.sleep(0)
    compute.release.set()
    results = await asyncio.gather(*askers)
    assert compute.calls == 1
    assert all(r == {"calls": 1} for r in results)
    assert await answers.get(("q", 1), compute) == {"calls": 1}
    assert compute.calls == 1


async def test_a_failure_is_not_kept() -> None:
    answers, broken = Answers(8), Computation(fail=True)
    broken.release.set()
    for _ in range(2):
        with pytest.raises(ValueError, match="the database said no"):
            await answers.get(("q", 1), broken)
    assert broken.calls == 2
    assert len(answers) == 0


async def test_an_asker_that_gives_up_does_not_cancel_the_others() -> None:
    answers, compute = Answers(8), Computation()
    impatient = asyncio.create_task(answers.get(("q", 1), compute))
    patient = asyncio.create_task(answers.get(("q", 1), compute))
    await asyncio.sleep(0)
    impatient.cancel()
    compute.release.set()
    assert await patient == {"calls": 1}


async def test_size_zero_keeps_nothing_and_the_oldest_question_goes_first() -> None:
    off, compute = Answers(0), Computation()
    compute.release.set()
    await off.get("q", compute)
    await off.get("q", compute)
    assert compute.calls == 2
    assert len(off) == 0

    small, counted = Answers(2), Computation()
    counted.release.set()
    for key in ("a", "b", "c", "a"):
        await small.get(key, counted)
    assert counted.calls == 4  # "a" was evicted by "c"
