"""Which orgs a scoring replica folds: a lease per org, shared out among the live replicas.

Every consuming replica holds, on one connection of its own, a shared advisory lock that says
it is alive (so each can count the others) and one exclusive advisory lock per org it folds,
keyed by `key(org)`. PostgreSQL drops them all with the connection: a replica that dies (or
loses its database) frees its orgs, and the others take them at their next look. Which org
goes where is decided here, in plain functions:

- each replica takes at most its `share`: the orgs divided by the live replicas, rounded up,
  and never more than its own cap;
- it tries the free orgs in its own order (rendezvous hashing on the replica's id), so
  replicas starting together reach for different orgs instead of racing for the same ones;
- holding more than its share (a replica joined), it lets go of the orgs it ranks last, and
  the newcomer takes them at its next look.

A lease is a performance device, not what makes folding exact: the cursor's compare-and-set
is. Two replicas that both believe they hold an org (a connection lost mid-page) cannot apply
a page twice.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Iterable


def key(org: str) -> int:
    """The org's advisory-lock key: stable across processes and Python versions (crc32, not
    `hash`), non-negative so it reads back from `pg_locks.objid` as it was given. Two orgs that
    share a key share a lease: harmless, one replica then folds both."""
    return zlib.crc32(org.encode()) & 0x7FFF_FFFF


def share(orgs: int, replicas: int, cap: int | None = None) -> int:
    """How many orgs one of `replicas` live replicas takes."""
    fair = math.ceil(orgs / max(1, replicas))
    return fair if cap is None else min(fair, cap)


def _rank(replica: str, org: str) -> bytes:
    return hashlib.blake2b(f"{replica}\0{org}".encode(), digest_size=8).digest()


def preferred(replica: str, orgs: Iterable[str]) -> list[str]:
    """`orgs` in the order this replica reaches for them (and keeps them)."""
    return sorted(orgs, key=lambda org: _rank(replica, org))


def to_take(
    replica: str, orgs: Iterable[str], held: set[str], taken: set[int], room: int
) -> list[str]:
    """The orgs this replica tries to lease, at most `room` of them: those not held here whose
    key no other replica holds (`taken`; a key this replica holds is free to it, since its
    locks stack)."""
    free = [org for org in orgs if org not in held and key(org) not in taken]
    return preferred(replica, free)[: max(0, room)]


def to_release(replica: str, held: Iterable[str], limit: int) -> list[str]:
    """The orgs past `limit` that this replica lets go of: the ones it ranks last."""
    return preferred(replica, held)[max(0, limit) :]
