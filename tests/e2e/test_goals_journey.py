"""The goals journey end to end: set a yearly team target, decompose it to months and reps, log a
month of work through activity, and see progress, pace and status move as expected.

activity, scoring and goals run as real uvicorn processes on loopback on a database of their own
(goals asks scoring at GOALS_SCORING_URL, scoring follows activity at SCORING_ACTIVITY_URL).

- An admin sets the org's calendar on goals (Europe/Berlin, Saturday and Sunday off, a public
  holiday on Tuesday 14 July 2026: July has 23 weekdays, so 22 working days, and 2026 has 260)
  and the timezone on scoring.
- A manager of team-north sets the team's 2026 revenue_won goal (1,200,000.00 EUR, buffer 10 %),
  decomposes it into months by working days, and July across the team's three reps evenly.
- The reps log July in four rounds through activity (visits and calls every working day, deals
  opened, won and lost); after each round scoring is awaited and progress is read with `at=`:

  | at | team actual | what moved |
  |---|---|---|
  | Fri 3 Jul | 0 | three deals open, nothing won: behind |
  | Fri 10 / Wed 15 Jul | 62,000 | rep-anna won 62,000 on the 9th: on_track |
  | Mon 20 Jul | 62,000 | rep-ben's win at 00:30 on the 21st (Berlin) is not in the 20th |
  | Fri 24 Jul | 77,000 | + rep-ben 15,000, two deals lost: below pace, run rate ≥ floor: at_risk |
  | Fri 31 Jul | 112,000 | + rep-chris 35,000: on_track, the month's target reached |
  | Mon 3 Aug | 112,000 | the period is over |
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import issue_token
from tests.conftest import JWT_SECRET
from tests.e2e.helpers_goals import (
    TEAM,
    Urls,
    daily_work,
    deal_lost,
    deal_opened,
    deal_won,
    scratch_database,
    three_services,
)

YEAR_TARGET = Decimal("1200000.00")
HOLIDAY = date(2026, 7, 14)
REPS = ("rep-anna", "rep-ben", "rep-chris")
JULY = (date(2026, 7, 1), date(2026, 7, 31))
CENT = Decimal("0.01")


def d(day: int, month: int = 7) -> date:
    return date(2026, month, day)


def working_days(first: date, last: date) -> int:
    """Weekdays that are not the holiday, `first`..`last` inclusive (independent of goals)."""
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return sum(1 for day in days if day.weekday() < 5 and day != HOLIDAY)


JULY_WORKING_DAYS = working_days(*JULY)
YEAR_WORKING_DAYS = working_days(d(1, 1), d(31, 12))


def token(role: str, sub: str, team: str | None = None, *, org: str) -> dict[str, str]:
    bearer = issue_token(JWT_SECRET, org=org, role=role, sub=sub, team=team)
    return {"Authorization": f"Bearer {bearer}"}


# ------------------------------------------------------------------------------ the journey


@dataclass
class Journey:
    urls: Urls
    org: str
    calendar: dict[str, Any] = field(default_factory=dict)
    scoring_settings: dict[str, Any] = field(default_factory=dict)
    year: dict[str, Any] = field(default_factory=dict)  # the goal as created
    year_split: dict[str, Any] = field(default_factory=dict)  # POST …/decompose
    july_split: dict[str, Any] = field(default_factory=dict)
    year_reconcile: dict[str, Any] = field(default_factory=dict)
    july_reconcile: dict[str, Any] = field(default_factory=dict)
    goal_ids: dict[str, str] = field(default_factory=dict)  # team, year, rep-anna, …
    # (who, day) → GET /v1/goals/{id}/progress?at=day, read right after the round holding `day`
    progress: dict[tuple[str, date], dict[str, Any]] = field(default_factory=dict)
    # day → GET /v1/progress?owner=team:team-north&at=day
    listed: dict[date, dict[str, Any]] = field(default_factory=dict)
    # (owner, day) → scoring's weighted_pipeline of that day, read at the same time
    pipeline: dict[tuple[str, date], Decimal] = field(default_factory=dict)
    # (who, day) → the same progress read again once July is logged
    again: dict[tuple[str, date], dict[str, Any]] = field(default_factory=dict)
    posted: int = 0

    def manager(self) -> dict[str, str]:
        return token("manager", "mgr-north", TEAM, org=self.org)

    def admin(self) -> dict[str, str]:
        return token("admin", "admin-1", org=self.org)

    def rep(self, rep: str) -> dict[str, str]:
        return token("rep", rep, TEAM, org=self.org)

    @property
    def months(self) -> list[dict[str, Any]]:
        children: list[dict[str, Any]] = self.year_split["children"]
        return children

    @property
    def july(self) -> dict[str, Any]:
        parent: dict[str, Any] = self.july_split["parent"]
        return parent

    def rep_goal(self, rep: str) -> dict[str, Any]:
        goals: list[dict[str, Any]] = self.july_split["children"]
        (goal,) = [g for g in goals if g["owner"] == f"rep:{rep}"]
        return goal


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, (
        f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text[:2000]}"
    )
    return answer.json()


# The month, as the reps log it: (days of ordinary work, deals) per round; then the days on
# which progress is read after that round.
ROUNDS: list[tuple[list[date], list[tuple[str, dict[str, Any]]], list[date]]] = [
    (
        [d(1), d(2), d(3)],
        [
            ("rep-anna", deal_opened("rep-anna", "D-A1", d(2), "30000.00", "acc-a1")),
            ("rep-ben", deal_opened("rep-ben", "D-B1", d(2), "15000.00", "acc-b1")),
            ("rep-chris", deal_opened("rep-chris", "D-C1", d(3), "10000.00", "acc-c1")),
        ],
        [d(3)],
    ),
    (
        [d(6), d(7), d(8), d(9), d(10), d(13), d(15)],  # not the holiday
        [
            ("rep-anna", deal_opened("rep-anna", "D-A2", d(6), "62000.00", "acc-a2")),
            ("rep-anna", deal_won("rep-anna", "D-A2", d(9), "62000.00")),
            ("rep-chris", deal_lost("rep-chris", "D-C1", d(10), "price")),
        ],
        [d(10), d(15)],
    ),
    (
        [d(16), d(17), d(20), d(21), d(22), d(23), d(24)],
        # 00:30 in Berlin on the 21st is still the 20th in UTC: it must count on the 21st.
        [
            ("rep-ben", deal_won("rep-ben", "D-B1", d(21), "15000.00", hour="00:30")),
            ("rep-anna", deal_lost("rep-anna", "D-A1", d(22))),
            ("rep-chris", deal_opened("rep-chris", "D-C2", d(23), "35000.00", "acc-c2")),
        ],
        [d(20), d(24)],
    ),
    (
        [d(27), d(28), d(29), d(30), d(31)],
        [("rep-chris", deal_won("rep-chris", "D-C2", d(30), "35000.00"))],
        [d(31), d(3, 8)],
    ),
]
WON = {d(9): Decimal("62000.00"), d(21): Decimal("15000.00"), d(30): Decimal("35000.00")}
WON_BY = {
    "rep-anna": {d(9): Decimal("62000.00")},
    "rep-ben": {d(21): Decimal("15000.00")},
    "rep-chris": {d(30): Decimal("35000.00")},
}
DAYS = [day for _, _, days in ROUNDS for day in days]
WHO = ("team", "year", *REPS)


def won_until(day: date, rep: str | None = None) -> Decimal:
    wins = WON if rep is None else WON_BY[rep]
    return sum((amount for won_on, amount in wins.items() if won_on <= day), Decimal(0))


async def settle(client: httpx.AsyncClient, j: Journey, position: int) -> None:
    """Until scoring has folded the org's log up to `position` (no voids: no rebuilds)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        answer = ok(
            await client.get(
                f"{j.urls.scoring}/v1/kpis",
                headers=j.admin(),
                params={
                    "owner": "org",
                    "period": "year",
                    "from": "2026-01-01",
                    "metrics": "visits",
                },
            )
        )
        if answer["up_to"]["position"] >= position:
            return
        assert asyncio.get_running_loop().time() < deadline, f"scoring stuck at {answer['up_to']}"
        await asyncio.sleep(0.05)


