"""Helpers shared by the scoring API tests: problem assertions, event builders, appends that
return activity's answer, a shared-org scenario for read-only modules, and polling.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import httpx
from fastapi import FastAPI

from salesperf.synthetic import iter_events
from shared.auth import issue_token
from tests.api.scoring.conftest import settled
from tests.conftest import JWT_SECRET, make_event
from tests.problems import PROBLEM_JSON, assert_problem  # noqa: F401 (used by the scoring and goals tests)

# --------------------------------------------------------------------------------- problems


# --------------------------------------------------------------------------------- ranges


def span(first: str, last: str) -> dict[str, str]:
    """Query parameters for the days `first`..`last`."""
    return {"from": first, "to": last}


# --------------------------------------------------------------------------------- events


def at(day: str, time: str = "10:00:00") -> str:
    """An ISO timestamp in UTC on `day` (YYYY-MM-DD)."""
    return f"{day}T{time}+00:00"


def visit(
    rep: str, team: str | None, account: str, when: str, *, effective: bool = True
) -> dict[str, Any]:
    return make_event(
        "visit.logged",
        stream=f"account-{account}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"mode": "onsite", "effective": effective, "duration_minutes": 30},
    )


def call(rep: str, team: str, account: str, when: str, *, connected: bool = True) -> dict[str, Any]:
    return make_event(
        "call.logged",
        stream=f"account-{account}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"connected": connected, "duration_seconds": 120},
    )


def tier(account: str, value: str, when: str) -> dict[str, Any]:
    return make_event(
        "account.tier_changed",
        stream=f"account-{account}",
        rep_id="r1",
        team_id="t1",
        occurred_at=when,
        data={"tier": value},
    )


def lead(
    rep: str, team: str, lead_id: str, channel: str, account: str, when: str
) -> dict[str, Any]:
    return make_event(
        "lead.created",
        stream=f"lead-{lead_id}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"name": f"Company {lead_id}", "channel": channel, "account_id": account},
    )


def qualified(rep: str, team: str, lead_id: str, when: str) -> dict[str, Any]:
    return make_event(
        "lead.qualified",
        stream=f"lead-{lead_id}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={},
    )


def disqualified(rep: str, team: str, lead_id: str, when: str) -> dict[str, Any]:
    return make_event(
        "lead.disqualified",
        stream=f"lead-{lead_id}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"reason": "no_budget"},
    )


def opened(
    rep: str,
    team: str,
    deal: str,
    amount: str,
    currency: str,
    product_line: str,
    account: str | None,
    when: str,
    *,
    lead_id: str | None = None,
) -> dict[str, Any]:
    """A deal.opened (`account` None: a prospect's, no account yet)."""
    data = {
        "amount": amount,
        "currency": currency,
        "product_line": product_line,
        "stage": "qualification",
    }
    if account is not None:
        data["account_id"] = account
    if lead_id:
        data["lead_id"] = lead_id
    return make_event(
        "deal.opened",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data=data,
    )


def linked(rep: str, team: str, deal: str, account: str, when: str) -> dict[str, Any]:
    """A deal.account_linked: the deal joins `account`."""
    return make_event(
        "deal.account_linked",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"account_id": account},
    )


def stage(rep: str, team: str, deal: str, to_stage: str, when: str) -> dict[str, Any]:
    return make_event(
        "deal.stage_changed",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"to_stage": to_stage},
    )


def won(rep: str, team: str, deal: str, amount: str, currency: str, when: str) -> dict[str, Any]:
    return make_event(
        "deal.won",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"amount": amount, "currency": currency},
    )


def lost(rep: str, team: str, deal: str, when: str) -> dict[str, Any]:
    return make_event(
        "deal.lost",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"reason": "price"},
    )


def invoice(
    rep: str, team: str, invoice_id: str, account: str, deal: str, amount: str, when: str
) -> dict[str, Any]:
    return make_event(
        "invoice.issued",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={
            "invoice_id": invoice_id,
            "account_id": account,
            "deal_id": deal,
            "amount": amount,
            "currency": "EUR",
        },
    )


