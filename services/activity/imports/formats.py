"""Reading an uploaded file of events in chunks, whatever its format (no HTTP, no SQL).

Three formats, each a file of event envelopes as `POST /v1/events` takes them:
- **NDJSON**: one JSON object a line; blank lines are skipped. A record's number is its line.
- **CSV**: a header naming envelope fields (`COLUMNS`; `event_id`, `type`, `stream` and
  `occurred_at` required), one event a row; `data` and `metadata` hold JSON objects; an empty
  cell is an absent field. A record's number is its data row (the header is row 0).
- **Parquet**: the same columns; `data` and `metadata` as JSON text or as structs/maps,
  `occurred_at` as text or as a timestamp with a time zone. A record's number is its row, from 1.

A reader yields `Chunk`s of raw records (NDJSON: the line's bytes; CSV and Parquet: a dict of
the row's present fields) and can start after a given record, which is how a job resumes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

COLUMNS = (
    "event_id",
    "type",
    "stream",
    "rep_id",
    "team_id",
    "occurred_at",
    "schema_version",
    "expected_version",
    "data",
    "metadata",
)
REQUIRED_COLUMNS = ("event_id", "type", "stream", "occurred_at")
_JSON_COLUMNS = ("data", "metadata")
_INT_COLUMNS = ("schema_version", "expected_version")
MAX_LINE_BYTES = 1024 * 1024


class Format(enum.StrEnum):
    NDJSON = "ndjson"
    CSV = "csv"
    PARQUET = "parquet"


MEDIA_TYPES = {
    "application/x-ndjson": Format.NDJSON,
    "application/ndjson": Format.NDJSON,
    "application/jsonl": Format.NDJSON,
    "text/csv": Format.CSV,
    "application/vnd.apache.parquet": Format.PARQUET,
    "application/x-parquet": Format.PARQUET,
}


class UnreadableFile(ValueError):
    """The file as a whole cannot be read in its format (a header, a footer, the encoding)."""


@dataclass(frozen=True, slots=True)
class Record:
    number: int
    raw: bytes | dict[str, Any]
    problem: str | None = None  # unreadable on its own (not JSON, a line too long…)


@dataclass(frozen=True, slots=True)
class Chunk:
    records: list[Record]
    last: int  # the number of the last record read (blank lines included)
    fraction: float  # how much of the file is read, 0–1


def check(path: Path, fmt: Format) -> int | None:
    """Refuse a file that cannot be read as a whole (before a job is queued); the records it
    holds when the format tells (Parquet), else None."""
    try:
        if fmt is Format.CSV:
            with path.open("rb") as file:
                _check_columns(_csv_names(file))
        elif fmt is Format.PARQUET:
            meta = pq.ParquetFile(path)
            _check_columns(meta.schema_arrow.names)
            return int(meta.metadata.num_rows)
        elif path.stat().st_size == 0:
            raise UnreadableFile("the file is empty")
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFile(f"not a readable {fmt.value} file: {exc}") from None
    return None


def _check_columns(names: list[str]) -> None:
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if unknown:
        raise UnreadableFile(
            f"unknown column(s) {', '.join(unknown)}; columns: {', '.join(COLUMNS)}"
        )
    if missing:
        raise UnreadableFile(f"missing column(s) {', '.join(missing)}")


def read(path: Path, fmt: Format, *, chunk_rows: int, after: int = 0) -> Iterator[Chunk]:
    """The file's records in chunks of at most `chunk_rows`, starting after record `after`."""
    if fmt is Format.NDJSON:
        return _ndjson(path, chunk_rows, after)
    if fmt is Format.CSV:
        return _csv(path, chunk_rows, after)
    return _parquet(path, chunk_rows, after)


