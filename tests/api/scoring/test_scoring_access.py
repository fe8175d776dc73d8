"""Who sees what in scoring: a rep only themselves, a manager their team and its reps (a rep's
rows only while in that team), bi and admin the whole org, nobody another org's numbers; export
for admin, bi and service; settings and rebuilds for admin.

Reads run against one org posted once for the module (July 2026, UTC):

    r1 (team t1): 2 visits; then 1 visit logged while in team t2
    r2 (team t1): 1 visit          r3 (team t2): 3 visits
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.scoring.helpers import SharedOrg, assert_problem, at, seed, span, visit

JULY = span("2026-07-01", "2026-07-31")
EVENTS = [
    visit("r1", "t1", "acc-A", at("2026-07-01")),
    visit("r1", "t1", "acc-A", at("2026-07-02")),
    visit("r2", "t1", "acc-B", at("2026-07-03")),
    visit("r3", "t2", "acc-C", at("2026-07-04")),
    visit("r3", "t2", "acc-C", at("2026-07-05")),
    visit("r3", "t2", "acc-C", at("2026-07-06")),
    visit("r1", "t2", "acc-C", at("2026-07-20")),  # r1 helping out in t2
]

REP = {"role": "rep", "sub": "r1", "team": "t1"}
MANAGER = {"role": "manager", "sub": "m1", "team": "t1"}


@pytest.fixture(scope="module")
async def shop(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    return await seed(activity_app, scoring, EVENTS)


def as_(shop: SharedOrg, who: dict[str, Any]) -> dict[str, str]:
    who = dict(who)
    return shop.headers(who.pop("role"), **who)


async def visits(
    scoring: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> tuple[str, int]:
    """(owner answered for, July visits) of a /v1/kpis read that must succeed."""
    answer = await scoring.get(
        "/v1/kpis",
        params={"period": "month", "metrics": "visits", **JULY, **params},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["owner"], body["buckets"][0]["metrics"]["visits"]["value"]


async def forbidden(response: httpx.Response) -> None:
    body = assert_problem(response, 403)
    assert body["type"] == "urn:salesperf:problem:forbidden"


class TestARepSeesOnlyThemselves:
    async def test_by_default_the_owner_is_the_rep_with_all_their_rows(self, scoring, shop) -> None:
        assert await visits(scoring, as_(shop, REP)) == ("rep:r1", 3)

    async def test_naming_themselves_is_the_same(self, scoring, shop) -> None:
        assert await visits(scoring, as_(shop, REP), owner="rep:r1") == ("rep:r1", 3)

    @pytest.mark.parametrize("owner", ["rep:r2", "team:t1", "team:t2", "org"])
    async def test_anyone_else_is_forbidden(self, scoring, shop, owner) -> None:
        params = {"owner": owner, "metrics": "visits"}
        await forbidden(await scoring.get("/v1/kpis", params=params, headers=as_(shop, REP)))
        await forbidden(
            await scoring.get("/v1/funnel", params={"owner": owner}, headers=as_(shop, REP))
        )

    async def test_the_funnel_defaults_to_the_rep_too(self, scoring, shop) -> None:
        answer = await scoring.get("/v1/funnel", params=JULY, headers=as_(shop, REP))
        assert answer.status_code == 200, answer.text
        assert answer.json()["owner"] == "rep:r1"

    @pytest.mark.parametrize("scope", [None, "team:t1", "org"])
    async def test_the_leaderboard_is_forbidden(self, scoring, shop, scope) -> None:
        params = {"metric": "visits", "at": "2026-07-15"} | ({"scope": scope} if scope else {})
        await forbidden(await scoring.get("/v1/leaderboard", params=params, headers=as_(shop, REP)))

    async def test_the_catalogue_and_the_settings_are_readable(self, scoring, shop) -> None:
        metrics = await scoring.get("/v1/metrics", headers=as_(shop, REP))
        assert metrics.status_code == 200
        assert metrics.json()["items"]
        settings = await scoring.get("/v1/settings", headers=as_(shop, REP))
        assert settings.status_code == 200, settings.text
        assert settings.json()["timezone"] == "UTC"


class TestAManagerSeesTheirTeamAndItsReps:
    async def test_by_default_the_owner_is_the_team(self, scoring, shop) -> None:
        # r1's two visits in t1 and r2's one; r1's visit for t2 is t2's.
        assert await visits(scoring, as_(shop, MANAGER)) == ("team:t1", 3)

    async def test_a_rep_of_the_team_is_seen_only_in_that_team(self, scoring, shop) -> None:
        assert await visits(scoring, as_(shop, MANAGER), owner="rep:r1") == ("rep:r1", 2)
        assert await visits(scoring, as_(shop, MANAGER), owner="rep:r2") == ("rep:r2", 1)

    async def test_a_rep_of_another_team_shows_nothing(self, scoring, shop) -> None:
        assert await visits(scoring, as_(shop, MANAGER), owner="rep:r3") == ("rep:r3", 0)

    @pytest.mark.parametrize("owner", ["team:t2", "org"])
    async def test_another_team_and_the_org_are_forbidden(self, scoring, shop, owner) -> None:
        params = {"owner": owner, "metrics": "visits"}
        await forbidden(await scoring.get("/v1/kpis", params=params, headers=as_(shop, MANAGER)))
        await forbidden(
            await scoring.get("/v1/funnel", params={"owner": owner}, headers=as_(shop, MANAGER))
        )

    async def test_the_leaderboard_defaults_to_the_team(self, scoring, shop) -> None:
        answer = await scoring.get(
            "/v1/leaderboard",
            params={"metric": "visits", "at": "2026-07-15"},
            headers=as_(shop, MANAGER),
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["scope"] == "team:t1"
        assert body["items"] == [
            {"rank": 1, "rep_id": "r1", "value": 2},
            {"rank": 2, "rep_id": "r2", "value": 1},
        ]

    @pytest.mark.parametrize("scope", ["team:t2", "org"])
    async def test_a_leaderboard_beyond_the_team_is_forbidden(self, scoring, shop, scope) -> None:
        await forbidden(
            await scoring.get(
                "/v1/leaderboard",
                params={"metric": "visits", "scope": scope},
                headers=as_(shop, MANAGER),
            )
        )


class TestBiAndAdminSeeTheWholeOrg:
    @pytest.mark.parametrize("role", ["bi", "admin", "service"])
    async def test_the_default_owner_is_the_org(self, scoring, shop, role) -> None:
        assert await visits(scoring, shop.headers(role)) == ("org", 7)

    @pytest.mark.parametrize("role", ["bi", "admin"])
    async def test_any_team_or_rep(self, scoring, shop, role) -> None:
        headers = shop.headers(role)
        assert await visits(scoring, headers, owner="team:t1") == ("team:t1", 3)
        assert await visits(scoring, headers, owner="team:t2") == ("team:t2", 4)
        assert await visits(scoring, headers, owner="rep:r1") == ("rep:r1", 3)

    async def test_the_org_leaderboard_ranks_every_rep(self, scoring, shop) -> None:
        answer = await scoring.get(
            "/v1/leaderboard",
            params={"metric": "visits", "at": "2026-07-15"},
            headers=shop.headers("bi"),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["scope"] == "org"
        assert answer.json()["items"] == [
            {"rank": 1, "rep_id": "r1", "value": 3},
            {"rank": 1, "rep_id": "r3", "value": 3},
            {"rank": 3, "rep_id": "r2", "value": 1},
        ]


class TestAnotherOrgSeesNothingOfThisOne:
    @pytest.mark.parametrize("role", ["admin", "bi"])
    async def test_kpis_are_zero_and_nothing_is_folded(self, scoring, shop, auth, role) -> None:
        stranger = auth(role)  # the per-test org, not the module's
        answer = await scoring.get(
            "/v1/kpis",
            params={"period": "month", "metrics": "visits,revenue_won", **JULY},
            headers=stranger,
        )
        body = answer.json()
        assert body["up_to"] == {"position": 0, "recorded_at": None}
        assert body["buckets"][0]["metrics"] == {
            "visits": {"value": 0},
            "revenue_won": {"value": "0", "currency": "EUR"},
        }
        assert await visits(scoring, stranger, owner="rep:r1") == ("rep:r1", 0)
        assert await visits(scoring, stranger, owner="team:t2") == ("team:t2", 0)

    async def test_a_rep_with_the_same_id_elsewhere_sees_nothing(self, scoring, shop, auth) -> None:
        assert await visits(scoring, auth("rep", sub="r1", team="t1")) == ("rep:r1", 0)

    async def test_the_funnel_leaderboard_and_export_are_empty(self, scoring, shop, auth) -> None:
        funnel = await scoring.get("/v1/funnel", params=JULY, headers=auth())
        assert [s["count"] for s in funnel.json()["steps"]] == [0, 0, 0, 0, 0]
        board = await scoring.get(
            "/v1/leaderboard", params={"metric": "visits", "at": "2026-07-15"}, headers=auth()
        )
        assert board.json()["items"] == []
        export = await scoring.get("/v1/export/kpis", headers=auth())
        assert export.status_code == 200, export.text
        assert export.content == b""


class TestExportIsForAdminBiAndService:
    @pytest.mark.parametrize("who", [REP, MANAGER], ids=["rep", "manager"])
    async def test_reps_and_managers_are_forbidden(self, scoring, shop, who) -> None:
        for fmt in ("csv", "ndjson", "parquet"):
            await forbidden(
                await scoring.get("/v1/export/kpis", params={"format": fmt}, headers=as_(shop, who))
            )

    @pytest.mark.parametrize("role", ["admin", "bi", "service"])
    async def test_admin_bi_and_service_get_the_rows(self, scoring, shop, role) -> None:
        answer = await scoring.get("/v1/export/kpis", headers=shop.headers(role))
        assert answer.status_code == 200, answer.text
        lines = answer.content.splitlines()
        assert lines
        assert all(b'"org_id":"' + shop.org.encode() + b'"' in line for line in lines)


class TestSettingsAndRebuildsAreForAdmins:
    @pytest.mark.parametrize(
        "who",
        [REP, MANAGER, {"role": "bi"}, {"role": "service"}],
        ids=["rep", "manager", "bi", "service"],
    )
    async def test_others_may_not_change_settings_or_rebuild(self, scoring, auth, who) -> None:
        headers = auth(**who)
        await forbidden(
            await scoring.put("/v1/settings", json={"timezone": "Europe/Berlin"}, headers=headers)
        )
        await forbidden(await scoring.post("/v1/admin/rebuild", headers=headers))
        settings = await scoring.get("/v1/settings", headers=auth())
        assert settings.json() == {"timezone": "UTC", "currency": None}
        status = await scoring.get("/v1/admin/rebuild", headers=auth())
        assert status.json()["state"] == "idle"

    @pytest.mark.parametrize("who", [REP, MANAGER, {"role": "bi"}], ids=["rep", "manager", "bi"])
    async def test_only_admin_and_service_follow_a_rebuild(self, scoring, auth, who) -> None:
        await forbidden(await scoring.get("/v1/admin/rebuild", headers=auth(**who)))
        for role in ("admin", "service"):
            answer = await scoring.get("/v1/admin/rebuild", headers=auth(role))
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"state": "idle", "generation": 1, "done": 0, "total": 0}

    async def test_an_admin_changes_the_settings(self, scoring, auth) -> None:
        answer = await scoring.put(
            "/v1/settings",
            json={"timezone": "Europe/Berlin", "currency": "CHF"},
            headers=auth(),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "timezone": "Europe/Berlin",
            "currency": "CHF",
            "rebuilding": False,
        }
        got = await scoring.get("/v1/settings", headers=auth("rep", sub="r1", team="t1"))
        assert got.json() == {"timezone": "Europe/Berlin", "currency": "CHF"}
        kpis = await scoring.get("/v1/kpis", params={"metrics": "revenue_won"}, headers=auth())
        assert (kpis.json()["timezone"], kpis.json()["currency"]) == ("Europe/Berlin", "CHF")

    async def test_an_admin_rebuilds(self, scoring, auth) -> None:
        answer = await scoring.post("/v1/admin/rebuild", headers=auth())
        assert answer.status_code == 202, answer.text
        assert answer.json()["state"] == "requested"
