"""Export pages rendered as CSV, NDJSON or Parquet, with stable columns: the KPI rows
(`EXPORT_COLUMNS`) and the lead and deal scores (`SCORE_COLUMNS`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date
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
SCORE_COLUMNS = (
    "org_id",
    "kind",
    "id",
    "rep_id",
    "team_id",
    "score",
    "win_probability",
    "tier",
    "next_touch_due",
    "overdue",
    "scored_for",
    "model_version",
    "model_kind",
    "factors",
)
SCORE_SCHEMA = pa.schema(
    [
        ("org_id", pa.string()),
        ("kind", pa.string()),
        ("id", pa.string()),
        ("rep_id", pa.string()),
        ("team_id", pa.string()),
        ("score", pa.int16()),
        ("win_probability", pa.float64()),
        ("tier", pa.string()),
        ("next_touch_due", pa.date32()),
        ("overdue", pa.bool_()),
        ("scored_for", pa.date32()),
        ("model_version", pa.int32()),
        ("model_kind", pa.string()),
        ("factors", pa.string()),
    ]
)


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for i, row in enumerate(rows, start=1):
        writer.writerow([_cell(row[c]) for c in columns])
        if i % CHUNK == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _cell(value: Any) -> Any:
    """CSV cells as the NDJSON and Parquet say them: booleans `true`/`false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _ndjson(rows: Sequence[dict[str, Any]]) -> Iterator[bytes]:
    for start in range(0, len(rows), CHUNK):
        yield b"".join(orjson.dumps(r) + b"\n" for r in rows[start : start + CHUNK])


def _parquet(rows: Sequence[dict[str, Any]], schema: pa.Schema) -> bytes:
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for row in rows:
        for name in schema.names:
            columns[name].append(row[name])
    for name in schema.names:
        if schema.field(name).type == pa.date32():
            columns[name] = [_date(d) for d in columns[name]]
    if "value" in columns:
        columns["value"] = [Decimal(v).quantize(Decimal("0.000001")) for v in columns["value"]]
    table = pa.table(columns, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _date(text: str) -> Any:
    return date.fromisoformat(text)


def response(
    fmt: str,
    rows: Sequence[dict[str, Any]],
    headers: dict[str, str],
    *,
    scores: bool = False,
) -> Response:
    """A page of KPI rows, or with `scores` of score rows, in `fmt`."""
    columns, schema = (SCORE_COLUMNS, SCORE_SCHEMA) if scores else (EXPORT_COLUMNS, PARQUET_SCHEMA)
    if fmt == "csv":
        return StreamingResponse(
            _csv(rows, columns), media_type="text/csv; charset=utf-8", headers=headers
        )
    if fmt == "ndjson":
        return StreamingResponse(_ndjson(rows), media_type="application/x-ndjson", headers=headers)
    return Response(
        _parquet(rows, schema), media_type="application/vnd.apache.parquet", headers=headers
    )
