"""Corrections and time travel: voids take an event's contribution out (with the page that
holds them: no rebuild), `as_of` answers as the log stood at a moment, a new timezone
re-buckets every event, and a rebuild changes nothing.

Each test posts into its own org (they change it), as admin unless said otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from services.scoring.answer import service
from services.scoring.follow import rebuild
from services.scoring.repository import GENERATION_TABLES
from tests.api.scoring.conftest import settled
from tests.api.scoring.helpers import (
    append,
    at,
    call,
    eventually,
    invoice,
    lead,
    no_rebuild,
    opened,
    payment,
    qualified,
    rebuild_done,
    scores_settled,
    span,
    stage,
    tier,
    visit,
    void,
    won,
)
from tests.problems import assert_problem

JULY = span("2026-07-01", "2026-07-31")
SUMMER = span("2026-07-01", "2026-08-31")


async def july(
    scoring: httpx.AsyncClient, headers: dict[str, str], metrics: str, **params: Any
) -> dict[str, Any]:
    answer = await scoring.get(
        "/v1/kpis",
        params={"period": "month", "metrics": metrics, **JULY, **params},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def values(body: dict[str, Any]) -> dict[str, Any]:
    (bucket,) = body["buckets"]
    return {name: metric["value"] for name, metric in bucket["metrics"].items()}


class TestAVoidTakesTheEventOut:
    async def test_a_voided_win_no_longer_counts_and_the_deal_is_open_again(
        self, scoring, post_events, auth
    ) -> None:
        win = won("r1", "t1", "D1", "1200.00", "EUR", at("2026-07-16"))
        last = await post_events(
            [
                opened("r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06")),
                win,
            ]
        )
        await settled(scoring, auth(), last)
        metrics = "deals_won,revenue_won,new_customers,win_rate,open_pipeline"
        before = await july(scoring, auth(), metrics)
        assert values(before) == {
            "deals_won": 1,
            "revenue_won": "1200.00",
            "new_customers": 1,
            "win_rate": 1.0,
            "open_pipeline": "0.00",  # opened and won: +1000.00 - 1000.00
        }

        last = await post_events([void(win, at("2026-07-20"), "won by another rep")])
        await settled(scoring, auth(), last)
        await no_rebuild(scoring, auth())

        after = await july(scoring, auth(), metrics)
        assert values(after) == {
            "deals_won": 0,
            "revenue_won": "0",
            "new_customers": 0,
            "win_rate": None,
            "open_pipeline": "1000.00",
        }
        assert after["buckets"][0]["metrics"]["open_pipeline"]["by_stage"] == {
            "qualification": "1000.00"
        }
        assert after["up_to"]["position"] == last

    async def test_a_voided_visit_no_longer_counts_for_the_rep_the_team_or_the_org(
        self, scoring, post_events, auth
    ) -> None:
        wrong = visit("r1", "t1", "acc-A", at("2026-07-10"), effective=True)
        last = await post_events(
            [
                visit("r1", "t1", "acc-A", at("2026-07-09"), effective=False),
                wrong,
                visit("r2", "t1", "acc-B", at("2026-07-11")),
            ]
        )
        await settled(scoring, auth(), last)
        assert values(await july(scoring, auth(), "visits,effective_visits")) == {
            "visits": 3,
            "effective_visits": 2,
        }

        last = await post_events([void(wrong, at("2026-07-12"))])
        await settled(scoring, auth(), last)
        await no_rebuild(scoring, auth())

        for owner, expected in (
            ("org", {"visits": 2, "effective_visits": 1}),
            ("team:t1", {"visits": 2, "effective_visits": 1}),
            ("rep:r1", {"visits": 1, "effective_visits": 0}),
            ("rep:r2", {"visits": 1, "effective_visits": 1}),
        ):
            assert (
                values(await july(scoring, auth(), "visits,effective_visits", owner=owner))
                == expected
            ), owner

    async def test_a_voided_stage_change_leaves_the_deal_in_its_old_stage(
        self, scoring, post_events, auth
    ) -> None:
        move = stage("r1", "t1", "D1", "proposal", at("2026-07-10"))
        last = await post_events(
            [
                opened("r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06")),
                move,
                void(move, at("2026-07-11")),
            ]
        )
        await settled(scoring, auth(), last)
        await no_rebuild(scoring, auth())
        body = await july(scoring, auth(), "open_pipeline")
        assert body["buckets"][0]["metrics"]["open_pipeline"] == {
            "value": "1000.00",
            "currency": "EUR",
            "by_stage": {"qualification": "1000.00"},
        }
        funnel = await scoring.get("/v1/funnel", params=JULY, headers=auth())
        assert [(s["step"], s["count"]) for s in funnel.json()["steps"]] == [
            ("leads", 0),
            ("opportunities", 0),
            ("deals_opened", 1),
            ("stage:qualification", 1),
            ("won", 0),
            ("lost", 0),
        ]


async def stored(db: Any, org: str, generation: int) -> dict[str, Any]:
    """Every row of the org's projection in one generation (rollups that hold something)."""

    async def rows(sql: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(r) for r in await db.fetch(sql, org, generation))

    where = "WHERE org_id = $1 AND generation = $2"
    return {
        "rollups": await rows(
            "SELECT grain, bucket, owner_kind, owner_id, team_id, product_line, tier, channel,"
            f" currency, metric, value FROM scoring.kpi_rollups {where} AND value <> 0"
        ),
        "entities": await rows(f"SELECT kind, key, state FROM scoring.entities {where}"),
        "wins": await rows(
            "SELECT deal, account_id, day, rep_id, team_id, product_line, tier, channel"
            f" FROM scoring.wins {where}"
        ),
        "scores": await rows(
            f"SELECT kind, key, rep_id, team_id, score, tier FROM scoring.scores {where}"
        ),
        "health": await rows(
            f"SELECT account_id, rep_id, team_id, lifecycle, at_risk, won_12m, doc"
            f" FROM scoring.health {where}"
        ),
    }


