"""Schemathesis against the OpenAPI of activity, scoring and goals (issue 11 §4).

Every operation of the three apps is called with cases Schemathesis draws from its declared
parameters and body, as the admin of an org seeded like the access matrix's (events folded by
scoring, connectors, goals). Each answer must not be a 5xx, must carry a status the operation
declares, and must match the schema declared for that status (problems included).

Bounded so CI stays fast and deterministic: `MAX_EXAMPLES` cases per operation, drawn with
`derandomize=True` (the same cases every run) and no example database. The apps run in-process on
the suite's event loop; Hypothesis runs in a worker thread and hands each request back to that
loop, so the apps' asyncpg pools are only ever used from the loop that made them.

Besides the admin, every read (GET) is fuzzed as a rep and as a manager of the org
(`READ_EXAMPLES` cases each): what they may not see is a declared 403/404, never a 5xx.

The CRM webhooks are fuzzed as the providers call them, each delivery signed for its own bytes:
an org of their own holds a connector per provider (secrets known to the test, every owner
mapped through `"*"`, some stages mapped), and every generated request is signed as the provider
signs it: HubSpot's v3 signature over method, URI, body and timestamp, Pipedrive's HTTP Basic
credentials, Salesforce's secret path token, a Standard Webhooks signature made with the
`standardwebhooks` library. So bodies get past the signature to parsing, translation and our
models: bodies drawn from the schema (valid and not), and deliveries shaped like the providers'
with drawn values (amounts in EUR, JPY, KWD…, stages mapped or not, times, statuses).

Left out, and why:

- `POST /v1/admin/rebuild`: it drops and refolds scoring's read models while the rest of the
  session's tests read them; fuzzing it would wreck the shared seeded data (its status read,
  `GET /v1/admin/rebuild`, is fuzzed).
- `POST /v1/scoring/models/train`: it trains on the org's history, which is seconds of CPU per
  case, and it writes the model every lead-priority test of the session reads.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

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
from standardwebhooks.webhooks import Webhook

from services.activity.main import create_app as create_activity
from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from shared.auth import issue_token
from shared.events import EXAMPLES
from tests.api.access_matrix import World, connector_body, seed
from tests.api.activity.conftest import activity_settings
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET, running, scratch_database
from tests.unit.activity.test_connectors_salesforce import ORG_ID, envelope, notification

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
READ_EXAMPLES = int(os.environ.get("FUZZ_READ_EXAMPLES", "3"))  # per read and reader
HOOK_EXAMPLES = int(os.environ.get("FUZZ_HOOK_EXAMPLES", "30"))  # per webhook
READERS = ("rep", "manager")  # r1 and m1 of t1: r1 owns every seeded by-id object
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


def _operations(*, webhooks: bool = False) -> list[tuple[str, str, str]]:
    """The operations fuzzed with a bearer token (or, `webhooks`, the signed deliveries)."""
    found = []
    for service, spec in SCHEMAS.items():
        for path, item in spec["paths"].items():
            for method in item:
                op = (service, method.upper(), path)
                if path.startswith("/v1/webhooks/") is webhooks and op not in SKIPPED:
                    found.append(op)
    return found


READS = [op for op in _operations() if op[1] == "GET" and op[2].startswith("/v1/")]
"""The reads of the API (not /metrics, /healthz…, which look at no token)."""


@pytest.fixture(scope="module")
async def world(base_url: str) -> AsyncIterator[World]:
    """The three apps on a database of their own (what fuzzing writes stays there), and the
    access matrix's org seeded through them."""
    async with (
        scratch_database(base_url, "fuzz") as url,
        _started(create_activity(activity_settings(), database_url=url)) as activity,
        _started(
            create_scoring(
                scoring_settings(),
                database_url=url,
                activity_transport=httpx.ASGITransport(app=activity),
            )
        ) as scoring_app,
        running(scoring_app, "scoring") as scoring,
        running(
            create_goals(
                goals_settings(),
                database_url=url,
                scoring_transport=httpx.ASGITransport(app=scoring_app),
            ),
            "goals",
        ) as goals,
    ):
        w = await seed(activity, scoring, goals)
        yield w
        await w.clients["activity"].aclose()


