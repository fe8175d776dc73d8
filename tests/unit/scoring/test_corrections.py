"""A void's correction (follow/corrections.py) against a clean replay of the log without the
voided events, over random logs: out-of-order events, back-dated closes, tier changes, invoices
and payments in two currencies, voids applied earlier and new ones, several in one page.

The store is what the consumer keeps: the fold of the log up to the end of the page, with the
voids before the page applied. The correction is computed from the slice `gather` finds (the
in-memory `fetch` answers as activity's `about` filter does) and applied as the consumer writes
it; the result must be the clean replay's, to the last fact, entity and win.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from services.scoring.follow.corrections import (
    ABOUT_BYTES,
    ABOUT_ENTITIES,
    VOID,
    batches,
    correct,
    gather,
    names,
    seeds,
)
from services.scoring.projections.rollup import FactSums, replay
from tests.unit.scoring.helpers import BERLIN, Event
from tests.unit.scoring.test_fold_laws import LAW, entities, follow_up_logs, logs, renumbered


def memory_fetch(log: list[Event]):  # type: ignore[no-untyped-def]
    def fetch(about: list[str]) -> AsyncIterator[Event]:
        wanted = set(about)

        async def events() -> AsyncIterator[Event]:
            for event in log:
                if names(event) & wanted:
                    yield event

        return events()

    return fetch


def void_of(target: Event, n: int) -> Event:
    return {
        "event_id": f"void-{n}-{target['event_id']}",
        "type": VOID,
        "org_id": target["org_id"],
        "stream": target["stream"],
        "stream_version": 0,
        "position": 0,
        "rep_id": None,
        "team_id": None,
        "occurred_at": target["occurred_at"],
        "recorded_at": target["recorded_at"],
        "schema_version": 1,
        "data": {"voided_event_id": target["event_id"]},
        "metadata": {},
    }


def nonzero(sums: FactSums) -> FactSums:
    return {k: v for k, v in sums.items() if v}


@st.composite
def corrected_logs(draw: st.DrawFn) -> tuple[list[Event], int, set[str], set[str]]:
    """(the log, the position the page starts at, voids applied before it, voids in it)."""
    base = draw(st.one_of(logs(), follow_up_logs()))
    cut = draw(st.integers(0, len(base)))
    prefix, rest = base[:cut], base[cut:]
    earlier = (
        draw(st.lists(st.sampled_from(prefix), unique_by=lambda e: e["event_id"], max_size=3))
        if prefix
        else []
    )
    done = {e["event_id"] for e in earlier}
    candidates = [e for e in base if e["event_id"] not in done]
    new = (
        draw(
            st.lists(
                st.sampled_from(candidates),
                unique_by=lambda e: e["event_id"],
                min_size=1,
                max_size=3,
            )
        )
        if candidates
        else []
    )
    page = rest + [void_of(e, 2) for e in new]
    log = renumbered(prefix + [void_of(e, 1) for e in earlier] + page)
    since = len(log) - len(page) + 1
    return log, since, done, {e["event_id"] for e in new}


class TestCorrection:
    @LAW
    @given(case=corrected_logs())
    def test_a_correction_leaves_what_a_clean_replay_without_the_voided_events_makes(self, case):
        log, since, earlier, new = case
        store = replay(log, BERLIN, frozenset(earlier))  # as the consumer keeps it
        page_voids = [e for e in log if e["type"] == VOID and e["position"] >= since]
        slice_ = asyncio.run(
            gather(memory_fetch(log), seeds(page_voids), until=len(log), cap=10**9)
        )
        assert slice_ is not None
        fix = correct(slice_, BERLIN, since=since)

        sums = dict(store.sums)
        for key, value in fix.sums.items():
            sums[key] = sums.get(key, 0) + value
        books = entities(store.book)
        for (kind, key), value in fix.entities.items():
            books[kind][key] = value
        for kind, key in fix.removed:
            del books[kind][key]
        wins = {w.deal: w for w in store.wins if w.deal not in fix.deals}
        wins |= {w.deal: w for w in fix.wins}

        clean = replay(log, BERLIN, frozenset(earlier | new))
        assert nonzero(sums) == nonzero(clean.sums)
        assert books == entities(clean.book)
        assert wins == {w.deal: w for w in clean.wins}
        assert store.folded + fix.folded == clean.folded
        assert store.voided + fix.voided == clean.voided == len(earlier | new)
        skipped: dict[str, Any] = dict(store.skipped)
        for kind, change in fix.skipped.items():
            skipped[kind] = skipped.get(kind, 0) + change
        assert {k: v for k, v in skipped.items() if v} == {
            k: v for k, v in clean.skipped.items() if v
        }

    @LAW
    @given(case=corrected_logs())
    def test_the_slice_is_closed_and_holds_the_voided_events(self, case):
        """Every event of the log about an entity the slice names is in it; so are the voided
        events and their voids."""
        log, since, _, new = case
        page_voids = [e for e in log if e["type"] == VOID and e["position"] >= since]
        slice_ = asyncio.run(
            gather(memory_fetch(log), seeds(page_voids), until=len(log), cap=10**9)
        )
        assert slice_ is not None
        inside = {e["position"] for e in slice_}
        named = set().union(*(names(e) for e in slice_)) if slice_ else set()
        assert {e["position"] for e in log if names(e) & named} == inside
        assert new <= {e["event_id"] for e in slice_}
        assert [e["position"] for e in slice_] == sorted(inside)


def test_a_slice_past_the_cap_is_refused() -> None:
    visit = {"type": "visit.logged", "stream": "account-acc-1", "data": {}}
    log = renumbered([{**visit, "event_id": f"e{i}"} for i in range(5)])
    assert asyncio.run(gather(memory_fetch(log), {"account:acc-1"}, until=5, cap=4)) is None
    found = asyncio.run(gather(memory_fetch(log), {"account:acc-1"}, until=3, cap=4))
    assert [e["position"] for e in found or []] == [1, 2, 3]


def test_names_follow_the_stream_and_the_ids_an_event_carries() -> None:
    event = {
        "stream": "account-acc-7",
        "data": {"deal_id": "D-1", "invoice_id": "I-9", "account_id": "acc-8", "lead_id": None},
    }
    assert names(event) == {"account:acc-7", "account:acc-8", "deal:D-1", "invoice:I-9"}
    assert names({"stream": "lead-L-2-a", "data": {}}) == {"lead:L-2-a"}


def test_requests_stay_within_what_activity_takes() -> None:
    """At most 500 entities, and a query string activity accepts (8 KB) with long ids."""
    entities = [f"account:{'x' * 120}-{i}" for i in range(300)] + [f"lead:L{i}" for i in range(900)]
    cut = batches(entities)
    assert [e for batch in cut for e in batch] == entities
    for batch in cut:
        assert len(batch) <= ABOUT_ENTITIES
        assert len(urlencode({"about": ",".join(batch)})) <= ABOUT_BYTES + 10
