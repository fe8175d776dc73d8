"""The roster (issue 14): who is in which team, since when. Entries are appended, never
overwritten; the state on a day is the entry in force then, as known now.

Every test runs in an org of its own (the `org` fixture); stored rows are read with the `db`
pool.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import PLATFORM_ORG
from tests.api.goals.helpers import assert_problem
from tests.conftest import TokenFactory

CSV = {"Content-Type": "text/csv"}


async def put_rep(
    goals: httpx.AsyncClient, headers: dict[str, str], rep: str, **body: Any
) -> dict[str, Any]:
    answer = await goals.put(f"/v1/reps/{rep}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


async def put_team(
    goals: httpx.AsyncClient, headers: dict[str, str], team: str, **body: Any
) -> dict[str, Any]:
    answer = await goals.put(f"/v1/teams/{team}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


async def rep_on(
    goals: httpx.AsyncClient, headers: dict[str, str], rep: str, day: str
) -> dict[str, Any]:
    answer = await goals.get(f"/v1/reps/{rep}", params={"on": day}, headers=headers)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


async def members(goals: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    """The rep ids a list gives, following `next` to the end."""
    found: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = await goals.get("/v1/reps", params=query, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += [item["rep_id"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return found
    raise AssertionError("the cursor never ended")


async def stored(db: asyncpg.Pool, org: str, rep: str | None = None) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT rep_id, team_id, manager_id, status, effective_from::text AS day, reason,"
        " recorded_by FROM goals.roster_reps WHERE org_id = $1 AND ($2::text IS NULL OR"
        " rep_id = $2) ORDER BY id",
        org,
        rep,
    )


class TestAMoveMidMonth:
    async def test_keeps_both_entries_and_answers_each_side_of_the_move(
        self, goals, auth, db, org
    ) -> None:
        admin = auth(sub="boss")
        await put_rep(goals, admin, "anna", team_id="t1", **{"from": "2026-03-01"})
        record = await put_rep(
            goals,
            admin,
            "anna",
            team_id="t2",
            manager_id="m2",
            reason="moved",
            **{"from": "2026-03-16"},
        )
        assert [(e["team_id"], e["from"]) for e in record["history"]] == [
            ("t2", "2026-03-16"),
            ("t1", "2026-03-01"),
        ]
        assert record["history"][0]["reason"] == "moved"
        assert record["history"][0]["recorded_by"] == "boss"
        assert not any(e["superseded"] for e in record["history"])
        assert record["periods"] == [
            {"team_id": "t1", "from": "2026-03-01", "to": "2026-03-15"},
            {"team_id": "t2", "from": "2026-03-16", "to": None},
        ]
        before = await rep_on(goals, admin, "anna", "2026-03-15")
        after = await rep_on(goals, admin, "anna", "2026-03-16")
        assert (before["on"], before["state"]["team_id"], before["state"]["from"]) == (
            "2026-03-15",
            "t1",
            "2026-03-01",
        )
        assert (after["state"]["team_id"], after["state"]["manager_id"]) == ("t2", "m2")
        assert (await rep_on(goals, admin, "anna", "2026-02-28"))["state"] is None
        rows = await stored(db, org)
        assert [(r["team_id"], r["day"], r["manager_id"]) for r in rows] == [
            ("t1", "2026-03-01", None),
            ("t2", "2026-03-16", "m2"),
        ]


class TestThePutIsIdempotent:
    async def test_the_same_entry_again_adds_no_row(self, goals, auth, db, org) -> None:
        body = {"team_id": "t1", "manager_id": "m1", "from": "2026-03-01"}
        first = await goals.put("/v1/reps/anna", json=body, headers=auth())
        again = await goals.put(
            "/v1/reps/anna", json={**body, "reason": "sent twice"}, headers=auth()
        )
        assert first.status_code == again.status_code == 200
        assert first.json() == again.json()
        assert len(await stored(db, org)) == 1

    async def test_an_entry_saying_what_already_holds_that_day_adds_no_row(
        self, goals, auth, db, org
    ) -> None:
        await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-03-01"})
        record = await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-03-20"})
        assert len(record["history"]) == 1
        assert len(await stored(db, org)) == 1

    async def test_a_different_manager_is_a_new_entry_in_the_same_period(
        self, goals, auth, db, org
    ) -> None:
        await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-03-01"})
        record = await put_rep(
            goals, auth(), "anna", team_id="t1", manager_id="m7", **{"from": "2026-03-20"}
        )
        assert record["periods"] == [{"team_id": "t1", "from": "2026-03-01", "to": None}]
        assert len(await stored(db, org)) == 2


class TestABackDatedEntry:
    async def test_takes_effect_from_its_day_without_rewriting_later_ones(
        self, goals, auth, db, org
    ) -> None:
        await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-03-01"})
        record = await put_rep(goals, auth(), "anna", team_id="t2", **{"from": "2026-02-01"})
        assert record["periods"] == [
            {"team_id": "t2", "from": "2026-02-01", "to": "2026-02-28"},
            {"team_id": "t1", "from": "2026-03-01", "to": None},
        ]
        assert (await rep_on(goals, auth(), "anna", "2026-02-15"))["state"]["team_id"] == "t2"
        assert (await rep_on(goals, auth(), "anna", "2026-03-05"))["state"]["team_id"] == "t1"
        assert len(await stored(db, org)) == 2

    async def test_a_correction_for_the_same_day_keeps_what_was_known(
        self, goals, auth, db, org
    ) -> None:
        await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-03-01"})
        record = await put_rep(
            goals, auth(), "anna", team_id="t3", reason="typo", **{"from": "2026-03-01"}
        )
        assert [(e["team_id"], e["superseded"]) for e in record["history"]] == [
            ("t3", False),
            ("t1", True),
        ]
        assert (await rep_on(goals, auth(), "anna", "2026-03-05"))["state"]["team_id"] == "t3"
        assert [r["team_id"] for r in await stored(db, org)] == ["t1", "t3"]


class TestARepWhoLeft:
    async def test_ends_the_membership_and_drops_out_of_the_members(self, goals, auth, org) -> None:
        await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-03-01"})
        await put_rep(goals, auth(), "ben", team_id="t1", **{"from": "2026-03-01"})
        record = await put_rep(
            goals,
            auth(),
            "anna",
            team_id="t1",
            status="left",
            reason="quit",
            **{"from": "2026-04-01"},
        )
        assert record["periods"] == [{"team_id": "t1", "from": "2026-03-01", "to": "2026-03-31"}]
        state = (await rep_on(goals, auth(), "anna", "2026-04-02"))["state"]
        assert (state["status"], state["team_id"], state["reason"]) == ("left", "t1", "quit")
        assert await members(goals, auth(), team="t1", on="2026-04-02") == ["ben"]
        assert await members(goals, auth(), team="t1", on="2026-03-31") == ["anna", "ben"]
        assert await members(goals, auth(), on="2026-04-02", status="left") == ["anna"]
        assert await members(goals, auth(), on="2026-04-02", status="any") == ["anna", "ben"]


class TestTheMembersOnADay:
    async def test_include_who_moved_in_and_exclude_who_moved_out(self, goals, auth) -> None:
        admin = auth()
        await put_rep(goals, admin, "a", team_id="t1", **{"from": "2026-03-01"})
        await put_rep(goals, admin, "b", team_id="t2", **{"from": "2026-03-01"})
        await put_rep(goals, admin, "b", team_id="t1", **{"from": "2026-03-10"})
        await put_rep(goals, admin, "c", team_id="t1", **{"from": "2026-03-01"})
        await put_rep(goals, admin, "c", team_id="t2", **{"from": "2026-03-10"})
        assert await members(goals, admin, team="t1", on="2026-03-12") == ["a", "b"]
        assert await members(goals, admin, team="t1", on="2026-03-05") == ["a", "c"]
        assert await members(goals, admin, team="t2", on="2026-03-12") == ["c"]
        assert await members(goals, admin, on="2026-02-27") == []

    async def test_agree_with_each_reps_record_on_every_day(self, goals, auth) -> None:
        """The list (one query for every rep) and the record (each rep's entries folded by
        membership.py) pick the same entry, corrections and back-dated entries included."""
        admin = auth()
        puts = [
            ("a", "t1", "active", "2026-03-01"),
            ("a", "t2", "active", "2026-03-05"),
            ("a", "t1", "active", "2026-03-05"),  # a correction of the same day
            ("b", "t2", "active", "2026-03-03"),
            ("b", "t1", "left", "2026-03-07"),
            ("b", "t1", "active", "2026-03-02"),  # back-dated
            ("c", "t1", "active", "2026-03-08"),
            ("c", "t2", "active", "2026-03-04"),
        ]
        for rep, team, status, day in puts:
            await put_rep(goals, admin, rep, team_id=team, status=status, **{"from": day})
        for n in range(1, 10):
            day = f"2026-03-{n:02d}"
            for team in ("t1", "t2"):
                listed = await members(goals, admin, team=team, on=day)
                held = []
                for rep in ("a", "b", "c"):
                    state = (await rep_on(goals, admin, rep, day))["state"]
                    if state and (state["team_id"], state["status"]) == (team, "active"):
                        held.append(rep)
                assert listed == held, (day, team)

    async def test_pages_follow_the_cursor_in_rep_order(self, goals, auth) -> None:
        for rep in ("r5", "r1", "r4", "r2", "r3"):
            await put_rep(goals, auth(), rep, team_id="t1", **{"from": "2026-01-01"})
        first = await goals.get("/v1/reps", params={"on": "2026-02-01", "limit": 2}, headers=auth())
        page = first.json()
        assert [i["rep_id"] for i in page["items"]] == ["r1", "r2"]
        assert page["on"] == "2026-02-01"
        assert page["next"]
        assert await members(goals, auth(), on="2026-02-01", limit=2) == [
            "r1",
            "r2",
            "r3",
            "r4",
            "r5",
        ]

    async def test_a_cursor_of_another_org_is_refused(self, goals, auth) -> None:
        for rep in ("r1", "r2"):
            await put_rep(goals, auth(), rep, team_id="t1", **{"from": "2026-01-01"})
        page = (await goals.get("/v1/reps", params={"limit": 1}, headers=auth())).json()
        answer = await goals.get(
            "/v1/reps", params={"cursor": page["next"]}, headers=auth(org_id="org-else")
        )
        assert_problem(answer, 422, "cursor")

    async def test_the_default_day_is_today(self, goals, auth) -> None:
        await put_rep(goals, auth(), "anna", team_id="t1", **{"from": "2026-01-01"})
        page = (await goals.get("/v1/reps", headers=auth())).json()
        assert [i["rep_id"] for i in page["items"]] == ["anna"]


async def seeded(goals: httpx.AsyncClient, auth: TokenFactory) -> None:
    """t1 led by m1 with r1, r2; t2 led by m2 with r3 (from 1 Jan 2026)."""
    admin = auth()
    day = {"from": "2026-01-01"}
    await put_team(goals, admin, "t1", name="North", manager_id="m1", **day)
    await put_team(goals, admin, "t2", name="South", manager_id="m2", **day)
    for rep, team in (("r1", "t1"), ("r2", "t1"), ("r3", "t2")):
        await put_rep(goals, admin, rep, team_id=team, **day)


class TestWhoMayWrite:
    @pytest.mark.parametrize(
        ("role", "team"), [("manager", "t1"), ("rep", "t1"), ("service", None), ("bi", None)]
    )
    async def test_only_an_admin_writes_the_roster(self, goals, auth, db, org, role, team) -> None:
        headers = auth(role, sub="r1", team=team)
        body = {"team_id": "t1", "from": "2026-01-01"}
        assert_problem(await goals.put("/v1/reps/r1", json=body, headers=headers), 403)
        team_body = {"name": "North", "from": "2026-01-01"}
        assert_problem(await goals.put("/v1/teams/t1", json=team_body, headers=headers), 403)
        csv = b"rep_id,team_id,from\nr1,t1,2026-01-01\n"
        imported = await goals.post("/v1/roster/import", content=csv, headers={**headers, **CSV})
        assert_problem(imported, 403)
        assert await stored(db, org) == []

    async def test_a_platform_token_writes_nothing(self, goals, auth, db) -> None:
        headers = auth("service", org_id=PLATFORM_ORG, sub="scoring")
        body = {"team_id": "t1", "from": "2026-01-01"}
        assert_problem(await goals.put("/v1/reps/r1", json=body, headers=headers), 403)
        assert await stored(db, PLATFORM_ORG) == []


class TestWhoMayRead:
    async def test_a_manager_reads_their_own_teams_reps_only(self, goals, auth) -> None:
        await seeded(goals, auth)
        m1 = auth("manager", sub="m1", team="t1")
        assert await members(goals, m1, on="2026-02-01") == ["r1", "r2"]
        assert await members(goals, m1, on="2026-02-01", team="t2") == []
        assert (await rep_on(goals, m1, "r1", "2026-02-01"))["state"]["team_id"] == "t1"
        hidden = await goals.get("/v1/reps/r3", params={"on": "2026-02-01"}, headers=m1)
        assert_problem(hidden, 404)
        teams = (await goals.get("/v1/teams", params={"on": "2026-02-01"}, headers=m1)).json()
        assert [t["team_id"] for t in teams["items"]] == ["t1"]
        assert_problem(await goals.get("/v1/teams/t2", headers=m1), 404)

    async def test_a_manager_the_roster_does_not_name_sees_nothing_of_the_team(
        self, goals, auth
    ) -> None:
        await seeded(goals, auth)
        await put_team(goals, auth(), "t1", name="North", manager_id="m9", **{"from": "2026-03-01"})
        m1 = auth("manager", sub="m1", team="t1")
        assert await members(goals, m1, on="2026-02-01") == ["r1", "r2"]
        assert await members(goals, m1, on="2026-03-01") == []
        assert_problem(await goals.get("/v1/reps/r1", params={"on": "2026-03-01"}, headers=m1), 404)
        m9 = auth("manager", sub="m9", team="t1")
        assert await members(goals, m9, on="2026-03-01") == ["r1", "r2"]

    async def test_a_rep_reads_only_themselves_and_their_team(self, goals, auth) -> None:
        await seeded(goals, auth)
        r1 = auth("rep", sub="r1", team="t1")
        assert (await rep_on(goals, r1, "r1", "2026-02-01"))["rep_id"] == "r1"
        assert_problem(await goals.get("/v1/reps/r2", headers=r1), 404)
        assert await members(goals, r1, on="2026-02-01") == ["r1"]
        assert await members(goals, r1, on="2026-02-01", team="t1") == ["r1"]
        teams = (await goals.get("/v1/teams", params={"on": "2026-02-01"}, headers=r1)).json()
        assert [t["team_id"] for t in teams["items"]] == ["t1"]
        assert_problem(await goals.get("/v1/teams/t2", headers=r1), 404)

    @pytest.mark.parametrize("role", ["bi", "service", "admin"])
    async def test_bi_service_and_admin_read_the_org(self, goals, auth, role) -> None:
        await seeded(goals, auth)
        headers = auth(role, sub="reader")
        assert await members(goals, headers, on="2026-02-01") == ["r1", "r2", "r3"]
        assert (await rep_on(goals, headers, "r3", "2026-02-01"))["state"]["team_id"] == "t2"
        teams = (await goals.get("/v1/teams", params={"on": "2026-02-01"}, headers=headers)).json()
        assert [t["team_id"] for t in teams["items"]] == ["t1", "t2"]

    async def test_another_org_sees_nothing(self, goals, auth) -> None:
        await seeded(goals, auth)
        other = auth(org_id="org-other-roster")
        assert_problem(await goals.get("/v1/reps/r1", headers=other), 404)
        assert "r1" not in await members(goals, other, on="2026-02-01")


class TestTeams:
    async def test_a_team_keeps_its_history(self, goals, auth, db, org) -> None:
        await put_team(goals, auth(), "t1", name="North", manager_id="m1", **{"from": "2026-01-01"})
        record = await put_team(
            goals, auth(), "t1", name="North & East", manager_id="m2", **{"from": "2026-04-01"}
        )
        assert [(e["name"], e["manager_id"], e["from"]) for e in record["history"]] == [
            ("North & East", "m2", "2026-04-01"),
            ("North", "m1", "2026-01-01"),
        ]
        march = await goals.get("/v1/teams/t1", params={"on": "2026-03-31"}, headers=auth())
        assert march.json()["state"]["name"] == "North"
        again = await put_team(
            goals, auth(), "t1", name="North & East", manager_id="m2", **{"from": "2026-04-01"}
        )
        assert len(again["history"]) == 2
        count = "SELECT count(*) FROM goals.roster_teams WHERE org_id = $1"
        assert await db.fetchval(count, org) == 2

    async def test_a_rep_cannot_join_a_team_closed_that_day(self, goals, auth, db, org) -> None:
        await put_team(goals, auth(), "t9", name="Old", **{"from": "2026-01-01"})
        await put_team(goals, auth(), "t9", name="Old", status="closed", **{"from": "2026-03-01"})
        late = await goals.put(
            "/v1/reps/anna", json={"team_id": "t9", "from": "2026-03-02"}, headers=auth()
        )
        assert_problem(late, 422, "team_id")
        await put_rep(goals, auth(), "anna", team_id="t9", **{"from": "2026-02-01"})
        assert [r["day"] for r in await stored(db, org)] == ["2026-02-01"]

    async def test_a_team_with_members_is_not_closed(self, goals, auth, db, org) -> None:
        await seeded(goals, auth)
        closing = {"name": "South", "status": "closed", "from": "2026-05-01"}
        answer = await goals.put("/v1/teams/t2", json=closing, headers=auth())
        body = assert_problem(answer, 409, "status")
        assert "r3" in body["detail"]
        await put_rep(goals, auth(), "r3", team_id="t1", **{"from": "2026-05-01"})
        record = await put_team(goals, auth(), "t2", **closing)
        assert record["history"][0]["status"] == "closed"

    async def test_an_unknown_team_is_404(self, goals, auth) -> None:
        assert_problem(await goals.get("/v1/teams/nowhere", headers=auth()), 404)


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"team_id": "t1", "from": "2026-13-01"}, "from"),
            ({"team_id": "t1", "from": 20260101}, "from"),
            ({"team_id": "t1"}, "from"),
            ({"team_id": "t 1", "from": "2026-01-01"}, "team_id"),
            ({"team_id": "t1", "from": "2026-01-01", "status": "gone"}, "status"),
            ({"team_id": "t1", "from": "2026-01-01", "from_": "2026-01-01"}, "from_"),
            ({"team_id": "t1", "from": "2100-01-01"}, "from"),
        ],
    )
    async def test_a_bad_entry_names_its_field(self, goals, auth, db, org, body, field) -> None:
        assert_problem(await goals.put("/v1/reps/anna", json=body, headers=auth()), 422, field)
        assert await stored(db, org) == []

    async def test_a_bad_rep_id_is_422(self, goals, auth) -> None:
        body = {"team_id": "t1", "from": "2026-01-01"}
        answer = await goals.put("/v1/reps/-bad", json=body, headers=auth())
        assert_problem(answer, 422, "rep_id")

    async def test_an_unknown_rep_is_404(self, goals, auth) -> None:
        assert_problem(await goals.get("/v1/reps/nobody", headers=auth()), 404)


ROSTER = (
    "rep_id,team_id,from,manager_id,status,reason\n"
    "anna,t1,2026-03-01,m1,active,hired\n"
    "ben,t1,2026-03-01,,,\n"
    "anna,t2,2026-03-16,,,moved\n"
)


class TestTheCsvImport:
    async def test_stores_every_row_and_again_none(self, goals, auth, db, org) -> None:
        answer = await goals.post("/v1/roster/import", content=ROSTER, headers={**auth(), **CSV})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"rows": 3, "stored": 3, "unchanged": 0}
        rows = await stored(db, org)
        assert [
            (r["rep_id"], r["team_id"], r["day"], r["manager_id"], r["status"]) for r in rows
        ] == [
            ("anna", "t1", "2026-03-01", "m1", "active"),
            ("ben", "t1", "2026-03-01", None, "active"),
            ("anna", "t2", "2026-03-16", None, "active"),
        ]
        assert rows[0]["reason"] == "hired"
        assert await members(goals, auth(), team="t1", on="2026-03-20") == ["ben"]
        again = await goals.post("/v1/roster/import", content=ROSTER, headers={**auth(), **CSV})
        assert again.json() == {"rows": 3, "stored": 0, "unchanged": 3}
        assert len(await stored(db, org)) == 3

    async def test_columns_in_any_order_and_only_the_required_ones(
        self, goals, auth, db, org
    ) -> None:
        csv = "\ufefffrom,rep_id,team_id\r\n2026-03-01,anna,t1\r\n\r\n"
        answer = await goals.post(
            "/v1/roster/import", content=csv.encode(), headers={**auth(), **CSV}
        )
        assert answer.json() == {"rows": 1, "stored": 1, "unchanged": 0}
        assert [r["team_id"] for r in await stored(db, org)] == ["t1"]

    async def test_a_bad_file_names_every_bad_row_and_stores_nothing(
        self, goals, auth, db, org
    ) -> None:
        await put_team(goals, auth(), "t9", name="Old", status="closed", **{"from": "2026-01-01"})
        csv = (
            "rep_id,team_id,from,status\n"
            "anna,t1,2026-03-01,active\n"  # fine
            "ben,t1,2026-02-30,active\n"  # no such day
            "carl,,2026-03-01,active\n"  # no team
            "dora,t1,2026-03-01,retired\n"  # no such status
            "anna,t2,2026-03-01,active\n"  # anna's second row for 1 March
            "eve,t9,2026-03-01,active\n"  # t9 is closed
            "fay,t1\n"  # too few cells
        )
        answer = await goals.post("/v1/roster/import", content=csv, headers={**auth(), **CSV})
        body = assert_problem(
            answer,
            422,
            "rows[1].from",
            "rows[2].team_id",
            "rows[3].status",
            "rows[4].from",
            "rows[5].team_id",
            "rows[6]",
        )
        assert "rows[0]" not in {e["field"].split(".")[0] for e in body["errors"]}
        assert "line 3" in next(
            e["message"] for e in body["errors"] if e["field"] == "rows[1].from"
        )
        assert await stored(db, org) == []

    @pytest.mark.parametrize(
        "csv",
        ["rep_id,from\nanna,2026-03-01\n", "rep_id,team_id,from,team\n", ""],
    )
    async def test_a_bad_header_is_422(self, goals, auth, csv) -> None:
        answer = await goals.post("/v1/roster/import", content=csv, headers={**auth(), **CSV})
        assert_problem(answer, 422, "header")

    async def test_a_file_that_is_not_utf8_is_422(self, goals, auth) -> None:
        csv = "rep_id,team_id,from\nJosé,t1,2026-03-01\n".encode("latin-1")
        answer = await goals.post("/v1/roster/import", content=csv, headers={**auth(), **CSV})
        assert_problem(answer, 422, "body")

    async def test_json_is_415(self, goals, auth) -> None:
        answer = await goals.post("/v1/roster/import", json={"rows": []}, headers=auth())
        assert_problem(answer, 415, "content-type")

    async def test_more_than_10000_rows_is_413(self, goals, auth, db, org) -> None:
        lines = "".join(f"r{i},t1,2026-03-01\n" for i in range(10_001))
        answer = await goals.post(
            "/v1/roster/import", content="rep_id,team_id,from\n" + lines, headers={**auth(), **CSV}
        )
        assert_problem(answer, 413, "rows")
        assert await stored(db, org) == []

    async def test_10000_rows_are_stored_at_once(self, goals, auth, db, org) -> None:
        lines = "".join(f"r{i},t{i % 7},2026-03-01\n" for i in range(10_000))
        answer = await goals.post(
            "/v1/roster/import", content="rep_id,team_id,from\n" + lines, headers={**auth(), **CSV}
        )
        assert answer.json() == {"rows": 10_000, "stored": 10_000, "unchanged": 0}
        count = "SELECT count(*) FROM goals.roster_reps WHERE org_id = $1"
        assert await db.fetchval(count, org) == 10_000


class TestNothingIsOverwritten:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE goals.roster_reps SET team_id = 'x' WHERE org_id = $1",
            "DELETE FROM goals.roster_reps WHERE org_id = $1",
            "UPDATE goals.roster_teams SET name = 'x' WHERE org_id = $1",
            "DELETE FROM goals.roster_teams WHERE org_id = $1",
        ],
    )
    async def test_a_trigger_refuses_update_and_delete(
        self, goals, auth, db, org, statement
    ) -> None:
        await seeded(goals, auth)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await db.execute(statement, org)
        assert len(await stored(db, org)) == 3
