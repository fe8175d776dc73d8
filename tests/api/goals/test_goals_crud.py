"""Goals: set, read, list, change (each change a revision), archive, and the revision history.

Every test runs in an org of its own (the `org` fixture), so lists hold only its own goals.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import asyncpg
import pytest

from tests.api.goals.helpers import (
    assert_problem,
    count_goal,
    create,
    decompose,
    ids,
    list_all,
    money_goal,
)


class TestAGoalIsStoredInItsMetricsUnit:
    async def test_a_count_goal_keeps_an_integer_target(self, goals, auth) -> None:
        goal = await create(goals, auth(sub="alice"), count_goal(target=120, note="spring push"))
        assert goal["unit"] == "count"
        assert goal["currency"] is None
        assert (goal["target"], goal["floor"], goal["stretch"]) == (120, 120, 120)
        assert (goal["period"], goal["start"], goal["end"]) == ("month", "2026-03-01", "2026-03-31")
        assert (goal["owner"], goal["team_id"], goal["metric"]) == ("team:t1", "t1", "visits")
        assert (goal["revision"], goal["parent_id"], goal["archived"]) == (1, None, False)
        assert goal["decomposition"] is None
        assert goal["note"] == "spring push"
        assert goal["created_by"] == goal["updated_by"] == "alice"
        assert goal["created_at"] == goal["updated_at"]

    async def test_a_money_goal_keeps_its_currency_and_two_decimals(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="250000.5"))
        assert goal["unit"] == "money"
        assert goal["currency"] == "EUR"
        assert (goal["target"], goal["floor"], goal["stretch"]) == ("250000.50",) * 3
        assert (goal["period"], goal["start"], goal["end"]) == ("year", "2026-01-01", "2026-12-31")

    async def test_a_yen_goal_has_no_decimals(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="1000000", currency="JPY"))
        assert (goal["target"], goal["currency"]) == ("1000000", "JPY")

    async def test_a_rate_goal_is_a_decimal_string_between_0_and_1(self, goals, auth) -> None:
        goal = await create(
            goals,
            auth(),
            count_goal(metric="win_rate", period="quarter", start="2026-04-01", target="0.30"),
        )
        assert goal["unit"] == "ratio"
        assert goal["currency"] is None
        assert (goal["target"], goal["floor"], goal["stretch"]) == ("0.3000",) * 3
        assert (goal["start"], goal["end"]) == ("2026-04-01", "2026-06-30")

    async def test_a_days_goal_is_a_decimal_string(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(metric="avg_sales_cycle_days", target="30.5"))
        assert goal["unit"] == "days"
        assert goal["target"] == "30.5000"

    async def test_a_week_goal_runs_monday_to_sunday(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(period="week", start="2026-03-02"))
        assert (goal["start"], goal["end"]) == ("2026-03-02", "2026-03-08")

    async def test_a_day_goal_and_an_org_goal(self, goals, auth) -> None:
        goal = await create(
            goals, auth(), count_goal(owner="org", period="day", start="2026-03-04", target=7)
        )
        assert (goal["owner"], goal["team_id"], goal["start"], goal["end"]) == (
            "org",
            None,
            "2026-03-04",
            "2026-03-04",
        )

    async def test_a_rep_goal_carries_its_team_and_cuts(self, goals, auth) -> None:
        goal = await create(
            goals,
            auth(),
            money_goal(
                owner="rep:anna", team_id="t1", product_line="ovens", tier="A", channel="referral"
            ),
        )
        assert (goal["owner"], goal["team_id"]) == ("rep:anna", "t1")
        assert (goal["product_line"], goal["tier"], goal["channel"]) == ("ovens", "A", "referral")


class TestFloorAndStretchAreSetOneWay:
    async def test_none_given_both_equal_the_target(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=40))
        assert (goal["floor"], goal["stretch"]) == (40, 40)

    async def test_explicit_floor_and_stretch_are_kept(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=120, floor=100, stretch=150))
        assert (goal["floor"], goal["target"], goal["stretch"]) == (100, 120, 150)

    async def test_an_explicit_stretch_alone_leaves_the_floor_at_the_target(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), money_goal(target="1000.00", stretch="1500.25"))
        assert (goal["floor"], goal["stretch"]) == ("1000.00", "1500.25")

    async def test_an_explicit_floor_alone_leaves_the_stretch_at_the_target(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), count_goal(target=50, floor=0))
        assert (goal["floor"], goal["stretch"]) == (0, 50)

    async def test_a_buffer_is_plus_and_minus_that_percentage(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=200, buffer_pct=10))
        assert (goal["floor"], goal["stretch"]) == (180, 220)

    async def test_a_fractional_buffer_on_money(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(target="1000.00", buffer_pct="12.5"))
        assert (goal["floor"], goal["stretch"]) == ("875.00", "1125.00")

    async def test_base_and_challenge_percentages(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=50, base_pct=80, challenge_pct=120))
        assert (goal["floor"], goal["stretch"]) == (40, 60)

    async def test_a_challenge_percentage_alone_leaves_the_floor_at_the_target(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), money_goal(target="2000.00", challenge_pct=150))
        assert (goal["floor"], goal["stretch"]) == ("2000.00", "3000.00")

    async def test_a_base_percentage_alone_leaves_the_stretch_at_the_target(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), count_goal(target=50, base_pct="90"))
        assert (goal["floor"], goal["stretch"]) == (45, 50)

    async def test_a_zero_buffer_is_allowed(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=50, buffer_pct=0))
        assert (goal["floor"], goal["stretch"]) == (50, 50)

    async def test_a_rate_goal_takes_a_buffer_too(self, goals, auth) -> None:
        goal = await create(
            goals, auth(), count_goal(metric="win_rate", target="0.30", buffer_pct=10)
        )
        assert (goal["floor"], goal["stretch"]) == ("0.2700", "0.3300")

    async def test_a_half_unit_of_floor_or_stretch_rounds_half_up(self, goals, auth) -> None:
        fifteen = await create(goals, auth(), count_goal(target=15, buffer_pct=10))
        twenty_five = await create(goals, auth(), count_goal(target=25, buffer_pct=10))
        assert (fifteen["floor"], fifteen["stretch"]) == (14, 17)
        assert (twenty_five["floor"], twenty_five["stretch"]) == (23, 28)


class TestOneGoalIsReadBack:
    async def test_get_answers_the_goal_as_created(self, goals, auth) -> None:
        goal = await create(goals, auth(), money_goal(buffer_pct=5, note="FY26"))
        answer = await goals.get(f"/v1/goals/{goal['id']}", headers=auth())
        assert answer.status_code == 200, answer.text
        assert answer.json() == goal

    async def test_an_unknown_id_is_a_404_problem(self, goals, auth) -> None:
        answer = await goals.get("/v1/goals/00000000-0000-4000-8000-000000000000", headers=auth())
        assert_problem(answer, 404)


@pytest.fixture
async def five(goals, auth) -> dict[str, dict]:
    """Five goals of one org, of different owners, metrics, periods and starts."""
    bodies = {
        "t1_jan_visits": count_goal(start="2026-01-01"),
        "t1_q2_revenue": money_goal(period="quarter", start="2026-04-01", target="5000.00"),
        "r1_feb_visits": count_goal(owner="rep:r1", team_id="t1", start="2026-02-01"),
        "org_year_calls": count_goal(
            owner="org", metric="calls", period="year", start="2026-01-01"
        ),
        "t2_week_visits": count_goal(owner="team:t2", period="week", start="2026-03-02"),
    }
    return {name: await create(goals, auth(), body) for name, body in bodies.items()}


class TestListsFilterAndPage:
    async def test_without_filters_every_goal_in_period_order(self, goals, auth, five) -> None:
        items = await list_all(goals, auth())
        assert sorted(ids(items)) == sorted(g["id"] for g in five.values())
        starts = [g["start"] for g in items]
        assert starts == sorted(starts)

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"owner": "team:t1"}, {"t1_jan_visits", "t1_q2_revenue"}),
            ({"owner": "rep:r1"}, {"r1_feb_visits"}),
            ({"owner": "org"}, {"org_year_calls"}),
            ({"metric": "visits"}, {"t1_jan_visits", "r1_feb_visits", "t2_week_visits"}),
            ({"metric": "deals_won"}, set()),
            ({"period": "month"}, {"t1_jan_visits", "r1_feb_visits"}),
            ({"period": "week"}, {"t2_week_visits"}),
            ({"from": "2026-02-01"}, {"r1_feb_visits", "t2_week_visits", "t1_q2_revenue"}),
            ({"to": "2026-02-01"}, {"t1_jan_visits", "org_year_calls", "r1_feb_visits"}),
            ({"from": "2026-02-02", "to": "2026-03-31"}, {"t2_week_visits"}),
            ({"owner": "team:t1", "metric": "visits", "period": "month"}, {"t1_jan_visits"}),
        ],
        ids=lambda v: str(v),
    )
    async def test_a_filter_keeps_only_the_matching_goals(
        self, goals, auth, five, params, expected
    ) -> None:
        items = await list_all(goals, auth(), **params)
        assert set(ids(items)) == {five[name]["id"] for name in expected}

    async def test_parent_id_lists_only_that_goals_children(self, goals, auth, five) -> None:
        parent = five["t1_q2_revenue"]
        split = await decompose(goals, auth(), parent["id"], {"by": "time", "into": "month"})
        items = await list_all(goals, auth(), parent_id=parent["id"])
        assert ids(items) == [c["id"] for c in split["children"]]
        assert [c["start"] for c in items] == ["2026-04-01", "2026-05-01", "2026-06-01"]
        assert all(c["parent_id"] == parent["id"] for c in items)

    async def test_an_archived_goal_is_hidden_unless_asked_for(self, goals, auth, five) -> None:
        gone = five["t1_jan_visits"]
        answer = await goals.delete(f"/v1/goals/{gone['id']}", headers=auth())
        assert answer.status_code == 200, answer.text
        assert gone["id"] not in ids(await list_all(goals, auth()))
        assert gone["id"] not in ids(await list_all(goals, auth(), owner="team:t1"))
        everything = await list_all(goals, auth(), include_archived="true")
        assert len(everything) == 5
        shown = next(g for g in everything if g["id"] == gone["id"])
        assert (shown["archived"], shown["revision"]) == (True, 2)

    async def test_a_small_limit_pages_through_every_goal_exactly_once(self, goals, auth) -> None:
        created = []
        for month in (5, 1, 3, 3, 3, 12, 2):  # three goals share a start: ties broken by id
            created.append(await create(goals, auth(), count_goal(start=f"2026-{month:02d}-01")))
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            answer = await goals.get("/v1/goals", params=params, headers=auth())
            assert answer.status_code == 200, answer.text
            page = answer.json()
            pages += 1
            assert len(page["items"]) <= 2
            seen.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                break
        assert pages == 4
        assert sorted(ids(seen)) == sorted(ids(created))
        assert len(set(ids(seen))) == 7
        assert [(g["start"], g["id"]) for g in seen] == sorted((g["start"], g["id"]) for g in seen)

    async def test_a_cursor_is_opaque_and_refused_in_another_org(self, goals, auth) -> None:
        first = await create(goals, auth(), count_goal(start="2026-03-01"))
        await create(goals, auth(), count_goal(start="2026-04-01"))
        page = (await goals.get("/v1/goals", params={"limit": 1}, headers=auth())).json()
        cursor = page["next"]
        assert "2026-03-01" not in cursor
        assert first["id"] not in cursor
        import base64

        raw = base64.urlsafe_b64decode(cursor.removeprefix("c2.") + "==")
        assert b"2026-03-01" not in raw
        theirs = await goals.get(
            "/v1/goals", params={"cursor": cursor}, headers=auth(org_id="org-other")
        )
        assert theirs.status_code in (400, 422), theirs.text
        assert [e["field"] for e in theirs.json()["errors"]] == ["cursor"]
        ours = await goals.get("/v1/goals", params={"cursor": cursor}, headers=auth())
        assert ours.status_code == 200
        assert len(ours.json()["items"]) == 1

    async def test_a_full_last_page_says_there_is_no_more(self, goals, auth) -> None:
        for month in (1, 2):
            await create(goals, auth(), count_goal(start=f"2026-{month:02d}-01"))
        page = (await goals.get("/v1/goals", params={"limit": 2}, headers=auth())).json()
        assert len(page["items"]) == 2
        assert page["next"] is None

    async def test_an_org_without_goals_lists_none(self, goals, auth) -> None:
        answer = await goals.get("/v1/goals", headers=auth())
        assert answer.status_code == 200
        assert answer.json() == {"items": [], "next": None}


class TestAChangeIsANewRevision:
    async def test_a_new_target_is_revision_2_listing_what_changed_with_the_reason(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(sub="alice"), count_goal(target=200, buffer_pct=10))
        answer = await goals.patch(
            f"/v1/goals/{goal['id']}",
            headers=auth(sub="bob"),
            json={"target": 300, "reason": "new territory"},
        )
        assert answer.status_code == 200, answer.text
        changed = answer.json()
        assert changed["revision"] == 2
        assert (changed["target"], changed["floor"], changed["stretch"]) == (300, 270, 330)
        assert (changed["created_by"], changed["updated_by"]) == ("alice", "bob")
        assert changed["created_at"] == goal["created_at"]
        assert changed["updated_at"] > goal["updated_at"]
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        latest = history["items"][-1]
        assert latest["revision"] == 2
        assert latest["changed"] == ["floor", "stretch", "target"]
        assert latest["reason"] == "new territory"
        assert latest["changed_by"] == "bob"
        assert (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json() == changed

    async def test_a_new_money_target_keeps_floor_and_stretch_proportional(
        self, goals, auth
    ) -> None:
        goal = await create(
            goals, auth(), money_goal(target="1000.00", floor="800.00", stretch="1250.00")
        )
        answer = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"target": "1500.00"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["floor"], body["target"], body["stretch"]) == (
            "1200.00",
            "1500.00",
            "1875.00",
        )

    async def test_a_new_style_of_bounds_replaces_floor_and_stretch(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=100, floor=90, stretch=110))
        answer = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"base_pct": 50, "challenge_pct": 200}
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["floor"], answer.json()["stretch"]) == (50, 200)
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        assert history["items"][-1]["changed"] == ["floor", "stretch"]

    async def test_a_new_note_changes_only_the_note(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(note="old"))
        answer = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"note": "new", "reason": "typo"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["note"] == "new"
        assert answer.json()["target"] == 100
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        assert (history["items"][-1]["changed"], history["items"][-1]["reason"]) == (
            ["note"],
            "typo",
        )

    async def test_the_expected_revision_lets_a_change_through(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal())
        answer = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"target": 90, "expected_revision": 1}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["revision"] == 2

    async def test_a_stale_expected_revision_is_a_409_problem_and_stores_nothing(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), count_goal())
        first = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"target": 90, "expected_revision": 1}
        )
        assert first.status_code == 200, first.text
        stale = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"target": 80, "expected_revision": 1}
        )
        body = assert_problem(stale, 409)
        assert "2" in body["detail"]
        now = (await goals.get(f"/v1/goals/{goal['id']}", headers=auth())).json()
        assert (now["revision"], now["target"]) == (2, 90)
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        assert [r["revision"] for r in history["items"]] == [1, 2]

    async def test_patching_only_the_floor_keeps_the_stretch(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal(target=100, floor=80, stretch=120))
        answer = await goals.patch(f"/v1/goals/{goal['id']}", headers=auth(), json={"floor": 90})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["floor"], answer.json()["stretch"]) == (90, 120)


class TestConcurrentChangesOfOneGoal:
    async def test_of_racing_writers_at_the_same_revision_exactly_one_wins(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), count_goal(target=100))
        answers = await asyncio.gather(
            *(
                goals.patch(
                    f"/v1/goals/{goal['id']}",
                    json={"target": 100 + i, "expected_revision": 1},
                    headers=auth(sub=f"writer-{i}"),
                )
                for i in range(1, 6)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 409, 409, 409, 409], [a.text for a in answers]
        winner = next(a.json() for a in answers if a.status_code == 200)
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        assert [r["revision"] for r in history["items"]] == [1, 2]
        assert history["items"][1]["goal"]["target"] == winner["target"]
        assert history["items"][1]["changed_by"] == winner["updated_by"]

    async def test_racing_writers_without_an_expected_revision_each_get_their_own(
        self, goals, auth
    ) -> None:
        goal = await create(goals, auth(), count_goal(target=100))
        answers = await asyncio.gather(
            *(
                goals.patch(f"/v1/goals/{goal['id']}", json={"target": 100 + i}, headers=auth())
                for i in range(1, 5)
            )
        )
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        assert sorted(a.json()["revision"] for a in answers) == [2, 3, 4, 5]
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        assert [r["revision"] for r in history["items"]] == [1, 2, 3, 4, 5]


class TestDeleteArchives:
    async def test_delete_is_a_revision_and_the_goal_stays_readable(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal())
        answer = await goals.delete(f"/v1/goals/{goal['id']}", headers=auth(sub="carol"))
        assert answer.status_code == 200, answer.text
        archived = answer.json()
        assert (archived["archived"], archived["revision"], archived["target"]) == (True, 2, 100)
        again = await goals.get(f"/v1/goals/{goal['id']}", headers=auth())
        assert again.status_code == 200
        assert again.json() == archived
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        last = history["items"][-1]
        assert (last["changed"], last["reason"], last["changed_by"]) == (
            ["archived"],
            "archived",
            "carol",
        )
        assert last["goal"]["archived"] is True
        assert await list_all(goals, auth()) == []

    async def test_a_patch_can_bring_an_archived_goal_back(self, goals, auth) -> None:
        goal = await create(goals, auth(), count_goal())
        await goals.delete(f"/v1/goals/{goal['id']}", headers=auth())
        answer = await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(), json={"archived": False}
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["archived"], answer.json()["revision"]) == (False, 3)
        assert ids(await list_all(goals, auth())) == [goal["id"]]


class TestRevisionsAreTheWholeHistory:
    async def test_every_revision_with_who_when_and_what_oldest_first(self, goals, auth) -> None:
        goal = await create(goals, auth(sub="alice"), count_goal(target=100))
        await goals.patch(
            f"/v1/goals/{goal['id']}",
            headers=auth(sub="bob"),
            json={"target": 120, "reason": "more reps"},
        )
        await goals.patch(
            f"/v1/goals/{goal['id']}", headers=auth(sub="carol"), json={"note": "agreed"}
        )
        await goals.delete(f"/v1/goals/{goal['id']}", headers=auth(sub="dave"))
        answer = await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [r["revision"] for r in items] == [1, 2, 3, 4]
        assert [r["changed_by"] for r in items] == ["alice", "bob", "carol", "dave"]
        assert [r["reason"] for r in items] == [None, "more reps", None, "archived"]
        assert {"owner", "metric", "period", "start", "target"} <= set(items[0]["changed"])
        assert [r["changed"] for r in items[1:]] == [
            ["floor", "stretch", "target"],
            ["note"],
            ["archived"],
        ]
        times = [datetime.fromisoformat(r["changed_at"]) for r in items]
        assert times == sorted(times)
        assert len(set(times)) == 4
        snapshots = [
            (r["goal"]["revision"], r["goal"]["target"], r["goal"]["note"], r["goal"]["archived"])
            for r in items
        ]
        assert snapshots == [
            (1, 100, None, False),
            (2, 120, None, False),
            (3, 120, "agreed", False),
            (4, 120, "agreed", True),
        ]
        assert items[0]["goal"]["floor"] == 100
        assert items[1]["goal"]["floor"] == 120

    async def test_the_database_refuses_to_change_or_delete_a_revision(
        self, goals, auth, db
    ) -> None:
        goal = await create(goals, auth(), count_goal())
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await db.execute(
                "UPDATE goals.revisions SET reason = 'rewritten' WHERE goal_id = $1",
                uuid.UUID(goal["id"]),
            )
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await db.execute(
                "DELETE FROM goals.revisions WHERE goal_id = $1",
                uuid.UUID(goal["id"]),
            )
        history = (await goals.get(f"/v1/goals/{goal['id']}/revisions", headers=auth())).json()
        assert [(r["revision"], r["reason"]) for r in history["items"]] == [(1, None)]
