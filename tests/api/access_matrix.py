"""The machinery of the access matrix (tests/api/test_access_matrix.py): the callers and their
tokens, the table's rows and expected statuses, the seeded org, and the list of every endpoint
the three apps serve.

The table itself, with its body checks, is in the test module; this is what it is written with.
"""

from __future__ import annotations

import base64
import inspect
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from shared.auth import PLATFORM_ORG, issue_token
from shared.direct import DirectRoutes
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import append_batch, at, call, lead, opened, visit, won
from tests.conftest import JWT_SECRET, make_event

ROSTER_DAY = "2020-01-01"
"""The roster's seeded entries take effect on this day: t1 led by m1 with r1 and r2, t2 led by
m2 with r3 (as the events place them)."""
ROSTER_TEAMS = {"t1": ("North", "m1"), "t2": ("South", "m2")}
ROSTER_REPS = {"r1": "t1", "r2": "t1", "r3": "t2"}
ROSTER_CSV = f"rep_id,team_id,from\nr1,t1,{ROSTER_DAY}\n".encode()
"""A roster file of one row saying what the seeded roster says: it changes nothing there."""
NOTHING_TO_IMPORT = (
    b"event_id,type,stream,occurred_at\nnot-a-uuid,visit.logged,account-W1,2020-01-01T00:00:00Z\n"
)
"""A CSV file whose one row is rejected: an import that changes nothing the matrix reads."""

# --------------------------------------------------------------------------------- callers

GOOD = (
    "rep",
    "teammate",
    "rep_t2",
    "manager",
    "manager_t2",
    "bi",
    "admin",
    "service",
    "platform",
    "other_admin",
)
"""Callers with a valid token, in the order of an `expect(...)` spec's columns."""
BAD = ("no_token", "expired", "bad_signature", "alg_none", "unknown_role")
"""Callers whose token is refused, whatever the endpoint: 401 on every bearer route."""
CALLERS = GOOD + BAD


@dataclass(frozen=True)
class Who:
    """What a valid caller's token says."""

    org: str
    role: str
    sub: str
    team: str | None = None

    def sees(self, rep_id: str | None, team_id: str | None) -> bool:
        """DESIGN.md's rule: a rep their own, a manager their team's, the rest the org's."""
        if self.role == "rep":
            return rep_id == self.sub
        if self.role == "manager":
            return team_id == self.team
        return True


def callers(org: str, other_org: str) -> dict[str, Who]:
    return {
        "rep": Who(org, "rep", "r1", "t1"),  # owns every by-id object of the matrix
        "teammate": Who(org, "rep", "r2", "t1"),
        "rep_t2": Who(org, "rep", "r3", "t2"),
        "manager": Who(org, "manager", "m1", "t1"),
        "manager_t2": Who(org, "manager", "m2", "t2"),
        "bi": Who(org, "bi", "analyst"),
        "admin": Who(org, "admin", "boss"),
        "service": Who(org, "service", "goals"),
        "platform": Who(PLATFORM_ORG, "service", "scoring"),
        "other_admin": Who(other_org, "admin", "boss"),
    }


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def bad_tokens(org: str) -> dict[str, str]:
    """Each refused token claims to be the org's admin."""
    now = int(time.time())
    claims = {"org": org, "role": "admin", "sub": "boss", "iat": now, "exp": now + 3600}
    return {
        "expired": issue_token(JWT_SECRET, org=org, role="admin", sub="boss", ttl_seconds=-60),
        "bad_signature": issue_token(
            "another-secret-" + "y" * 32, org=org, role="admin", sub="boss"
        ),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "unknown_role": jwt.encode({**claims, "role": "superuser"}, JWT_SECRET, algorithm="HS256"),
    }


def headers_of(who: Mapping[str, Who], org: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"no_token": {}}
    for name, w in who.items():
        token = issue_token(JWT_SECRET, org=w.org, role=w.role, sub=w.sub, team=w.team)
        out[name] = {"Authorization": f"Bearer {token}"}
    for name, token in bad_tokens(org).items():
        out[name] = {"Authorization": f"Bearer {token}"}
    return out


# --------------------------------------------------------------------------------- the table

Status = int | frozenset[int]


