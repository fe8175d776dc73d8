"""Corrections: a void takes its event back out of the projection without replaying the org.

A fold of one event reads and writes only the entities the event names, and the ones those
lead to (a deal's account, an invoice's deal, a deal's lead). So the events *about* a set of
entities that is closed — every event about one of them names only entities of the set — fold
to exactly the same entity states and facts on their own as they do inside the whole log. That
set is a void's *slice*: for a visit, its account's (or lead's) events and those of the leads,
deals and invoices tied to it; never more than one customer's history, whatever the org's size.

To correct, the slice is folded twice from an empty book, once with the voids already applied
and once with the new ones too; the difference of the two is what the projection must change:
fact sums (added to the rollups, negative where the voided event counted), entity states
(replaced, or deleted when nothing is left of them), wins of the slice's deals (replaced), and
the counters. Both folds run the same code as every other fold, so there is one definition of
every metric, and the result is exactly a clean replay of the log without the voided events
(tests/unit/scoring/test_corrections.py compares the two over random logs).

`gather` finds the slice by asking activity for the events about the entities found so far
(the feed's `about` filter, which follows the same naming rule as `names`) until no new entity
turns up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from ..projections.codec import KINDS
from ..projections.kpis import Event, Value, Win
from ..projections.rollup import FactSums, replay
from .voids_ahead import VOID

# Entities per request: activity takes at most 500 in `about`, and a query string of at most
# 8 KB (each entity costs its length, encoded, and a comma).
ABOUT_ENTITIES, ABOUT_BYTES = 500, 6000

# (entities) → the events about any of them, in log order
Fetch = Callable[[list[str]], AsyncIterator[Event]]


def names(event: Event) -> set[str]:
    """The entities an event is about, as activity's `about` filter names them: its stream
    (`account-X` → `account:X`, `deal-D` → `deal:D`, `lead-L` → `lead:L`) and the
    `account_id`, `deal_id`, `lead_id` and `invoice_id` of its data."""
    kind, _, key = event["stream"].partition("-")
    found = {f"{kind}:{key}"}
    data = event.get("data") or {}
    for field_name, entity in (
        ("account_id", "account"),
        ("deal_id", "deal"),
        ("lead_id", "lead"),
        ("invoice_id", "invoice"),
    ):
        value = data.get(field_name)
        if isinstance(value, str) and value:
            found.add(f"{entity}:{value}")
    return found


def seeds(voids: Iterable[Event]) -> set[str]:
    """Where the slices of these voids start: the stream of each (a void is logged on its
    event's stream, so the first request finds the voided event and what it names)."""
    return {name for void in voids for name in names({"stream": void["stream"]})}


async def gather(fetch: Fetch, start: set[str], *, until: int, cap: int) -> list[Event] | None:
    """The slice around `start`: every event up to position `until` about an entity of the
    closed set that contains `start`, in log order; None when it holds more than `cap` events
    (a customer with that much history is rebuilt instead)."""
    found: dict[int, Event] = {}
    known: set[str] = set()
    frontier = set(start)
    while frontier:
        known |= frontier
        more: set[str] = set()
        for batch in batches(sorted(frontier)):
            async for event in fetch(batch):
                position: int = event["position"]
                if position > until:
                    break
                if position in found:
                    continue
                found[position] = event
                if len(found) > cap:
                    return None
                more |= names(event)
        frontier = more - known
    return [found[p] for p in sorted(found)]


def batches(entities: list[str]) -> list[list[str]]:
    """`entities` cut into requests activity takes (`ABOUT_ENTITIES`, `ABOUT_BYTES`)."""
    out: list[list[str]] = []
    size = 0
    for entity in entities:
        cost = len(quote(entity, safe="")) + 3  # and the encoded comma
        if not out or len(out[-1]) >= ABOUT_ENTITIES or size + cost > ABOUT_BYTES:
            out.append([])
            size = 0
        out[-1].append(entity)
        size += cost
    return out


@dataclass(slots=True)
class Correction:
    """What taking the new voids out changes in the projection (see the module's docstring)."""

    sums: FactSums = field(default_factory=dict)  # fact sums to add (negative: taken out)
    entities: dict[tuple[str, str], Any] = field(default_factory=dict)  # (kind, key) → new state
    removed: set[tuple[str, str]] = field(default_factory=set)  # nothing left of them
    deals: set[str] = field(default_factory=set)  # whose wins `wins` replaces
    wins: list[Win] = field(default_factory=list)
    folded: int = 0  # change in events folded (≤ 0)
    voided: int = 0  # events newly left out
    skipped: dict[str, int] = field(default_factory=dict)  # change in events skipped, by type
    events: int = 0  # the slice's size
    # The prospects it changes or takes out, as they were before it.
    prior: dict[str, Any] = field(default_factory=dict)

    def prospects_removed(self) -> set[str]:
        return {key for kind, key in self.removed if kind == "prospects"}

    def customers_removed(self) -> set[str]:
        return {key for kind, key in self.removed if kind == "customers"}


def correct(events: Sequence[Event], timezone: ZoneInfo, *, since: int) -> Correction:
    """The correction for a slice (`gather`'s, up to the end of the page just folded) whose
    voids at positions from `since` on are new: the ones before are already applied."""
    voids = [e for e in events if e["type"] == VOID]
    applied = frozenset(e["data"]["voided_event_id"] for e in voids if e["position"] < since)
    every = frozenset(e["data"]["voided_event_id"] for e in voids)
    before, after = replay(events, timezone, applied), replay(events, timezone, every)
    out = Correction(events=len(events))
    for key in before.sums.keys() | after.sums.keys():
        change: Value = after.sums.get(key, 0) - before.sums.get(key, 0)
        if change:
            out.sums[key] = change
    for kind in KINDS:
        old, new = getattr(before.book, kind), getattr(after.book, kind)
        out.entities.update(((kind, k), v) for k, v in new.items() if old.get(k) != v)
        out.removed.update((kind, k) for k in old.keys() - new.keys())
        if kind == "prospects":
            out.prior = {k: v for k, v in old.items() if new.get(k) != v}
    out.deals = {w.deal for w in (*before.wins, *after.wins)}
    out.wins = list(after.wins)
    out.folded = after.folded - before.folded
    out.voided = after.voided - before.voided
    for kind in before.skipped.keys() | after.skipped.keys():
        change = after.skipped.get(kind, 0) - before.skipped.get(kind, 0)
        if change:
            out.skipped[kind] = change
    return out
