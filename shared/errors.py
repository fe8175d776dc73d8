"""One exception class per failure, rendered by one handler as RFC 9457 problem+json.

Services and the domain raise `DomainError` subclasses; `install_problem_handlers` turns
them (and FastAPI's validation and routing errors) into `application/problem+json` bodies:

    {"type": "urn:salesperf:problem:validation", "title": "Invalid request", "status": 422,
     "detail": "1 field is invalid", "errors": [{"field": "data.amount", "in": "body", ...}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import asyncpg
import sqlalchemy.exc
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    field: str = Field(
        description="Dotted path of the field at fault, e.g. `events[3].data.amount`."
    )
    location: str = Field(alias="in", description="body, query, path or header.")
    message: str
    code: str = Field(description="Machine-readable reason, e.g. `missing`, `greater_than_equal`.")

    model_config = {"populate_by_name": True}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None

    def problem(self) -> Problem:
        return Problem(
            type=f"urn:salesperf:problem:{self.slug}",
            title=self.title,
            status=self.status_code,
            detail=self.detail,
            errors=self.errors,
        )


class MalformedRequest(DomainError):
    status_code = 400
    title = "Malformed JSON"
    slug = "malformed-json"


class UriTooLong(DomainError):
    status_code = 414
    title = "URI too long"
    slug = "uri-too-long"


class UnsupportedMediaType(DomainError):
    status_code = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class InvalidInput(DomainError):
    status_code = 422
    title = "Invalid request"
    slug = "validation"


class Unauthorized(DomainError):
    status_code = 401
    title = "Unauthorized"
    slug = "unauthorized"
    #: The `WWW-Authenticate` challenge sent with the 401 (RFC 9110 §11.6.1).
    challenge = "Bearer"


class Forbidden(DomainError):
    status_code = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(DomainError):
    status_code = 404
    title = "Not found"
    slug = "not-found"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"
    slug = "conflict"


class RequestTimeout(DomainError):
    status_code = 408
    title = "Request timeout"
    slug = "request-timeout"


class PayloadTooLarge(DomainError):
    status_code = 413
    title = "Payload too large"
    slug = "payload-too-large"


class UpstreamUnavailable(DomainError):
    status_code = 503
    title = "Service unavailable"
    slug = "unavailable"
    retry_after: ClassVar[int] = 5
    """Seconds a client is told (`Retry-After`) to wait before trying again."""


# Failures of the database connection, not of the request: answered 503 with `Retry-After`.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionRefusedError and the like, from the pool's connect
    TimeoutError,  # asyncio.TimeoutError (the same class) on pool acquire or connect
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailureError…
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    sqlalchemy.exc.TimeoutError,  # the engine's pool has no connection to give in time
)
_HANDLED_AS_UNEXPECTED: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlalchemy.exc.SQLAlchemyError,
    ExceptionGroup,
)


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if isinstance(exc, asyncpg.InterfaceError):  # "pool is closing", "connection is closed"
        return "clos" in str(exc)
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return bool(exc.connection_invalidated)
    return False


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps: SQLAlchemy's OperationalError/InterfaceError, an
    exception group of one task's failures) is the database being unreachable."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _is_connection_error(current):
            return True
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        orig = getattr(current, "orig", None)
        for nested in (orig, current.__cause__, current.__context__):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return False


def field_error(field: str, message: str, code: str, location: str = "body") -> FieldError:
    return FieldError(field=field, location=location, message=message, code=code)


def render_loc(loc: Iterable[int | str]) -> tuple[str, str]:
    """('body', 'events', 3, 'visit.logged', 'data', 'amount') -> ('body', 'events[3].data.amount').

    Union tags (event type names, which contain a dot) and validator wrappers are dropped, so
    the path is the one a client would write.
    """
    parts = list(loc)
    location = (
        str(parts.pop(0)) if parts and parts[0] in {"body", "query", "path", "header"} else "body"
    )
    path = ""
    previous: int | str | None = None
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("function-") or (
            "." in part and (previous is None or isinstance(previous, int))
        ):
            pass  # a union tag (an event type, at the root or right after an index) or a wrapper
        else:
            path += f".{part}" if path else part
        previous = part
    return location, path or location


MAX_TEXT = 500
"""Characters of a problem's `detail`, `field` or `message` kept: a message that quotes the
input (an unknown key, a bad amount) never echoes more than an excerpt of it."""
MAX_ERRORS = 50
"""Field errors listed; the rest are counted in `detail`."""


def _excerpt(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def bounded(problem: Problem) -> Problem:
    """`problem` with its texts cut to excerpts and at most `MAX_ERRORS` field errors."""
    errors = problem.errors
    detail = problem.detail
    if errors is not None and len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        errors = errors[:MAX_ERRORS]
        detail = f"{_excerpt(detail or '')} ({more} more errors not listed)"
    elif detail is not None:
        detail = _excerpt(detail)
    if errors is not None:
        errors = [
            e.model_copy(
                update={
                    "field": _excerpt(e.field),
                    "message": _excerpt(e.message),
                    "code": _excerpt(e.code, 64),
                }
            )
            for e in errors
        ]
    return problem.model_copy(
        update={"title": _excerpt(problem.title), "detail": detail, "errors": errors}
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    problem = bounded(problem)
    return JSONResponse(
        problem.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def validation_problem(errors: Sequence[dict[str, Any]]) -> Problem:
    malformed = [e for e in errors if e.get("type") == "json_invalid"]
    if malformed:
        ctx = malformed[0].get("ctx") or {}
        return MalformedRequest(
            f"The body is not valid JSON: {ctx.get('error', 'parse error')}",
            errors=[field_error("body", "not valid JSON", "json_invalid")],
        ).problem()
    fields = []
    for e in errors:
        loc = tuple(e.get("loc", ()))
        if e.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
            loc = (*loc, "type")  # the discriminator is the field at fault
        location, path = render_loc(loc)
        message = str(e["msg"]).removeprefix("Value error, ")
        fields.append(FieldError(field=path, location=location, message=message, code=e["type"]))
    names = ", ".join(dict.fromkeys(f.field for f in fields))
    return Problem(
        type="urn:salesperf:problem:validation",
        title="Invalid request",
        status=422,
        detail=f"Invalid field{'s' if len(fields) > 1 else ''}: {names}",
        errors=fields,
    )


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = None
    if isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": exc.challenge}
    elif isinstance(exc, UpstreamUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(exc.problem(), headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "")
    about_body = any(error.get("loc", ("",))[0] == "body" for error in exc.errors())
    if request.method in {"POST", "PUT", "PATCH"} and "json" not in content_type and about_body:
        unsupported = UnsupportedMediaType(
            "Send the body as JSON with `Content-Type: application/json` "
            f"(got {content_type or 'none'!r}).",
            errors=[
                field_error("content-type", "must be application/json", "media_type", "header")
            ],
        )
        return problem_response(unsupported.problem())
    return problem_response(validation_problem(exc.errors()))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and "parsing the body" in str(exc.detail):
        # FastAPI's own answer when the JSON parser gives up (e.g. nesting too deep).
        gave_up = {"type": "json_invalid", "ctx": {"error": "the parser gave up (too deep?)"}}
        return problem_response(validation_problem([gave_up]))
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem_response(
        Problem(
            type=f"urn:salesperf:problem:{slug}",
            title=str(exc.detail) if exc.status_code != 404 else "Not found",
            status=exc.status_code,
            detail=f"{request.method} {request.url.path}: {exc.detail}",
        ),
        dict(exc.headers) if exc.headers else None,
    )


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        log.warning("database unavailable", path=request.url.path, error=repr(exc))
        return await on_domain_error(
            request, UpstreamUnavailable("The database is unavailable; retry shortly.")
        )
    log.exception("unhandled error", path=request.url.path)
    return problem_response(
        Problem(
            type="urn:salesperf:problem:internal",
            title="Internal error",
            status=500,
            detail="An unexpected error occurred; it has been logged.",
        )
    )


async def problem_for(request: Request, exc: Exception) -> JSONResponse:
    """The answer to any exception, as the installed handlers give it (for code that runs
    outside FastAPI's exception middleware)."""
    if isinstance(exc, DomainError):
        return await on_domain_error(request, exc)
    if isinstance(exc, RequestValidationError):
        return await on_validation_error(request, exc)
    if isinstance(exc, StarletteHTTPException):
        return await on_http_error(request, exc)
    return await on_unexpected(request, exc)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # The database's failures go through the exception middleware (answered, not re-raised):
    # those of its connection become 503 with `Retry-After`, any other stays a logged 500.
    for error in _HANDLED_AS_UNEXPECTED:
        app.add_exception_handler(error, on_unexpected)
    app.add_exception_handler(Exception, on_unexpected)


def problem_responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each expected error, documented as problem+json."""
    return {err.status_code: {"model": Problem, "description": err.title} for err in errors}


def document_problems_as_problem_json(app: FastAPI) -> None:
    """Serve every documented 4xx/5xx body under `application/problem+json`, as it is sent.

    FastAPI documents a response `model` under `application/json`; this moves it.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            ref = {"$ref": "#/components/schemas/Problem"}
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if str(status)[0] in "45":
                            response["content"] = {PROBLEM_JSON: {"schema": ref}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
