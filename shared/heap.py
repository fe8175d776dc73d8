"""The cyclic garbage collector, set for a long-lived service process.

Almost everything a service allocates is freed by reference counting the moment it is dropped;
the cyclic collector is only for the rare cycle. With CPython's defaults it still walks every
object it tracks again and again: a full collection whenever the objects that survived two
younger ones reach a quarter of those it already holds. A follower catching up keeps a page of
events, the entities it folds and the keys it has yet to score alive across collections, so
they keep reaching that quarter: in scoring's live fold of a 1M-event log (bench/scoring.py),
full collections of ~0.2 s each took a fifth of the process's time, and the fold ran 15 % faster
without them (3,051 → 3,523 events/s, measured back to back; README, "Live folding at 1M").

`settle()`, at the end of a service's start-up:
- freezes what start-up allocated (modules, settings, pools: it lives as long as the process),
  so no collection walks it again;
- keeps the young generations as CPython sets them (cheap, frequent: they collect what the
  requests and pages leave in cycles), and makes a full collection a hundred times rarer.
A cycle that reaches the oldest generation waits longer to be freed: the cost is memory held a
little longer, not memory lost.
"""

from __future__ import annotations

import gc

# Collections of the middle generation between two full ones (CPython's default: 10).
FULL_EVERY = 1000


def settle() -> None:
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY)