async def read_progress(client: httpx.AsyncClient, j: Journey, who: str, day: date) -> Any:
    return ok(
        await client.get(
            f"{j.urls.goals}/v1/goals/{j.goal_ids[who]}/progress",
            params={"at": day.isoformat()},
            headers=j.manager(),
        )
    )


async def weighted_pipeline(client: httpx.AsyncClient, j: Journey, owner: str, day: date) -> Any:
    body = ok(
        await client.get(
            f"{j.urls.scoring}/v1/kpis",
            headers=j.admin(),
            params={
                "owner": owner,
                "period": "day",
                "from": day.isoformat(),
                "to": day.isoformat(),
                "metrics": "weighted_pipeline",
            },
        )
    )
    return Decimal(body["buckets"][0]["metrics"]["weighted_pipeline"]["value"])


async def set_up(client: httpx.AsyncClient, j: Journey) -> None:
    # The admin: the org's working calendar on goals, its timezone on scoring.
    j.calendar = ok(
        await client.put(
            f"{j.urls.goals}/v1/calendar",
            headers=j.admin(),
            json={
                "timezone": "Europe/Berlin",
                "weekend": [5, 6],
                "holidays": [HOLIDAY.isoformat()],
                "workdays": [],
            },
        )
    )
    j.scoring_settings = ok(
        await client.put(
            f"{j.urls.scoring}/v1/settings", headers=j.admin(), json={"timezone": "Europe/Berlin"}
        )
    )
    # The manager: the yearly team target, into months by working days, July across the reps.
    j.year = ok(
        await client.post(
            f"{j.urls.goals}/v1/goals",
            headers=j.manager(),
            json={
                "owner": f"team:{TEAM}",
                "metric": "revenue_won",
                "period": "year",
                "start": "2026-01-01",
                "target": str(YEAR_TARGET),
                "currency": "EUR",
                "buffer_pct": 10,
                "note": "FY26 team-north",
            },
        ),
        201,
    )
    j.goal_ids["year"] = j.year["id"]
    j.year_split = ok(
        await client.post(
            f"{j.urls.goals}/v1/goals/{j.year['id']}/decompose",
            headers=j.manager(),
            json={"by": "time", "into": "month", "strategy": "working_days"},
        ),
        201,
    )
    july = next(m for m in j.months if m["start"] == "2026-07-01")
    j.goal_ids["team"] = july["id"]
    j.july_split = ok(
        await client.post(
            f"{j.urls.goals}/v1/goals/{july['id']}/decompose",
            headers=j.manager(),
            json={"by": "rep", "strategy": "even", "reps": list(REPS)},
        ),
        201,
    )
    for rep in REPS:
        j.goal_ids[rep] = j.rep_goal(rep)["id"]
    j.year_reconcile = ok(
        await client.get(f"{j.urls.goals}/v1/goals/{j.year['id']}/reconcile", headers=j.manager())
    )
    j.july_reconcile = ok(
        await client.get(f"{j.urls.goals}/v1/goals/{july['id']}/reconcile", headers=j.manager())
    )


