"""Access control as one table (issue 11 §3): every endpoint of activity, scoring and goals ×
every kind of caller → the status DESIGN.md's rules give and, for a 2xx, a check that the body
holds only what that caller may see.

The rules ("Cross-cutting"): a rep sees only their own, a manager their team's, a bi token
reads only, nobody crosses orgs. In statuses:

- an object that is not the caller's (an event, stream, lead score, account, goal, connector of
  another rep, team or org) is 404, never 403: the answer must not tell that it exists;
- a route (or an `owner`/`scope` filter) that the caller's role may not use is 403: it names no
  object (the leaderboard for a rep, connectors for anyone but an admin, `owner=rep:r2` for r1);
- a list answers 200 with only what the caller may see (goals' `owner=` filter narrows it and
  so answers an empty list for someone else's owner);
- bi and platform tokens (org `*`) write nothing: 403 before anything is looked up;
- another org's admin gets 404 for our objects and their own org's (empty) answer for lists;
- a missing, expired, wrongly signed, `alg: none` or unknown-role token is 401 everywhere.

Callers (access_matrix.py): r1 (`rep`, who owns every by-id object), r2 (`teammate`, t1), r3
(`rep_t2`), the managers of t1 and t2, bi, admin, an org service token, a platform token (org
`*`, service), another org's admin, and the five refused tokens. The org is seeded once for the
module through the APIs and folded by scoring before the first row.

`test_every_endpoint_has_a_row` lists the routes of the three apps (and the direct routes of
shared/direct.py): an endpoint added without a row here fails the suite.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.activity.main import create_app as create_activity
from services.goals.main import create_app as create_goals
from services.scoring.main import create_app as create_scoring
from tests.api.access_matrix import (
    ALERT_CALLS,
    CALLERS,
    DAY,
    LAST_MONTH,
    LEADS,
    NOTHING_TO_IMPORT,
    OLD_MONTH,
    OURS,
    PAST,
    PUBLIC,
    ROSTER_CSV,
    ROSTER_DAY,
    ROSTER_REPS,
    ROSTER_TEAMS,
    SIGNED,
    TODAY,
    UNMAPPED_OWNER,
    VISITS,
    Call,
    Row,
    World,
    allowed,
    connector_body,
    endpoints,
    expect,
    goal_body,
    seed,
)
from tests.api.activity.conftest import activity_settings
from tests.api.goals.conftest import goals_settings
from tests.api.scoring.conftest import scoring_settings
from tests.api.scoring.helpers import rebuild_done

#          rep mate rep2 mgr mgr2  bi  adm  svc plat other       (GOOD's order)
OBJECT = "200 404  404  200 404  200 200  200 404  404"  # r1's event, stream, score, account, goal
READ = "200 200  200  200 200  200 200  200 200  200"  # anyone's own view (checked per body)
ADMIN_LIST = "403 403  403  403 403  403 200  403 403  200"
ADMIN_OBJECT = "403 403  403  403 403  403 200  403 403  404"
GOAL_WRITE = "403 404  404  200 404  403 200  403 403  404"  # r1's goal: its team's manager, admin


# --------------------------------------------------------------------------------- checks


def who(w: World, caller: str) -> Any:
    return w.who[caller]


def ours(w: World, caller: str) -> bool:
    return bool(who(w, caller).org == w.org)


def default_owner(w: World, caller: str) -> str:
    c = who(w, caller)
    return f"rep:{c.sub}" if c.role == "rep" else f"team:{c.team}" if c.role == "manager" else "org"


def expected(w: World, caller: str, owner: str, table: dict[str, int], theirs: int) -> int:
    """The count of `owner` in the caller's org: ours from `table`, the other org's `theirs`
    (for `org`), none in org `*`."""
    if ours(w, caller):
        return table.get(owner, 0)
    return theirs if owner == "org" and who(w, caller).org == w.other_org else 0


def sees_r1(w: World, caller: str) -> bool:
    return ours(w, caller) and who(w, caller).sees("r1", "t1")


def only_visible(w: World, caller: str, items: list[dict[str, Any]], key: str, mine: str) -> None:
    """Every item is one the caller may see; r1's `mine` is there when they may see it; nothing
    of ours reaches another org."""
    keys = {item[key] for item in items}
    if not ours(w, caller):
        assert not keys & OURS, keys
        return
    for item in items:
        assert who(w, caller).sees(item["rep_id"], item["team_id"]), item
    assert (mine in keys) == sees_r1(w, caller), keys


def visits_of(body: dict[str, Any]) -> int:
    return sum(int(b["metrics"]["visits"]["value"] or 0) for b in body["buckets"])


def check_kpis(w: World, caller: str, r: httpx.Response) -> None:
    body, owner = r.json(), default_owner(w, caller)
    assert body["owner"] == owner
    assert visits_of(body) == expected(w, caller, owner, VISITS, 1)


R1_ANYWHERE = {"rep": 2, "manager": 2, "bi": 2, "admin": 2, "service": 2}
"""r1's visits as each caller may see them: all of them, or (t2's manager) those in t2: none."""


def check_kpis_of_r1(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["owner"] == "rep:r1"
    assert visits_of(body) == R1_ANYWHERE.get(caller, 0)


def check_funnel(w: World, caller: str, r: httpx.Response) -> None:
    body, owner = r.json(), default_owner(w, caller)
    assert body["owner"] == owner
    leads = next(s["count"] for s in body["steps"] if s["step"] == "leads")
    assert leads == expected(w, caller, owner, LEADS, 0)


ALL_REPS = {"r1", "r2", "r3"}
BOARD = {
    "manager": {"r1", "r2"},
    "manager_t2": {"r3"},
    "bi": ALL_REPS,
    "admin": ALL_REPS,
    "service": ALL_REPS,
    "other_admin": {"x1"},
}


def check_leaderboard(w: World, caller: str, r: httpx.Response) -> None:
    assert {i["rep_id"] for i in r.json()["items"]} == BOARD.get(caller, set())


def check_leaderboard_of_t1(w: World, caller: str, r: httpx.Response) -> None:
    assert {i["rep_id"] for i in r.json()["items"]} == ({"r1", "r2"} if ours(w, caller) else set())


def rows_of(r: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def check_kpi_export(w: World, caller: str, r: httpx.Response) -> None:
    rows = rows_of(r)
    assert all(row["org_id"] == who(w, caller).org for row in rows)
    assert ("r1" in {row["rep_id"] for row in rows}) == ours(w, caller)


def check_score_export(w: World, caller: str, r: httpx.Response) -> None:
    rows = rows_of(r)
    assert all(row["org_id"] == who(w, caller).org for row in rows)
    assert ("lead-L1" in {row["id"] for row in rows}) == ours(w, caller)


def check_priority(w: World, caller: str, r: httpx.Response) -> None:
    only_visible(w, caller, r.json()["items"], "id", "lead-L1")


def check_score(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["id"], body["rep_id"], body["team_id"]) == ("lead-L1", "r1", "t1")


def check_accounts(w: World, caller: str, r: httpx.Response) -> None:
    only_visible(w, caller, r.json()["items"], "account_id", "A1")


def check_account(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["account_id"], body["rep_id"], body["team_id"]) == ("A1", "r1", "t1")


def check_funnel_of_r1(w: World, caller: str, r: httpx.Response) -> None:
    """r1's lead and won deal for those who see r1's work in t1; for the rest (t2's manager,
    whose view of r1 is r1's work in t2; org `*`; another org) not one of r1's numbers."""
    body = r.json()
    assert body["owner"] == "rep:r1"
    counts = {s["step"]: s["count"] for s in body["steps"]}
    if sees_r1(w, caller):
        assert (counts["leads"], counts["deals_opened"], counts["won"]) == (1, 1, 1), counts
    else:
        assert set(counts.values()) == {0}, counts
        assert body["win_rate"]["numerator"] == body["win_rate"]["denominator"] == 0, body
        for step in body["steps"]:
            conversion = step.get("conversion") or {"numerator": 0, "denominator": 0}
            assert conversion["numerator"] == conversion["denominator"] == 0, step


def r1_alerts(w: World, caller: str, r: httpx.Response) -> None:
    """r1's connected-call rate fell (ALERT_CALLS calls, none connected, against two weeks of
    all connected): the alert, with r1's numbers, reaches exactly those who see r1's work in t1;
    anyone else gets no alert at all (the seeded org raises no other)."""
    items = r.json()["items"]
    if not sees_r1(w, caller):
        assert items == [], items
        return
    calls = [a for a in items if a["metric"] == "call_connect_rate"]
    assert len(calls) == 1, items
    assert (calls[0]["numerator"], calls[0]["denominator"]) == (0, ALERT_CALLS), calls
    assert calls[0]["baseline"]["denominator"] == 2 * ALERT_CALLS, calls


def check_alerts(w: World, caller: str, r: httpx.Response) -> None:
    assert r.json()["owner"] == default_owner(w, caller)
    r1_alerts(w, caller, r)


def check_alerts_of_r1(w: World, caller: str, r: httpx.Response) -> None:
    assert r.json()["owner"] == "rep:r1"
    r1_alerts(w, caller, r)


def check_rep(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["rep"], body["team"], body["last_seen"]) == ("r1", "t1", DAY.isoformat()), body


def check_catalogue(w: World, caller: str, r: httpx.Response) -> None:
    """The metric catalogue: definitions, the same for everyone, no org's data."""
    items = r.json()["items"]
    assert "visits" in {m["name"] for m in items}
    fields = {"name", "kind", "description", "unit", "rounding"}
    assert all(set(m) <= fields for m in items), items[0]
    assert_names_no_org(w, r)


