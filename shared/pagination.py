"""Opaque cursors: clients pass back what they were given and never build one themselves."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

import orjson
from starlette.datastructures import URL

from shared.errors import InvalidInput, field_error

_PREFIX = "v1."
MAX_POSITION = 2**63 - 1  # positions are PostgreSQL bigints


def encode_cursor(position: int) -> str:
    raw = f"{_PREFIX}{position}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, field: str = "after") -> int:
    """The position a cursor stands for; 0 (the start) when there is none."""
    if cursor is None or cursor == "":
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        position = int(text.removeprefix(_PREFIX))
        if not 0 <= position <= MAX_POSITION:
            raise ValueError(text)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidInput(
            f"`{field}` is not a cursor this API issued.",
            errors=[
                field_error(field, "not a cursor issued by this API", "cursor_invalid", "query")
            ],
        ) from exc
    return position


def encode_keyset(tag: str, values: Sequence[str]) -> str:
    """An opaque cursor for a keyset (the sort key of the last row handed out)."""
    raw = orjson.dumps(list(values))
    return f"{tag}." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keyset(tag: str, cursor: str, size: int, *, field: str = "cursor") -> list[str]:
    """The keyset `encode_keyset(tag, …)` made: `size` strings; InvalidInput naming `field`
    for anything else (the caller checks the values' own shapes and raises ValueError)."""
    try:
        if not cursor.startswith(f"{tag}."):
            raise ValueError(cursor)
        raw = cursor[len(tag) + 1 :]
        values = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if (
            not isinstance(values, list)
            or len(values) != size
            or not all(isinstance(v, str) and "\x00" not in v for v in values)
        ):
            raise ValueError(cursor)
        return values
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise bad_cursor(field) from exc


def next_link(url: URL, param: str, cursor: str) -> str:
    """An RFC 8288 `Link` header to the next page: this request's URL with `param` moved on."""
    return f'<{url.include_query_params(**{param: cursor})}>; rel="next"'


def bad_cursor(field: str = "cursor") -> InvalidInput:
    return InvalidInput(
        f"`{field}` is not a cursor this API issued.",
        errors=[field_error(field, "not a cursor issued by this API", "cursor_invalid", "query")],
    )
