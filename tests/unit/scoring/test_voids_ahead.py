"""`voids_ahead.decide`: which voids read ahead of a bulk catch-up it may apply in memory."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.scoring.follow.voids_ahead import decide


def test_voids_of_events_not_folded_yet_are_all_applied() -> None:
    voids = [(301, "a"), (305, "b")]
    assert decide(voids, {"a": 250, "b": 302}, folded_to=200) == (["a", "b"], None)


def test_a_void_of_a_folded_event_ends_the_replay_before_it_and_stops_the_rest() -> None:
    voids = [(301, "a"), (302, "old"), (303, "b")]
    assert decide(voids, {"a": 250, "old": 10, "b": 260}, folded_to=200) == (["a"], 302)


def test_the_last_folded_position_counts_as_folded() -> None:
    assert decide([(301, "a")], {"a": 200}, folded_to=200) == ([], 301)


def test_a_void_of_an_event_the_feed_does_not_show_ends_it_too() -> None:
    assert decide([(301, "a"), (302, "b")], {"b": 290}, folded_to=200) == ([], 301)


@given(
    st.lists(st.integers(min_value=1, max_value=400), max_size=30),
    st.integers(min_value=0, max_value=400),
)
def test_what_is_applied_is_the_longest_prefix_of_voids_of_events_past_the_fold(
    targets: list[int], folded_to: int
) -> None:
    voids = [(1000 + i, f"e{i}") for i in range(len(targets))]
    where = {f"e{i}": at for i, at in enumerate(targets)}
    applied, end_before = decide(voids, where, folded_to=folded_to)
    n = len(applied)
    assert applied == [target for _, target in voids[:n]]
    assert all(where[t] > folded_to for t in applied)
    if end_before is None:
        assert n == len(voids)
    else:
        assert end_before == voids[n][0]
        assert where[voids[n][1]] <= folded_to
