"""A replay's book that keeps what it has not touched for a while encoded, so a rebuild's
memory grows with what the log is busy with, not with everything it ever named.

A replay of a whole log remembers every lead, deal, account, invoice, profile and customer
it met: ~316 MB of Python objects at a million events (bench.fold). Most of them are done
with long before the replay ends (a deal closed months ago is not touched again). Each kind
of the book is a `Shelf`: a dict of the entities in use, with the packed ones beside it.
Every `sweep_pages` pages, the entities not touched since the sweep before are encoded in the
form the rebuild stores them in (codec.py: ~2.6× smaller than the objects) and let go; the
fold's next look-up of one (`get`, `[]`) decodes it back. The fold runs over dict
subclasses whose reads of an entity in use are dict's own; only `get` and writes pass
through Python, to note what was touched (tests/unit/scoring/test_packed_book.py proves the
packed replay equal to the plain one).

At the end the stored form is what is written (`stored`), and the profiles and customers are
scored in it, decoded a chunk at a time (`profiles`, jobs.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .codec import KINDS, decode, encode, encode_bytes
from .kpis import Book

SWEEP_PAGES = 32  # pages between two sweeps: what was not touched in 32–64 pages is packed


class Shelf(dict[str, Any]):
    """One kind of the book's entities: those in use as the dict's items, the packed ones in
    `packed` (a key is in one or the other). Iterating it or its length sees only those in
    use (`PackedBook` answers for all of them)."""

    __slots__ = ("kind", "packed", "touched", "unpacked")

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.packed: dict[str, bytes] = {}
        self.touched: set[str] = set()  # looked up or written since the last sweep
        self.unpacked = 0  # decoded back (how often a sweep packed one too early)

    def __missing__(self, key: str) -> Any:
        text = self.packed.pop(key)  # KeyError: not in the book at all
        value = self[key] = decode(self.kind, text)
        self.unpacked += 1
        return value

    def get(self, key: str, default: Any = None) -> Any:
        self.touched.add(key)
        try:
            return self[key]  # dict's own look-up; `__missing__` when not in use
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.packed

    def __setitem__(self, key: str, value: Any) -> None:
        self.touched.add(key)
        self.packed.pop(key, None)  # written without a look first (an invoice issued again)
        dict.__setitem__(self, key, value)

    def sweep(self) -> list[Any]:
        """Pack what was not touched since the last sweep; the values packed."""
        touched = self.touched
        cold = [key for key in self if key not in touched]
        values = [dict.pop(self, key) for key in cold]
        self.packed.update(zip(cold, map(encode_bytes, values), strict=True))
        touched.clear()
        return values


class PackedBook:
    def __init__(self, book: Book, *, sweep_pages: int = SWEEP_PAGES) -> None:
        self.shelves = {kind: Shelf(kind) for kind in KINDS}
        for kind, shelf in self.shelves.items():
            shelf.update(getattr(book, kind))
            setattr(book, kind, shelf)
        self.book = book
        self.sweep_pages = sweep_pages
        self._pages = 0
        self._closed: set[str] = set()  # leads and deals with an outcome when last packed

    @property
    def unpacked(self) -> dict[str, int]:
        return {kind: shelf.unpacked for kind, shelf in self.shelves.items()}

    def after_page(self) -> None:
        """Count a page folded; every `sweep_pages`, pack what was not touched since the last
        sweep."""
        self._pages += 1
        if self._pages % self.sweep_pages == 0:
            self.sweep()

    def sweep(self) -> None:
        prospects = self.shelves["prospects"]
        for shelf in self.shelves.values():
            packed = shelf.sweep()
            if shelf is prospects:
                for p in packed:
                    if p.outcome is None:
                        self._closed.discard(p.key)
                    else:
                        self._closed.add(p.key)

    def stored(self) -> Iterator[tuple[str, str, str]]:
        """Every entity as the rebuild stores it: (kind, key, encoded state)."""
        for kind, shelf in self.shelves.items():
            for key, value in shelf.items():
                yield kind, key, encode(value)
            for key, text in shelf.packed.items():
                yield kind, key, text.decode()

    def outcomes(self) -> int:
        """Leads and deals with an outcome."""
        shelf = self.shelves["prospects"]
        packed = sum(1 for key in self._closed if key in shelf.packed)
        return packed + sum(1 for p in shelf.values() if p.outcome is not None)

    def profiles(self, kind: str) -> list[Any]:
        """The profiles or customers: those in use as they are, the packed ones in their
        stored form (jobs.py decodes a chunk at a time as it scores them)."""
        shelf = self.shelves[kind]
        return [*shelf.values(), *shelf.packed.values()]