async def log_round(
    client: httpx.AsyncClient,
    j: Journey,
    work_days: list[date],
    deals: list[tuple[str, dict[str, Any]]],
) -> None:
    """Each rep posts their own round (their token, their rep_id) in one batch."""
    for i, rep in enumerate(REPS):
        events = [e for day in work_days for e in daily_work(rep, day, f"acc-{rep}-{i}")]
        events += [e for who, e in deals if who == rep]
        answer = ok(
            await client.post(
                f"{j.urls.activity}/v1/events/batch", json={"events": events}, headers=j.rep(rep)
            ),
            201,
        )
        j.posted = max(j.posted, *(r["position"] for r in answer["results"]))


@pytest.fixture(scope="module")
async def journey(
    base_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Journey]:
    tmp: Path = tmp_path_factory.mktemp("goals-journey")
    async with scratch_database(base_url, "goals_journey") as url:
        with three_services(url, tmp) as urls:
            j = Journey(urls, org="org-goals-journey")
            async with httpx.AsyncClient(timeout=30) as client:
                await set_up(client, j)
                for work_days, deals, days in ROUNDS:
                    await log_round(client, j, work_days, deals)
                    await settle(client, j, j.posted)
                    for day in days:
                        for who in WHO:
                            j.progress[(who, day)] = await read_progress(client, j, who, day)
                        j.listed[day] = ok(
                            await client.get(
                                f"{j.urls.goals}/v1/progress",
                                headers=j.manager(),
                                params={"owner": f"team:{TEAM}", "at": day.isoformat()},
                            )
                        )
                        for owner in (f"team:{TEAM}", *(f"rep:{r}" for r in REPS)):
                            j.pipeline[(owner, day)] = await weighted_pipeline(
                                client, j, owner, day
                            )
                # Read again once the whole month is in: `at` judges the day, not the log.
                for day in DAYS:
                    for who in ("team", "rep-anna"):
                        j.again[(who, day)] = await read_progress(client, j, who, day)
            yield j


