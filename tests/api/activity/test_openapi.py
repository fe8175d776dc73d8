"""The published OpenAPI document: a front-end author can copy an example from /docs and post it,
and every documented error is an RFC 9457 problem."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.events import EVENT_TYPES

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
async def openapi(activity) -> AsyncIterator[dict[str, Any]]:
    r = await activity.get("/openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def request_examples(spec: dict[str, Any], path: str) -> dict[str, Any]:
    body = spec["paths"][path]["post"]["requestBody"]
    return body["content"]["application/json"]["examples"]  # type: ignore[no-any-return]


def error_responses(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every documented 4xx/5xx response, as ("POST /v1/events 409", response object)."""
    return [
        (f"{method.upper()} {path} {status}", response)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, response in operation.get("responses", {}).items()
        if status[0] in "45"
    ]


class TestEveryEventTypeHasANamedExample:
    def test_append_one_offers_one_example_per_event_type(self, openapi) -> None:
        examples = request_examples(openapi, "/v1/events")
        assert sorted(examples) == sorted(EVENT_TYPES)
        assert len(examples) == len(EVENT_TYPES)

    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_each_example_is_of_the_type_it_is_named_after(self, openapi, event_type) -> None:
        example = request_examples(openapi, "/v1/events")[event_type]
        assert example.get("summary"), "an example without a summary is hard to pick in /docs"
        assert example["value"]["type"] == event_type
        assert example["value"]["data"], "an empty payload teaches a front end nothing"


class TestAnExampleCopiedFromTheDocsCanBePosted:
    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    async def test_posting_the_example_with_a_fresh_event_id_answers_201(
        self, activity, auth, openapi, event_type: str
    ) -> None:
        event = copy.deepcopy(request_examples(openapi, "/v1/events")[event_type]["value"])
        event["event_id"] = str(uuid.uuid4())
        if event_type == "event.voided":
            # A void names the event it cancels; that event must exist (fresh org: seed it).
            target = {
                **copy.deepcopy(request_examples(openapi, "/v1/events")["visit.logged"]["value"]),
                "event_id": event["data"]["voided_event_id"],
                "stream": event["stream"],
            }
            seeded = await activity.post("/v1/events", json=target, headers=auth())
            assert seeded.status_code == 201, seeded.text

        r = await activity.post("/v1/events", json=event, headers=auth())
        assert r.status_code == 201, r.text
        assert r.json()["event_id"] == event["event_id"]

        stored = await activity.get(f"/v1/events/{event['event_id']}", headers=auth())
        assert stored.status_code == 200, stored.text
        got = stored.json()
        assert got["type"] == event_type
        assert got["stream"] == event["stream"]
        # what was posted is what is stored: no field dropped or rewritten (amounts stay strings)
        assert {k: got["data"][k] for k in event["data"]} == event["data"]

    async def test_the_batch_example_with_fresh_event_ids_answers_201(
        self, activity, auth, openapi
    ) -> None:
        [name] = request_examples(openapi, "/v1/events/batch")
        body = copy.deepcopy(request_examples(openapi, "/v1/events/batch")[name]["value"])
        for event in body["events"]:
            event["event_id"] = str(uuid.uuid4())
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert r.status_code == 201, r.text
        assert r.json()["created"] == len(body["events"])

    async def test_the_batch_example_posted_exactly_as_shown_answers_201(
        self, activity, auth, openapi
    ) -> None:
        [name] = request_examples(openapi, "/v1/events/batch")
        body = request_examples(openapi, "/v1/events/batch")[name]["value"]
        r = await activity.post("/v1/events/batch", json=body, headers=auth())
        assert r.status_code == 201, r.text


class TestEveryDocumentedErrorIsAProblem:
    def test_every_error_response_is_offered_as_problem_json(self, openapi) -> None:
        errors = error_responses(openapi)
        assert errors, "no error responses are documented at all"
        missing = [
            name for name, response in errors if PROBLEM_JSON not in response.get("content", {})
        ]
        assert not missing, f"not documented as {PROBLEM_JSON}: {missing}"

    def test_the_problem_schema_is_documented_under_problem_json_only(self, openapi) -> None:
        wrong = []
        for name, response in error_responses(openapi):
            content = response.get("content", {})
            schema = content.get(PROBLEM_JSON, {}).get("schema", {})
            if set(content) != {PROBLEM_JSON} or schema.get("$ref") != PROBLEM_REF:
                wrong.append(f"{name}: {sorted(content)} schema={schema}")
        assert not wrong, "\n".join(wrong)

    def test_the_problem_schema_has_the_rfc_9457_members_and_field_errors(self, openapi) -> None:
        schemas = openapi["components"]["schemas"]
        assert {"type", "title", "status", "detail", "errors"} <= set(
            schemas["Problem"]["properties"]
        )
        field_error = schemas["FieldError"]
        assert set(field_error["properties"]) == {"field", "in", "message", "code"}
        assert set(field_error["required"]) == {"field", "in", "message", "code"}

    @pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch"])
    @pytest.mark.parametrize("status", ["401", "403", "409", "413", "422"])
    def test_the_append_endpoints_document_their_errors(self, openapi, path, status) -> None:
        assert status in openapi["paths"][path]["post"]["responses"]

    @pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch"])
    def test_the_append_endpoints_document_400_and_415(self, openapi, path) -> None:
        responses = openapi["paths"][path]["post"]["responses"]
        assert {"400", "415"} <= set(responses), sorted(responses)

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", "/v1/events"),
            ("get", "/v1/events/{event_id}"),
            ("get", "/v1/streams/{stream}"),
        ],
    )
    def test_the_read_endpoints_document_401_and_422(self, openapi, method, path) -> None:
        assert {"401", "422"} <= set(openapi["paths"][path][method]["responses"])


class TestTheDocumentIsWhole:
    def test_every_schema_reference_resolves(self, openapi) -> None:
        import json
        import re

        refs = set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", json.dumps(openapi)))
        assert refs
        assert not refs - set(openapi["components"]["schemas"])

    @pytest.mark.parametrize("path", ["/v1/events", "/v1/events/batch"])
    def test_the_append_routes_declare_their_body_and_bearer_auth(self, openapi, path) -> None:
        post = openapi["paths"][path]["post"]
        assert post["security"] == [{"bearer": []}]
        assert post["requestBody"]["required"] is True
        assert openapi["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