def expect(spec: str) -> dict[str, Status]:
    """Statuses for GOOD's ten callers in order (`403/404`: either), and 401 for BAD's."""
    cells = spec.split()
    assert len(cells) == len(GOOD), spec
    good: dict[str, Status] = {
        caller: int(cell) if "/" not in cell else frozenset(int(c) for c in cell.split("/"))
        for caller, cell in zip(GOOD, cells, strict=True)
    }
    return {**good, **dict.fromkeys(BAD, 401)}


PUBLIC: dict[str, Status] = dict.fromkeys(CALLERS, 200)
"""Operations endpoints: no token asked, none looked at."""
SIGNED: dict[str, Status] = dict.fromkeys(CALLERS, 401)
"""Webhooks: only the provider's signature opens them; a bearer token, good or bad, does not."""


@dataclass
class Call:
    """One concrete request of a row."""

    url: str
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Build = Callable[["World", str], Call | Awaitable[Call]]
Check = Callable[["World", str, httpx.Response], None]
After = Callable[["World", str, httpx.Response], Awaitable[None]]


@dataclass(frozen=True)
class Row:
    """An endpoint (service, method, route path) asked one way (`variant`), and what each caller
    gets: a status and, for a 2xx, a `check` of the body."""

    service: str
    method: str
    path: str
    expect: Mapping[str, Status]
    build: Build
    check: Check | None = None
    after: After | None = None
    variant: str = ""
    xfail: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.service} {self.method} {self.path}" + (
            f" [{self.variant}]" if self.variant else ""
        )

    async def call(self, world: World, caller: str) -> Call:
        built = self.build(world, caller)
        if inspect.isawaitable(built):
            return await built
        assert isinstance(built, Call)
        return built


def allowed(status: Status) -> Iterable[int]:
    return status if isinstance(status, frozenset) else (status,)


# --------------------------------------------------------------------------------- endpoints

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/static", "/redoc"}


def endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) `app` answers: its routes (those of included routers too), and the
    direct routes its `DirectRoutes` middleware answers before routing; not the docs."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: Iterable[Any] = iter_route_contexts(app.routes)
    except ImportError:  # an older FastAPI: included routes are plain routes
        routes = app.routes
    found: set[tuple[str, str]] = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is None or path in DOCS:
            continue
        assert methods, f"{path}: a route without methods (a mount?) the matrix cannot cover"
        found |= {(m, path) for m in methods if m not in ("HEAD", "OPTIONS")}
    for middleware in app.user_middleware:
        cls: Any = middleware.cls
        if cls is DirectRoutes:
            kwargs: dict[str, Any] = dict(middleware.kwargs)
            found |= set(kwargs.get("routes") or {}) | set(kwargs.get("patterns") or {})
    return found


# --------------------------------------------------------------------------------- the org


TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=5)
"""The seeded work happened on this day (UTC)."""
MONTH = DAY.replace(day=1)
LAST_MONTH = TODAY.replace(day=1) - timedelta(days=1)
"""A day of the month before this one: a month that has ended (payout runs pay only those)."""
PAST = "2020-01-15T10:00:00+00:00"
"""When appended test events happened: outside every range the matrix reads."""
OLD_MONTH = date(2020, 1, 1)
"""The month of the goals rows set or split: outside every progress read."""


ALERT_CALLS = 20
"""r1's calls on A1 in each of two earlier weeks (all connected) and in the last 7 days (none
connected): enough volume (scoring's default `alert_min_denominator`) for r1's connected-call
rate to raise a rate-drop alert, in every scope that holds r1's work in t1 and in no other."""


