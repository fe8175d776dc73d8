"""Customer health and rate-drop alerts over HTTP: each account's lifecycle, risk signals and tier
suggestion, the list (filters, paging, who sees what), bad input; then the alerts read from the
stored KPI rollups.

Health runs on one org posted once for the module, dated relative to today (UTC, the default
timezone), one story per account (owner in brackets):

    acc-big      (r1, t1)  first seen by r3 150 days ago; won by r1 100 days ago (90 000 EUR,
                           89 % of the org's revenue); tier C; visited 5 days ago → growing
    acc-new-ok   (r1, t1)  won 10 days ago (1 000), visited 1, 4 and 7 days after → new
    acc-new-cold (r1, t1)  won 10 days ago (500), never touched → new, onboarding
    acc-new-thin (r2, t1)  won 40 days ago (300), visited the next day and once more → new,
                           onboarding (2 touches in its first 30 days)
    acc-a-quiet  (r1, t1)  tier A, last visit 20 days ago → prospect, no_touch (limit 14)
    acc-c-quiet  (r2, t1)  tier C, last visit 20 days ago → prospect, no signal
    acc-left     (r3, t2)  a key contact left 10 days ago, visited 5 days ago → key_contact_left
    acc-down     (r3, t2)  won on the 15th of months m-5, m-3, m-2, m-1 (100, 300, 200, 100)
                           → declining, revenue_down
    acc-renew    (r2, t1)  won 280 days ago (8 500), renews in 30 days, last visit 40 days ago
                           → declining, renewal_due
    acc-prospect (r2, t1)  a lead of r2 5 days ago, then a visit of r3 → prospect
    acc-future   (r1, t1)  a deal logged as won 5 days from now, renewing in 20 days → still a
                           prospect today, and no renewal is due on a contract not signed yet

Alerts run on a second org, one rep per story:

    r1 (t1): effective visits 10 of 20 in each of the 4 previous weeks, 5 of 20 this week
    r2 (t1): the same, but 9 of 20 this week (a 10 % fall)
    r3 (t2): the same, but 1 of 19 this week (too few visits to judge)
    r4 (t2): won 10 of 20 closed deals in each of 4 weeks, then 4 of 20 (five weeks ending
             34 days ago)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.contracts.priority import AlertReport, HealthPage
from tests.api.scoring.helpers import SharedOrg, assert_problem, lost, opened, seed, won
from tests.conftest import make_event

TODAY = datetime.now(UTC).date()


def ago(days: int, hour: int = 10) -> str:
    return f"{(TODAY - timedelta(days=days)).isoformat()}T{hour:02d}:00:00+00:00"


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def visit(
    rep: str, team: str, account: str, when: str, *, effective: bool = True
) -> dict[str, Any]:
    return make_event(
        "visit.logged",
        stream=f"account-{account}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"mode": "onsite", "effective": effective, "duration_minutes": 30},
    )


def tier(rep: str, team: str, account: str, value: str, when: str) -> dict[str, Any]:
    return make_event(
        "account.tier_changed",
        stream=f"account-{account}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"tier": value},
    )


def contact_left(rep: str, team: str, account: str, when: str) -> dict[str, Any]:
    return make_event(
        "contact.left",
        stream=f"account-{account}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={
            "contact_id": "c-77",
            "name": "Jana Novak",
            "role": "Head of purchasing",
            "key_contact": True,
        },
    )


def won_renewing(
    rep: str, team: str, deal: str, amount: str, when: str, renews: date
) -> dict[str, Any]:
    return make_event(
        "deal.won",
        stream=f"deal-{deal}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"amount": amount, "currency": "EUR", "renewal_date": renews.isoformat()},
    )


def new_lead(rep: str, team: str, lead_id: str, account: str, when: str) -> dict[str, Any]:
    return make_event(
        "lead.created",
        stream=f"lead-{lead_id}",
        rep_id=rep,
        team_id=team,
        occurred_at=when,
        data={"name": f"Company {lead_id}", "channel": "inbound", "account_id": account},
    )


def month_day(back: int) -> date:
    """The 15th of the month `back` months before this one."""
    index = TODAY.year * 12 + TODAY.month - 1 - back
    return date(index // 12, index % 12 + 1, 15)


def on(day_: date) -> str:
    return f"{day_.isoformat()}T10:00:00+00:00"


def monthly_win(account: str, back: int, amount: str) -> list[dict[str, Any]]:
    """A deal of r3 opened on the 14th and won on the 15th of the month `back` months ago."""
    deal, won_on = f"D{back}", month_day(back)
    return [
        opened("r3", "t2", deal, amount, "EUR", "ovens", account, on(won_on - timedelta(days=1))),
        won("r3", "t2", deal, amount, "EUR", on(won_on)),
    ]


RENEWS = TODAY + timedelta(days=30)
DOWN = {5: "100.00", 3: "300.00", 2: "200.00", 1: "100.00"}  # months back → won that month

HEALTH_EVENTS = [
    # acc-big: first seen by r3, won by r1 → r1 owns it
    visit("r3", "t2", "acc-big", ago(150)),
    opened("r3", "t2", "B1", "90000.00", "EUR", "ovens", "acc-big", ago(120)),
    won("r1", "t1", "B1", "90000.00", "EUR", ago(100)),
    tier("r1", "t1", "acc-big", "C", ago(90)),
    visit("r3", "t2", "acc-big", ago(5)),
    # acc-new-ok: touched within 72 h of the win and 3 times since
    opened("r1", "t1", "N1", "1000.00", "EUR", "ovens", "acc-new-ok", ago(20)),
    won("r1", "t1", "N1", "1000.00", "EUR", ago(10)),
    visit("r1", "t1", "acc-new-ok", ago(9)),
    visit("r1", "t1", "acc-new-ok", ago(6)),
    visit("r1", "t1", "acc-new-ok", ago(3)),
    # acc-new-cold: never touched after its win
    opened("r1", "t1", "N2", "500.00", "EUR", "service", "acc-new-cold", ago(20)),
    won("r1", "t1", "N2", "500.00", "EUR", ago(10)),
    # acc-new-thin: touched within 72 h, but only twice in its first 30 days
    opened("r2", "t1", "N3", "300.00", "EUR", "service", "acc-new-thin", ago(50)),
    won("r2", "t1", "N3", "300.00", "EUR", ago(40)),
    visit("r2", "t1", "acc-new-thin", ago(39)),
    visit("r2", "t1", "acc-new-thin", ago(20)),
    # acc-down: won revenue fell two months running
    *(e for back, amount in DOWN.items() for e in monthly_win("acc-down", back, amount)),
    visit("r3", "t2", "acc-down", ago(5)),
    # acc-a-quiet / acc-c-quiet: 20 days without a touch
    tier("r1", "t1", "acc-a-quiet", "A", ago(60)),
    visit("r1", "t1", "acc-a-quiet", ago(20)),
    tier("r2", "t1", "acc-c-quiet", "C", ago(60)),
    visit("r2", "t1", "acc-c-quiet", ago(20)),
    # acc-left: a key contact left
    visit("r3", "t2", "acc-left", ago(30)),
    contact_left("r3", "t2", "acc-left", ago(10)),
    visit("r3", "t2", "acc-left", ago(5)),
    # acc-renew: renews in 30 days, nobody there for 40
    opened("r2", "t1", "R1", "8500.00", "EUR", "service", "acc-renew", ago(300)),
    won_renewing("r2", "t1", "R1", "8500.00", ago(280), RENEWS),
    visit("r2", "t1", "acc-renew", ago(40)),
    # acc-prospect: the first event names r2; r3 visits later
    new_lead("r2", "t1", "P1", "acc-prospect", ago(5)),
    visit("r3", "t2", "acc-prospect", ago(3)),
    # acc-future: the win (and its renewal) lies after today
    opened("r1", "t1", "F1", "5000.00", "EUR", "ovens", "acc-future", ago(5)),
    won_renewing("r1", "t1", "F1", "5000.00", ago(-5), TODAY + timedelta(days=20)),
]

ACCOUNTS = [
    "acc-a-quiet",
    "acc-big",
    "acc-c-quiet",
    "acc-down",
    "acc-future",
    "acc-left",
    "acc-new-cold",
    "acc-new-ok",
    "acc-new-thin",
    "acc-prospect",
    "acc-renew",
]
AT_RISK = ["acc-a-quiet", "acc-down", "acc-left", "acc-new-cold", "acc-new-thin", "acc-renew"]
OWNED = {
    "r1": ["acc-a-quiet", "acc-big", "acc-future", "acc-new-cold", "acc-new-ok"],
    "r2": ["acc-c-quiet", "acc-new-thin", "acc-prospect", "acc-renew"],
    "r3": ["acc-down", "acc-left"],
}

ADMIN = {"role": "admin"}
REP = {"role": "rep", "sub": "r1", "team": "t1"}
MANAGER = {"role": "manager", "sub": "m1", "team": "t1"}


@pytest.fixture(scope="module")
async def shop(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    return await seed(activity_app, scoring, HEALTH_EVENTS)


def as_(shop: SharedOrg, who: dict[str, Any] = ADMIN) -> dict[str, str]:
    who = dict(who)
    return shop.headers(who.pop("role"), **who)


async def health_of(
    scoring: httpx.AsyncClient, shop: SharedOrg, account: str, who: dict[str, Any] = ADMIN
) -> dict[str, Any]:
    answer = await scoring.get(f"/v1/accounts/{account}/health", headers=as_(shop, who))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["account_id"] == account
    return body


async def listed(
    scoring: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    answer = await scoring.get("/v1/accounts/health", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["account_id"] for item in body["items"]]


def signals(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {s["signal"]: s for s in body["signals"]}
    assert len(found) == len(body["signals"]), body["signals"]
    assert body["at_risk"] is bool(found)
    return found


# ================================================================================ health


class TestLifecycle:
    async def test_an_account_won_ten_days_ago_and_looked_after_is_new_without_a_signal(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-new-ok")
        assert body["lifecycle"] == "new"
        assert body["signals"] == []
        assert body["at_risk"] is False
        assert body["first_won_at"] == ago(10)
        assert datetime.fromisoformat(body["last_touch_at"]) == datetime.fromisoformat(ago(3))
        assert body["won_12m"] == {"value": "1000.00", "currency": "EUR"}

    async def test_an_account_without_a_win_is_a_prospect(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-prospect")
        assert body["lifecycle"] == "prospect"
        assert body["first_won_at"] is None
        assert body["won_12m"] == {"value": "0", "currency": "EUR"}
        assert body["signals"] == []

    async def test_a_customer_won_within_the_year_with_revenue_up_is_growing(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-big")
        assert body["lifecycle"] == "growing"
        assert body["signals"] == []

    async def test_a_customer_whose_revenue_stopped_half_a_year_ago_is_declining(
        self, scoring, shop
    ) -> None:
        assert (await health_of(scoring, shop, "acc-renew"))["lifecycle"] == "declining"

    async def test_a_win_dated_after_today_does_not_count_yet(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-future")
        assert body["lifecycle"] == "prospect"
        assert body["first_won_at"] is None
        assert body["won_12m"] == {"value": "0", "currency": "EUR"}


class TestSignals:
    async def test_a_new_customer_never_touched_after_the_win_needs_onboarding(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-new-cold")
        assert body["lifecycle"] == "new"
        assert list(signals(body)) == ["onboarding"]
        onboarding = signals(body)["onboarding"]
        assert onboarding["since"] == day(10)
        assert onboarding["evidence"] == {
            "first_won": day(10),
            "touches_within_hours": 0,
            "hours": 72,
            "touches_first_30_days": None,  # its first 30 days are not over yet
            "touches_required": 3,
        }
        assert "not visited or called within 72 hours" in onboarding["message"]
        assert body["last_touch_at"] is None

    async def test_a_new_customer_touched_too_rarely_in_its_first_month_needs_onboarding(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-new-thin")
        assert body["lifecycle"] == "new"
        assert list(signals(body)) == ["onboarding"]
        onboarding = signals(body)["onboarding"]
        assert onboarding["since"] == day(40)
        assert onboarding["evidence"] == {
            "first_won": day(40),
            "touches_within_hours": 1,
            "hours": 72,
            "touches_first_30_days": 2,
            "touches_required": 3,
        }
        assert onboarding["message"] == (
            f"New customer since {day(40)}: only 2 visits or calls in its first 30 days "
            "(3 expected)."
        )

    async def test_revenue_down_two_months_running(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-down")
        assert body["lifecycle"] == "declining"
        assert list(signals(body)) == ["revenue_down"]
        down = signals(body)["revenue_down"]
        months = {month_day(back).isoformat()[:7]: DOWN[back] for back in (3, 2, 1)}
        assert down["evidence"] == {"months": months, "currency": "EUR"}
        assert down["since"] == month_day(2).replace(day=1).isoformat()
        assert "fell two months running" in down["message"]

    async def test_no_renewal_is_due_on_a_deal_won_after_today(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-future")
        assert body["signals"] == []
        assert body["at_risk"] is False

    async def test_an_a_tier_account_untouched_for_20_days_is_past_its_14(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-a-quiet")
        assert body["tier"] == "A"
        assert list(signals(body)) == ["no_touch"]
        no_touch = signals(body)["no_touch"]
        assert no_touch["since"] == day(20)
        assert no_touch["evidence"] == {
            "days_since_touch": 20,
            "limit_days": 14,
            "tier": "A",
            "last_touch": day(20),
            "counted_from": "last_touch",
        }
        assert "20 days" in no_touch["message"]
        assert "14" in no_touch["message"]

    async def test_a_c_tier_account_untouched_for_20_days_is_within_its_60(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-c-quiet")
        assert body["tier"] == "C"
        assert body["signals"] == []
        assert body["at_risk"] is False

    async def test_a_key_contact_who_left_is_named(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-left")
        assert list(signals(body)) == ["key_contact_left"]
        left = signals(body)["key_contact_left"]
        assert left["since"] == day(10)
        assert left["evidence"] == {
            "contact_id": "c-77",
            "name": "Jana Novak",
            "role": "Head of purchasing",
            "day": day(10),
            "days_ago": 10,
            "key_contacts_left": 1,
        }
        assert "Jana Novak (Head of purchasing)" in left["message"]

    async def test_a_renewal_due_with_nobody_there_for_40_days(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-renew")
        assert list(signals(body)) == ["renewal_due"]
        renewal = signals(body)["renewal_due"]
        assert renewal["evidence"] == {
            "renewal_date": RENEWS.isoformat(),
            "days_to_go": 30,
            "days_since_touch": 40,
        }
        # both held from the day the last touch went stale (31 days after it)
        assert renewal["since"] == day(9)
        assert RENEWS.isoformat() in renewal["message"]
        assert "40 days" in renewal["message"]


class TestTierSuggestion:
    async def test_the_account_with_most_of_the_revenue_is_suggested_a_beside_its_own_tier(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-big")
        assert (body["tier"], body["suggested_tier"]) == ("C", "A")
        assert body["won_12m"] == {"value": "90000.00", "currency": "EUR"}

    async def test_each_account_is_suggested_the_tier_its_share_of_the_revenue_gives(
        self, scoring, shop
    ) -> None:
        # 90 000, 8 500, 1 000, 700, 500, 300 of 101 000: acc-big first (A); before acc-renew
        # 89.1 % (B, under 95 %); before acc-new-ok 97.5 % (C); no revenue at all: C
        body = await listed(scoring, as_(shop), owner="org")
        suggested = {i["account_id"]: i["suggested_tier"] for i in body["items"]}
        assert suggested == {
            "acc-big": "A",
            "acc-renew": "B",
            "acc-new-ok": "C",
            "acc-down": "C",
            "acc-new-cold": "C",
            "acc-new-thin": "C",
            "acc-a-quiet": "C",
            "acc-c-quiet": "C",
            "acc-left": "C",
            "acc-prospect": "C",
            "acc-future": "C",
        }

    async def test_one_account_reads_the_same_as_it_does_in_the_list(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop), owner="org")
        for item in body["items"]:
            assert await health_of(scoring, shop, item["account_id"]) == item


class TestTheList:
    async def test_an_admin_sees_every_account_by_id(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop))
        assert ids(body) == ACCOUNTS
        assert body["has_more"] is False
        assert body["next"] is None
        assert body["up_to"]["position"] > 0

    async def test_risk_true_gives_exactly_the_accounts_with_signals(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop), risk="true")
        assert ids(body) == AT_RISK
        assert all(item["at_risk"] and item["signals"] for item in body["items"])

    async def test_risk_false_gives_the_others(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop), risk="false")
        assert ids(body) == [a for a in ACCOUNTS if a not in AT_RISK]
        assert all(item["signals"] == [] for item in body["items"])

    @pytest.mark.parametrize(
        ("stage", "expected"),
        [
            ("new", ["acc-new-cold", "acc-new-ok", "acc-new-thin"]),
            ("prospect", ["acc-a-quiet", "acc-c-quiet", "acc-future", "acc-left", "acc-prospect"]),
            ("growing", ["acc-big"]),
            ("declining", ["acc-down", "acc-renew"]),
            ("mature", []),
        ],
    )
    async def test_stage_gives_exactly_the_accounts_in_it(
        self, scoring, shop, stage, expected
    ) -> None:
        body = await listed(scoring, as_(shop), stage=stage)
        assert ids(body) == expected
        assert {item["lifecycle"] for item in body["items"]} <= {stage}

    async def test_filters_combine(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop), stage="new", risk="true")
        assert ids(body) == ["acc-new-cold", "acc-new-thin"]

    async def test_pages_of_one_walk_every_account_once_in_id_order(self, scoring, shop) -> None:
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(len(ACCOUNTS) + 1):
            params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            answer = await scoring.get("/v1/accounts/health", params=params, headers=as_(shop))
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert len(body["items"]) == 1
            seen += ids(body)
            if not body["has_more"]:
                assert body["next"] is None
                assert "X-Next-Cursor" not in answer.headers
                break
            assert answer.headers["X-Next-Cursor"] == body["next"]
            assert 'rel="next"' in answer.headers["Link"]
            cursor = body["next"]
        assert seen == ACCOUNTS

    async def test_pages_keep_the_filter(self, scoring, shop) -> None:
        first = await listed(scoring, as_(shop), risk="true", limit=3)
        assert ids(first) == AT_RISK[:3]
        assert first["has_more"] is True
        rest = await listed(scoring, as_(shop), risk="true", limit=3, cursor=first["next"])
        assert ids(rest) == AT_RISK[3:]
        assert rest["has_more"] is False


class TestTheContract:
    async def test_every_item_parses_as_the_published_health_page(self, scoring, shop) -> None:
        HealthPage.model_validate(await listed(scoring, as_(shop)))

    async def test_an_untiered_account_has_no_tier(self, scoring, shop) -> None:
        assert (await health_of(scoring, shop, "acc-left"))["tier"] is None


class TestWhoSeesWhat:
    @pytest.mark.parametrize("rep", sorted(OWNED))
    async def test_a_rep_sees_only_the_accounts_they_own(self, scoring, shop, rep) -> None:
        body = await listed(scoring, as_(shop, {"role": "rep", "sub": rep}))
        assert ids(body) == OWNED[rep]
        assert {item["rep_id"] for item in body["items"]} == {rep}
        assert {item["owner"] for item in body["items"]} == {f"rep:{rep}"}

    async def test_the_rep_of_the_latest_win_owns_the_account_not_who_saw_it_first(
        self, scoring, shop
    ) -> None:
        body = await health_of(scoring, shop, "acc-big", REP)
        assert (body["owner"], body["rep_id"], body["team_id"]) == ("rep:r1", "r1", "t1")
        theirs = await scoring.get(
            "/v1/accounts/acc-big/health", headers=as_(shop, {"role": "rep", "sub": "r3"})
        )
        assert_problem(theirs, 404)

    async def test_before_any_win_the_rep_of_the_first_event_owns_it(self, scoring, shop) -> None:
        body = await health_of(scoring, shop, "acc-prospect", {"role": "rep", "sub": "r2"})
        assert (body["owner"], body["team_id"]) == ("rep:r2", "t1")

    async def test_a_rep_asking_for_another_reps_account_gets_404(self, scoring, shop) -> None:
        answer = await scoring.get("/v1/accounts/acc-left/health", headers=as_(shop, REP))
        body = assert_problem(answer, 404)
        assert "acc-left" in body["detail"]

    async def test_a_manager_sees_their_teams_accounts(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop, MANAGER))
        assert ids(body) == sorted(OWNED["r1"] + OWNED["r2"])
        assert {item["team_id"] for item in body["items"]} == {"t1"}
        await health_of(scoring, shop, "acc-renew", MANAGER)
        answer = await scoring.get("/v1/accounts/acc-left/health", headers=as_(shop, MANAGER))
        assert_problem(answer, 404)

    async def test_a_manager_narrows_to_one_of_their_reps(self, scoring, shop) -> None:
        body = await listed(scoring, as_(shop, MANAGER), owner="rep:r2")
        assert ids(body) == OWNED["r2"]

    @pytest.mark.parametrize("owner", ["org", "rep:r2", "team:t1"])
    async def test_a_rep_asking_for_more_than_themselves_is_forbidden(
        self, scoring, shop, owner
    ) -> None:
        answer = await scoring.get(
            "/v1/accounts/health", params={"owner": owner}, headers=as_(shop, REP)
        )
        assert_problem(answer, 403)

    async def test_a_manager_asking_for_another_team_is_forbidden(self, scoring, shop) -> None:
        answer = await scoring.get(
            "/v1/accounts/health", params={"owner": "team:t2"}, headers=as_(shop, MANAGER)
        )
        assert_problem(answer, 403)

    async def test_another_org_sees_nothing(self, scoring, shop) -> None:
        other = SharedOrg()
        assert_problem(
            await scoring.get("/v1/accounts/acc-big/health", headers=other.headers()), 404
        )
        body = await listed(scoring, other.headers(), owner="org")
        assert body["items"] == []
        assert body["has_more"] is False

    async def test_an_unknown_account_is_404(self, scoring, shop) -> None:
        assert_problem(await scoring.get("/v1/accounts/acc-none/health", headers=as_(shop)), 404)

    async def test_without_a_token_nothing(self, scoring, shop) -> None:
        assert_problem(await scoring.get("/v1/accounts/health"), 401)
        assert_problem(await scoring.get("/v1/accounts/acc-big/health"), 401)


class TestHealthBadInput:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"stage": "bogus"}, "stage"),
            ({"risk": "maybe"}, "risk"),
            ({"limit": 0}, "limit"),
            ({"limit": 501}, "limit"),
            ({"owner": "boss"}, "owner"),
        ],
    )
    async def test_a_bad_query_names_its_field(self, scoring, shop, params, field) -> None:
        answer = await scoring.get("/v1/accounts/health", params=params, headers=as_(shop))
        assert_problem(answer, 422, field, location="query")

    @pytest.mark.parametrize("cursor", ["not-a-cursor", "h1.!!!", "p1.WyJhIiwiYiJd"])
    async def test_a_cursor_this_list_did_not_give_is_refused(self, scoring, shop, cursor) -> None:
        answer = await scoring.get(
            "/v1/accounts/health", params={"cursor": cursor}, headers=as_(shop)
        )
        assert 400 <= answer.status_code < 500
        body = assert_problem(answer, answer.status_code, "cursor")
        assert "cursor" in body["detail"]

    async def test_an_account_id_with_a_space_is_refused(self, scoring, shop) -> None:
        answer = await scoring.get("/v1/accounts/acc%20big/health", headers=as_(shop))
        assert_problem(answer, 422, "id", location="path")


# ================================================================================ alerts

WEEK = 7


def _visits(rep: str, team: str, days_ago: int, total: int, effective: int) -> list[dict[str, Any]]:
    return [
        visit(rep, team, f"acc-{rep}", ago(days_ago, hour=8 + i % 10), effective=i < effective)
        for i in range(total)
    ]


def _closes(rep: str, team: str, tag: str, days_ago: int, total: int, wins: int) -> list[Any]:
    events: list[dict[str, Any]] = []
    for i in range(total):
        deal = f"W{tag}-{i}"
        events.append(opened(rep, team, deal, "100.00", "EUR", "ovens", "acc-w", ago(days_ago + 1)))
        events.append(
            won(rep, team, deal, "100.00", "EUR", ago(days_ago))
            if i < wins
            else lost(rep, team, deal, ago(days_ago))
        )
    return events


def _effective_story(rep: str, team: str, now_total: int, now_effective: int) -> list[Any]:
    """10 of 20 visits effective in each of the 4 weeks before this one (days today-34..-7),
    `now_effective` of `now_total` this week (today-6..today)."""
    events: list[dict[str, Any]] = []
    for k in range(4, 0, -1):
        events += _visits(rep, team, k * WEEK + 3, 20, 10)
    return events + _visits(rep, team, 2, now_total, now_effective)


# r4's win rate: five 7-day windows ending 34 days ago, the current one is WIN_FROM..WIN_TO
WIN_TO, WIN_FROM = 34, 40
ALERT_EVENTS = [
    *_effective_story("r1", "t1", 20, 5),
    *_effective_story("r2", "t1", 20, 9),
    *_effective_story("r3", "t2", 19, 1),
    *(
        e
        for k in range(4, 0, -1)
        for e in _closes("r4", "t2", f"p{k}", WIN_FROM - 3 + k * WEEK, 20, 10)
    ),
    *_closes("r4", "t2", "c", WIN_FROM - 3, 20, 4),
]


@pytest.fixture(scope="module")
async def rates(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    return await seed(activity_app, scoring, ALERT_EVENTS)


async def alerts(
    scoring: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> dict[str, Any]:
    answer = await scoring.get("/v1/alerts", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    AlertReport.model_validate(body)
    return body


def weeks_before(first_days_ago: int) -> list[tuple[str, str]]:
    """The four 7-day windows before the one starting `first_days_ago` days ago, oldest first."""
    return [
        (day(first_days_ago + k * WEEK), day(first_days_ago + k * WEEK - WEEK + 1))
        for k in range(4, 0, -1)
    ]


class TestEffectiveVisitAlert:
    async def test_a_halved_rate_this_week_raises_one_alert_with_its_numbers(
        self, scoring, rates
    ) -> None:
        body = await alerts(scoring, rates.headers(), owner="rep:r1")
        assert (body["owner"], body["from"], body["to"]) == ("rep:r1", day(6), day(0))
        assert body["rules"] == {"drop": 0.2, "min_denominator": 20, "history": 4}
        assert [a["metric"] for a in body["items"]] == ["effective_visit_rate"]
        (alert,) = body["items"]
        assert alert["kind"] == "rate_drop"
        assert (alert["from"], alert["to"]) == (day(6), day(0))
        assert (alert["value"], alert["numerator"], alert["denominator"]) == (0.25, 5, 20)
        assert (alert["drop"], alert["threshold"]) == (0.5, 0.2)
        baseline = alert["baseline"]
        assert (baseline["value"], baseline["numerator"], baseline["denominator"]) == (0.5, 40, 80)
        assert baseline["periods"] == [
            {"from": first, "to": last, "value": 0.5, "numerator": 10, "denominator": 20}
            for first, last in weeks_before(6)
        ]
        assert alert["message"] == (
            "Effective-visit rate fell 50 % against the mean of the previous 4 periods "
            "(25 % vs 50 %)."
        )

    async def test_the_same_week_named_explicitly_gives_the_same_answer(
        self, scoring, rates
    ) -> None:
        default = await alerts(scoring, rates.headers(), owner="rep:r1")
        explicit = await alerts(
            scoring, rates.headers(), owner="rep:r1", **{"from": day(6), "to": day(0)}
        )
        from_only = await alerts(scoring, rates.headers(), owner="rep:r1", **{"from": day(6)})
        assert explicit["items"] == default["items"] == from_only["items"]
        assert (from_only["from"], from_only["to"]) == (day(6), day(0))

    async def test_a_fall_smaller_than_the_threshold_raises_nothing(self, scoring, rates) -> None:
        body = await alerts(scoring, rates.headers(), owner="rep:r2")  # 50 % → 45 %
        assert body["items"] == []

    async def test_too_few_visits_this_week_raise_nothing(self, scoring, rates) -> None:
        body = await alerts(scoring, rates.headers(), owner="rep:r3")  # 1 of 19
        assert body["items"] == []

    async def test_last_week_at_its_usual_rate_raises_nothing(self, scoring, rates) -> None:
        body = await alerts(
            scoring, rates.headers(), owner="rep:r1", **{"from": day(13), "to": day(7)}
        )
        assert body["items"] == []  # 10 of 20, as in the 3 weeks with visits before it


class TestWinRateAlert:
    async def test_a_win_rate_drop_over_an_explicit_range(self, scoring, rates) -> None:
        body = await alerts(
            scoring, rates.headers(), owner="rep:r4", **{"from": day(WIN_FROM), "to": day(WIN_TO)}
        )
        assert (body["from"], body["to"]) == (day(WIN_FROM), day(WIN_TO))
        assert [a["metric"] for a in body["items"]] == ["win_rate"]
        (alert,) = body["items"]
        assert (alert["value"], alert["numerator"], alert["denominator"]) == (0.2, 4, 20)
        assert alert["drop"] == 0.6
        assert alert["baseline"]["value"] == 0.5
        assert [
            (p["from"], p["to"], p["numerator"], p["denominator"])
            for p in alert["baseline"]["periods"]
        ] == [(first, last, 10, 20) for first, last in weeks_before(WIN_FROM)]
        assert alert["message"].startswith("Win rate fell 60 %")

    async def test_this_week_r4_closed_nothing_so_nothing_fell(self, scoring, rates) -> None:
        assert (await alerts(scoring, rates.headers(), owner="rep:r4"))["items"] == []


class TestAlertAccess:
    async def test_a_reps_own_alerts_count_only_their_own_events(self, scoring, rates) -> None:
        body = await alerts(scoring, rates.headers("rep", sub="r1", team="t1"))
        assert body["owner"] == "rep:r1"
        (alert,) = body["items"]
        assert (alert["numerator"], alert["denominator"]) == (5, 20)
        assert (alert["baseline"]["numerator"], alert["baseline"]["denominator"]) == (40, 80)

    async def test_a_team_sums_its_reps(self, scoring, rates) -> None:
        body = await alerts(scoring, rates.headers("manager", sub="m1", team="t1"))
        assert body["owner"] == "team:t1"
        (alert,) = body["items"]  # 14 of 40 against 40 of 80: a 30 % fall
        assert (alert["metric"], alert["numerator"], alert["denominator"]) == (
            "effective_visit_rate",
            14,
            40,
        )
        assert alert["drop"] == 0.3

    @pytest.mark.parametrize("owner", ["rep:r2", "team:t1", "org"])
    async def test_a_rep_asking_for_anyone_else_is_forbidden(self, scoring, rates, owner) -> None:
        answer = await scoring.get(
            "/v1/alerts",
            params={"owner": owner},
            headers=rates.headers("rep", sub="r1", team="t1"),
        )
        assert_problem(answer, 403)

    async def test_another_org_has_no_alerts(self, scoring, rates) -> None:
        body = await alerts(scoring, SharedOrg().headers(), owner="rep:r1")
        assert body["items"] == []


class TestAlertBadInput:
    async def test_to_before_from_names_to(self, scoring, rates) -> None:
        answer = await scoring.get(
            "/v1/alerts", params={"from": day(3), "to": day(5)}, headers=rates.headers()
        )
        body = assert_problem(answer, 422, "to", location="query")
        assert "`to`" in body["detail"]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "yesterday"}, "from"),
            ({"to": "2026-02-30"}, "to"),
            ({"owner": "boss"}, "owner"),
        ],
    )
    async def test_a_bad_query_names_its_field(self, scoring, rates, params, field) -> None:
        answer = await scoring.get("/v1/alerts", params=params, headers=rates.headers())
        assert_problem(answer, 422, field, location="query")

    async def test_without_a_token_nothing(self, scoring, rates) -> None:
        assert_problem(await scoring.get("/v1/alerts"), 401)