class TestACorrectionIsWhatARebuildMakes:
    async def test_voids_of_every_kind_leave_the_rows_a_rebuild_of_the_log_writes(
        self, scoring, post_events, auth, db, org, monkeypatch
    ) -> None:
        """Voids of a visit, a call, a win, a qualification, an invoice, a payment, a tier
        change and a deal's opening, one page at a time and several in one page: no rebuild,
        and every stored row (rollups, entities, wins, scores, health) is what a rebuild of the
        log then writes."""
        a_visit = visit("r1", "t1", "acc-A", at("2026-07-05"))
        a_call = call("r2", "t2", "acc-B", at("2026-07-06"))
        a_win = won("r1", "t1", "D1", "1100.00", "EUR", at("2026-07-16"))
        a_qualification = qualified("r1", "t1", "L1", at("2026-07-03"))
        an_invoice = invoice("r1", "t1", "INV-1", "acc-A", "D1", "1100.00", at("2026-07-17"))
        a_payment = payment("r1", "t1", "INV-1", "acc-A", "500.00", at("2026-08-02"))
        a_tier = tier("acc-B", "A", at("2026-07-01"))
        an_opening = opened("r2", "t2", "D2", "700.00", "USD", "mixers", "acc-B", at("2026-07-20"))
        events = [
            a_tier,
            lead("r1", "t1", "L1", "referral", "acc-A", at("2026-07-01")),
            a_qualification,
            a_visit,
            visit("r1", "t1", "acc-A", at("2026-07-07"), effective=False),
            visit("r2", "t2", "acc-B", at("2026-08-05"), effective=False),
            a_call,
            opened(
                "r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06"), lead_id="L1"
            ),
            stage("r1", "t1", "D1", "proposal", at("2026-07-08")),
            a_win,
            call("r1", "t1", "acc-A", at("2026-07-17")),
            an_invoice,
            a_payment,
            an_opening,
            stage("r2", "t2", "D2", "proposal", at("2026-07-22")),
            lead("r3", "t2", "L2", "online", "acc-C", at("2026-07-09")),
            visit("r3", "t2", "acc-C", at("2026-07-10")),
        ]
        await post_events(events)
        await post_events([void(a_visit, at("2026-07-20"))])
        await post_events(
            [
                void(a_win, at("2026-07-21")),
                void(a_qualification, at("2026-07-21")),
                visit("r1", "t1", "acc-A", at("2026-07-22")),
            ]
        )
        await post_events([void(an_invoice, at("2026-07-23")), void(a_payment, at("2026-08-03"))])
        last = await post_events(
            [
                void(a_tier, at("2026-07-24")),
                void(a_call, at("2026-07-24")),
                void(an_opening, at("2026-07-25")),
            ]
        )
        await settled(scoring, auth(), last)
        await scores_settled(db, org, last)
        await no_rebuild(scoring, auth())
        counts = "SELECT voided, outcomes FROM scoring.orgs WHERE org_id = $1"
        voided, outcomes = await db.fetchrow(counts, org)
        assert voided == 8
        assert outcomes == 0  # the win and the qualification were voided: no lead or deal has one
        corrected = await stored(db, org, generation=1)
        summer = values(await july(scoring, auth(), "visits,calls,deals_won,opportunities"))
        assert summer == {"visits": 3, "calls": 1, "deals_won": 0, "opportunities": 0}

        analyzed = await analyze_counts(db)
        monkeypatch.setattr(rebuild, "DROP_BATCH", 3)  # the old generation goes 3 rows a time
        answer = await scoring.post("/v1/admin/rebuild", headers=auth())
        assert answer.status_code == 202, answer.text
        await rebuild_done(scoring, auth(), after_generation=1)
        rebuilt = await stored(db, org, generation=2)
        for table, rows in rebuilt.items():
            assert corrected[table] == rows, table
        assert corrected["rollups"]
        assert corrected["entities"]
        assert corrected["health"]
        assert tuple(await db.fetchrow(counts, org)) == (voided, outcomes)

        # The rebuild left the planner statistics of its rows (not autovacuum, later): a void's
        # look-up of a few keys in the new generation is planned as one, not as a walk over it.
        async def reanalyzed() -> bool:
            now = await analyze_counts(db)
            return all(now[table] > analyzed[table] for table in analyzed)

        await eventually(reanalyzed)

        async def old_generation_gone() -> bool:
            for table in GENERATION_TABLES:
                left = await db.fetchval(
                    f"SELECT count(*) FROM scoring.{table} WHERE org_id = $1 AND generation <> 2",
                    org,
                )
                if left:
                    return False
            return True

        assert len(corrected["rollups"]) > 3  # more than one batch to drop
        await eventually(old_generation_gone)