# ------------------------------------------------------------------------------ helpers


def money(value: str) -> Decimal:
    assert isinstance(value, str), value
    return Decimal(value)


def close(value: str | None, exact: Decimal | Fraction, within: Decimal = CENT) -> bool:
    """A decimal string within a cent of an exact value (the API rounds to cents)."""
    assert value is not None
    exact_decimal = (
        exact
        if isinstance(exact, Decimal)
        else (Decimal(exact.numerator) / Decimal(exact.denominator))
    )
    return abs(Decimal(value) - exact_decimal) <= within


def expected_to_date(target: Decimal, day: date) -> Fraction:
    """The July share by working days: target × working days elapsed (through `day`) ÷ 22."""
    return Fraction(target) * Fraction(working_days(JULY[0], min(day, JULY[1])), JULY_WORKING_DAYS)


def team_target(j: Journey) -> Decimal:
    return money(j.july["target"])


def check_pace(j: Journey, who: str, day: date, status: str, *, checkpoint: date | None) -> None:
    """What every progress of a July goal (team or rep) must show on `day`."""
    body = j.progress[(who, day)]
    goal = j.july if who == "team" else j.rep_goal(who)
    target, floor = money(goal["target"]), money(goal["floor"])
    actual = won_until(day, None if who == "team" else who)
    owner = f"team:{TEAM}" if who == "team" else f"rep:{who}"
    context = f"{who} at {day}: {body}"
    assert body["goal"]["id"] == goal["id"], context
    assert body["at"] == day.isoformat(), context
    assert money(body["actual"]) == actual, context
    assert body["shape"] == "working days of the org calendar", context
    expected = expected_to_date(target, day)
    assert close(body["expected_to_date"], expected), context
    assert close(body["gap"], Fraction(actual) - expected), context
    assert body["attainment_pct"] == pytest.approx(float(actual / target * 100), abs=0.05)
    assert body["floor_pct"] == pytest.approx(float(actual / floor * 100), abs=0.05)
    elapsed = Fraction(working_days(JULY[0], min(day, JULY[1])), JULY_WORKING_DAYS)
    if day > JULY[1]:
        assert money(body["projected_run_rate"]) == actual, context
        assert money(body["projected_with_pipeline"]) == actual, context
    else:
        assert close(body["projected_run_rate"], Fraction(actual) / elapsed), context
        # The pipeline projection is scoring's weighted pipeline of that day on top.
        assert money(body["projected_with_pipeline"]) == actual + j.pipeline[(owner, day)], context
    assert body["status"] == status, context
    assert body["next_checkpoint"] == (checkpoint.isoformat() if checkpoint else None), context


# ------------------------------------------------------------------------------ set-up


def test_the_admin_sets_the_calendar_and_the_timezone(journey: Journey) -> None:
    assert journey.calendar == {
        "timezone": "Europe/Berlin",
        "weekend": [5, 6],
        "holidays": ["2026-07-14"],
        "workdays": [],
    }
    assert journey.scoring_settings["timezone"] == "Europe/Berlin"
    assert (JULY_WORKING_DAYS, YEAR_WORKING_DAYS) == (22, 260)  # what the numbers below rest on


def test_the_yearly_target_splits_into_months_by_working_days(journey: Journey) -> None:
    year, months = journey.year_split["parent"], journey.months
    assert (journey.year["target"], journey.year["floor"], journey.year["stretch"]) == (
        "1200000.00",
        "1080000.00",
        "1320000.00",
    )
    assert year["decomposition"]["by"] == "time"
    assert year["decomposition"]["into"] == "month"
    assert year["decomposition"]["strategy"] == "working_days"
    assert year["decomposition"]["children"] == [m["id"] for m in months]
    assert year["revision"] == 2  # decomposing is a revision of the parent
    assert [m["start"] for m in months] == [d(1, m).isoformat() for m in range(1, 13)]
    for month in months:
        first = date.fromisoformat(month["start"])
        last = date.fromisoformat(month["end"])
        share = Fraction(working_days(first, last), YEAR_WORKING_DAYS)
        assert (month["owner"], month["period"], month["parent_id"], month["currency"]) == (
            f"team:{TEAM}",
            "month",
            year["id"],
            "EUR",
        )
        assert close(month["target"], Fraction(YEAR_TARGET) * share), month
        assert close(month["floor"], Fraction(YEAR_TARGET) * share * Fraction(9, 10)), month
        assert close(month["stretch"], Fraction(YEAR_TARGET) * share * Fraction(11, 10)), month
    # July: 22 of the year's 260 working days.
    assert close(journey.july["target"], Fraction(YEAR_TARGET) * Fraction(22, 260))
    for key, total in (
        ("target", "1200000.00"),
        ("floor", "1080000.00"),
        ("stretch", "1320000.00"),
    ):
        assert sum(money(m[key]) for m in months) == Decimal(total), key
    rec = journey.year_reconcile
    assert rec["balanced"] is True
    assert rec["difference"] == "0.00"
    assert (rec["children_target"], rec["children_floor"], rec["children_stretch"]) == (
        "1200000.00",
        "1080000.00",
        "1320000.00",
    )


