"""Facts summed into the rows scoring keeps: per owner (rep, team, org), per day and per month.

Reads for a week sum at most 7 day rows; for a quarter or a year, 3 or 12 month rows; so a
question costs the same at a thousand events or a million.

`replay` folds a whole log in memory: what a rebuild writes, and what `as_of` answers from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from .kpis import Book, Event, Fact, Value, Win, fold

# grain, bucket, owner_kind, owner_id, team_id, product_line, tier, channel, currency, metric
RollupKey = tuple[str, date, str, str, str, str, str, str, str, str]
Rollups = dict[RollupKey, Value]

DAY, MONTH = "d", "m"


def owners(fact: Fact) -> Iterator[tuple[str, str, str]]:
    """(owner_kind, owner_id, team_id) rows a fact adds to."""
    if fact.rep_id:
        yield "rep", fact.rep_id, fact.team_id
    if fact.team_id:
        yield "team", fact.team_id, fact.team_id
    yield "org", "", ""


def add(rollups: Rollups, facts: Iterable[Fact]) -> None:
    for f in facts:
        month = f.day.replace(day=1)
        for kind, owner, team in owners(f):
            for grain, bucket in ((DAY, f.day), (MONTH, month)):
                key = (grain, bucket, kind, owner, team, f.product_line, f.tier, f.channel,
                       f.currency, f.metric)  # fmt: skip
                rollups[key] = rollups.get(key, 0) + f.value


@dataclass(slots=True)
class Replay:
    """A log folded in memory."""

    book: Book
    rollups: Rollups = field(default_factory=dict)
    wins: list[Win] = field(default_factory=list)
    folded: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    voided: int = 0


def replay(
    events: Iterable[Event], timezone: ZoneInfo, voided: frozenset[str] = frozenset()
) -> Replay:
    """Fold `events` from an empty book, leaving out the events whose id is in `voided`."""
    result = Replay(Book(timezone))
    feed(result, events, voided)
    return result


def feed(result: Replay, events: Iterable[Event], voided: frozenset[str] = frozenset()) -> None:
    """Fold more events into a replay (pages of any size give the same result)."""
    book = result.book
    for event in events:
        if event["event_id"] in voided:
            result.voided += 1
            continue
        facts = fold(book, event)
        if facts is None:
            result.skipped[event["type"]] += 1
            continue
        result.folded += 1
        add(result.rollups, facts)
    result.wins.extend(book.wins)
    book.wins.clear()
    book.changed.clear()
