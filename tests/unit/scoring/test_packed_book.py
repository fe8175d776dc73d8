"""A rebuild's packed book (projections/packed.py) against the plain replay, over random logs:
whatever was packed and when, the replay's rollups, wins and every entity are the plain
replay's, and what it stores and scores is what the plain book would give."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.scoring.projections.codec import KINDS, decode, encode
from services.scoring.projections.kpis import Book, Lead
from services.scoring.projections.packed import PackedBook, Shelf
from services.scoring.projections.rollup import Replay, feed, replay
from tests.unit.scoring.helpers import BERLIN
from tests.unit.scoring.test_fold_laws import ANY_LOG, LAW, entities, pages


def packed_replay(data: st.DataObject, events: list) -> tuple[Replay, PackedBook]:
    """`events` in random pages, each followed by none, one or two sweeps."""
    paged = data.draw(pages(events))
    sweeps = data.draw(st.lists(st.integers(0, 2), min_size=len(paged), max_size=len(paged)))
    result = Replay(Book(BERLIN))
    book = PackedBook(result.book, sweep_pages=1_000_000)
    for page, times in zip(paged, sweeps, strict=True):
        feed(result, page)
        for _ in range(times):  # twice in a row packs everything
            book.sweep()
    return result, book


def all_entities(book: PackedBook) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {kind: {} for kind in KINDS}
    for kind, key, state in book.stored():
        assert key not in found[kind], (kind, key)
        found[kind][key] = decode(kind, state)
    return found


@LAW
@given(data=st.data(), events=ANY_LOG)
def test_a_packed_replay_is_the_plain_replay(data, events):
    result, book = packed_replay(data, events)
    whole = replay(events, BERLIN)
    assert result.rollups == whole.rollups
    assert result.wins == whole.wins
    assert (result.folded, dict(result.skipped)) == (whole.folded, dict(whole.skipped))
    assert all_entities(book) == entities(whole.book)
    plain = whole.book.prospects.values()
    assert book.outcomes() == sum(1 for p in plain if p.outcome is not None)


@LAW
@given(data=st.data(), events=ANY_LOG)
def test_what_is_stored_and_scored_is_what_the_plain_book_gives(data, events):
    _, book = packed_replay(data, events)
    whole = replay(events, BERLIN).book
    stored = {(kind, key): state for kind, key, state in book.stored()}
    assert stored == {
        (kind, key): encode(value) for kind in KINDS for key, value in getattr(whole, kind).items()
    }
    for kind in ("prospects", "customers"):
        given_ = [decode(kind, p) if isinstance(p, bytes) else p for p in book.profiles(kind)]
        assert sorted(given_, key=repr) == sorted(getattr(whole, kind).values(), key=repr)


def test_a_shelf_answers_for_what_it_packed() -> None:
    shelf = Shelf("leads")
    lead = Lead("rep-1", "team-1", "web", "acc-1", None)
    shelf["lead-1"] = lead
    assert shelf.sweep() == []  # touched since the last sweep: kept
    assert shelf.sweep() == [lead]  # not touched since: packed
    assert dict(shelf) == {}
    assert set(shelf.packed) == {"lead-1"}
    assert "lead-1" in shelf
    assert "lead-2" not in shelf
    assert shelf.get("lead-2") is None
    assert shelf.get("lead-2", lead) is lead
    assert shelf.get("lead-1") == lead  # decoded back, in use again
    assert dict(shelf) == {"lead-1": lead}
    assert shelf.packed == {}
    assert shelf.unpacked == 1
    shelf.sweep()
    shelf.sweep()
    assert shelf["lead-1"] == lead  # `[]` decodes it back too
    with pytest.raises(KeyError):
        shelf["lead-2"]


def test_a_packed_entity_written_without_a_look_is_not_kept_twice() -> None:
    shelf = Shelf("leads")
    old, new = (Lead(rep, "team-1", "web", "acc-1", None) for rep in ("rep-1", "rep-2"))
    shelf["lead-1"] = old
    shelf.sweep()
    shelf.sweep()
    shelf["lead-1"] = new  # e.g. an invoice issued again: put, never read
    assert shelf.packed == {}
    assert shelf.get("lead-1") == new
    book = PackedBook(Book(BERLIN))
    book.shelves["invoices"]["I1"] = old
    book.sweep()
    book.sweep()
    book.shelves["invoices"]["I1"] = new
    assert [(kind, key) for kind, key, _ in book.stored()] == [("invoices", "I1")]
