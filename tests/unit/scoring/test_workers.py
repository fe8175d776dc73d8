"""The scoring service's heavy work runs in worker processes of lower priority (workers.py), and
gives there exactly what it gives in the serving process (jobs.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from salesperf.synthetic import iter_events
from services.scoring import jobs
from services.scoring.config import ScoringSettings
from services.scoring.follow.scorer import Scorer
from services.scoring.priority import scores
from services.scoring.projections.codec import encode
from services.scoring.projections.rollup import replay
from services.scoring.workers import WorkerDied, Workers, alone


def where() -> tuple[int, int]:
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0)


def die() -> None:
    os._exit(3)


@pytest.fixture
def workers() -> Iterator[Workers]:
    pool = Workers(processes=1, nice=5)
    yield pool
    pool.close()


async def test_work_runs_in_another_process_at_a_lower_priority(workers: Workers) -> None:
    pid, nice = await workers.run(where)
    assert pid != os.getpid()
    assert nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    assert await workers.run(where) == (pid, nice)  # the same worker again, not one per job


async def test_no_processes_runs_the_work_in_a_thread_here() -> None:
    assert (await Workers(processes=0, nice=5).run(where))[0] == os.getpid()


async def test_a_dead_worker_fails_its_job_and_the_next_job_gets_a_new_one(
    workers: Workers,
) -> None:
    first, _ = await workers.run(where)
    with pytest.raises(BrokenProcessPool):
        await workers.run(die)
    second, _ = await workers.run(where)
    assert second not in (first, os.getpid())


def synthetic_book():
    events = []
    for i, event in enumerate(iter_events(teams=2, reps_per_team=3, scale=0.3, seed=7)):
        recorded = event["occurred_at"]
        events.append({**event, "event_id": f"e{i}", "position": i + 1, "recorded_at": recorded})
    return replay(events, ZoneInfo("UTC")).book


async def test_scores_and_models_from_stored_states_in_a_worker_equal_those_made_here(
    workers: Workers,
) -> None:
    book = synthetic_book()
    settings = ScoringSettings(jwt_secret=SecretStr("x" * 40), min_outcomes=10)
    rules = Scorer(settings).job_rules
    models = {kind: scores.default_model(kind) for kind in scores.KINDS}
    day, utc = date(2026, 12, 4), ZoneInfo("UTC")
    prospects, customers = list(book.prospects.values()), list(book.customers.values())
    assert len(prospects) > 50
    assert any(p.outcome for p in prospects)

    here = jobs.score_org(prospects, customers, models, day, utc, "EUR", rules)
    stored = [encode(p) for p in prospects], [encode(c) for c in customers]
    there = await workers.run(jobs.score_org, *stored, models, day, utc, "EUR", rules)
    assert there == here
    assert len(here[0]) > 0
    assert len(here[1]) > 0

    now = datetime(2026, 12, 4, tzinfo=UTC)
    trained_here = jobs.train_models(prospects, now, rules)
    trained_there = await workers.run(jobs.train_models, stored[0], now, rules)
    for kind in scores.KINDS:
        assert trained_there[kind].model.to_json() == trained_here[kind].model.to_json()
        assert trained_there[kind].report == trained_here[kind].report


async def test_a_rescore_never_waits_behind_a_training() -> None:
    """A follower waits for its org's rescore; another org's training may take minutes. They run
    in pools of their own: with one pool, the rescore would finish only after the training."""
    scorer = Scorer(ScoringSettings(jwt_secret=SecretStr("x" * 40), worker_processes=1))
    try:
        training = asyncio.ensure_future(scorer.trainers.run(time.sleep, 8))
        await asyncio.sleep(0.2)
        rescore = asyncio.ensure_future(scorer.scorers.run(where))
        done, _ = await asyncio.wait({training, rescore}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {rescore}
        training.cancel()
    finally:
        scorer.close()


async def test_a_worker_ends_when_the_serving_process_is_gone() -> None:
    """A process that dies (kill -9, or an exit that never shuts its pool down) leaves no worker
    behind: CI once found dozens of them, orphaned, hours later."""
    program = (
        "import asyncio, os\n"
        "from services.scoring.workers import Workers\n"
        "async def main():\n"
        "    print(await Workers(1, 0).run(os.getpid), flush=True)\n"
        "    os._exit(0)\n"
        "asyncio.run(main())\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    worker = int(done.stdout.split()[-1])
    for _ in range(100):
        if stat_of(worker) == "Z":  # gone (or a zombie, gone but not yet reaped)
            return
        await asyncio.sleep(0.1)
    os.kill(worker, 9)
    raise AssertionError(f"worker {worker} outlived its serving process")


def stat_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


# ------------------------------------------------------------------ a process of its own


def fail() -> None:
    raise ValueError("the work failed")


def touch_and_sleep(path: str) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(60)


async def test_work_alone_runs_in_a_process_that_ends_with_it() -> None:
    pid, nice = await alone(where, nice=5)
    assert pid != os.getpid()
    assert nice == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 5)
    assert stat_of(pid) == "Z"  # gone: its memory is back with the operating system


async def test_work_alone_raises_the_work_s_error_and_a_death_as_worker_died() -> None:
    with pytest.raises(ValueError, match="the work failed"):
        await alone(fail, nice=0)
    with pytest.raises(WorkerDied, match="code 3"):
        await alone(die, nice=0)


async def test_work_alone_is_killed_when_its_caller_is_cancelled(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    task = asyncio.ensure_future(alone(touch_and_sleep, str(marker), nice=0))
    for _ in range(300):
        if marker.exists() and marker.read_text():
            break
        await asyncio.sleep(0.05)
    worker = int(marker.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stat_of(worker) == "Z"
