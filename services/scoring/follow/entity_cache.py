"""The fold's entities kept in memory between the pages of a follower that is behind.

While the follower catches up, it folds the next page while the page before is still being
written (pages.py): that fold must see the entities as the page in flight left them, which
only memory holds until that page commits. The cache holds every entity a page folded since;
the least recently folded go once their pages are committed (`trim`), down to `size`, so the
pages after find most of what they touch here rather than decode it from the database again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

Key = tuple[str, str]  # (kind, key), as the fold's Book names them


class EntityCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self.generation: int | None = None
        self._entities: dict[Key, Any] = {}  # least recently folded first

    def __len__(self) -> int:
        return len(self._entities)

    def take(self, generation: int, keys: Iterable[Key]) -> dict[Key, Any]:
        """Those of `keys` held for `generation` (none if it holds another's)."""
        if generation != self.generation:
            self.clear()
            self.generation = generation
        return {k: self._entities[k] for k in keys if k in self._entities}

    def put(self, changed: Mapping[Key, Any]) -> None:
        """The entities a page folded, as it left them (most recent last)."""
        for key, value in changed.items():
            self._entities.pop(key, None)
            self._entities[key] = value

    def drop(self, keys: Iterable[Key]) -> None:
        """Forget entities a page deleted (a correction left nothing of them): the page was
        committed before the next is folded, so the next reads their absence from the
        database."""
        for key in keys:
            self._entities.pop(key, None)

    def trim(self, in_flight: Collection[Key]) -> None:
        """Let the least recently folded go, down to `size`, keeping the entities of the page
        being written (`in_flight`): every other page is committed when this is called."""
        excess = len(self._entities) - self.size
        if excess <= 0:
            return
        for key in list(self._entities):
            if excess <= 0:
                break
            if key not in in_flight:
                del self._entities[key]
                excess -= 1

    def clear(self) -> None:
        self._entities.clear()
        self.generation = None
