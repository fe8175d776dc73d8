"""JSON request bodies parsed by pydantic-core straight from bytes, for hot endpoints.

FastAPI's body handling (json.loads, then validation of Python objects, through its dependency
machinery) costs a measurable share of a small request. Routes that take `request: Request`
parse with `json_body` instead and declare their body with `json_body_openapi`, so the OpenAPI
document is the same as for an ordinary body parameter. Errors render exactly as FastAPI's:
400 for malformed JSON, 415 for another media type, 422 naming the field.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from shared.errors import UnsupportedMediaType, field_error

T = TypeVar("T")
_EXTRA_SCHEMAS = "salesperf_extra_schemas"


async def json_body(request: Request, adapter: TypeAdapter[T]) -> T:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type:
        raise UnsupportedMediaType(
            "Send the body as JSON with `Content-Type: application/json` "
            f"(got {content_type or 'none'!r}).",
            errors=[
                field_error("content-type", "must be application/json", "media_type", "header")
            ],
        )
    raw = await request.body()
    if not raw.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc


def json_body_openapi(
    app_schemas: dict[str, Any], name: str, adapter: TypeAdapter[Any], examples: dict[str, Any]
) -> dict[str, Any]:
    """`openapi_extra` for a route whose body `adapter` parses; its schemas go in `app_schemas`
    (registered with `register_body_schemas`) under their own names, the root as `name`."""
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
    app_schemas.update(schema.pop("$defs", {}))
    app_schemas[name] = schema
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{name}"},
                    "examples": examples,
                }
            },
        },
        "security": [{"bearer": []}],
    }


def register_body_schemas(app: FastAPI, schemas: dict[str, Any]) -> None:
    """Add the schemas of `json_body` routes to the app's OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            for key, value in schemas.items():
                components.setdefault(key, value)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