def test_july_splits_evenly_across_the_three_reps(journey: Journey) -> None:
    july, reps = journey.july, journey.july_split["children"]
    assert july["decomposition"]["by"] == "rep"
    assert july["decomposition"]["strategy"] == "even"
    assert [g["owner"] for g in reps] == [f"rep:{r}" for r in REPS]
    for goal in reps:
        assert (goal["team_id"], goal["period"], goal["start"], goal["end"], goal["parent_id"]) == (
            TEAM,
            "month",
            "2026-07-01",
            "2026-07-31",
            july["id"],
        )
        for key in ("target", "floor", "stretch"):
            assert close(goal[key], Fraction(money(july[key])) / 3), (key, goal)
    for key in ("target", "floor", "stretch"):
        assert sum(money(g[key]) for g in reps) == money(july[key]), key
    rec = journey.july_reconcile
    assert rec["balanced"] is True
    assert rec["difference"] == "0.00"
    assert sorted(c["id"] for c in rec["children"]) == sorted(g["id"] for g in reps)


# ------------------------------------------------------------------------------ the month


def test_after_the_first_week_nothing_is_won_and_the_team_is_behind(journey: Journey) -> None:
    for who in ("team", "rep-anna", "rep-ben", "rep-chris"):
        check_pace(journey, who, d(3), "behind", checkpoint=d(10))
    team = journey.progress[("team", d(3))]
    assert team["actual"] == "0.00"
    assert team["attainment_pct"] == 0.0
    # Three deals are open (55,000), weighted by scoring: something, but far below the floor.
    assert Decimal(0) < journey.pipeline[(f"team:{TEAM}", d(3))] < money(journey.july["floor"])
    assert "< floor" in team["rule"]


def test_a_big_win_puts_the_team_on_track(journey: Journey) -> None:
    check_pace(journey, "team", d(10), "on_track", checkpoint=d(10))  # a checkpoint day itself
    check_pace(journey, "team", d(15), "on_track", checkpoint=d(20))
    check_pace(journey, "rep-anna", d(15), "on_track", checkpoint=d(20))
    check_pace(journey, "rep-ben", d(15), "behind", checkpoint=d(20))
    team = journey.progress[("team", d(15))]
    assert team["actual"] == "62000.00"
    assert team["rule"].startswith("actual 62,000 ≥ expected")
    # The holiday is not a working day: 10 of 22 are expected by the 15th, not 11.
    assert close(team["expected_to_date"], Fraction(team_target(journey)) * Fraction(10, 22))
    anna = journey.progress[("rep-anna", d(15))]
    assert anna["attainment_pct"] > 180


def test_a_win_after_midnight_in_berlin_counts_on_its_berlin_day(journey: Journey) -> None:
    """rep-ben's win at 2026-07-21T00:30+02:00 (22:30 UTC on the 20th) is not in the 20th."""
    check_pace(journey, "team", d(20), "on_track", checkpoint=d(20))
    check_pace(journey, "rep-ben", d(20), "behind", checkpoint=d(20))
    assert journey.progress[("team", d(20))]["actual"] == "62000.00"
    assert journey.progress[("rep-ben", d(20))]["actual"] == "0.00"
    assert journey.progress[("rep-ben", d(24))]["actual"] == "15000.00"


