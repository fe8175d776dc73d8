"""Lead and deal priority over HTTP: the ordered list, one score with factors that add up, who
sees what, paging, `as_of`, models and training, the BI export, and bad input.

One org is posted once for the module, dated relative to today (scores look at "days since the
last touch", so the log must be recent):

    r1 (team t1): lead L1 (referral, 2 effective visits, asked for price, an e-mail clicked),
                  lead L2 (cold visit, untouched, asked not to be called), deal D1 (proposal)
    r2 (team t1): lead L3 (online)      r3 (team t2): lead L4 (inbound), deal D2
    closed: L5 qualified (r1), L6 disqualified (r2), D3 won (r3)
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from tests.api.scoring.helpers import (
    SharedOrg,
    assert_problem,
    disqualified,
    eventually,
    lead,
    opened,
    qualified,
    seed,
    stage,
    won,
)
from tests.conftest import make_event

TODAY = datetime.now(UTC).date()


def ago(days: int, hour: int = 10) -> str:
    day = TODAY - timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00:00+00:00"


def touch(rep: str, team: str, stream: str, when: str, **data: Any) -> dict[str, Any]:
    body = {"mode": "onsite", "effective": True, "duration_minutes": 30, **data}
    return make_event(
        "visit.logged", stream=stream, rep_id=rep, team_id=team, occurred_at=when, data=body
    )


def engagement(rep: str, team: str, stream: str, when: str, kind: str) -> dict[str, Any]:
    return make_event(
        "engagement.tracked",
        stream=stream,
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"kind": kind, "count": 1, "seconds": 120},
    )


def consent(rep: str, team: str, lead_id: str, when: str) -> dict[str, Any]:
    return make_event(
        "lead.consent_changed",
        stream=f"lead-{lead_id}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"do_not_call": True},
    )


EVENTS = [
    lead("r1", "t1", "L1", "referral", "acc-1", ago(20)),
    touch("r1", "t1", "lead-L1", ago(6), buying_signals=["asked_for_price"]),
    touch("r1", "t1", "lead-L1", ago(3)),
    engagement("r1", "t1", "lead-L1", ago(2), "email_clicked"),
    lead("r1", "t1", "L2", "cold_visit", "acc-2", ago(40)),
    consent("r1", "t1", "L2", ago(30)),
    lead("r2", "t1", "L3", "online", "acc-3", ago(5)),
    lead("r3", "t2", "L4", "inbound", "acc-4", ago(9)),
    opened("r1", "t1", "D1", "12000.00", "EUR", "ovens", "acc-1", ago(15)),
    stage("r1", "t1", "D1", "proposal", ago(10)),
    opened("r3", "t2", "D2", "3000.00", "EUR", "service", "acc-4", ago(8)),
    lead("r1", "t1", "L5", "referral", "acc-5", ago(50)),
    qualified("r1", "t1", "L5", ago(45)),
    lead("r2", "t1", "L6", "other", "acc-6", ago(50)),
    disqualified("r2", "t1", "L6", ago(44)),
    opened("r3", "t2", "D3", "5000.00", "EUR", "ovens", "acc-7", ago(60)),
    won("r3", "t2", "D3", "5000.00", "EUR", ago(30)),
]

REP = {"role": "rep", "sub": "r1", "team": "t1"}
MANAGER = {"role": "manager", "sub": "m1", "team": "t1"}


@pytest.fixture(scope="module")
async def shop(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    """The org, once scoring has folded it, trained its first models (the consumer does once an
    org is caught up) and scored every open lead and deal with them: scores stand still."""
    org = await seed(activity_app, scoring, EVENTS)

    async def scored_with_the_active_models() -> bool:
        models = (await scoring.get("/v1/scoring/models", headers=org.headers())).json()["items"]
        active = {m["kind"]: m["version"] for m in models if m["active"]}
        export = await scoring.get("/v1/export/scores", headers=org.headers())
        rows = [json.loads(line) for line in export.text.splitlines()]
        return (
            set(active) == {"lead", "deal"}
            and len(rows) == 6
            and all(r["model_version"] == active[r["kind"]] for r in rows)
        )

    await eventually(scored_with_the_active_models)
    return org


def as_(shop: SharedOrg, who: dict[str, Any] | None = None) -> dict[str, str]:
    who = dict(who or {"role": "admin"})
    return shop.headers(who.pop("role"), **who)


async def page(
    scoring: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    answer = await scoring.get("/v1/leads/priority", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def exact(value: float) -> Decimal:
    return Decimal(repr(value))


class TestTheList:
    async def test_an_admin_sees_every_open_lead_highest_score_first(self, scoring, shop) -> None:
        body = await page(scoring, as_(shop), owner="org")
        assert sorted(ids(body)) == ["lead-L1", "lead-L2", "lead-L3", "lead-L4"]
        scores = [(item["score"], item["id"]) for item in body["items"]]
        assert scores == sorted(scores, key=lambda s: (-s[0], s[1]))
        assert body["has_more"] is False
        assert body["next"] is None

    async def test_a_listed_score_shows_its_largest_factors_and_the_rest_summed(
        self, scoring, shop
    ) -> None:
        for kind in ("lead", "deal"):
            for item in (await page(scoring, as_(shop), owner="org", kind=kind))["items"]:
                full = (
                    await scoring.get(f"/v1/leads/{item['id']}/score", headers=as_(shop))
                ).json()
                assert len(item["factors"]) <= 6
                total = sum((exact(f["contribution"]) for f in item["factors"]), Decimal(0))
                assert exact(item["log_odds"]) - exact(item["base_log_odds"]) == total
                shown = [f for f in item["factors"] if f["name"] != "others"]
                assert shown == full["factors"][: len(shown)]
                if len(full["factors"]) > 6:
                    assert item["factors"][-1]["name"] == "others"
                    assert item["factors"][-1]["value"] == str(len(full["factors"]) - 5)

    async def test_closed_leads_are_not_listed(self, scoring, shop) -> None:
        body = await page(scoring, as_(shop), owner="org")
        assert "lead-L5" not in ids(body)
        assert "lead-L6" not in ids(body)

    async def test_deals_are_a_list_of_their_own(self, scoring, shop) -> None:
        body = await page(scoring, as_(shop), owner="org", kind="deal")
        assert sorted(ids(body)) == ["deal-D1", "deal-D2"]

    async def test_a_rep_sees_their_own_by_default(self, scoring, shop) -> None:
        body = await page(scoring, as_(shop, REP))
        assert sorted(ids(body)) == ["lead-L1", "lead-L2"]
        assert {item["rep_id"] for item in body["items"]} == {"r1"}

    async def test_a_manager_sees_their_team(self, scoring, shop) -> None:
        body = await page(scoring, as_(shop, MANAGER))
        assert sorted(ids(body)) == ["lead-L1", "lead-L2", "lead-L3"]

    async def test_the_tier_filter_keeps_one_tier(self, scoring, shop) -> None:
        everything = await page(scoring, as_(shop), owner="org")
        for tier in "ABC":
            body = await page(scoring, as_(shop), owner="org", tier=tier)
            assert ids(body) == [i["id"] for i in everything["items"] if i["tier"] == tier]

    async def test_pages_follow_each_other_without_gaps_or_repeats(self, scoring, shop) -> None:
        everything = ids(await page(scoring, as_(shop), owner="org"))
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"owner": "org", "limit": 1}
            if cursor:
                params["cursor"] = cursor
            answer = await scoring.get("/v1/leads/priority", params=params, headers=as_(shop))
            body = answer.json()
            seen += ids(body)
            if not body["has_more"]:
                assert "X-Next-Cursor" not in answer.headers
                break
            assert answer.headers["X-Next-Cursor"] == body["next"]
            assert 'rel="next"' in answer.headers["Link"]
            cursor = body["next"]
        assert seen == everything


class TestOneScore:
    async def score(self, scoring: httpx.AsyncClient, shop: SharedOrg, key: str) -> dict[str, Any]:
        answer = await scoring.get(f"/v1/leads/{key}/score", headers=as_(shop))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def test_factors_add_up_exactly_to_the_log_odds_above_the_base(
        self, scoring, shop
    ) -> None:
        for key in ("lead-L1", "lead-L2", "lead-L3", "lead-L4", "deal-D1", "deal-D2"):
            body = await self.score(scoring, shop, key)
            total = sum((exact(f["contribution"]) for f in body["factors"]), Decimal(0))
            assert exact(body["log_odds"]) - exact(body["base_log_odds"]) == total, key

    async def test_a_score_is_its_probability_in_percent_with_its_tier(self, scoring, shop) -> None:
        body = await self.score(scoring, shop, "lead-L1")
        assert body["score"] == round(body["win_probability"] * 100)
        p = body["win_probability"]
        assert body["tier"] == ("A" if p >= 0.6 else "B" if p >= 0.3 else "C")
        assert body["model"]["kind"] in ("prior", "logistic", "naive_bayes")

    async def test_the_next_touch_is_due_after_the_last_touch_by_the_tiers_days(
        self, scoring, shop
    ) -> None:
        body = await self.score(scoring, shop, "lead-L1")
        last = datetime.fromisoformat(body["last_touch_at"]).date()
        assert last == TODAY - timedelta(days=3)
        days = {"A": 1, "B": 7, "C": 30}[body["tier"]]
        assert body["next_touch_due"] == (last + timedelta(days=days)).isoformat()
        assert body["overdue"] == (last + timedelta(days=days) < TODAY)

    async def test_an_untouched_lead_counts_from_its_creation_and_says_so(
        self, scoring, shop
    ) -> None:
        body = await self.score(scoring, shop, "lead-L2")
        assert body["last_touch_at"] is None
        factors = {f["name"]: f for f in body["factors"]}
        if "do_not_call" in factors:  # the prior knows stages only; a learnt model sees more
            assert factors["do_not_call"]["sentence"] == "asked not to be called"

    async def test_a_closed_lead_has_no_score(self, scoring, shop) -> None:
        answer = await scoring.get("/v1/leads/lead-L5/score", headers=as_(shop))
        assert_problem(answer, 404)

    async def test_a_rep_reads_their_own_score_but_not_anothers(self, scoring, shop) -> None:
        mine = await scoring.get("/v1/leads/lead-L1/score", headers=as_(shop, REP))
        assert mine.status_code == 200
        theirs = await scoring.get("/v1/leads/lead-L3/score", headers=as_(shop, REP))
        assert_problem(theirs, 404)

    async def test_a_manager_reads_their_teams_not_another_teams(self, scoring, shop) -> None:
        assert (
            await scoring.get("/v1/leads/lead-L3/score", headers=as_(shop, MANAGER))
        ).status_code == 200
        assert_problem(
            await scoring.get("/v1/leads/lead-L4/score", headers=as_(shop, MANAGER)), 404
        )

    async def test_another_org_sees_nothing(self, scoring, shop) -> None:
        other = SharedOrg()
        assert_problem(await scoring.get("/v1/leads/lead-L1/score", headers=other.headers()), 404)
        body = await page(scoring, other.headers(), owner="org")
        assert body["items"] == []


class TestAsOf:
    async def test_as_of_now_gives_the_stored_answer(self, scoring, shop) -> None:
        now = datetime.now(UTC).isoformat()
        stored = await page(scoring, as_(shop), owner="org")
        replayed = await page(scoring, as_(shop), owner="org", as_of=now)
        assert replayed["as_of"] is not None
        assert [(i["id"], i["score"], i["factors"]) for i in replayed["items"]] == [
            (i["id"], i["score"], i["factors"]) for i in stored["items"]
        ]

    async def test_as_of_before_a_lead_existed_does_not_know_it(self, scoring, shop) -> None:
        before = f"{(TODAY - timedelta(days=7)).isoformat()}T00:00:00+00:00"
        answer = await scoring.get(
            "/v1/leads/lead-L3/score", params={"as_of": before}, headers=as_(shop)
        )
        # L3 was created 5 days ago, but recorded now: `as_of` is by recorded time, so the
        # log as it stood a week ago held none of this org's events: refused, not a 404.
        assert_problem(answer, 422, "as_of")


class TestModels:
    async def test_the_consumer_trains_by_itself_and_keeps_the_prior_on_thin_data(
        self, scoring, shop
    ) -> None:
        async def trained() -> Any:
            answer = await scoring.get("/v1/scoring/models", headers=as_(shop))
            assert answer.status_code == 200, answer.text
            items = answer.json()["items"]
            return items if {i["kind"] for i in items} == {"lead", "deal"} else None

        items = await eventually(trained)
        lead_model = next(i for i in items if i["kind"] == "lead")
        assert lead_model["model_kind"] == "prior"
        assert lead_model["active"]
        assert lead_model["outcomes"] == 2
        assert "needs 40" in lead_model["report"]["reason"]

    async def test_an_admin_trains_on_demand_and_the_scores_say_which_model(
        self, scoring, shop
    ) -> None:
        answer = await scoring.post("/v1/scoring/models/train", headers=as_(shop))
        assert answer.status_code == 201, answer.text
        stored = {i["kind"]: i for i in answer.json()["items"]}
        assert set(stored) == {"lead", "deal"}
        score = (await scoring.get("/v1/leads/lead-L1/score", headers=as_(shop))).json()
        assert score["model"]["version"] == stored["lead"]["version"]

    async def test_two_trainings_at_once_take_a_version_each(self, scoring, shop) -> None:
        import asyncio

        first, second = await asyncio.gather(
            scoring.post("/v1/scoring/models/train", headers=as_(shop)),
            scoring.post("/v1/scoring/models/train", headers=as_(shop)),
        )
        assert (first.status_code, second.status_code) == (201, 201), first.text + second.text
        versions = {(i["kind"], i["version"]) for r in (first, second) for i in r.json()["items"]}
        assert len(versions) == 4  # lead and deal, two versions each

    @pytest.mark.parametrize("who", [REP, MANAGER, {"role": "bi"}])
    async def test_only_an_admin_trains(self, scoring, shop, who) -> None:
        assert_problem(await scoring.post("/v1/scoring/models/train", headers=as_(shop, who)), 403)

    async def test_a_rep_does_not_read_the_models(self, scoring, shop) -> None:
        assert_problem(await scoring.get("/v1/scoring/models", headers=as_(shop, REP)), 403)


class TestTheExport:
    async def test_every_open_score_in_each_format(self, scoring, shop) -> None:
        headers = as_(shop)
        ndjson = await scoring.get(
            "/v1/export/scores", params={"format": "ndjson"}, headers=headers
        )
        rows = [json.loads(line) for line in ndjson.text.splitlines()]
        assert sorted(r["id"] for r in rows) == [
            "deal-D1",
            "deal-D2",
            "lead-L1",
            "lead-L2",
            "lead-L3",
            "lead-L4",
        ]
        assert all(r["org_id"] == shop.org for r in rows)
        csv = await scoring.get("/v1/export/scores", params={"format": "csv"}, headers=headers)
        assert csv.text.splitlines()[0].startswith("org_id,kind,id,rep_id,team_id,score")
        assert len(csv.text.splitlines()) == 7
        parquet = await scoring.get(
            "/v1/export/scores", params={"format": "parquet"}, headers=headers
        )
        table = pq.read_table(io.BytesIO(parquet.content))
        assert table.num_rows == 6
        assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in rows)

    async def test_pages_of_the_export_continue(self, scoring, shop) -> None:
        first = await scoring.get("/v1/export/scores", params={"limit": 4}, headers=as_(shop))
        second = await scoring.get(
            "/v1/export/scores",
            params={"limit": 4, "cursor": first.headers["X-Next-Cursor"]},
            headers=as_(shop),
        )
        got = [json.loads(x)["id"] for x in (first.text + second.text).splitlines()]
        assert len(got) == 6 == len(set(got))
        assert "X-Next-Cursor" not in second.headers

    async def test_a_rep_does_not_export(self, scoring, shop) -> None:
        assert_problem(await scoring.get("/v1/export/scores", headers=as_(shop, REP)), 403)


class TestBadInput:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"kind": "account"}, "kind"),
            ({"tier": "D"}, "tier"),
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"owner": "boss"}, "owner"),
            ({"as_of": "1795000000"}, "as_of"),
        ],
    )
    async def test_a_bad_query_names_its_field(self, scoring, shop, params, field) -> None:
        answer = await scoring.get("/v1/leads/priority", params=params, headers=as_(shop))
        body = assert_problem(answer, 422)
        assert field in json.dumps(body["errors"])

    @pytest.mark.parametrize("as_of", ["9999-12-31T12:00:00+00:00", "0001-01-01T00:30:00+01:00"])
    async def test_an_as_of_no_calendar_can_compute_is_refused(self, scoring, shop, as_of) -> None:
        for path in ("/v1/leads/priority", "/v1/leads/lead-L1/score"):
            answer = await scoring.get(path, params={"as_of": as_of}, headers=as_(shop))
            body = assert_problem(answer, 422)
            assert "as_of" in json.dumps(body["errors"])

    async def test_a_forged_cursor_with_a_digit_python_reads_but_int_does_not(
        self, scoring, shop
    ) -> None:
        from shared.pagination import encode_keyset

        cursor = encode_keyset("p1", ["lead", "²", "lead-L1"], shop.org)  # sealed, as ours
        answer = await scoring.get(
            "/v1/leads/priority", params={"cursor": cursor}, headers=as_(shop)
        )
        assert answer.status_code in (400, 422)
        assert "cursor" in answer.text

    async def test_a_cursor_of_the_other_kind_is_refused(self, scoring, shop) -> None:
        leads = await scoring.get(
            "/v1/leads/priority", params={"owner": "org", "limit": 1}, headers=as_(shop)
        )
        answer = await scoring.get(
            "/v1/leads/priority",
            params={"owner": "org", "kind": "deal", "cursor": leads.json()["next"]},
            headers=as_(shop),
        )
        assert answer.status_code in (400, 422)
        assert "cursor" in answer.text

    async def test_a_cursor_of_another_list_is_refused(self, scoring, shop) -> None:
        answer = await scoring.get(
            "/v1/leads/priority", params={"cursor": "not-a-cursor"}, headers=as_(shop)
        )
        assert answer.status_code in (400, 422)
        assert "cursor" in answer.text

    async def test_an_id_that_is_not_a_lead_or_deal_stream_is_refused(self, scoring, shop) -> None:
        answer = await scoring.get("/v1/leads/account-acc-1/score", headers=as_(shop))
        assert_problem(answer, 422)

    async def test_without_a_token_nothing(self, scoring, shop) -> None:
        assert_problem(await scoring.get("/v1/leads/priority"), 401)
