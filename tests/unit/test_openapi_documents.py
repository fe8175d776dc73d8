"""Every service documents what its responses carry, so a client generated from `/openapi.json`
gets models, not strings, and knows every status it must handle.

FastAPI documents a route's `response_model` only when the route's response class is a
JSONResponse; ours (shared/responses.py) once derived from plain `Response`, and every success
body of every service was published as `{"type": "string"}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from services.activity.main import create_app as create_activity
from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring

SERVICES: dict[str, Callable[[], FastAPI]] = {
    "activity": create_activity,
    "scoring": create_scoring,
    "goals": create_goals,
}


@pytest.fixture(scope="module", params=sorted(SERVICES))
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    return SERVICES[request.param]().openapi()  # type: ignore[no-any-return]


def json_successes(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """("GET /v1/goals 200", schema) for every 2xx response documented as JSON."""
    return [
        (f"{method.upper()} {path} {status}", response["content"]["application/json"]["schema"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status.startswith("2") and "application/json" in response.get("content", {})
    ]


def test_every_json_success_documents_a_model_not_a_string(spec) -> None:
    bare = [name for name, schema in json_successes(spec) if schema in ({}, {"type": "string"})]
    assert not bare, f"documented without a model: {bare}"


@pytest.mark.parametrize(
    ("service", "operation", "model"),
    [
        ("activity", "POST /v1/events 201", "AppendResult"),
        ("activity", "POST /v1/events/batch 201", "BatchResult"),
        ("activity", "GET /v1/events 200", "EventPage"),
        ("activity", "GET /v1/events/{event_id} 200", "StoredEvent"),
        ("scoring", "GET /v1/kpis 200", "KpiReport"),
        ("scoring", "GET /v1/metrics 200", "MetricCatalogue"),
        ("goals", "POST /v1/goals 201", "GoalOut"),
        ("goals", "GET /v1/goals/{goal_id}/progress 200", "ProgressOut"),
    ],
)
def test_the_main_answers_name_their_models(service: str, operation: str, model: str) -> None:
    schemas = dict(json_successes(SERVICES[service]().openapi()))
    assert schemas[operation] == {"$ref": f"#/components/schemas/{model}"}


def test_the_export_documents_its_formats_only() -> None:
    content = create_scoring().openapi()["paths"]["/v1/export/kpis"]["get"]["responses"]["200"]
    assert set(content["content"]) == {
        "text/csv",
        "application/x-ndjson",
        "application/vnd.apache.parquet",
    }


def operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_authenticated_operation_documents_401(spec) -> None:
    missing = [
        name for name, op in operations(spec) if op.get("security") and "401" not in op["responses"]
    ]
    assert not missing, f"take a token but do not document 401: {missing}"


def test_every_operation_with_a_body_documents_400_415_and_422(spec) -> None:
    missing = [
        (name, status)
        for name, op in operations(spec)
        if "requestBody" in op
        for status in ("400", "415", "422")
        if status not in op["responses"]
    ]
    assert not missing, f"take a JSON body but do not document: {missing}"