class TestOutcomesAreCountedAsARebuildCountsThem:
    async def test_a_page_that_closes_a_deal_and_voids_the_close(
        self, scoring, post_events, auth, db, org
    ) -> None:
        """The count of leads and deals with an outcome (what training waits for) moves with
        voids: a win voided in the page that brought it never counted, a qualification voided
        later is taken off, and a rebuild then finds the same count."""
        a_win = won("r1", "t1", "D1", "900.00", "EUR", at("2026-07-10"))
        a_qualification = qualified("r1", "t1", "L1", at("2026-07-03"))
        await post_events(
            [
                lead("r1", "t1", "L1", "referral", "acc-A", at("2026-07-01")),
                opened(
                    "r1",
                    "t1",
                    "D1",
                    "900.00",
                    "EUR",
                    "ovens",
                    "acc-A",
                    at("2026-07-05"),
                    lead_id="L1",
                ),
                a_win,
                void(a_win, at("2026-07-11")),
            ]
        )
        await post_events(
            [a_qualification, lead("r2", "t1", "L2", "online", "acc-B", at("2026-07-02"))]
        )
        last = await post_events(
            [
                void(a_qualification, at("2026-07-12")),
                qualified("r2", "t1", "L2", at("2026-07-04")),
            ]
        )
        await settled(scoring, auth(), last)
        await no_rebuild(scoring, auth())
        counted = "SELECT outcomes FROM scoring.orgs WHERE org_id = $1"
        assert await db.fetchval(counted, org) == 1  # L2, qualified; L1 and D1 are open

        answer = await scoring.post("/v1/admin/rebuild", headers=auth())
        assert answer.status_code == 202, answer.text
        await rebuild_done(scoring, auth(), after_generation=1)
        assert await db.fetchval(counted, org) == 1


async def analyze_counts(db: Any) -> dict[str, int]:
    """Manual ANALYZEs of each generation table so far (autovacuum's are counted apart)."""
    rows = await db.fetch(
        "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE schemaname = 'scoring'"
        " AND relname = ANY($1::text[])",
        list(GENERATION_TABLES),
    )
    return {row["relname"]: row["analyze_count"] for row in rows}