def payment(
    rep: str, team: str, invoice_id: str, account: str, amount: str, when: str
) -> dict[str, Any]:
    return make_event(
        "payment.received",
        stream=f"account-{account}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"invoice_id": invoice_id, "account_id": account, "amount": amount, "currency": "EUR"},
    )


def void(target: dict[str, Any], when: str, reason: str = "logged by mistake") -> dict[str, Any]:
    """An `event.voided` cancelling `target` (same stream, rep and team)."""
    return make_event(
        "event.voided",
        stream=target["stream"],
        rep_id=target["rep_id"],
        team_id=target["team_id"],
        occurred_at=when,
        data={"voided_event_id": target["event_id"], "reason": reason},
    )


# --------------------------------------------------------------------------------- appends


async def append(activity_app: FastAPI, event: dict[str, Any], headers: dict[str, str]) -> Any:
    """POST one event to activity; activity's answer (event_id, position, recorded_at…)."""
    transport = httpx.ASGITransport(app=activity_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://activity") as client:
        answer = await client.post("/v1/events", json=event, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def append_batch(
    activity_app: FastAPI, events: list[dict[str, Any]], headers: dict[str, str]
) -> int:
    """POST events in one batch; the last position stored."""
    transport = httpx.ASGITransport(app=activity_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://activity") as client:
        answer = await client.post("/v1/events/batch", json={"events": events}, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return max(r["position"] for r in answer.json()["results"])


# --------------------------------------------------------------------------------- shared orgs


@dataclass
class SharedOrg:
    """An org of its own for a module whose tests only read: `headers(role, …)` like `auth`."""

    org: str = field(default_factory=lambda: f"org-{uuid.uuid4().hex[:10]}")

    def headers(
        self, role: str = "admin", *, sub: str = "user-1", team: str | None = None
    ) -> dict[str, str]:
        token = issue_token(JWT_SECRET, org=self.org, role=role, sub=sub, team=team)
        return {"Authorization": f"Bearer {token}"}


async def seed(
    activity_app: FastAPI, scoring: httpx.AsyncClient, events: list[dict[str, Any]]
) -> SharedOrg:
    """Post `events` (in order) into a fresh org and wait until scoring has folded them."""
    shared = SharedOrg()
    last = await append_batch(activity_app, events, shared.headers())
    await settled(scoring, shared.headers(), last)
    return shared


# --------------------------------------------------------------------------------- polling


async def eventually(
    probe: Callable[[], Any], *, timeout: float = 15, interval: float = 0.05
) -> Any:
    """Await `probe()` until it returns something truthy; that value (or AssertionError)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        await asyncio.sleep(interval)


async def scores_settled(db: Any, org: str, position: int) -> None:
    """Wait until the org's scores and health are written up to `position` too (they may trail
    the KPIs: keys a page leaves while earlier ones are scored are scored in the next round)."""

    async def scored() -> bool:
        row = await db.fetchrow(
            "SELECT position, scored_position FROM scoring.orgs WHERE org_id = $1", org
        )
        return row is not None and row["scored_position"] == row["position"] >= position

    await eventually(scored)


async def rebuild_done(
    scoring: httpx.AsyncClient, headers: dict[str, str], *, after_generation: int
) -> dict[str, Any]:
    """Wait until a rebuild past `after_generation` is done; its status."""

    async def probe() -> dict[str, Any] | None:
        answer = await scoring.get("/v1/admin/rebuild", headers=headers)
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()
        if status["state"] == "done" and status["generation"] > after_generation:
            return status
        return None

    # A liveness bound, not a speed claim: a rebuild starts a worker process, which on a
    # loaded 2-core machine took more than 15 s.
    result: dict[str, Any] = await eventually(probe, timeout=60)
    return result


async def no_rebuild(scoring: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The org was never rebuilt, nor is a rebuild asked for (a void was corrected in place)."""
    answer = await scoring.get("/v1/admin/rebuild", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"state": "idle", "generation": 1, "done": 0, "total": 0}


def voidless_month(count: int) -> list[dict[str, Any]]:
    """The first `count` events of a small team's month (`salesperf.synthetic`), voids left
    out: a backlog for a follower to fold, without corrections reading activity's feed."""
    return [
        e
        for e in islice(iter_events(teams=1, days=30, scale=0.6), count)
        if e["type"] != "event.voided"
    ]
