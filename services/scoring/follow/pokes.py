"""Pokes: an event per followed org that cuts its follower's long-poll short (a rebuild was
asked for, scores or a training finished), so it acts now rather than when the wait runs out."""

from __future__ import annotations

import asyncio


class Pokes:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def of(self, org: str) -> asyncio.Event:
        """The org's event (made if it has none yet)."""
        return self._events.setdefault(org, asyncio.Event())

    def renew(self, org: str) -> None:
        """A new event for a follower starting over (none left set by the one before)."""
        self._events[org] = asyncio.Event()

    def poke(self, org: str) -> None:
        self.of(org).set()

    def clear(self) -> None:
        """Forget every org's (a replica that starts leading again)."""
        self._events = {}
