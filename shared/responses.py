"""A JSON response rendered by orjson, for handlers that return plain dicts on hot paths.

It derives from starlette's JSONResponse (rendering aside) because FastAPI documents a route's
`response_model` only when the route's response class is a JSONResponse: derived from plain
`Response`, every success body was documented as `{"type": "string"}`."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):  # asyncpg returns its own UUID subclass
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)
