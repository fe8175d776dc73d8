"""How orgs are shared out among scoring replicas (services/scoring/follow/leases.py)."""

from __future__ import annotations

import pytest

from services.scoring.follow import leases

ORGS = [f"org-{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("orgs", "replicas", "cap", "expected"),
    [
        (10, 1, None, 10),
        (10, 2, None, 5),
        (10, 3, None, 4),
        (1, 2, None, 1),
        (0, 2, None, 0),
        (10, 1, 3, 3),
        (10, 0, None, 10),
    ],
)
def test_a_replica_takes_the_orgs_divided_among_the_replicas_rounded_up_and_capped(
    orgs: int, replicas: int, cap: int | None, expected: int
) -> None:
    assert leases.share(orgs, replicas, cap) == expected


def test_keys_are_stable_non_negative_31_bit_numbers() -> None:
    assert leases.key("org-acme") == leases.key("org-acme")
    assert {leases.key(o) for o in ORGS} == {leases.key(o) for o in reversed(ORGS)}
    assert all(0 <= leases.key(o) < 2**31 for o in ORGS)
    assert len({leases.key(o) for o in ORGS}) == len(ORGS)


def test_two_replicas_reach_for_different_orgs_first() -> None:
    first = leases.to_take("replica-a", ORGS, set(), set(), 5)
    second = leases.to_take("replica-b", ORGS, set(), set(), 5)
    assert len(first) == len(second) == 5
    assert first != second  # the same list would have them race for every org


def test_orgs_held_here_or_by_another_replica_are_not_tried() -> None:
    mine = {"org-1", "org-2"}
    theirs = {leases.key("org-3"), leases.key("org-4")}
    tried = leases.to_take("replica-a", ORGS, mine, theirs, 10)
    assert sorted(tried) == sorted(set(ORGS) - {"org-1", "org-2", "org-3", "org-4"})
    assert leases.to_take("replica-a", ORGS, mine, theirs, 0) == []
    assert leases.to_take("replica-a", ORGS, mine, theirs, -2) == []


def test_past_its_share_a_replica_lets_go_of_the_orgs_it_ranks_last() -> None:
    held = set(ORGS)
    released = leases.to_release("replica-a", held, 6)
    assert len(released) == 4
    assert set(released) == set(leases.preferred("replica-a", ORGS)[6:])
    assert leases.to_release("replica-a", held, 10) == []
    assert leases.to_release("replica-a", held, 12) == []
    # What it keeps is what it would take first: a replica does not trade orgs back and forth.
    kept = held - set(released)
    assert set(leases.preferred("replica-a", ORGS)[:6]) == kept