@asynccontextmanager
async def _started(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


Signer = Callable[[httpx.Request], None]
"""Adds to a request the credentials of a provider, made for its own method, URI and bytes."""


async def _send(
    client: httpx.AsyncClient, kwargs: dict[str, Any], sign: Signer | None = None
) -> httpx.Response:
    content: bytes | str | None = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"])
    elif kwargs.get("data") is not None:
        content = kwargs["data"]
    request = client.build_request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params") or None,
        headers=kwargs.get("headers"),
        content=content,
    )
    if sign is not None:
        sign(request)
    return await client.send(request)


def known_ids(w: World) -> dict[str, str]:
    """Path parameters naming seeded objects, so by-id reads get past the 404 too."""
    return {
        "event_id": w.event_id,
        "stream": "lead-L1",
        "connector_id": w.connector_id,
        "goal_id": w.goals["r1"],
        "id": "lead-L1",
        "rep": "r1",
        "rep_id": "r1",
        "team_id": "t1",
    }


def _strategies(operation: Any, headers: dict[str, str], known: dict[str, str]) -> list[Any]:
    """Cases valid by the schema (positive) or not (negative); by-id operations also get the
    seeded ids, except a DELETE (the next operations read those objects)."""
    names = {p.name for p in operation.path_parameters}
    strategies = [
        operation.as_strategy(generation_mode=mode, headers=headers)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    if names and operation.method.upper() != "DELETE":
        ids = {name: known[name] for name in names if name in known}
        strategies.append(operation.as_strategy(headers=headers, path_parameters=ids))
    return strategies


def _fuzz(
    operation: Any,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    loop: Any,
    strategies: list[Any],
    examples: int = MAX_EXAMPLES,
    sign: Signer | None = None,
) -> list[int]:
    """Run in a worker thread: Hypothesis draws, the suite's loop sends (signed by `sign`).
    Returns the statuses answered."""
    statuses: list[int] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
        future = asyncio.run_coroutine_threadsafe(_send(client, kwargs, sign), loop)
        response = future.result(timeout=60)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    return statuses


@pytest.mark.parametrize(("service", "method", "path"), _operations())
async def test_the_operation_keeps_its_contract(
    world: World, service: str, method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_dict(SCHEMAS[service])
    operation = schema[path][method]
    loop = asyncio.get_running_loop()
    strategies = _strategies(operation, world.admin(), known_ids(world))
    await asyncio.to_thread(
        _fuzz, operation, world.clients[service], world.admin(), loop, strategies
    )


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("service", "method", "path"), READS)
async def test_a_read_keeps_its_contract_for_reps_and_managers(
    world: World, service: str, method: str, path: str, reader: str
) -> None:
    """What a rep or a manager may not read is a declared 403 or 404, never a 5xx, and what
    they may read matches the schema."""
    schema = schemathesis.openapi.from_dict(SCHEMAS[service])
    operation = schema[path][method]
    loop = asyncio.get_running_loop()
    headers = world.headers[reader]
    strategies = _strategies(operation, headers, known_ids(world))
    await asyncio.to_thread(
        _fuzz, operation, world.clients[service], headers, loop, strategies, READ_EXAMPLES
    )


# ------------------------------------------------------------------------------ webhooks

HOOK_T0 = 1764584400000  # 2025-12-01, ms: HubSpot's `occurredAt`
HOOK_STAGES = {
    "hubspot": {"appointmentscheduled": "qualification", "closedwon": "won", "closedlost": "lost"},
    "pipedrive": {"1": "qualification", "2": "proposal", "3": "won", "4": "lost"},
    "salesforce": {
        "Prospecting": "qualification",
        "Proposal/Price Quote": "proposal",
        "Closed Won": "won",
    },
    "generic": {"Angebot": "proposal"},
}
CURRENCIES = ["EUR", "JPY", "KWD", "BHD", "CLF", "USD", "XYZ"]


@dataclass(frozen=True)
class Hooks:
    """An org of the webhooks' own, with a connector per provider whose secrets are known."""

    org: str
    secrets: dict[str, str]


@pytest.fixture(scope="module")
async def hooks(world: World) -> Hooks:
    """Its own org: the admin fuzzing above may rotate or delete the seeded org's connectors."""
    org = f"org-{uuid.uuid4().hex[:10]}"
    admin = {
        "Authorization": "Bearer " + issue_token(JWT_SECRET, org=org, role="admin", sub="boss")
    }
    secrets = {}
    for provider, stages in HOOK_STAGES.items():
        body = {
            **connector_body(provider),
            "stages": stages,
            "owners": {"*": {"rep_id": "r-hook", "team_id": "t-hook"}},
        }
        answer = await world.clients["activity"].post("/v1/connectors", json=body, headers=admin)
        assert answer.status_code == 201, answer.text
        secrets[provider] = body["secret"]
    return Hooks(org, secrets)


def _signer(provider: str, secret: str) -> Signer:
    """Credentials as each provider sends them, made for the request as it goes out."""

    def hubspot(request: httpx.Request) -> None:
        # v3: base64 HMAC-SHA256 of method + URI (HubSpot decodes its %-escapes) + body + ms
        ts = str(int(time.time() * 1000))
        source = request.method.encode() + unquote(str(request.url)).encode()
        source += request.content + ts.encode()
        digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
        request.headers["X-HubSpot-Signature-v3"] = base64.b64encode(digest).decode()
        request.headers["X-HubSpot-Request-Timestamp"] = ts

    def pipedrive(request: httpx.Request) -> None:
        request.headers["Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()

    def salesforce(request: httpx.Request) -> None:
        request.headers["SOAPAction"] = '""'  # the secret is the path's token

    def generic(request: httpx.Request) -> None:
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        request.headers["webhook-id"] = msg_id
        request.headers["webhook-timestamp"] = str(int(now.timestamp()))
        request.headers["webhook-signature"] = Webhook(secret).sign(msg_id, now, request.content)

    signers: dict[str, Signer] = {
        "hubspot": hubspot,
        "pipedrive": pipedrive,
        "salesforce": salesforce,
        "generic": generic,
    }
    return signers[provider]


_AMOUNTS = st.one_of(
    st.decimals(min_value=0, max_value=10**9, places=0),
    st.decimals(min_value=0, max_value=10**6, places=2),
    st.decimals(min_value=0, max_value=10**6, places=3),
    st.decimals(min_value=-10, max_value=10**16, allow_nan=False, allow_infinity=False),
).map(lambda d: format(Decimal(d), "f"))
_TIMES = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC)
).map(lambda d: d.isoformat().replace("+00:00", "Z"))
_ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))


