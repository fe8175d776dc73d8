"""The kept `as_of` replays (services/scoring/answer/replays.py): a past moment's replay is made
once however many ask, a moment too recent or a replay too large is never kept, a failure is
not kept, size 0 keeps nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.scoring.answer.replays import Replays
from services.scoring.follow.replayer import Replayed
from services.scoring.projections.kpis import Book
from services.scoring.projections.rollup import Replay
from tests.unit.scoring.helpers import BERLIN

PAST = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


class Replaying:
    """A replay of `events` events, counted, released when the test says."""

    def __init__(self, events: int = 10, fail: bool = False) -> None:
        self.calls = 0
        self.events = events
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> Replayed:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise ConnectionError("activity is down")
        return Replayed(Replay(Book(BERLIN)), "cursor", self.events, PAST)


def key(as_of: datetime = PAST, org: str = "acme") -> tuple[str, str, datetime]:
    return (org, "Europe/Berlin", as_of)


async def test_a_past_moment_is_replayed_once_however_many_ask() -> None:
    replays, replay = Replays(4, 1000), Replaying()
    replay.release.clear()
    askers = [asyncio.create_task(replays.get(key(), replay)) for _ in range(16)]
    await asyncio.sleep(0)
    replay.release.set()
    first, *others = await asyncio.gather(*askers)
    assert replay.calls == 1
    assert all(o is first for o in others)
    assert await replays.get(key(), replay) is first
    assert replay.calls == 1
    await replays.get(key(org="other"), replay)  # another org, another replay
    assert replay.calls == 2


async def test_a_moment_too_recent_is_replayed_every_time() -> None:
    """The log just before now may still be committing: such a replay is not final."""
    replays, replay = Replays(4, 1000, settle_seconds=60), Replaying()
    recent = datetime.now(UTC) - timedelta(seconds=5)
    await replays.get(key(recent), replay)
    await replays.get(key(recent), replay)
    assert replay.calls == 2
    assert len(replays) == 0


async def test_a_replay_too_large_is_not_kept_but_answers_its_askers() -> None:
    replays, replay = Replays(4, most_events=100), Replaying(events=101)
    answered = await replays.get(key(), replay)
    assert answered.position == 101
    assert len(replays) == 0
    await replays.get(key(), replay)
    assert replay.calls == 2


async def test_a_failure_is_not_kept() -> None:
    replays, broken = Replays(4, 1000), Replaying(fail=True)
    with pytest.raises(ConnectionError):
        await replays.get(key(), broken)
    assert len(replays) == 0
    broken.fail = False
    assert (await replays.get(key(), broken)).position == 10
    assert broken.calls == 2


async def test_size_zero_keeps_nothing_and_the_oldest_goes_first() -> None:
    none, replay = Replays(0, 1000), Replaying()
    await none.get(key(), replay)
    await none.get(key(), replay)
    assert replay.calls == 2
    two, replay = Replays(2, 1000), Replaying()
    for hours in (1, 2, 3):
        await two.get(key(PAST - timedelta(hours=hours)), replay)
    await two.get(key(PAST - timedelta(hours=1)), replay)  # the oldest asked: gone
    assert replay.calls == 4
