"""A roster CSV read into entries, every bad row named (a pure function: no HTTP, no SQL).

The file: UTF-8 (a byte-order mark is allowed), a header naming the columns in any order,
`rep_id,team_id,from` required and `manager_id,status,reason` optional, then one entry a row,
the same as the body of `PUT /v1/reps/{rep_id}` (with `rep_id`). Cells are trimmed; an empty
cell is a value not given (`status` then defaults to `active`). Blank lines are skipped. A rep
may have one row a day (two rows for the same rep and `from` are refused: which would win?).

Rows are named `rows[i]`, i counting data rows from 0 (the row under the header is `rows[0]`);
the messages give the line of the file too.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError

from shared.errors import FieldError, field_error, render_loc
from shared.events import ID_PATTERN

from .exceptions import RosterFileRefused, RosterTooLong
from .schemas import RepEntryIn

COLUMNS = ("rep_id", "team_id", "from", "manager_id", "status", "reason")
REQUIRED = ("rep_id", "team_id", "from")
MAX_ROWS = 10_000
"""Rows of one file; more is 413 (split the file: each part is all-or-nothing)."""
_IDENTIFIER = re.compile(ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Row:
    index: int  # rows[index]
    line: int  # in the file, the header being line 1
    rep_id: str
    entry: RepEntryIn


def _header(names: list[str]) -> list[FieldError]:
    errors = []
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            errors.append(
                field_error(
                    "header", f"unknown column {name!r}; known: {', '.join(COLUMNS)}", "extra"
                )
            )
        elif name in seen:
            errors.append(field_error("header", f"column {name!r} given twice", "duplicate"))
        seen.add(name)
    errors += [
        field_error("header", f"missing column {name!r}", "missing")
        for name in REQUIRED
        if name not in seen
    ]
    return errors


def _entry(index: int, line: int, cells: dict[str, str]) -> Row | list[FieldError]:
    given = {k: v for k, v in cells.items() if v}
    rep_id = given.pop("rep_id", "")
    errors: list[FieldError] = []
    if not _IDENTIFIER.fullmatch(rep_id):
        message = "required" if not rep_id else f"must match {ID_PATTERN}"
        errors.append(
            field_error(f"rows[{index}].rep_id", f"line {line}: {message}", "string_pattern")
        )
    try:
        entry = RepEntryIn.model_validate(given)
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            _, path = render_loc(("body", *e["loc"]))
            message = str(e["msg"]).removeprefix("Value error, ")
            errors.append(
                field_error(f"rows[{index}].{path}", f"line {line}: {message}", e["type"])
            )
        return errors
    return errors or Row(index, line, rep_id, entry)


def read_roster(raw: bytes) -> tuple[list[Row], list[FieldError]]:
    """The file's good rows as entries, and the errors naming every bad one (the caller adds
    its own checks' and refuses the file if any). RosterFileRefused for a file that cannot be
    read or a bad header, RosterTooLong past `MAX_ROWS`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 (byte {exc.start})"
        raise RosterFileRefused([field_error("body", reason, "encoding")]) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[Row] = []
    errors: list[FieldError] = []
    try:
        names = next((r for r in reader if any(c.strip() for c in r)), None)
        if names is None:
            raise RosterFileRefused([field_error("header", "the file is empty", "missing")])
        names = [n.strip() for n in names]
        if header := _header(names):
            raise RosterFileRefused(header)
        index = 0
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if index >= MAX_ROWS:
                raise RosterTooLong(MAX_ROWS)
            line = reader.line_num
            if len(cells) != len(names):
                errors.append(
                    field_error(
                        f"rows[{index}]",
                        f"line {line}: {len(cells)} cells, the header has {len(names)}",
                        "cells",
                    )
                )
            else:
                found = _entry(
                    index, line, {n: c.strip() for n, c in zip(names, cells, strict=True)}
                )
                if isinstance(found, Row):
                    rows.append(found)
                else:
                    errors += found
            index += 1
    except csv.Error as exc:
        errors.append(field_error("body", f"line {reader.line_num}: {exc}", "csv"))
    return rows, errors + _twice(rows)


def _twice(rows: list[Row]) -> list[FieldError]:
    """Rows giving a rep a second entry for the same day."""
    first: dict[tuple[str, date], Row] = {}
    errors = []
    for row in rows:
        key = (row.rep_id, row.entry.from_)
        if key in first:
            errors.append(
                field_error(
                    f"rows[{row.index}].from",
                    f"line {row.line}: {row.rep_id} already has an entry for {row.entry.from_} "
                    f"(rows[{first[key].index}])",
                    "duplicate",
                )
            )
        else:
            first[key] = row
    return errors
