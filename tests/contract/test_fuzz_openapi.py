"""Schemathesis against the OpenAPI of activity, scoring and goals (issue 11 §4).

Every operation of the three apps is called with cases Schemathesis draws from its declared
parameters and body, as the admin of an org seeded like the access matrix's (events folded by
scoring, connectors, goals). Each answer must not be a 5xx, must carry a status the operation
declares, and must match the schema declared for that status (problems included).

Bounded so CI stays fast and deterministic: `MAX_EXAMPLES` cases per operation, drawn with
`derandomize=True` (the same cases every run) and no example database. The apps run in-process on
the suite's event loop; Hypothesis runs in a worker thread and hands each request back to that
loop, so the apps' asyncpg pools are only ever used from the loop that made them.

Left out, and why:

- the CRM webhooks (`POST /v1/webhooks/...`): signed by the provider, so a generated body is
  refused at the signature before anything else is read; their parsing is covered by
  tests/api/activity's webhook tests and tests/api/test_hardening_bodies.py.
- `POST /v1/admin/rebuild`: it drops and refolds scoring's read models while the rest of the
  session's tests read them; fuzzing it would wreck the shared seeded data (its status read,
  `GET /v1/admin/rebuild`, is fuzzed).
- `POST /v1/scoring/models/train`: it trains on the org's history, which is seconds of CPU per
  case, and it writes the model every lead-priority test of the session reads.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from services.activity.main import create_app as create_activity
from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from tests.api.access_matrix import World, seed
from tests.api.activity.conftest import activity_settings
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import running, scratch_database

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
SKIPPED = {
    ("scoring", "POST", "/v1/admin/rebuild"),
    ("scoring", "POST", "/v1/scoring/models/train"),
}
NOWHERE = "postgresql://fuzz@127.0.0.1/none"  # the schemas only: these apps never start


def _schemas() -> dict[str, dict[str, Any]]:
    return {
        "activity": create_activity(activity_settings(), database_url=NOWHERE).openapi(),
        "scoring": create_scoring(scoring_settings(), database_url=NOWHERE).openapi(),
        "goals": create_goals(goals_settings(), database_url=NOWHERE).openapi(),
    }


SCHEMAS = _schemas()


def _operations() -> list[tuple[str, str, str]]:
    found = []
    for service, spec in SCHEMAS.items():
        for path, item in spec["paths"].items():
            for method in item:
                op = (service, method.upper(), path)
                if path.startswith("/v1/webhooks/") or op in SKIPPED:
                    continue
                found.append(op)
    return found


@pytest.fixture(scope="module")
async def world(base_url: str) -> AsyncIterator[World]:
    """The three apps on a database of their own (what fuzzing writes stays there), and the
    access matrix's org seeded through them."""
    async with (
        scratch_database(base_url, "fuzz") as url,
        _started(create_activity(activity_settings(), database_url=url)) as activity,
        _started(create_scoring(
            scoring_settings(), database_url=url,
            activity_transport=httpx.ASGITransport(app=activity),
        )) as scoring_app,
        running(scoring_app, "scoring") as scoring,
        running(create_goals(
            goals_settings(), database_url=url,
            scoring_transport=httpx.ASGITransport(app=scoring_app),
        ), "goals") as goals,
    ):  # fmt: skip
        w = await seed(activity, scoring, goals)
        yield w
        await w.clients["activity"].aclose()


@asynccontextmanager
async def _started(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


async def _send(client: httpx.AsyncClient, kwargs: dict[str, Any]) -> httpx.Response:
    content: bytes | str | None = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"])
    elif kwargs.get("data") is not None:
        content = kwargs["data"]
    return await client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params") or None,
        headers=kwargs.get("headers"), content=content,
    )  # fmt: skip


def known_ids(w: World) -> dict[str, str]:
    """Path parameters naming seeded objects, so by-id reads get past the 404 too."""
    return {"event_id": w.event_id, "stream": "lead-L1", "connector_id": w.connector_id,
            "goal_id": w.goals["r1"], "id": "lead-L1", "rep": "r1"}  # fmt: skip


def _fuzz(
    operation: Any, client: httpx.AsyncClient, headers: dict[str, str], loop: Any,
    known: dict[str, str],
) -> None:  # fmt: skip
    """Run in a worker thread: Hypothesis draws, the suite's loop sends. Cases are valid by the
    schema (positive) or not (negative); by-id operations also get the seeded ids, except a
    DELETE (the next operations read those objects)."""
    names = {p.name for p in operation.path_parameters}
    strategies = [
        operation.as_strategy(generation_mode=mode, headers=headers)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    if names and operation.method.upper() != "DELETE":
        ids = {name: known[name] for name in names if name in known}
        strategies.append(operation.as_strategy(headers=headers, path_parameters=ids))

    @settings(
        max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )  # fmt: skip
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
        future = asyncio.run_coroutine_threadsafe(_send(client, kwargs), loop)
        response = future.result(timeout=60)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.mark.parametrize(("service", "method", "path"), _operations())
async def test_the_operation_keeps_its_contract(
    world: World, service: str, method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_dict(SCHEMAS[service])
    operation = schema[path][method]
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(
        _fuzz, operation, world.clients[service], world.admin(), loop, known_ids(world)
    )
