"""Cursors (shared/pagination.py): opaque, and bound to the org that was given them."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from shared import pagination
from shared.errors import InvalidInput
from shared.pagination import (
    configure_cursors,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    encode_keyset,
)


def legacy(position: int) -> str:
    """A cursor as activity made them before they were opaque."""
    return base64.urlsafe_b64encode(f"v1.{position}".encode()).decode().rstrip("=")


def named(exc: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [e.field for e in exc.value.errors or []]


@pytest.fixture
def another_secret() -> Iterator[None]:
    kept = pagination._sealer
    configure_cursors("another-deployment-" + "z" * 32)
    yield
    pagination._sealer = kept


class TestACursorRevealsNothing:
    def test_the_position_cannot_be_read_from_it(self) -> None:
        cursor = encode_cursor(123456, "org-a")
        raw = base64.urlsafe_b64decode(cursor.removeprefix("c2.") + "==")
        assert b"123456" not in raw
        assert b"v1." not in raw
        assert "123456" not in cursor

    def test_neighbouring_positions_share_nothing_but_the_prefix(self) -> None:
        one, two = encode_cursor(1000, "org-a"), encode_cursor(1001, "org-a")
        assert one[3:7] != two[3:7]

    def test_the_same_position_in_two_orgs_gives_two_cursors(self) -> None:
        assert encode_cursor(5, "org-a") != encode_cursor(5, "org-b")

    def test_a_cursor_is_stable(self) -> None:
        assert encode_cursor(42, "org-a") == encode_cursor(42, "org-a")

    def test_it_round_trips_in_its_own_org(self) -> None:
        for position in (0, 1, 2**40, pagination.MAX_POSITION):
            assert decode_cursor(encode_cursor(position, "org-a"), "org-a") == position


class TestCursorsOfTheGlobalNumbering:
    """Feed cursors sealed while positions were global (before 20261215_activity_org_positions
    numbered each org's log 1, 2, 3…) hold a number of the old numbering: refused, not misread."""

    def test_one_is_refused_and_stale(self) -> None:
        old = pagination._seal("org-a", b"p", (7).to_bytes(8, "big"))
        with pytest.raises(InvalidInput) as exc:
            decode_cursor(old, "org-a", field="after")
        assert named(exc) == ["after"]
        assert pagination.is_stale(old, "org-a")
        assert not pagination.is_current(old, "org-a")


class TestACursorWorksOnlyInItsOrg:
    def test_another_org_s_feed_cursor_is_refused_naming_the_parameter(self) -> None:
        with pytest.raises(InvalidInput) as exc:
            decode_cursor(encode_cursor(7, "org-a"), "org-b", field="after")
        assert named(exc) == ["after"]

    def test_another_org_s_keyset_cursor_is_refused(self) -> None:
        cursor = encode_keyset("g1", ["2026-01-01", "x"], "org-a")
        assert decode_keyset("g1", cursor, 2, "org-a") == ["2026-01-01", "x"]
        with pytest.raises(InvalidInput) as exc:
            decode_keyset("g1", cursor, 2, "org-b")
        assert named(exc) == ["cursor"]

    def test_a_cursor_of_another_list_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            decode_keyset("k1", encode_keyset("g1", ["a", "b"], "org-a"), 2, "org-a")
        with pytest.raises(InvalidInput):
            decode_cursor(encode_keyset("p", ["a"], "org-a"), "org-a")

    def test_a_damaged_cursor_is_refused(self) -> None:
        cursor = encode_cursor(7, "org-a")
        flipped = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
        with pytest.raises(InvalidInput):
            decode_cursor(flipped, "org-a")

    def test_a_cursor_of_another_deployment_is_refused(self, another_secret: None) -> None:
        cursor = encode_cursor(7, "org-a")
        configure_cursors("yet-another-deployment-" + "y" * 32)
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, "org-a")


class TestTheOldReadableFormIsReadOnlyWhereItWasStored:
    def test_it_is_refused_by_default(self) -> None:
        with pytest.raises(InvalidInput) as exc:
            decode_cursor(legacy(99), "org-a")
        assert named(exc) == ["after"]

    def test_it_is_read_when_asked_for(self) -> None:
        assert decode_cursor(legacy(99), "org-a", legacy=True) == 99
        assert decode_cursor(encode_cursor(99, "org-a"), "org-a", legacy=True) == 99
        with pytest.raises(InvalidInput):
            decode_cursor(encode_cursor(99, "org-b"), "org-a", legacy=True)
