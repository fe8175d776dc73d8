"""Export pages rendered as CSV, NDJSON or Parquet, with the same stable columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Response
from fastapi.responses import StreamingResponse

from .service import EXPORT_COLUMNS

CHUNK = 2000
PARQUET_SCHEMA = pa.schema(
    [(name, pa.date32() if name == "day" else pa.string()) for name in EXPORT_COLUMNS[:-1]]
    + [("value", pa.decimal128(38, 6))]
)


def _csv(rows: Sequence[dict[str, Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for i, row in enumerate(rows, start=1):
        writer.writerow([row[c] for c in EXPORT_COLUMNS])
        if i % CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _ndjson(rows: Sequence[dict[str, Any]]) -> Iterator[bytes]:
    for start in range(0, len(rows), CHUNK):
        yield b"".join(orjson.dumps(r) + b"\n" for r in rows[start : start + CHUNK])


def _parquet(rows: Sequence[dict[str, Any]]) -> bytes:
    columns: dict[str, list[Any]] = {name: [] for name in EXPORT_COLUMNS}
    for row in rows:
        for name in EXPORT_COLUMNS:
            columns[name].append(row[name])
    columns["day"] = [_date(d) for d in columns["day"]]
    columns["value"] = [Decimal(v).quantize(Decimal("0.000001")) for v in columns["value"]]
    table = pa.table(columns, schema=PARQUET_SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


def response(fmt: str, rows: Sequence[dict[str, Any]], headers: dict[str, str]) -> Response:
    if fmt == "csv":
        return StreamingResponse(_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    if fmt == "ndjson":
        return StreamingResponse(_ndjson(rows), media_type="application/x-ndjson", headers=headers)
    return Response(_parquet(rows), media_type="application/vnd.apache.parquet", headers=headers)
