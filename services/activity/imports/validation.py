"""A chunk of imported records, validated as `POST /v1/events` validates one event.

The whole chunk goes through pydantic-core in one call (a JSON array made of the NDJSON lines,
or the list of CSV/Parquet rows), with the same discriminated union of envelopes the API uses:
one definition of a valid event. A chunk that holds a bad record is validated again one record
at a time, which names each bad record exactly (an NDJSON line such as `{…}, {…}` would shift
the indices of a whole-array error), so only a chunk with errors pays for a second pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from shared.auth import Principal
from shared.errors import DomainError, FieldError, field_error, validation_problem
from shared.events import NewEvent, new_event_adapter

from ..domain import Candidate, prepare
from .formats import Record

_many: TypeAdapter[list[NewEvent]] = TypeAdapter(list[NewEvent])


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record refused, with its field errors (fields as a JSON body would name them)."""

    number: int
    event_id: str | None
    errors: list[FieldError]


@dataclass(frozen=True, slots=True)
class Validated:
    candidates: list[tuple[int, Candidate]]
    rejected: list[Rejection]


def validate(records: list[Record], principal: Principal) -> Validated:
    """Each readable record as a `Candidate` the principal may write, or its rejection."""
    rejected = [
        Rejection(r.number, _event_id(r.raw), [field_error("row", r.problem, "unreadable")])
        for r in records
        if r.problem is not None
    ]
    readable = [r for r in records if r.problem is None]
    parsed = _all_at_once(readable)
    if parsed is None:
        parsed = []
        for record in readable:
            try:
                parsed.append((record, _one(record.raw)))
            except ValidationError as exc:
                problem = validation_problem([dict(e) for e in exc.errors(include_url=False)])
                errors = [  # the whole record (not JSON) is the row, not a request body
                    e.model_copy(update={"field": "row"}) if e.field == "body" else e
                    for e in problem.errors or []
                ]
                rejected.append(Rejection(record.number, _event_id(record.raw), errors))
    candidates: list[tuple[int, Candidate]] = []
    for record, event in parsed:
        try:
            candidates.append((record.number, prepare(principal, event)))
        except DomainError as exc:
            rejected.append(Rejection(record.number, str(event.event_id), exc.errors or []))
    rejected.sort(key=lambda r: r.number)
    return Validated(candidates, rejected)


def _all_at_once(records: list[Record]) -> list[tuple[Record, Any]] | None:
    """Every record validated in one call; None if any is refused."""
    if not records:
        return []
    try:
        if isinstance(records[0].raw, bytes):
            events = _many.validate_json(b"[" + b",".join(_bytes(r.raw) for r in records) + b"]")
        else:
            events = _many.validate_python([r.raw for r in records])
    except ValidationError:
        return None
    if len(events) != len(records):  # a line held more than one value
        return None
    return list(zip(records, events, strict=True))


def _one(raw: bytes | dict[str, Any]) -> Any:
    if isinstance(raw, bytes):
        return new_event_adapter.validate_json(raw)
    return new_event_adapter.validate_python(raw)


def _bytes(raw: bytes | dict[str, Any]) -> bytes:
    assert isinstance(raw, bytes)
    return raw


def _event_id(raw: bytes | dict[str, Any]) -> str | None:
    """The `event_id` a refused record names, if it names one (an excerpt)."""
    if isinstance(raw, bytes):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return str(value)[:64] if value is not None else None