def check_settings(w: World, caller: str, r: httpx.Response) -> None:
    """The caller's org's settings: ours learnt EUR from the seeded deals; another org and org
    `*` have no currency."""
    body = r.json()
    assert body["timezone"] == "UTC"
    assert body["currency"] == ("EUR" if ours(w, caller) else None), body


def check_rebuild_state(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert {"generation", "done", "total", "state"} <= set(body), body
    assert body["state"] in (("requested",) if r.status_code == 202 else ("idle", "running")), body
    if caller == "platform":
        assert body["done"] == body["total"] == 0, body
    assert_names_no_org(w, r)


def check_trained(w: World, caller: str, r: httpx.Response) -> None:
    """Models of the caller's org: ours trained on r1's won deal, another org's on nothing."""
    outcomes = {m["kind"]: m["outcomes"] for m in r.json()["items"]}
    assert outcomes == {"lead": 0, "deal": 1 if ours(w, caller) else 0}, outcomes


def check_backtest(w: World, caller: str, r: httpx.Response) -> None:
    """The caller's org's deals scored after the cutoff: ours' D1-D3, none of another org."""
    items = {i["kind"]: i for i in r.json()["items"]}
    assert set(items) == {"lead", "deal"}
    if not ours(w, caller):
        assert all(i["trained_on"] == i["evaluated_on"] == 0 for i in items.values()), items
    else:
        assert items["deal"]["evaluated_on"] == 1, items


def assert_names_no_org(w: World, r: httpx.Response) -> None:
    """Nothing of either org (ids, their leads, deals, accounts) in an answer about no org."""
    text = r.text
    for secret in (w.org, w.other_org, w.event_id, "lead-L1", "deal-D1", "account-A1"):
        assert secret not in text, secret


def check_ops(w: World, caller: str, r: httpx.Response) -> None:
    assert_names_no_org(w, r)


def check_platform_reads_nothing(w: World, caller: str, r: httpx.Response) -> None:
    """Org-wide answers that are not lists of the org's objects (models, backlog): org `*` has
    nothing."""
    body = r.json()
    if caller == "platform":
        assert body.get("items", []) == [], body
        assert body.get("events", 0) == 0, body


def check_feed(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert all(i["org_id"] == who(w, caller).org for i in items)
    assert all(who(w, caller).sees(i["rep_id"], i["team_id"]) for i in items)
    assert (w.event_id in {i["event_id"] for i in items}) == sees_r1(w, caller)


def check_event(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["event_id"], body["org_id"], body["rep_id"]) == (w.event_id, w.org, "r1")


def check_stream(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert items
    assert all(i["stream"] == "lead-L1" and i["org_id"] == w.org for i in items)
    assert all(who(w, caller).sees(i["rep_id"], i["team_id"]) for i in items)


def check_orgs(w: World, caller: str, r: httpx.Response) -> None:
    assert {w.org, w.other_org} <= {o["org_id"] for o in r.json()["items"]}


def check_connectors(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert all(c["org_id"] == who(w, caller).org for c in items)
    assert (w.connector_id in {c["id"] for c in items}) == ours(w, caller)


def check_imports(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert all(j["org_id"] == who(w, caller).org for j in items)
    assert (w.import_id in {j["id"] for j in items}) == ours(w, caller)


def check_connector(w: World, caller: str, r: httpx.Response) -> None:
    assert (r.json()["id"], r.json()["org_id"]) == (w.connector_id, w.org)


def check_created_connector(w: World, caller: str, r: httpx.Response) -> None:
    assert r.json()["org_id"] == who(w, caller).org


def check_appended(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    results = body["results"] if "results" in body else [body]
    assert len(results) == 1
    assert results[0]["position"] > 0


def check_new_stream(w: World, caller: str, r: httpx.Response) -> None:
    """The first event of a new stream: its version tells nothing of anyone's stream."""
    body = r.json()
    assert body["position"] > 0, body
    assert body["stream_version"] == 1, body


def check_no_body(w: World, caller: str, r: httpx.Response) -> None:
    assert r.content == b"", r.text


def check_dead_letters(w: World, caller: str, r: httpx.Response) -> None:
    """The generic connector's one dead letter (its owner unmapped), nothing else."""
    items = r.json()["items"]
    assert [i["reason"] for i in items] == ["owner_unmapped"], items
    assert UNMAPPED_OWNER in json.dumps(items[0]["payload"]) + items[0]["detail"], items


def check_replay(w: World, caller: str, r: httpx.Response) -> None:
    assert r.json() == {"replayed": 0, "remaining": 1}


def check_import_started(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["org_id"] == who(w, caller).org, body
    assert body["id"] != w.import_id, body
    assert body["stored"] == body["rejected"] == 0, body


def check_import(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["id"], body["org_id"]) == (w.import_id, w.org), body
    assert (body["stored"], body["rejected"]) == (0, 1), body


def check_import_errors(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert [(e["row"], e["event_id"]) for e in items] == [(1, "not-a-uuid")], items


def goal_visible(w: World, caller: str, goal: dict[str, Any]) -> bool:
    c = who(w, caller)
    if c.role == "rep":
        return bool(goal["owner"] == f"rep:{c.sub}")
    if c.role == "manager":
        return bool(goal["team_id"] == c.team)
    return True


def check_goals(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    ids = {g["id"] for g in items}
    if not ours(w, caller):
        assert not ids & set(w.goals.values())
        return
    assert all(goal_visible(w, caller, g) for g in items)
    assert (w.goals["r1"] in ids) == sees_r1(w, caller)


def check_goals_of_r1(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert all(g["owner"] == "rep:r1" and goal_visible(w, caller, g) for g in items)
    assert (w.goals["r1"] in {g["id"] for g in items}) == sees_r1(w, caller)


def check_goal(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    goal = body.get("goal", body)
    assert goal["id"] == w.goals["r1"]
    assert goal["owner"] == "rep:r1"
    if "actual" in body:  # progress: r1's two visits (all in t1)
        assert body["actual"] == 2


def check_revisions(w: World, caller: str, r: httpx.Response) -> None:
    assert all(i["goal"]["id"] == w.goals["r1"] for i in r.json()["items"])


def check_new_goal(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["owner"] == "rep:r1"
    if who(w, caller).role == "manager":
        assert body["team_id"] == who(w, caller).team


def check_r1_in_t2(w: World, caller: str, r: httpx.Response) -> None:
    """t2's manager sees r1's work in t2 (none), not r1's two visits in t1."""
    body = r.json()
    assert body["goal"]["id"] == w.goals["r1_in_t2"]
    if caller == "manager_t2":
        assert body["actual"] == 0, body["actual"]


def check_progress(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert all(goal_visible(w, caller, p["goal"]) for p in items)
    ids = {p["goal"]["id"] for p in items}
    assert (w.goals["r1"] in ids) == sees_r1(w, caller)
    if caller == "manager_t2":  # r1's goal in t2: only r1's work in t2 (none)
        assert all(p["actual"] == 0 for p in items if p["goal"]["owner"] == "rep:r1"), items


def check_pace_alerts(w: World, caller: str, r: httpx.Response) -> None:
    for alert in r.json()["items"]:
        for side in ("leading", "lagging"):
            assert side in alert
        if who(w, caller).role == "rep":
            assert alert["owner"] == default_owner(w, caller)


def check_archived(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["archived"] is True
    assert (body["owner"], body["team_id"]) == ("rep:r1", "t1")
    assert body["updated_by"] == who(w, caller).sub, body


def check_split(w: World, caller: str, r: httpx.Response) -> None:
    """r1's goal in weeks: r1's goals in t1 only, summing to the parent's target."""
    body = r.json()
    parent, children = body["parent"], body["children"]
    assert parent["owner"] == "rep:r1"
    assert children
    assert all(
        (c["owner"], c["team_id"], c["parent_id"]) == ("rep:r1", "t1", parent["id"])
        for c in children
    ), children
    assert sum(c["target"] for c in children) == parent["target"]


def check_split_onto_r3(w: World, caller: str, r: httpx.Response) -> None:
    """t1's goal split onto r1 and t2's r3 (an admin may): both parts are t1's, each counting
    its rep's work in t1 only (as r1's goal in t2 counts r1's work in t2)."""
    body = r.json()
    parts = {c["owner"]: c["team_id"] for c in body["children"]}
    assert parts == {"rep:r1": "t1", "rep:r3": "t1"}, parts
    assert all(c["parent_id"] == body["parent"]["id"] for c in body["children"])


def check_reconcile(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["goal_id"], body["target"]) == (w.goals["r1"], 10), body
    assert body["children"] == [], body
    assert body["children_target"] == 0, body


def check_calendar(w: World, caller: str, r: httpx.Response) -> None:
    assert r.json() == CALENDAR


def check_plan(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["owner"] == "rep:r1"
    assert body["lookback"]["totals"]["visits"] == ("2" if ours(w, caller) else "0")


COST = {"channel": "exhibition", "month": "2026-09", "amount": "1200.00", "currency": "EUR"}


def check_costs(w: World, caller: str, r: httpx.Response) -> None:
    """The one cost the admin rows write (in our org, and the other admin's in theirs); none in
    org `*`."""
    items = r.json()["items"]
    if caller == "platform":
        assert items == [], items
    else:
        assert [{k: i[k] for k in COST} for i in items] == [COST], items


def check_channels(w: World, caller: str, r: httpx.Response, owner: str | None = None) -> None:
    """The owner's leads across the channels; costs only for the org."""
    body = r.json()
    owner = owner or default_owner(w, caller)
    assert body["owner"] == owner
    assert [i["channel"] for i in body["items"]] == [
        "referral",
        "cold_visit",
        "exhibition",
        "online",
        "inbound",
        "other",
    ]
    assert sum(i["new_leads"] for i in body["items"]) == expected(w, caller, owner, LEADS, 0)
    assert all((i["cost"] is None) == (owner != "org") for i in body["items"]), body


def check_channels_of_org(w: World, caller: str, r: httpx.Response) -> None:
    check_channels(w, caller, r, "org")


# --------------------------------------------------------------------------------- incentive plans

PLAN_BODY = {
    "name": "North's plan",
    "currency": "EUR",
    "period": "month",
    "applies_to": ["team:t1"],
    "effective_from": "2027-01-01",
    "commission": {"tiers": [{"from_pct": 0, "rate": "0.03"}]},
}
INCENTIVE_PLANS: dict[str, str] = {}
"""Each seeded org's plan for t1 (by org), made by its admin on first use."""


async def incentive_plan(w: World) -> str:
    if w.org not in INCENTIVE_PLANS:
        made = await w.clients["goals"].post(
            "/v1/incentives/plans", json=PLAN_BODY, headers=w.admin()
        )
        assert made.status_code == 201, made.text
        INCENTIVE_PLANS[w.org] = made.json()["id"]
    return INCENTIVE_PLANS[w.org]


def sees_t1_plan(w: World, caller: str) -> bool:
    """A plan naming team:t1: the reps the roster places in t1, t1's manager, the org's
    readers at large."""
    c = who(w, caller)
    if not ours(w, caller) or c.org != w.org:
        return False
    if c.role == "rep":
        return ROSTER_REPS[c.sub] == "t1"
    if c.role == "manager":
        return bool(c.team == "t1")
    return True


def plan_call(suffix: str = "", **params: Any) -> Any:
    async def build(w: World, caller: str) -> Call:
        plan_id = await incentive_plan(w)
        return Call(f"/v1/incentives/plans/{plan_id}{suffix}", params=params or None)

    return build


async def plans_call(w: World, caller: str) -> Call:
    await incentive_plan(w)
    return Call("/v1/incentives/plans", params={"limit": 500})


async def plan_patch(w: World, caller: str) -> Call:
    body = {"effective_from": "2027-02-01", "reason": f"by {caller}"}
    return Call(f"/v1/incentives/plans/{await incentive_plan(w)}", json=body)


def check_new_plan(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["version"], body["applies_to"]) == (1, ["team:t1"]), body
    assert r.headers["location"] == f"/v1/incentives/plans/{body['id']}"


def check_plans(w: World, caller: str, r: httpx.Response) -> None:
    ids = {p["id"] for p in r.json()["items"]}
    assert (INCENTIVE_PLANS[w.org] in ids) == sees_t1_plan(w, caller), ids
    if not ours(w, caller):
        assert not ids & set(INCENTIVE_PLANS.values()), ids


def check_incentive_plan(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["id"], body["applies_to"]) == (INCENTIVE_PLANS[w.org], ["team:t1"]), body
    assert body["versions"][0]["version"] == 1, body


def check_plan_versions(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    assert {i["id"] for i in items} == {INCENTIVE_PLANS[w.org]}, items
    assert [i["version"] for i in items] == list(range(1, len(items) + 1)), items


# --------------------------------------------------------------------------------- requests


def roster_sees(w: World, caller: str) -> tuple[set[str], set[str]]:
    """The seeded reps and teams a caller of ours reads on the roster: the org's for admin, bi
    and service; a manager's team and its reps; a rep themselves and their team."""
    c = who(w, caller)
    if not ours(w, caller) or c.org != w.org:
        return set(), set()
    if c.role == "rep":
        return {c.sub}, {ROSTER_REPS[c.sub]}
    if c.role == "manager":
        return {r for r, t in ROSTER_REPS.items() if t == c.team}, {str(c.team)}
    return set(ROSTER_REPS), set(ROSTER_TEAMS)


def check_roster_reps(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    if ours(w, caller):
        assert {i["rep_id"] for i in items} == roster_sees(w, caller)[0], items
        assert all(i["team_id"] == ROSTER_REPS[i["rep_id"]] for i in items), items


def check_roster_teams(w: World, caller: str, r: httpx.Response) -> None:
    items = r.json()["items"]
    if ours(w, caller):
        assert {i["team_id"] for i in items} == roster_sees(w, caller)[1], items


def check_roster_periods(w: World, caller: str, r: httpx.Response) -> None:
    """The org's readers at large read every seeded rep's period (in their own org)."""
    items = r.json()["items"]
    if ours(w, caller):
        assert {i["rep_id"] for i in items} == set(ROSTER_REPS), items
        assert all(i["team_id"] == ROSTER_REPS[i["rep_id"]] for i in items), items


def check_roster_rep(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["rep_id"], body["state"]["team_id"]) == ("r1", "t1"), body
    assert [e["from"] for e in body["history"]] == [ROSTER_DAY], body


def check_roster_team(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert (body["team_id"], body["state"]["name"], body["state"]["manager_id"]) == (
        "t1",
        "North",
        "m1",
    ), body
    assert len(body["history"]) == 1, body


def check_roster_import(w: World, caller: str, r: httpx.Response) -> None:
    """The row says what the roster says: the seeded one in our org, and in another's what its
    admin's `PUT /v1/reps/r1` row (above) stored."""
    assert r.json() == {"rows": 1, "stored": 0, "unchanged": 1}, r.json()


def get(url: str, **params: Any) -> Any:
    """A GET of `url` (formatted with the world as `w`); a param `as_of=NOW` is the moment of
    the request."""
    return lambda w, caller: Call(
        url.format(w=w),
        params={k: datetime.now(UTC).isoformat() if v is NOW else v for k, v in params.items()}
        or None,
    )


def appended(w: World, caller: str) -> dict[str, Any]:
    """A call on r1's account W1, dated 2020 (outside every read); rep and team from the token."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": "call.logged",
        "stream": "account-W1",
        "occurred_at": PAST,
        "data": {"connected": False, "duration_seconds": 0},
    }


def for_r1(w: World, caller: str) -> dict[str, Any]:
    """A call for rep r1 on a new account stream, claiming the caller's own team (§5: a manager
    of t2 claimed t2 for t1's rep and was believed)."""
    team = {"manager_t2": "t2", "rep_t2": "t2", "other_admin": "tx"}.get(caller, "t1")
    # Another org's admin writes for their own org's rep: an r1 there would show in its reads.
    rep = "x1" if caller == "other_admin" else "r1"
    return {
        **appended(w, caller),
        "stream": f"account-N{uuid.uuid4().hex[:8]}",
        "rep_id": rep,
        "team_id": team,
    }


async def new_connector(w: World, caller: str) -> Call:
    await w.drop_salesforce()  # one connector per provider: make room for the caller's
    return Call("/v1/connectors", json=connector_body("salesforce"))


async def after_new_connector(w: World, caller: str, r: httpx.Response) -> None:
    if r.status_code == 201 and caller == "admin":
        w.salesforce_id = r.json()["id"]
    elif r.status_code == 201:  # another org's admin made their own: remove it
        gone = await w.clients["activity"].delete(
            f"/v1/connectors/{r.json()['id']}", headers=w.headers[caller]
        )
        assert gone.status_code == 204, gone.text
    await w.ensure_salesforce()


async def doomed_connector(w: World, caller: str) -> Call:
    return Call(f"/v1/connectors/{await w.ensure_salesforce()}")


async def after_doomed_connector(w: World, caller: str, r: httpx.Response) -> None:
    if r.status_code == 204:
        w.salesforce_id = None
        await w.ensure_salesforce()


async def doomed_goal(w: World, caller: str) -> Call:
    return Call(f"/v1/goals/{await w.new_goal()}")


async def split_goal(w: World, caller: str) -> Call:
    goal_id = await w.new_goal()
    return Call(
        f"/v1/goals/{goal_id}/decompose", json={"by": "time", "into": "week", "strategy": "even"}
    )


async def split_onto_r3(w: World, caller: str) -> Call:
    """A team goal of t1 (in 2020) split by rep onto r1 and r3, a rep of t2 (§5: a manager
    split their team's goal onto another team's rep and was believed)."""
    made = await w.clients["goals"].post(
        "/v1/goals", json=goal_body("team:t1", None, OLD_MONTH), headers=w.admin()
    )
    assert made.status_code == 201, made.text
    return Call(
        f"/v1/goals/{made.json()['id']}/decompose",
        json={"by": "rep", "reps": ["r1", "r3"], "strategy": "even"},
    )


async def after_rebuild(w: World, caller: str, r: httpx.Response) -> None:
    """Wait for a rebuild the row asked for: later rows read a settled org."""
    if r.status_code == 202:
        await rebuild_done(
            w.clients["scoring"], w.headers[caller], after_generation=r.json()["generation"]
        )


def webhook(provider: str, body: Any) -> Any:
    return lambda w, caller: Call(f"/v1/webhooks/{provider}/{w.org}", json=body)


def ops(service: str) -> list[Row]:
    return [
        Row(service, "GET", path, PUBLIC, get(path), check_ops)
        for path in ("/healthz", "/metrics", "/readyz")
    ]


SPAN = {"from": (DAY - timedelta(days=10)).isoformat(), "to": TODAY.isoformat()}
KPIS = {"metrics": "visits", "period": "month", **SPAN}
PLAN = {
    "owner": "rep:r1",
    "goal": "revenue",
    "target": "10000.00",
    "currency": "EUR",
    "start": (TODAY + timedelta(days=1)).isoformat(),
    "end": (TODAY + timedelta(days=30)).isoformat(),
}
CALENDAR = {"timezone": "UTC", "weekend": [5, 6], "holidays": [], "workdays": []}
AT = {"at": DAY.isoformat()}
NOW = object()  # as_of: the moment of the request

AT_DAY = {"day": DAY.isoformat()}
WEEK = {"week": f"{DAY:%G-W%V}"}
MONTH = {"month": f"{DAY:%Y-%m}"}
#              rep mate rep2 mgr mgr2  bi  adm  svc plat other
REVIEW = "200 200  200  200 200  422 422  422 422  422"  # the owner is theirs, or must be named
REVIEW_OF_R1 = "200 403  403  200 403  200 200  200 200  200"


def check_review(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["owner"] == default_owner(w, caller), body
    assert body["kind"] in ("daily", "weekly", "monthly")


def check_review_of_r1(w: World, caller: str, r: httpx.Response) -> None:
    body = r.json()
    assert body["owner"] == "rep:r1"
    goals = body["goals"] if "goals" in body else body["attainment"]
    if not ours(w, caller):
        assert goals == [], goals


# --------------------------------------------------------------------------------- the table

# fmt: off
ROWS: list[Row] = [
    # ------------------------------------------------------------------ activity
    Row("activity", "POST", "/v1/events",
        expect("201 404 404 201 404 403 201 201 403 201"),
        lambda w, c: Call("/v1/events", json=appended(w, c)), check_appended,
        variant="on r1's stream"),
    Row("activity", "POST", "/v1/events/batch",
        expect("201 404 404 201 404 403 201 201 403 201"),
        lambda w, c: Call("/v1/events/batch", json={"events": [appended(w, c)]}), check_appended,
        variant="on r1's stream"),
    Row("activity", "POST", "/v1/events",
        expect("201 403 403 201 404 403 201 201 403 201"),
        lambda w, c: Call("/v1/events", json=for_r1(w, c)), check_new_stream,
        variant="for r1, team claimed"),
    Row("activity", "GET", "/v1/events", expect(READ), get("/v1/events", limit=1000), check_feed),
    Row("activity", "GET", "/v1/events/backlog",
        expect("403 403 403 403 403 403 200 200 200 200"), get("/v1/events/backlog"),
        check_platform_reads_nothing),
    Row("activity", "GET", "/v1/orgs", expect("403 403 403 403 403 403 403 403 200 403"),
        get("/v1/orgs"), check_orgs),
    Row("activity", "GET", "/v1/events/{event_id}", expect(OBJECT),
        get("/v1/events/{w.event_id}"), check_event),
    Row("activity", "GET", "/v1/streams/{stream}", expect(OBJECT), get("/v1/streams/lead-L1"),
        check_stream),
    Row("activity", "POST", "/v1/connectors", expect("403 403 403 403 403 403 201 403 403 201"),
        new_connector, check_created_connector, after_new_connector),
    Row("activity", "GET", "/v1/connectors", expect(ADMIN_LIST), get("/v1/connectors"),
        check_connectors),
    Row("activity", "GET", "/v1/connectors/{connector_id}", expect(ADMIN_OBJECT),
        get("/v1/connectors/{w.connector_id}"), check_connector),
    Row("activity", "PATCH", "/v1/connectors/{connector_id}", expect(ADMIN_OBJECT),
        lambda w, c: Call(f"/v1/connectors/{w.connector_id}", json={"default_currency": "EUR"}),
        check_connector),
    Row("activity", "DELETE", "/v1/connectors/{connector_id}",
        expect("403 403 403 403 403 403 204 403 403 404"), doomed_connector, check_no_body,
        after_doomed_connector),
    Row("activity", "GET", "/v1/connectors/{connector_id}/dead-letters", expect(ADMIN_OBJECT),
        get("/v1/connectors/{w.generic_id}/dead-letters"), check_dead_letters),
    Row("activity", "POST", "/v1/connectors/{connector_id}/dead-letters/replay",
        expect(ADMIN_OBJECT),
        lambda w, c: Call(f"/v1/connectors/{w.generic_id}/dead-letters/replay"), check_replay),
    Row("activity", "POST", "/v1/imports", expect("403 403 403 403 403 403 202 202 403 202"),
        lambda w, c: Call("/v1/imports", content=NOTHING_TO_IMPORT,
                          headers={"Content-Type": "text/csv"}), check_import_started),
    Row("activity", "GET", "/v1/imports", expect("403 403 403 403 403 403 200 200 403 200"),
        get("/v1/imports"), check_imports),
    Row("activity", "GET", "/v1/imports/{import_id}",
        expect("403 403 403 403 403 403 200 200 403 404"), get("/v1/imports/{w.import_id}"),
        check_import),
    Row("activity", "GET", "/v1/imports/{import_id}/errors",
        expect("403 403 403 403 403 403 200 200 403 404"),
        get("/v1/imports/{w.import_id}/errors"), check_import_errors),
    Row("activity", "POST", "/v1/webhooks/hubspot/{org}", SIGNED, webhook("hubspot", [])),
    Row("activity", "POST", "/v1/webhooks/generic/{org}", SIGNED, webhook("generic", {})),
    Row("activity", "POST", "/v1/webhooks/pipedrive/{org}", SIGNED,
        webhook("pipedrive", {"meta": {}})),
    Row("activity", "POST", "/v1/webhooks/salesforce/{org}/{token}", SIGNED,
        lambda w, c: Call(f"/v1/webhooks/salesforce/{w.org}/{'not-the-token-' * 3}",
                          content=b"<soapenv:Envelope/>", headers={"Content-Type": "text/xml"})),
    *ops("activity"),
    # ------------------------------------------------------------------ scoring
    Row("scoring", "GET", "/v1/kpis", expect(READ), get("/v1/kpis", **KPIS), check_kpis),
    Row("scoring", "GET", "/v1/kpis/total", expect(READ),
        get("/v1/kpis/total", metrics="visits", **SPAN), check_kpis),
    Row("scoring", "GET", "/v1/kpis", expect("200 403 403 200 200 200 200 200 200 200"),
        get("/v1/kpis", owner="rep:r1", **KPIS), check_kpis_of_r1, variant="owner=rep:r1"),
    Row("scoring", "GET", "/v1/kpis", expect(READ), get("/v1/kpis", as_of=NOW, **KPIS),
        check_kpis, variant="as_of"),
    Row("scoring", "GET", "/v1/funnel", expect(READ), get("/v1/funnel", **SPAN), check_funnel),
    Row("scoring", "GET", "/v1/funnel", expect("200 403 403 200 200 200 200 200 200 200"),
        get("/v1/funnel", owner="rep:r1", **SPAN), check_funnel_of_r1, variant="owner=rep:r1"),
    Row("scoring", "GET", "/v1/leaderboard", expect("403 403 403 200 200 200 200 200 200 200"),
        get("/v1/leaderboard", metric="visits", at=DAY.isoformat()), check_leaderboard),
    Row("scoring", "GET", "/v1/leaderboard", expect("403 403 403 200 403 200 200 200 200 200"),
        get("/v1/leaderboard", metric="visits", at=DAY.isoformat(), scope="team:t1"),
        check_leaderboard_of_t1, variant="scope=team:t1"),
    Row("scoring", "GET", "/v1/metrics", expect(READ), get("/v1/metrics"), check_catalogue),
    Row("scoring", "GET", "/v1/export/kpis", expect("403 403 403 403 403 200 200 200 200 200"),
        get("/v1/export/kpis"), check_kpi_export),
    Row("scoring", "GET", "/v1/settings", expect(READ), get("/v1/settings"), check_settings),
    Row("scoring", "GET", "/v1/admin/rebuild", expect("403 403 403 403 403 403 200 200 200 200"),
        get("/v1/admin/rebuild"), check_rebuild_state),
    Row("scoring", "GET", "/v1/leads/priority", expect(READ), get("/v1/leads/priority"),
        check_priority),
    Row("scoring", "GET", "/v1/leads/priority", expect("200 403 403 200 200 200 200 200 200 200"),
        get("/v1/leads/priority", owner="rep:r1"), check_priority, variant="owner=rep:r1"),
    Row("scoring", "GET", "/v1/leads/priority", expect(READ),
        get("/v1/leads/priority", as_of=NOW), check_priority, variant="as_of"),
    Row("scoring", "GET", "/v1/leads/{id}/score", expect(OBJECT), get("/v1/leads/lead-L1/score"),
        check_score),
    Row("scoring", "GET", "/v1/leads/{id}/score", expect(OBJECT),
        get("/v1/leads/lead-L1/score", as_of=NOW), check_score, variant="as_of"),
    Row("scoring", "GET", "/v1/scoring/models", expect("403 403 403 200 200 200 200 200 200 200"),
        get("/v1/scoring/models"), check_platform_reads_nothing),
    Row("scoring", "GET", "/v1/scoring/backtest",
        expect("403 403 403 403 403 200 200 403 403 200"),
        get("/v1/scoring/backtest", cutoff=f"{(DAY - timedelta(days=30)).isoformat()}T00:00:00Z"),
        check_backtest),
    Row("scoring", "GET", "/v1/export/scores", expect("403 403 403 403 403 200 200 200 200 200"),
        get("/v1/export/scores"), check_score_export),
    Row("scoring", "GET", "/v1/accounts/health", expect(READ), get("/v1/accounts/health"),
        check_accounts),
    Row("scoring", "GET", "/v1/accounts/health", expect("200 403 403 200 200 200 200 200 200 200"),
        get("/v1/accounts/health", owner="rep:r1"), check_accounts, variant="owner=rep:r1"),
    Row("scoring", "GET", "/v1/accounts/{id}/health", expect(OBJECT),
        get("/v1/accounts/A1/health"), check_account),
    Row("scoring", "GET", "/v1/alerts", expect(READ), get("/v1/alerts"), check_alerts),
    Row("scoring", "GET", "/v1/alerts", expect("200 403 403 200 200 200 200 200 200 200"),
        get("/v1/alerts", owner="rep:r1"), check_alerts_of_r1, variant="owner=rep:r1"),
    Row("scoring", "PUT", "/v1/settings", expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/settings", json={"timezone": "UTC"}), check_settings),
    Row("scoring", "POST", "/v1/scoring/models/train",
        expect("403 403 403 403 403 403 201 403 403 201"),
        lambda w, c: Call("/v1/scoring/models/train"), check_trained),
    Row("scoring", "POST", "/v1/admin/rebuild", expect("403 403 403 403 403 403 202 403 403 202"),
        lambda w, c: Call("/v1/admin/rebuild"), check_rebuild_state, after_rebuild),
    Row("scoring", "GET", "/v1/reps/{rep}", expect("200 404 404 200 404 200 200 200 404 404"),
        get("/v1/reps/r1"), check_rep),
    *ops("scoring"),
    # ------------------------------------------------------------------ goals
    Row("goals", "POST", "/v1/goals", expect("403 403 403 201 403 403 201 403 403 201"),
        lambda w, c: Call("/v1/goals", json=goal_body("rep:r1", None, OLD_MONTH)),
        check_new_goal, variant="for rep:r1, team left out"),
    Row("goals", "GET", "/v1/goals", expect(READ), get("/v1/goals", limit=500), check_goals),
    Row("goals", "GET", "/v1/goals", expect(READ), get("/v1/goals", owner="rep:r1", limit=500),
        check_goals_of_r1, variant="owner=rep:r1"),
    Row("goals", "GET", "/v1/goals/{goal_id}", expect(OBJECT),
        get("/v1/goals/{w.goals[r1]}"), check_goal),
    Row("goals", "PATCH", "/v1/goals/{goal_id}", expect(GOAL_WRITE),
        lambda w, c: Call(f"/v1/goals/{w.goals['r1']}", json={"note": f"seen by {c}"}),
        check_goal),
    Row("goals", "DELETE", "/v1/goals/{goal_id}", expect(GOAL_WRITE), doomed_goal,
        check_archived),
    Row("goals", "GET", "/v1/goals/{goal_id}/revisions", expect(OBJECT),
        get("/v1/goals/{w.goals[r1]}/revisions"), check_revisions),
    Row("goals", "POST", "/v1/goals/{goal_id}/decompose",
        expect(GOAL_WRITE.replace("200", "201")), split_goal, check_split),
    Row("goals", "POST", "/v1/goals/{goal_id}/decompose",
        expect("404 404 404 403 404 403 201 403 403 404"), split_onto_r3, check_split_onto_r3,
        variant="team:t1 onto r3 of t2"),
    Row("goals", "GET", "/v1/goals/{goal_id}/reconcile", expect(OBJECT),
        get("/v1/goals/{w.goals[r1]}/reconcile"), check_reconcile),
    Row("goals", "GET", "/v1/goals/{goal_id}/progress", expect(OBJECT),
        get("/v1/goals/{w.goals[r1]}/progress", **AT), check_goal),
    Row("goals", "GET", "/v1/goals/{goal_id}/progress",
        expect("200 404 404 404 404 200 200 200 404 404"),
        get("/v1/goals/{w.goals[r1_in_t2]}/progress", **AT), check_r1_in_t2,
        variant="r1's goal in t2"),
    Row("goals", "GET", "/v1/progress", expect(READ), get("/v1/progress", **AT), check_progress),
    Row("goals", "GET", "/v1/progress", expect(READ),
        get("/v1/progress", owner="rep:r1", **AT), check_progress, variant="owner=rep:r1"),
    Row("goals", "GET", "/v1/progress/alerts", expect(READ), get("/v1/progress/alerts", **AT),
        check_pace_alerts),
    Row("goals", "GET", "/v1/progress/alerts", expect("200 403 403 200 200 200 200 200 200 200"),
        get("/v1/progress/alerts", owner="rep:r1", **AT), check_pace_alerts,
        variant="owner=rep:r1"),
    Row("goals", "GET", "/v1/reviews/daily", expect(REVIEW), get("/v1/reviews/daily", **AT_DAY),
        check_review),
    Row("goals", "GET", "/v1/reviews/daily", expect(REVIEW_OF_R1),
        get("/v1/reviews/daily", owner="rep:r1", **AT_DAY), check_review_of_r1,
        variant="owner=rep:r1"),
    Row("goals", "GET", "/v1/reviews/weekly", expect(REVIEW), get("/v1/reviews/weekly", **WEEK),
        check_review),
    Row("goals", "GET", "/v1/reviews/weekly", expect(REVIEW_OF_R1),
        get("/v1/reviews/weekly", owner="rep:r1", **WEEK), check_review_of_r1,
        variant="owner=rep:r1"),
    Row("goals", "GET", "/v1/reviews/monthly", expect(REVIEW), get("/v1/reviews/monthly", **MONTH),
        check_review),
    Row("goals", "GET", "/v1/reviews/monthly", expect(REVIEW_OF_R1),
        get("/v1/reviews/monthly", owner="rep:r1", **MONTH), check_review_of_r1,
        variant="owner=rep:r1"),
    Row("goals", "POST", "/v1/plans/funnel", expect("200 403 403 200 403 200 200 200 200 200"),
        lambda w, c: Call("/v1/plans/funnel", json=PLAN), check_plan, variant="for rep:r1"),
    Row("goals", "GET", "/v1/calendar", expect(READ), get("/v1/calendar"), check_calendar),
    Row("goals", "PUT", "/v1/calendar", expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/calendar", json=CALENDAR), check_calendar),
    Row("goals", "PUT", "/v1/channels/costs", expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/channels/costs", json={"costs": [COST]}), check_costs),
    Row("goals", "GET", "/v1/channels/costs", expect("403 403 403 200 200 200 200 200 200 200"),
        get("/v1/channels/costs"), check_costs),
    Row("goals", "GET", "/v1/channels", expect(READ), get("/v1/channels", **SPAN),
        check_channels),
    Row("goals", "GET", "/v1/channels", expect("403 403 403 403 403 200 200 200 200 200"),
        get("/v1/channels", owner="org", **SPAN), check_channels_of_org, variant="owner=org"),
    # reads before writes: another org's admin then writes its own r1 and t1
    Row("goals", "GET", "/v1/reps", expect(READ), get("/v1/reps"), check_roster_reps),
    Row("goals", "GET", "/v1/reps/{rep_id}", expect(OBJECT), get("/v1/reps/r1"),
        check_roster_rep),
    Row("goals", "GET", "/v1/teams", expect(READ), get("/v1/teams"), check_roster_teams),
    Row("goals", "GET", "/v1/roster/periods", expect("403 403 403 403 403 200 200 200 200 200"),
        get("/v1/roster/periods"), check_roster_periods),
    Row("goals", "GET", "/v1/teams/{team_id}", expect("200 200 404 200 404 200 200 200 404 404"),
        get("/v1/teams/t1"), check_roster_team),
    Row("goals", "PUT", "/v1/reps/{rep_id}", expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/reps/r1", json={"team_id": "t1", "from": ROSTER_DAY}),
        check_roster_rep, variant="what the roster says"),
    Row("goals", "PUT", "/v1/teams/{team_id}", expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/teams/t1",
                          json={"name": "North", "manager_id": "m1", "from": ROSTER_DAY}),
        check_roster_team, variant="what the roster says"),
    Row("goals", "POST", "/v1/roster/import", expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/roster/import", content=ROSTER_CSV,
                          headers={"Content-Type": "text/csv"}), check_roster_import),
    # incentive plans: one of t1 (made by our admin on first use); writes are the admin's
    Row("goals", "POST", "/v1/incentives/plans",
        expect("403 403 403 403 403 403 201 403 403 201"),
        lambda w, c: Call("/v1/incentives/plans", json=PLAN_BODY), check_new_plan),
    Row("goals", "GET", "/v1/incentives/plans", expect(READ), plans_call, check_plans),
    Row("goals", "GET", "/v1/incentives/plans/{plan_id}",
        expect("200 200 404 200 404 200 200 200 404 404"), plan_call(), check_incentive_plan),
    Row("goals", "GET", "/v1/incentives/plans/{plan_id}",
        expect("200 200 404 200 404 200 200 200 404 404"), plan_call(version=1), check_incentive_plan,
        variant="version=1"),
    Row("goals", "GET", "/v1/incentives/plans/{plan_id}/versions",
        expect("200 200 404 200 404 200 200 200 404 404"), plan_call("/versions"),
        check_plan_versions),
    Row("goals", "PATCH", "/v1/incentives/plans/{plan_id}",
        expect("403 403 403 403 403 403 200 403 403 404"), plan_patch, check_incentive_plan),
    # incentive statements: r1's, of the seeded month (no plan governs it: empty); payouts of
    # the month before it (an ended one) are run by admins (nothing to store: 200) and read by
    # admin, bi and service
    Row("goals", "GET", "/v1/incentives/statements",
        expect("200 403 403 200 403 200 200 200 200 200"),
        get("/v1/incentives/statements", owner="rep:r1", period=f"{DAY:%Y-%m}"),
        lambda w, c, r: None if (r.json()["owner"], r.json()["sections"]) == ("rep:r1", [])
        else pytest.fail(r.text)),
    Row("goals", "POST", "/v1/incentives/payouts",
        expect("403 403 403 403 403 403 200 403 403 200"),
        lambda w, c: Call("/v1/incentives/payouts", json={"period": f"{LAST_MONTH:%Y-%m}"}),
        lambda w, c, r: None if r.json()["stored"] == [] else pytest.fail(r.text)),
    Row("goals", "GET", "/v1/incentives/payouts",
        expect("403 403 403 403 403 200 200 200 200 200"),
        get("/v1/incentives/payouts", period=f"{DAY:%Y-%m}"),
        lambda w, c, r: None if r.json()["items"] == [] else pytest.fail(r.text)),
    *ops("goals"),
]
# fmt: on


def _cases() -> list[Any]:
    cases = []
    for row in ROWS:
        for caller in CALLERS:
            reason = row.xfail.get(caller)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(row, caller, id=f"{row.name} × {caller}", marks=marks))
    return cases


@pytest.fixture(scope="module")
async def world(
    activity_app: FastAPI, scoring: httpx.AsyncClient, goals: httpx.AsyncClient
) -> AsyncIterator[World]:
    w = await seed(activity_app, scoring, goals)
    yield w
    await w.clients["activity"].aclose()


@pytest.mark.parametrize(("row", "caller"), _cases())
async def test_the_caller_gets_what_the_rules_give(world: World, row: Row, caller: str) -> None:
    call = await row.call(world, caller)
    answer = await world.clients[row.service].request(
        row.method,
        call.url,
        params=call.params,
        json=call.json,
        content=call.content,
        headers={**world.headers[caller], **call.headers},
    )
    try:
        want = row.expect[caller]
        assert answer.status_code in allowed(want), (
            f"{row.name} as {caller}: {answer.status_code}, expected {want}: {answer.text[:300]}"
        )
        if 200 <= answer.status_code < 300 and row.check is not None:
            row.check(world, caller, answer)
    finally:
        if row.after is not None:
            await row.after(world, caller, answer)


def test_every_endpoint_has_a_row(database_url: str) -> None:
    apps = {
        "activity": create_activity(activity_settings(), database_url=database_url),
        "scoring": create_scoring(scoring_settings(), database_url=database_url),
        "goals": create_goals(goals_settings(), database_url=database_url),
    }
    served = {(name, m, p) for name, app in apps.items() for m, p in endpoints(app)}
    tabled = {(row.service, row.method, row.path) for row in ROWS}
    missing = sorted(f"{s} {m} {p}" for s, m, p in served - tabled)
    assert not missing, f"endpoints without a row in the access matrix: {missing}"
    stale = sorted(f"{s} {m} {p}" for s, m, p in tabled - served)
    assert not stale, f"rows of endpoints that no app serves: {stale}"


def test_every_row_names_every_caller() -> None:
    for row in ROWS:
        assert set(row.expect) == set(CALLERS), row.name
        assert set(row.xfail) <= set(CALLERS), row.name
