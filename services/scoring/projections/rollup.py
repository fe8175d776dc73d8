"""Facts summed into the rows scoring keeps: per owner (rep, team, org), per day and per month.

Reads for a week sum at most 7 day rows; for a quarter or a year, 3 or 12 month rows; so a
question costs the same at a thousand events or a million.

`replay` folds a whole log in memory: what a rebuild writes, and what `as_of` answers from;
a follower folds each page with the same `fold_in` and `finish` (follow/pages.py).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from .kpis import Book, Event, Fact, Value, Win, fold

# grain, bucket, owner_kind, owner_id, team_id, product_line, tier, channel, currency, metric
RollupKey = tuple[str, date, str, str, str, str, str, str, str, str]
Rollups = dict[RollupKey, Value]

DAY, MONTH = "d", "m"


# metric, day, rep_id, team_id, product_line, tier, channel, currency
FactKey = tuple[str, date, str, str, str, str, str, str]
FactSums = dict[FactKey, Value]


def collect(sums: FactSums, facts: Iterable[Fact]) -> None:
    """Sum facts by everything but their value: one dict update per fact (the rollup rows are
    made once per distinct key, by `expand`)."""
    for f in facts:
        key = f[:-1]
        sums[key] = sums.get(key, 0) + f[-1]


def expand(sums: FactSums, rollups: Rollups | None = None) -> Rollups:
    """Fact sums → rollup rows.

    Day rows are kept once, at the finest grain: owner_kind "rep", the fact's rep (or "" when
    the event named none) and team; a team's or the org's days sum them. Month rows are kept
    for each owner (rep, team, org), so a quarter or a year of the org reads a few rows."""
    out: Rollups = {} if rollups is None else rollups
    months: dict[tuple[date, str, str, str, str, str, str, str], Value] = {}
    for (metric, day, rep, team, product_line, tier, channel, currency), value in sums.items():
        key = (DAY, day, "rep", rep, team, product_line, tier, channel, currency, metric)
        out[key] = out.get(key, 0) + value
        month_key = (day.replace(day=1), rep, team, product_line, tier, channel, currency, metric)
        months[month_key] = months.get(month_key, 0) + value
    for (month, rep, team, product_line, tier, channel, currency, metric), value in months.items():
        rows = [("org", "", "")]
        if rep:
            rows.append(("rep", rep, team))
        if team:
            rows.append(("team", team, team))
        for kind, owner, team_id in rows:
            key = (
                MONTH,
                month,
                kind,
                owner,
                team_id,
                product_line,
                tier,
                channel,
                currency,
                metric,
            )
            out[key] = out.get(key, 0) + value
    return out


def first_currency(sums: FactSums) -> str | None:
    """The currency of the first fact summed into `sums` that names one."""
    return next((key[7] for key in sums if key[7]), None)


@dataclass(slots=True)
class Replay:
    """A log folded in memory."""

    book: Book
    sums: FactSums = field(default_factory=dict)
    wins: list[Win] = field(default_factory=list)
    folded: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    voided: int = 0

    @property
    def rollups(self) -> Rollups:
        return expand(self.sums)


_SHARED = ("stream", "rep_id", "team_id")


def _intern(event: Event) -> None:
    """Make the event's stream, rep and team the one copy of each the process holds: the book
    keeps them in every lead, deal, account and profile, and each parsed event brings a new
    copy (orjson shares keys, not values). With the profiles' own values interned
    (projections/leads.py) the book of 200k events holds 77 MB instead of 90 (bench.fold),
    at no measurable cost; dict lookups by them compare by identity first."""
    intern = sys.intern
    for name in _SHARED:
        value = event.get(name)
        if value:
            event[name] = intern(value)  # type: ignore[index]


def replay(
    events: Iterable[Event], timezone: ZoneInfo, voided: AbstractSet[str] = frozenset()
) -> Replay:
    """Fold `events` from an empty book, leaving out the events whose id is in `voided`."""
    result = Replay(Book(timezone))
    feed(result, events, voided)
    return result


def feed(result: Replay, events: Iterable[Event], voided: AbstractSet[str] = frozenset()) -> None:
    """Fold more events into a replay (pages of any size give the same result)."""
    fold_in(result, events, voided)
    finish(result)


def fold_in(
    result: Replay, events: Iterable[Event], voided: AbstractSet[str] = frozenset()
) -> None:
    """`feed`'s fold, leaving the book's wins and changed keys for the caller (a follower's page
    reads which entities it changed), who then calls `finish`."""
    book = result.book
    for event in events:
        if event["event_id"] in voided:
            result.voided += 1
            continue
        _intern(event)
        facts = fold(book, event)
        if facts is None:
            result.skipped[event["type"]] += 1
            continue
        result.folded += 1
        collect(result.sums, facts)


def finish(result: Replay) -> None:
    """Take the wins folded since the last call into the replay, and forget what changed."""
    book = result.book
    result.wins.extend(book.wins)
    book.wins.clear()
    book.changed.clear()