def _hubspot_bodies() -> st.SearchStrategy[Any]:
    value = st.one_of(
        st.sampled_from([*HOOK_STAGES["hubspot"], "presentationscheduled", "42"]),
        _AMOUNTS,
        st.text(max_size=8),
    )
    event = st.fixed_dictionaries(
        {
            "eventId": st.integers(1, 10**9),
            "subscriptionId": st.just(2171),
            "portalId": st.just(62515),
            "appId": st.just(54321),
            "occurredAt": st.integers(HOOK_T0, HOOK_T0 + 10**10),
            "attemptNumber": st.integers(0, 9),
            "subscriptionType": st.sampled_from(
                ["deal.creation", "deal.propertyChange", "deal.deletion", "contact.creation"]
            ),
            "objectId": st.integers(1, 4),
            "changeSource": st.just("CRM"),
        },
        optional={
            "propertyName": st.sampled_from(
                ["dealstage", "amount", "hubspot_owner_id", "dealname"]
            ),
            "propertyValue": value,
        },
    )
    return st.lists(event, min_size=1, max_size=6)


def _pipedrive_bodies() -> st.SearchStrategy[Any]:
    deal = st.fixed_dictionaries(
        {
            "id": st.integers(1, 4),
            "title": st.text(max_size=8),
            "owner_id": st.integers(1, 9),
            "org_id": st.one_of(st.none(), st.integers(1, 9)),
            "stage_id": st.integers(1, 5),
            "value": st.one_of(
                st.none(), st.integers(0, 10**7), _AMOUNTS, st.floats(0, 10**7, allow_nan=False)
            ),
            "currency": st.one_of(st.none(), st.sampled_from(CURRENCIES)),
            "status": st.sampled_from(["open", "won", "lost", "deleted"]),
            "lost_reason": st.one_of(
                st.none(), st.sampled_from(["Price", "no budget"]), st.text(max_size=8)
            ),
            "add_time": _TIMES,
            "update_time": _TIMES,
            "won_time": st.one_of(st.none(), _TIMES),
            "lost_time": st.one_of(st.none(), _TIMES),
        },
    )
    previous = st.fixed_dictionaries(
        {},
        optional={
            "stage_id": st.integers(1, 5),
            "value": st.integers(0, 10**6),
            "currency": st.sampled_from(CURRENCIES),
            "status": st.sampled_from(["open", "won", "lost"]),
        },
    )

    def delivery(
        action: str,
        data: dict[str, Any],
        before: dict[str, Any],
        at: str,
        delivery_id: uuid.UUID,
        entity: str,
        extra: Any,
    ) -> dict[str, Any]:
        meta = {
            "action": action,
            "entity": entity,
            "entity_id": str(data["id"]),
            "id": str(delivery_id),
            "timestamp": at,
            "company_id": "7741",
            "user_id": "15",
            "version": "2.0",
            "webhook_id": "4411",
            "attempt": 1,
            "change_source": "app",
            "is_bulk_edit": False,
            "extra": extra,
        }
        if action == "delete":
            return {"meta": meta, "data": None, "previous": data}
        return {"meta": meta, "data": data, "previous": None if action == "create" else before}

    return st.builds(
        delivery,
        st.sampled_from(["create", "change", "delete"]),
        deal,
        previous,
        _TIMES,
        st.uuids(),
        st.sampled_from(["deal", "deal", "person"]),
        _ANY,
    )


