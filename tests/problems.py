"""The one check every bad-input test makes: an RFC 9457 problem that names the fields."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def assert_problem(
    response: httpx.Response,
    status: int,
    *names: str,
    fields: tuple[str, ...] = (),
    location: str | None = None,
) -> dict[str, Any]:
    """`response` is an RFC 9457 problem with `status` whose `errors` name every one of the
    fields (given positionally or as `fields=`), each `in` `location` when one is given."""
    wanted = (*names, *fields)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status, body
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str), f"no {key!r} in {body}"
        assert body[key], f"no {key!r} in {body}"
    if wanted:
        errors = body.get("errors")
        assert isinstance(errors, list), f"no `errors` list in {body}"
        assert errors, f"no `errors` list in {body}"
        for error in errors:
            assert set(error) == {"field", "in", "message", "code"}, error
            assert all(isinstance(v, str) and v for v in error.values()), error
        named = {e["field"] for e in errors}
        for name in wanted:
            assert name in named, f"{name!r} not among the fields at fault {sorted(named)}"
        if location is not None:
            at_fault = [e for e in errors if e["field"] in wanted]
            assert all(e["in"] == location for e in at_fault), errors
    return body
