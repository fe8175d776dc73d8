"""The kept `as_of` replays (services/scoring/answer/replays.py): a moment's replay is made once
however many ask; a replay that did not end past its moment (the log may still grow up to it)
or too large is never kept, a failure is not kept, a replay nobody waits for any more is
stopped, size 0 keeps nothing."""

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

    def __init__(self, events: int = 10, fail: bool = False, *, final: bool = True) -> None:
        self.calls = 0
        self.events = events
        self.fail = fail
        self.final = final
        self.stopped = False
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> Replayed:
        self.calls += 1
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.stopped = True
            raise
        if self.fail:
            raise ConnectionError("activity is down")
        return Replayed(Replay(Book(BERLIN)), "cursor", self.events, PAST, self.final)


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


async def test_a_replay_that_did_not_end_past_its_moment_is_not_kept() -> None:
    """Nothing recorded after the moment was met: events recorded up to it may still come."""
    replays, replay = Replays(4, 1000), Replaying(final=False)
    await replays.get(key(), replay)
    await replays.get(key(), replay)
    assert replay.calls == 2
    assert len(replays) == 0


async def test_a_replay_nobody_waits_for_is_stopped() -> None:
    replays, replay = Replays(4, 1000), Replaying()
    replay.release.clear()
    askers = [asyncio.create_task(replays.get(key(), replay)) for _ in range(3)]
    await asyncio.sleep(0.01)
    askers[0].cancel()
    await asyncio.sleep(0.01)
    assert not replay.stopped  # two still wait
    for asker in askers[1:]:
        asker.cancel()
    await asyncio.gather(*askers, return_exceptions=True)
    await asyncio.sleep(0.01)
    assert replay.stopped
    assert len(replays) == 0
    replay.release.set()
    assert (await replays.get(key(), replay)).position == 10  # asked again: replayed again
    assert replay.calls == 2


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