def test_below_pace_with_a_run_rate_above_the_floor_is_at_risk(journey: Journey) -> None:
    check_pace(journey, "team", d(24), "at_risk", checkpoint=d(31))
    team = journey.progress[("team", d(24))]
    assert team["actual"] == "77000.00"
    assert money(team["gap"]) < 0
    run_rate = money(team["projected_run_rate"])
    assert money(journey.july["floor"]) <= run_rate < team_target(journey)
    assert money(team["projected_with_pipeline"]) < run_rate  # the run rate decides
    assert "run-rate" in team["rule"]
    assert "≥ floor" in team["rule"]


def test_the_month_ends_on_track(journey: Journey) -> None:
    check_pace(journey, "team", d(31), "on_track", checkpoint=d(31))
    check_pace(journey, "rep-anna", d(31), "on_track", checkpoint=d(31))
    check_pace(journey, "rep-chris", d(31), "on_track", checkpoint=d(31))
    check_pace(journey, "rep-ben", d(31), "behind", checkpoint=d(31))
    team = journey.progress[("team", d(31))]
    assert team["actual"] == "112000.00"
    assert team["expected_to_date"] == journey.july["target"]  # the whole target by the last day
    assert team["attainment_pct"] == pytest.approx(110.3)


def test_once_the_month_is_over_the_status_is_final(journey: Journey) -> None:
    check_pace(journey, "team", d(3, 8), "on_track", checkpoint=None)
    check_pace(journey, "rep-ben", d(3, 8), "behind", checkpoint=None)
    check_pace(journey, "rep-chris", d(3, 8), "on_track", checkpoint=None)
    assert journey.progress[("team", d(3, 8))]["rule"].startswith("period over: actual 112,000")


def test_at_judges_the_day_whatever_was_logged_later(journey: Journey) -> None:
    for who in ("team", "rep-anna"):
        for day in DAYS:
            before, after = journey.progress[(who, day)], journey.again[(who, day)]
            assert after == before, f"{who} at {day}"


def test_a_rep_reads_their_own_progress_and_not_a_colleagues(journey: Journey) -> None:
    j = journey
    with httpx.Client(timeout=30) as client:
        own = client.get(
            f"{j.urls.goals}/v1/goals/{j.goal_ids['rep-anna']}/progress",
            params={"at": "2026-07-15"},
            headers=j.rep("rep-anna"),
        )
        other = client.get(
            f"{j.urls.goals}/v1/goals/{j.goal_ids['rep-anna']}/progress",
            params={"at": "2026-07-15"},
            headers=j.rep("rep-ben"),
        )
    assert ok(own) == j.progress[("rep-anna", d(15))]
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")


# ------------------------------------------------------------------------------ the year


def test_the_year_follows_its_month_children(journey: Journey) -> None:
    months = journey.months
    target_of = {date.fromisoformat(m["start"]).month: money(m["target"]) for m in months}
    for day in (d(15), d(31)):
        body = journey.progress[("year", day)]
        assert body["shape"] == "its month goals (working_days)", body
        assert money(body["actual"]) == won_until(day)
        done = sum((target_of[m] for m in range(1, 7)), Decimal(0))
        expected = Fraction(done) + expected_to_date(target_of[7], day)
        assert close(body["expected_to_date"], expected), body
        assert body["status"] == "behind", body  # 62,000 / 112,000 of a 1.2 M year by July
        assert body["next_checkpoint"] == (d(20) if day == d(15) else d(31)).isoformat()
    # By the end of July exactly January..July's targets are expected.
    assert money(journey.progress[("year", d(31))]["expected_to_date"]) == sum(
        (target_of[m] for m in range(1, 8)), Decimal(0)
    )


# ------------------------------------------------------------------------------ the list


def test_the_teams_progress_list_holds_the_july_goal(journey: Journey) -> None:
    for day in [d for d in DAYS if d.month == 7]:
        items = {item["goal"]["id"]: item for item in journey.listed[day]["items"]}
        assert journey.goal_ids["team"] in items, day
        assert items[journey.goal_ids["team"]] == journey.progress[("team", day)], day
        assert items[journey.goal_ids["year"]] == journey.progress[("year", day)], day
        assert all(item["goal"]["owner"] == f"team:{TEAM}" for item in items.values())


def test_the_progress_list_holds_only_the_goals_current_on_that_day(journey: Journey) -> None:
    for day in DAYS:
        listed = [(i["goal"]["period"], i["goal"]["start"]) for i in journey.listed[day]["items"]]
        month = day.replace(day=1).isoformat()
        assert sorted(listed) == sorted([("month", month), ("year", "2026-01-01")]), day