def seed_events() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The org's work: r1 and r2 of t1, r3 of t2, each a lead, a deal, an account with visits;
    r1's deal D1 won (the one closed outcome scoring trains and backtests on) and r1's calls
    (`ALERT_CALLS`); and r1's account W1 (touched in 2020), the stream the append rows write to.
    With r1's first visit, the event by-id rows read."""
    when = at(DAY.isoformat())
    calls = [
        call(
            "r1",
            "t1",
            "A1",
            at(day.isoformat(), f"{9 + i // 6:02d}:{i % 6 * 10:02d}:00"),
            connected=connected,
        )
        for day, connected in (
            (TODAY - timedelta(days=17), True),
            (TODAY - timedelta(days=10), True),
            (DAY, False),
        )
        for i in range(ALERT_CALLS)
    ]
    r1_visit = visit("r1", "t1", "A1", when)
    events = [
        lead("r1", "t1", "L1", "referral", "A1", when),
        r1_visit,
        visit("r1", "t1", "A1", at(DAY.isoformat(), "11:00:00")),
        opened("r1", "t1", "D1", "1000.00", "EUR", "widgets", "A1", when),
        won("r1", "t1", "D1", "1000.00", "EUR", at(DAY.isoformat(), "12:00:00")),
        *calls,
        lead("r2", "t1", "L2", "referral", "A2", when),
        visit("r2", "t1", "A2", when),
        opened("r2", "t1", "D2", "2000.00", "EUR", "widgets", "A2", when),
        lead("r3", "t2", "L3", "online", "A3", when),
        visit("r3", "t2", "A3", when),
        opened("r3", "t2", "D3", "3000.00", "EUR", "widgets", "A3", when),
        make_event(
            "call.logged",
            stream="account-W1",
            rep_id="r1",
            team_id="t1",
            occurred_at=PAST,
            data={"connected": True, "duration_seconds": 60},
        ),
    ]
    return events, r1_visit


VISITS = {"rep:r1": 2, "rep:r2": 1, "rep:r3": 1, "team:t1": 3, "team:t2": 1, "org": 4}
LEADS = {"rep:r1": 1, "rep:r2": 1, "rep:r3": 1, "team:t1": 2, "team:t2": 1, "org": 3}
OURS = {"lead-L1", "lead-L2", "lead-L3", "deal-D1", "deal-D2", "deal-D3", "A1", "A2", "A3"}
"""Ids of the org's leads, deals and accounts: none may reach another org's caller. (Not W1:
the append rows write an account-W1 of the other org's own.)"""

SALESFORCE_ORG_ID = "00D5g000004ABCdEAO"
UNMAPPED_OWNER = "crm-user-9"
"""The CRM owner of the one delivery the org's generic connector could not map: its dead letter."""


def connector_body(provider: str) -> dict[str, Any]:
    secret = {
        "hubspot": "hubspot-client-secret-" + secrets.token_hex(8),
        "generic": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "pipedrive": "hooks:" + secrets.token_hex(12),
        "salesforce": secrets.token_urlsafe(32),
    }[provider]
    body: dict[str, Any] = {"provider": provider, "secret": secret, "default_currency": "EUR"}
    if provider == "salesforce":
        body["salesforce_org_id"] = SALESFORCE_ORG_ID
    return body


def goal_body(owner: str, team: str | None, start: date = MONTH, **extra: Any) -> dict[str, Any]:
    body = {
        "owner": owner,
        "metric": "visits",
        "period": "month",
        "start": start.isoformat(),
        "target": 10,
        **extra,
    }
    if team:
        body["team_id"] = team
    return body


@dataclass
class World:
    """The seeded org, its callers, and the clients of the three services."""

    org: str
    other_org: str
    clients: dict[str, httpx.AsyncClient]
    who: dict[str, Who] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    event_id: str = ""  # r1's first visit
    connector_id: str = ""  # the org's HubSpot connector
    salesforce_id: str | None = None  # the org's Salesforce connector (rows delete and make it)
    goals: dict[str, str] = field(default_factory=dict)  # name → id
    import_id: str = ""  # the org's import of a file whose one row is rejected
    generic_id: str = ""  # the org's Standard Webhooks connector, holding one dead letter

    def admin(self) -> dict[str, str]:
        return self.headers["admin"]

    async def ensure_salesforce(self) -> str:
        """The org's Salesforce connector (made again if a row removed it)."""
        if self.salesforce_id is None:
            answer = await self.clients["activity"].post(
                "/v1/connectors", json=connector_body("salesforce"), headers=self.admin()
            )
            assert answer.status_code == 201, answer.text
            self.salesforce_id = answer.json()["id"]
        return self.salesforce_id

    async def drop_salesforce(self) -> None:
        if self.salesforce_id is not None:
            answer = await self.clients["activity"].delete(
                f"/v1/connectors/{self.salesforce_id}", headers=self.admin()
            )
            assert answer.status_code == 204, answer.text
            self.salesforce_id = None

    async def new_goal(self) -> str:
        """A goal of r1 in t1 of its own (in 2020: out of every progress read), for a row that
        archives or splits it."""
        answer = await self.clients["goals"].post(
            "/v1/goals", json=goal_body("rep:r1", "t1", OLD_MONTH), headers=self.admin()
        )
        assert answer.status_code == 201, answer.text
        goal_id: str = answer.json()["id"]
        return goal_id