class TestAsOfAnswersAsTheLogStoodThen:
    async def test_events_recorded_later_are_ignored(self, scoring, activity_app, auth) -> None:
        first = await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-09")), auth())
        second = await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-10")), auth())
        assert second["recorded_at"] > first["recorded_at"]
        await settled(scoring, auth(), second["position"])

        now = await july(scoring, auth(), "visits")
        assert values(now) == {"visits": 2}

        then = await july(scoring, auth(), "visits", as_of=first["recorded_at"])
        assert values(then) == {"visits": 1}
        assert then["as_of"] == first["recorded_at"]
        assert then["up_to"] == {"position": first["position"], "recorded_at": first["recorded_at"]}

        recorded = [datetime.fromisoformat(e["recorded_at"]) for e in (first, second)]
        between = recorded[0] + (recorded[1] - recorded[0]) / 2
        assert values(await july(scoring, auth(), "visits", as_of=between.isoformat())) == {
            "visits": 1
        }
        at_second = await july(scoring, auth(), "visits", as_of=second["recorded_at"])
        assert values(at_second) == {"visits": 2}

    async def test_questions_as_of_one_past_moment_replay_the_log_once(
        self, scoring, activity_app, auth, monkeypatch
    ) -> None:
        """Kept replays (answer/replays.py): the KPIs and the funnel as of a moment the log has
        gone past, and the same question again, replay the log once; the log's last moment is
        replayed at every question (events recorded up to it may still come)."""
        first = await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-09")), auth())
        second = await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-10")), auth())
        await settled(scoring, auth(), second["position"])
        replays = service.replay_org
        made: list[datetime | None] = []

        async def counted(*args: Any, **kwargs: Any) -> Any:
            made.append(kwargs.get("until"))
            return await replays(*args, **kwargs)

        monkeypatch.setattr(service, "replay_org", counted)
        then, last = first["recorded_at"], second["recorded_at"]
        assert values(await july(scoring, auth(), "visits", as_of=then)) == {"visits": 1}
        assert values(await july(scoring, auth(), "visits", as_of=then)) == {"visits": 1}
        funnel = await scoring.get(
            "/v1/funnel",
            params={"from": "2026-07-01", "to": "2026-07-31", "as_of": then},
            headers=auth(),
        )
        assert funnel.status_code == 200, funnel.text
        assert made == [datetime.fromisoformat(then)]
        for _ in range(2):
            assert values(await july(scoring, auth(), "visits", as_of=last)) == {"visits": 2}
        assert made[1:] == [datetime.fromisoformat(last)] * 2

    async def test_the_same_moment_in_another_offset_gives_the_same_answer(
        self, scoring, activity_app, auth
    ) -> None:
        first = await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-09")), auth())
        await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-10")), auth())
        moment = datetime.fromisoformat(first["recorded_at"])
        in_kolkata = moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
        assert "+05:30" in in_kolkata
        then = await july(scoring, auth(), "visits", as_of=in_kolkata)
        assert values(then) == {"visits": 1}
        assert then["up_to"]["position"] == first["position"]

    async def test_a_moment_before_the_first_event_is_refused_naming_it(
        self, scoring, activity_app, auth
    ) -> None:
        """`as_of` is by recorded time: before the org's first event was recorded nothing was
        known, and zeros would pass for an answer."""
        first = await append(activity_app, visit("r1", "t1", "acc-A", at("2026-07-09")), auth())
        recorded = datetime.fromisoformat(first["recorded_at"])
        before = recorded - timedelta(seconds=1)
        answer = await scoring.get(
            "/v1/kpis",
            params={"period": "month", "metrics": "visits", **JULY, "as_of": before.isoformat()},
            headers=auth(),
        )
        body = assert_problem(answer, 422, "as_of")
        assert recorded.isoformat() in body["detail"]
        assert body["errors"][0]["code"] == "before_first_event"
        at_first = await july(scoring, auth(), "visits", as_of=recorded.isoformat())
        assert values(at_first) == {"visits": 1}

    async def test_a_void_recorded_later_is_not_applied(self, scoring, activity_app, auth) -> None:
        target = visit("r1", "t1", "acc-A", at("2026-07-09"))
        kept = await append(activity_app, target, auth())
        voided = await append(activity_app, void(target, at("2026-07-10")), auth())
        await settled(scoring, auth(), voided["position"])
        await no_rebuild(scoring, auth())

        assert values(await july(scoring, auth(), "visits")) == {"visits": 0}
        assert values(await july(scoring, auth(), "visits", as_of=kept["recorded_at"])) == {
            "visits": 1
        }
        assert values(await july(scoring, auth(), "visits", as_of=voided["recorded_at"])) == {
            "visits": 0
        }

    async def test_as_of_serves_the_funnel_too(self, scoring, activity_app, auth) -> None:
        created = await append(
            activity_app, lead("r1", "t1", "L1", "online", "acc-A", at("2026-07-01")), auth()
        )
        await append(activity_app, qualified("r1", "t1", "L1", at("2026-07-02")), auth())
        answer = await scoring.get(
            "/v1/funnel", params={**JULY, "as_of": created["recorded_at"]}, headers=auth()
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["as_of"] == created["recorded_at"]
        assert [(s["step"], s["count"]) for s in body["steps"][:2]] == [
            ("leads", 1),
            ("opportunities", 0),
        ]

    async def test_as_of_gives_the_same_numbers_as_the_stored_projection_for_the_whole_log(
        self, scoring, activity_app, post_events, auth
    ) -> None:
        events = [
            lead("r1", "t1", "L1", "referral", "acc-A", at("2026-07-01")),
            qualified("r1", "t1", "L1", at("2026-07-03")),
            visit("r1", "t1", "acc-A", at("2026-07-05")),
            opened(
                "r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06"), lead_id="L1"
            ),
            stage("r1", "t1", "D1", "proposal", at("2026-07-08")),
            won("r1", "t1", "D1", "1100.00", "EUR", at("2026-07-16")),
            call("r1", "t1", "acc-A", at("2026-07-17")),
            invoice("r1", "t1", "INV-1", "acc-A", "D1", "1100.00", at("2026-07-17")),
            payment("r1", "t1", "INV-1", "acc-A", "500.00", at("2026-07-25")),
            opened("r2", "t1", "D2", "700.00", "EUR", "mixers", "acc-B", at("2026-07-20")),
        ]
        last = await post_events(events)
        await settled(scoring, auth(), last)
        stored = await july(scoring, auth(), "")
        replayed = await july(scoring, auth(), "", as_of=datetime.now(UTC).isoformat())
        assert replayed["buckets"] == stored["buckets"]
        assert replayed["up_to"] == stored["up_to"]