def _ndjson(path: Path, chunk_rows: int, after: int) -> Iterator[Chunk]:
    size = path.stat().st_size or 1
    records: list[Record] = []
    number = 0
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            if number <= after:
                continue
            line = line.strip()
            if not line:
                continue
            if len(line) > MAX_LINE_BYTES:
                records.append(Record(number, b"", f"longer than {MAX_LINE_BYTES} bytes"))
            else:
                records.append(Record(number, line))
            if len(records) >= chunk_rows:
                yield Chunk(records, number, file.tell() / size)
                records = []
    if records or number > after:
        yield Chunk(records, number, 1.0)


def _csv_names(file: BinaryIO) -> list[str]:
    """The header's names (a ragged row in the first block is the reader's to reject)."""
    skip = pacsv.ParseOptions(invalid_row_handler=lambda row: "skip")
    return list(pacsv.open_csv(file, parse_options=skip).schema.names)


def _csv_reader(file: BinaryIO, ragged: dict[int, str]) -> pacsv.CSVStreamingReader:
    """Every column as text: the envelope's own validation types it, as for a JSON body. A row
    with more or fewer fields than the header is left out of the batches and noted in `ragged`
    (by its number) as the problem that rejects it: one bad row does not fail the file."""
    names = _csv_names(file)
    file.seek(0)

    def note(row: pacsv.InvalidRow) -> str:
        if row.number is None:
            return "error"  # cannot say which row: the file is unreadable
        ragged[row.number - 1] = (
            f"{row.actual_columns} field(s) where the header names {row.expected_columns}"
        )
        return "skip"

    return pacsv.open_csv(
        file,
        # One thread: the parser then knows each bad row's number (and the rows are
        # validated in Python anyway, the parse is not the cost).
        read_options=pacsv.ReadOptions(block_size=1024 * 1024, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=note),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _csv(path: Path, chunk_rows: int, after: int) -> Iterator[Chunk]:
    size = path.stat().st_size or 1
    number = 0  # the last row numbered, ragged ones included
    records: list[Record] = []
    ragged: dict[int, str] = {}  # filled by the reader as it parses, a block ahead
    with path.open("rb") as file:
        for batch in _csv_reader(file, ragged):
            for row in batch.to_pylist():
                number += 1
                while number in ragged:  # rows the parser left out come before this one
                    problem = ragged.pop(number)
                    if number > after:
                        records.append(Record(number, {}, problem))
                    number += 1
                if number > after:
                    records.append(_tabular(number, row))
                if len(records) >= chunk_rows:
                    # The reader reads ahead by a block: the file's offset is close enough.
                    yield Chunk(records, number, min(1.0, file.tell() / size))
                    records = []
    for row_number, problem in sorted(ragged.items()):  # after the last good row
        number = row_number
        if number > after:
            records.append(Record(number, {}, problem))
    yield Chunk(records, number, 1.0)


def _parquet(path: Path, chunk_rows: int, after: int) -> Iterator[Chunk]:
    file = pq.ParquetFile(path)
    total = file.metadata.num_rows or 1
    number = 0
    for batch in file.iter_batches(batch_size=chunk_rows):
        start = number
        number += batch.num_rows
        if number <= after:
            continue
        rows = batch.slice(max(0, after - start)).to_pylist()
        records = [_tabular(i, row) for i, row in enumerate(rows, start=max(start, after) + 1)]
        yield Chunk(records, number, number / total)
    if number <= after or number == 0:
        yield Chunk([], number, 1.0)


def _tabular(number: int, row: dict[str, Any]) -> Record:
    """A CSV or Parquet row as the JSON body it stands for: absent cells left out, JSON columns
    parsed, integer columns read as integers."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or value == "":
            continue
        if name in _JSON_COLUMNS and isinstance(value, str | bytes):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                return Record(number, row, f"{name}: not a JSON object")
        elif name in _JSON_COLUMNS and isinstance(value, list):  # a Parquet map
            value = dict(value)
        elif name in _JSON_COLUMNS and isinstance(value, dict):  # a Parquet struct
            value = {k: v for k, v in value.items() if v is not None}
        elif name in _INT_COLUMNS and isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        elif isinstance(value, datetime):
            value = value.isoformat()  # a naive timestamp stays naive, and is refused
        out[name] = value
    return Record(number, out)