async def dead_letter(activity: httpx.AsyncClient, org: str, secret: str) -> None:
    """A Standard Webhooks delivery of one visit whose CRM owner the connector does not map."""
    event = {
        "type": "visit.logged",
        "stream": "lead-Z1",
        "occurred_at": PAST,
        "owner": UNMAPPED_OWNER,
        "data": {"mode": "onsite", "effective": True, "duration_minutes": 5},
    }
    body, msg_id, now = json.dumps([event]).encode(), "msg_matrix", datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }
    answer = await activity.post(f"/v1/webhooks/generic/{org}", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["dead_letters"] == 1, answer.text


async def seed(
    activity_app: FastAPI, scoring: httpx.AsyncClient, goals: httpx.AsyncClient
) -> World:
    """A fresh org holding the work of `seed_events`, its four CRM connectors, five goals and
    its roster (`ROSTER_TEAMS`, `ROSTER_REPS`), folded by scoring; and another org with one
    visit of its own."""
    org, other = f"org-{uuid.uuid4().hex[:10]}", f"org-{uuid.uuid4().hex[:10]}"
    who = callers(org, other)
    activity = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=activity_app), base_url="http://activity"
    )
    world = World(
        org,
        other,
        {"activity": activity, "scoring": scoring, "goals": goals},
        who,
        headers_of(who, org),
    )
    events, r1_visit = seed_events()
    world.event_id = r1_visit["event_id"]
    last = await append_batch(activity_app, events, world.admin())
    theirs = [visit("x1", "tx", "X1", at(DAY.isoformat()))]
    other_last = await append_batch(activity_app, theirs, world.headers["other_admin"])
    await settled(scoring, world.admin(), last)
    await settled(scoring, world.headers["other_admin"], other_last)
    for provider in ("hubspot", "generic", "pipedrive"):
        body = connector_body(provider)
        answer = await activity.post("/v1/connectors", json=body, headers=world.admin())
        assert answer.status_code == 201, answer.text
        if provider == "hubspot":
            world.connector_id = answer.json()["id"]
        if provider == "generic":
            world.generic_id = answer.json()["id"]
            await dead_letter(activity, org, body["secret"])
    await world.ensure_salesforce()
    imported = await activity.post(
        "/v1/imports",
        content=NOTHING_TO_IMPORT,
        headers={**world.admin(), "Content-Type": "text/csv"},
    )
    assert imported.status_code == 202, imported.text
    world.import_id = imported.json()["id"]
    for name, (owner, team) in {
        "r1": ("rep:r1", "t1"),
        "t1": ("team:t1", None),
        "r3": ("rep:r3", "t2"),
        "org": ("org", None),
        "r1_in_t2": ("rep:r1", "t2"),  # r1 helping out in t2: t2's manager reads it
    }.items():
        answer = await goals.post("/v1/goals", json=goal_body(owner, team), headers=world.admin())
        assert answer.status_code == 201, answer.text
        world.goals[name] = answer.json()["id"]
    for team, (name, manager) in ROSTER_TEAMS.items():
        body = {"name": name, "manager_id": manager, "from": ROSTER_DAY}
        answer = await goals.put(f"/v1/teams/{team}", json=body, headers=world.admin())
        assert answer.status_code == 200, answer.text
    for rep, team in ROSTER_REPS.items():
        body = {"team_id": team, "from": ROSTER_DAY}
        answer = await goals.put(f"/v1/reps/{rep}", json=body, headers=world.admin())
        assert answer.status_code == 200, answer.text
    return world