class TestANewTimezoneRebucketsEveryEvent:
    async def test_late_july_evening_in_utc_is_august_in_berlin(
        self, scoring, post_events, auth
    ) -> None:
        # Berlin is UTC+2 in summer: 21:30Z is still 23:30 on Jul 31 there, 22:30Z is Aug 1.
        last = await post_events(
            [
                visit("r1", "t1", "acc-A", "2026-07-31T21:30:00Z"),
                visit("r1", "t1", "acc-A", "2026-07-31T22:30:00Z"),
            ]
        )
        await settled(scoring, auth(), last)

        async def months() -> list[int]:
            answer = await scoring.get(
                "/v1/kpis",
                params={"period": "month", "metrics": "visits", **SUMMER},
                headers=auth(),
            )
            return [b["metrics"]["visits"]["value"] for b in answer.json()["buckets"]]

        assert await months() == [2, 0]

        answer = await scoring.put(
            "/v1/settings", json={"timezone": "Europe/Berlin"}, headers=auth()
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"timezone": "Europe/Berlin", "currency": None, "rebuilding": True}

        status = await rebuild_done(scoring, auth(), after_generation=1)
        assert status["generation"] == 2
        assert set(status["phases"]) == {"replay", "score", "write", "catch_up"}
        assert all(seconds >= 0 for seconds in status["phases"].values())
        assert sum(status["phases"].values()) <= status["seconds"] + 0.01
        assert set(status["write_steps"]) == {"rollups", "entities", "scores", "statistics"}
        assert sum(status["write_steps"].values()) <= status["phases"]["write"] + 0.01
        assert await months() == [1, 1]
        days = await scoring.get(
            "/v1/kpis",
            params={"period": "day", "metrics": "visits", **span("2026-07-31", "2026-08-01")},
            headers=auth(),
        )
        assert days.json()["timezone"] == "Europe/Berlin"
        assert [(b["start"], b["metrics"]["visits"]["value"]) for b in days.json()["buckets"]] == [
            ("2026-07-31", 1),
            ("2026-08-01", 1),
        ]
        settings = await scoring.get("/v1/settings", headers=auth("rep", sub="r1", team="t1"))
        assert settings.json() == {"timezone": "Europe/Berlin", "currency": None}

    async def test_the_same_timezone_again_rebuilds_nothing(
        self, scoring, post_events, auth
    ) -> None:
        last = await post_events([visit("r1", "t1", "acc-A", at("2026-07-10"))])
        await settled(scoring, auth(), last)
        answer = await scoring.put(
            "/v1/settings", json={"timezone": "UTC", "currency": "EUR"}, headers=auth()
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"timezone": "UTC", "currency": "EUR", "rebuilding": False}
        status = (await scoring.get("/v1/admin/rebuild", headers=auth())).json()
        assert (status["state"], status["generation"]) == ("idle", 1)


