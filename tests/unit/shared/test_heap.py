"""shared/heap.py: what a service's start-up leaves the cyclic collector doing."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared import heap


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def test_start_up_is_frozen_and_full_collections_are_a_hundred_times_rarer(
    collector: None,
) -> None:
    young, middle, _ = gc.get_threshold()
    kept = [[i] for i in range(1000)]  # what start-up allocated: lives as long as the process
    heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (young, middle, heap.FULL_EVERY)
    assert heap.FULL_EVERY == 100 * 10  # against CPython's default of 10
