"""The feed's `ids` filter, parsed without a database (the HTTP answers: tests/api/activity/
test_feed_ids.py)."""

from __future__ import annotations

import uuid

import pytest

from services.activity.domain import MAX_IDS, parse_ids
from services.activity.exceptions import IdsInvalid, IdsNameNothing, IdsTooLong

A, B = uuid.uuid4(), uuid.uuid4()


def test_without_ids_there_is_no_filter() -> None:
    assert parse_ids(None) is None


def test_each_id_once_in_the_order_first_named_blanks_skipped() -> None:
    assert parse_ids(f" {B} ,,{A},{B},") == (B, A)


def test_ids_are_read_in_any_case_and_count_once() -> None:
    assert parse_ids(f"{str(A).upper()},{A}") == (A,)
    twice = ",".join(f"{u},{str(u).upper()}" for u in (uuid.uuid4() for _ in range(MAX_IDS)))
    assert len(parse_ids(twice) or ()) == MAX_IDS


def test_every_entry_that_is_no_uuid_is_named() -> None:
    with pytest.raises(IdsInvalid) as caught:
        parse_ids(f"{A},nope,{B},12")
    assert [(e.field, e.code, e.location) for e in caught.value.errors] == [
        ("ids", "uuid_parsing", "query"),
        ("ids", "uuid_parsing", "query"),
    ]
    assert "'nope'" in caught.value.errors[0].message


def test_an_empty_list_and_too_many_are_refused() -> None:
    with pytest.raises(IdsNameNothing):
        parse_ids(" , ")
    many = ",".join(str(uuid.uuid4()) for _ in range(MAX_IDS + 1))
    with pytest.raises(IdsTooLong):
        parse_ids(many)
    assert len(parse_ids(",".join(str(uuid.uuid4()) for _ in range(MAX_IDS))) or ()) == MAX_IDS