class TestARebuildReplaysTheLogToTheSameNumbers:
    async def test_rebuild_is_accepted_and_ends_done_with_unchanged_numbers(
        self, scoring, post_events, auth
    ) -> None:
        events = [
            lead("r1", "t1", "L1", "referral", "acc-A", at("2026-07-01")),
            qualified("r1", "t1", "L1", at("2026-07-03")),
            visit("r1", "t1", "acc-A", at("2026-07-05")),
            visit("r2", "t2", "acc-B", at("2026-08-05"), effective=False),
            opened(
                "r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06"), lead_id="L1"
            ),
            stage("r1", "t1", "D1", "proposal", at("2026-07-08")),
            won("r1", "t1", "D1", "1100.00", "EUR", at("2026-07-16")),
            call("r1", "t1", "acc-A", at("2026-07-17")),
            invoice("r1", "t1", "INV-1", "acc-A", "D1", "1100.00", at("2026-07-17")),
            payment("r1", "t1", "INV-1", "acc-A", "500.00", at("2026-08-02")),
            opened("r2", "t2", "D2", "700.00", "USD", "mixers", "acc-B", at("2026-07-20")),
        ]
        last = await post_events(events)
        await settled(scoring, auth(), last)

        async def snapshot() -> list[Any]:
            out = []
            for owner in ("org", "team:t1", "rep:r2"):
                answer = await scoring.get(
                    "/v1/kpis",
                    params={"period": "month", "owner": owner, **SUMMER},
                    headers=auth(),
                )
                out.append(answer.json()["buckets"])
            funnel = await scoring.get("/v1/funnel", params=SUMMER, headers=auth())
            out.append(funnel.json()["steps"])
            return out

        before = await snapshot()
        assert before[0][0]["metrics"]["revenue_won"] == {"value": "1100.00", "currency": "EUR"}

        answer = await scoring.post("/v1/admin/rebuild", headers=auth())
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"state": "requested", "generation": 1, "done": 0, "total": 0}

        status = await rebuild_done(scoring, auth(), after_generation=1)
        assert status["generation"] == 2
        assert status["done"] == status["total"] == len(events)
        assert status["seconds"] >= 0
        assert await snapshot() == before

        settled_after = await scoring.get("/v1/kpis", params={"metrics": "visits"}, headers=auth())
        assert settled_after.json()["up_to"]["position"] == last

    async def test_the_projection_keeps_following_the_log_after_a_rebuild(
        self, scoring, post_events, auth
    ) -> None:
        last = await post_events([visit("r1", "t1", "acc-A", at("2026-07-10"))])
        await settled(scoring, auth(), last)
        assert (await scoring.post("/v1/admin/rebuild", headers=auth())).status_code == 202
        await rebuild_done(scoring, auth(), after_generation=1)

        last = await post_events([visit("r1", "t1", "acc-A", at("2026-07-11"))])
        await settled(scoring, auth(), last)
        assert values(await july(scoring, auth(), "visits")) == {"visits": 2}

    async def test_reading_during_a_rebuild_keeps_answering(
        self, scoring, post_events, auth
    ) -> None:
        last = await post_events([visit("r1", "t1", "acc-A", at("2026-07-10"))])
        await settled(scoring, auth(), last)
        assert (await scoring.post("/v1/admin/rebuild", headers=auth())).status_code == 202

        async def read_until_done() -> bool:
            assert values(await july(scoring, auth(), "visits")) == {"visits": 1}
            status = (await scoring.get("/v1/admin/rebuild", headers=auth())).json()
            return bool(status["state"] == "done")

        assert await eventually(read_until_done)


class TestSettingsKeepTheReportingCurrency:
    async def test_a_timezone_only_change_keeps_reporting_in_the_first_currency_logged(
        self, scoring, post_events, auth
    ) -> None:
        last = await post_events(
            [opened("r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06"))]
        )
        await settled(scoring, auth(), last)
        settings = await scoring.get("/v1/settings", headers=auth())
        assert settings.json() == {"timezone": "UTC", "currency": "EUR"}

        answer = await scoring.put("/v1/settings", json={"timezone": "UTC"}, headers=auth())
        assert answer.status_code == 200, answer.text
        last = await post_events(
            [opened("r2", "t1", "D2", "500.00", "USD", "ovens", "acc-B", at("2026-07-07"))]
        )
        await settled(scoring, auth(), last)

        body = await july(scoring, auth(), "open_pipeline")
        assert body["currency"] == "EUR"
        assert body["buckets"][0]["metrics"]["open_pipeline"]["value"] == "1000.00"