def _salesforce_bodies() -> st.SearchStrategy[Any]:
    fields = st.fixed_dictionaries(
        {
            "Id": st.sampled_from(["0065g00000XyZabAAB", "0065g00000XyZabAAC"]),
            "Amount": st.one_of(st.none(), _AMOUNTS),
            "CurrencyIsoCode": st.sampled_from(CURRENCIES),
            "StageName": st.sampled_from([*HOOK_STAGES["salesforce"], "Closed Lost", "Unmapped"]),
            "IsClosed": st.sampled_from(["true", "false"]),
            "IsWon": st.sampled_from(["true", "false"]),
            "SystemModstamp": _TIMES,
        },
    )
    one = st.builds(lambda n, f: notification(f"04l{n}", **f), st.integers(1, 10**6), fields)
    return st.lists(one, min_size=1, max_size=4).map(lambda ns: envelope(*ns, org_id=ORG_ID))


def _generic_bodies() -> st.SearchStrategy[Any]:
    def event(example: dict[str, Any], amount: str, currency: str, owner: bool) -> dict[str, Any]:
        out = {k: v for k, v in example.items() if k not in ("event_id", "metadata")}
        if "amount" in out["data"]:
            out["data"] = {**out["data"], "amount": amount, "currency": currency}
        if owner:  # the sender's own user id, mapped through "*"
            out.pop("rep_id")
            out.pop("team_id")
            out["owner"] = "u-7"
        return out

    one = st.builds(
        event,
        st.sampled_from(list(EXAMPLES.values())),
        _AMOUNTS,
        st.sampled_from(CURRENCIES),
        st.booleans(),
    )
    return st.one_of(one, st.lists(one, min_size=1, max_size=4))


PROVIDER_BODIES = {
    "hubspot": _hubspot_bodies,
    "pipedrive": _pipedrive_bodies,
    "salesforce": _salesforce_bodies,
    "generic": _generic_bodies,
}


@pytest.mark.parametrize(("service", "method", "path"), _operations(webhooks=True))
async def test_a_signed_delivery_keeps_its_contract(
    world: World, hooks: Hooks, service: str, method: str, path: str
) -> None:
    """Signed deliveries get past the signature: whatever the body, a declared 2xx/4xx."""
    provider = path.split("/")[3]
    schema = schemathesis.openapi.from_dict(SCHEMAS[service])
    operation = schema[path][method]
    ids = {"org": hooks.org}
    if "{token}" in path:
        ids["token"] = hooks.secrets[provider]
    shaped = PROVIDER_BODIES[provider]().flatmap(
        lambda body: operation.as_strategy(path_parameters=ids, body=body)
    )
    strategies = [
        shaped,
        shaped,  # twice: half the cases are deliveries shaped like the provider's
        *(
            operation.as_strategy(generation_mode=mode, path_parameters=ids)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ),
        operation.as_strategy(),  # another org, another token: 404 or 401
    ]
    loop = asyncio.get_running_loop()
    sign = _signer(provider, hooks.secrets[provider])
    statuses = await asyncio.to_thread(
        _fuzz, operation, world.clients[service], {}, loop, strategies, HOOK_EXAMPLES, sign
    )
    assert 200 in statuses, statuses  # signed as the provider signs: deliveries get through
