"""Customer health: the record each account folds into, its lifecycle stage and risk signals as
of a fixed day, and Pareto tier suggestions, on small logs worked out by hand.

Accounts are resolved as the KPI fold resolves them (`_context` over a `Book` fed the same log).
Times are Europe/Berlin unless said otherwise; `TODAY` is Thursday 15 October 2026, so the full
months before it are 2026-09 (m-1), 2026-08 (m-2), 2026-07 (m-3) and so on back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.projections import codec
from services.scoring.projections.health import (
    CONTACTS_KEPT,
    ONBOARDING_KEPT,
    RENEWALS_KEPT,
    TOUCHES_KEPT,
    WON_KEPT,
    Customer,
    Departure,
    HealthRules,
    Renewal,
    Won,
    health,
    lifecycle,
    monthly_revenue,
    signals,
    suggest_tiers,
    track,
    won_12m,
)
from services.scoring.projections.kpis import Book, _context, fold, parse_time
from tests.unit.scoring.helpers import ANNA, BEN, BERLIN, CARA, NORTH, SOUTH, UTC_ZONE, Event, Log

encode = codec.encode


def decode(text: str | bytes) -> Customer:
    customer: Customer = codec.decode("customers", text)
    return customer


LAW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TODAY = date(2026, 10, 15)
ACC = "acc-1"
RULES = HealthRules()


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> str:
    """A wall-clock time in Berlin as an ISO string with its offset."""
    return datetime(y, m, d, h, mi, tzinfo=BERLIN).isoformat()


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def days_before(n: int, h: int = 10) -> str:
    day = TODAY - timedelta(days=n)
    return at(day.year, day.month, day.day, h)


def resolved(log: Log, timezone: Any = BERLIN) -> list[tuple[Event, str]]:
    """Each event with the account the KPI fold resolves for it, in log order."""
    book = Book(timezone)
    out = []
    for event in log.events:
        account_id, _ = _context(book, event)
        fold(book, event)
        out.append((event, account_id))
    return out


def fold_all(pairs: list[tuple[Event, str]], timezone: Any = BERLIN) -> dict[str, Customer]:
    customers: dict[str, Customer] = {}
    for event, account_id in pairs:
        track(customers, event, parse_time(event["occurred_at"]), account_id, timezone=timezone)
    return customers


def customers_of(log: Log, timezone: Any = BERLIN) -> dict[str, Customer]:
    return fold_all(resolved(log, timezone), timezone)


def customer(log: Log, account: str = ACC, timezone: Any = BERLIN) -> Customer:
    return customers_of(log, timezone)[account]


def win(
    log: Log,
    deal: str,
    when: str | datetime,
    amount: str = "1000.00",
    currency: str = "EUR",
    *,
    account: str = ACC,
    renewal: str | None = None,
    **who: Any,
) -> None:
    """Open `deal` on `account` and win it at `when`."""
    log.deal_opened(deal, when, amount=amount, currency=currency, account=account, **who)
    log.deal_won(deal, when, amount, currency, renewal=renewal, **who)


def wins(amounts: dict[str, str], currency: str = "EUR") -> Log:
    """A log with one win on the 10th of each 'YYYY-MM' month given (amount as given)."""
    log = Log()
    for i, (month, amount) in enumerate(sorted(amounts.items())):
        year, mon = map(int, month.split("-"))
        win(log, f"W{i}", at(year, mon, 10), amount, currency)
    return log


def found(c: Customer, today: date = TODAY, rules: HealthRules = RULES) -> dict[str, Any]:
    """{signal name: signal} as of `today`, in EUR, in Berlin."""
    return {s["signal"]: s for s in signals(c, today, "EUR", BERLIN, rules)}


def contact_left(log: Log, when: str, *, key: bool = True, name: str = "Jana Novak") -> None:
    data = {"contact_id": "c-77", "name": name, "role": "Head of purchasing", "key_contact": key}
    log.add("contact.left", f"account-{ACC}", when, data)


# --------------------------------------------------------------------------- the record


class TestTheRecordFoldsWhatConcernsTheAccount:
    def test_visits_and_calls_are_touches_and_engagements_are_not(self):
        log = Log()
        log.visit(f"account-{ACC}", at(2026, 7, 3))
        log.call("deal-D1", at(2026, 7, 2), account=ACC)
        log.engagement(f"account-{ACC}", at(2026, 7, 4))
        c = customer(log)
        assert c.touches == (epoch(at(2026, 7, 2)), epoch(at(2026, 7, 3)))
        assert c.first_seen == epoch(at(2026, 7, 2))

    def test_a_touch_on_a_lead_or_deal_counts_for_their_account(self):
        log = Log()
        log.lead_created("L1", at(2026, 7, 1), account=ACC)
        log.visit("lead-L1", at(2026, 7, 2))
        log.deal_opened("D1", at(2026, 7, 3), account=ACC)
        log.call("deal-D1", at(2026, 7, 4))
        assert len(customer(log).touches) == 2

    def test_an_event_of_no_account_changes_nothing(self):
        customers: dict[str, Customer] = {}
        event = Log().visit("lead-L9", at(2026, 7, 2))
        assert not track(customers, event, parse_time(event["occurred_at"]), "", timezone=BERLIN)
        assert customers == {}

    def test_voids_unknown_types_and_newer_versions_change_nothing(self):
        log = Log()
        visit = log.visit(f"account-{ACC}", at(2026, 7, 2))
        log.void(visit, at(2026, 7, 3))
        log.add("account.merged", f"account-{ACC}", at(2026, 7, 4), {})
        log.add("visit.logged", f"account-{ACC}", at(2026, 7, 5), {}, schema_version=2)
        changed = [
            track({}, e, parse_time(e["occurred_at"]), ACC, timezone=BERLIN) for e in log.events
        ]
        assert changed == [True, False, False, False]

    def test_track_says_whether_the_record_changed(self):
        log = Log()
        log.visit(f"account-{ACC}", at(2026, 7, 2))
        log.deal_opened("D1", at(2026, 7, 3), account=ACC)  # later, same rep: nothing new
        log.deal_lost("D1", at(2026, 7, 4))
        log.visit(f"account-{ACC}", at(2026, 7, 5))
        customers: dict[str, Customer] = {}
        changed = [
            track(customers, e, parse_time(e["occurred_at"]), a, timezone=BERLIN)
            for e, a in resolved(log)
        ]
        assert changed == [True, False, False, True]

    def test_a_win_counts_its_amount_and_currency_on_the_local_day(self):
        log = Log()
        win(log, "D1", "2026-06-30T22:30:00+00:00", "1250.50", "USD", renewal="2027-06-30")
        c = customer(log)
        assert c.won == (Won("2026-07-01", "USD", "1250.50", "deal-D1"),)
        assert c.first_won_day == "2026-07-01"
        assert c.renewals == (Renewal("2027-06-30", "deal-D1"),)
        assert monthly_revenue(c, "USD") == {"2026-07": Decimal("1250.50")}
        assert monthly_revenue(c, "EUR") == {}

    def test_the_day_is_the_org_timezone_s(self):
        log = Log()
        win(log, "D1", "2026-06-30T22:30:00+00:00")
        assert customer(log, timezone=UTC_ZONE).won[0].day == "2026-06-30"

    def test_a_contact_who_left_is_remembered_with_name_role_and_key_flag(self):
        log = Log()
        contact_left(log, at(2026, 7, 2))
        log.contact_left(ACC, at(2026, 7, 1))  # no name, no role
        assert customer(log).contacts_left == (
            Departure(epoch(at(2026, 7, 1)), "c-1", "", "", True),
            Departure(epoch(at(2026, 7, 2)), "c-77", "Jana Novak", "Head of purchasing", True),
        )


class TestTheOwner:
    def test_before_any_win_it_is_whoever_named_the_account_first(self):
        log = Log()
        log.visit(f"account-{ACC}", at(2026, 7, 5), rep=ANNA, team=NORTH)
        log.visit(f"account-{ACC}", at(2026, 7, 1), rep=CARA, team=SOUTH)  # logged late
        c = customer(log)
        assert (c.rep_id, c.team_id) == (CARA, SOUTH)

    def test_an_event_naming_nobody_does_not_own_the_account(self):
        log = Log()
        log.tier_changed(ACC, at(2026, 7, 1), "B", rep=None, team=None)
        log.visit(f"account-{ACC}", at(2026, 7, 5), rep=BEN, team=NORTH)
        assert customer(log).rep_id == BEN

    def test_it_is_the_rep_and_team_of_the_latest_win(self):
        log = Log()
        log.visit(f"account-{ACC}", at(2026, 6, 1), rep=ANNA, team=NORTH)
        win(log, "D1", at(2026, 7, 1), rep=BEN, team=NORTH)
        win(log, "D2", at(2026, 8, 1), rep=CARA, team=SOUTH)
        log.visit(f"account-{ACC}", at(2026, 9, 1), rep=ANNA, team=NORTH)
        c = customer(log)
        assert (c.rep_id, c.team_id, c.owned_by_win) == (CARA, SOUTH, True)

    def test_a_win_logged_late_that_occurred_earlier_is_the_first_but_does_not_own(self):
        log = Log()
        win(log, "D2", at(2026, 8, 1), rep=CARA, team=SOUTH)
        win(log, "D1", at(2026, 6, 1), "500.00", rep=BEN, team=NORTH)
        c = customer(log)
        assert (c.rep_id, c.team_id) == (CARA, SOUTH)
        assert c.first_won_at == epoch(at(2026, 6, 1))
        assert c.first_won_day == "2026-06-01"
        assert [w.day for w in c.won] == ["2026-06-01", "2026-08-01"]

    def test_health_names_the_owner(self):
        log = Log()
        win(log, "D1", at(2026, 8, 1), rep=None, team=SOUTH)
        assert health(customer(log), TODAY, "EUR", BERLIN, suggested_tier=None)["owner"] == (
            f"team:{SOUTH}"
        )


class TestTheTier:
    def test_is_the_latest_by_occurred_time(self):
        log = Log()
        log.tier_changed(ACC, at(2026, 7, 5), "A")
        log.tier_changed(ACC, at(2026, 7, 1), "C")  # logged late, older
        assert customer(log).tier == "A"

    def test_is_unknown_until_one_is_set(self):
        log = Log()
        log.visit(f"account-{ACC}", at(2026, 7, 5))
        assert customer(log).tier == ""


# --------------------------------------------------------------------------- bounds


class TestTheRecordIsBounded:
    def test_touches_before_any_win_keep_the_latest(self):
        log = Log()
        start = datetime(2026, 1, 1, 10, tzinfo=BERLIN)
        for i in range(TOUCHES_KEPT + 30):
            log.visit(f"account-{ACC}", start + timedelta(days=i))
        touches = customer(log).touches
        assert len(touches) == TOUCHES_KEPT
        assert touches[0] == int((start + timedelta(days=30)).timestamp())

    def test_touches_in_the_onboarding_window_are_kept_besides_the_latest(self):
        log = Log()
        won_at = datetime(2026, 1, 1, 10, tzinfo=BERLIN)
        win(log, "D1", won_at)
        for i in range(40):  # all within 31 days after the win
            log.call(f"account-{ACC}", won_at + timedelta(hours=12 * i + 1))
        for i in range(100):  # later
            log.call(f"account-{ACC}", won_at + timedelta(days=40 + i))
        touches = customer(log).touches
        assert len(touches) == 40 + TOUCHES_KEPT
        assert list(touches) == sorted(touches)

    def test_the_onboarding_window_keeps_its_first_hundred(self):
        log = Log()
        won_at = datetime(2026, 1, 1, 10, tzinfo=BERLIN)
        win(log, "D1", won_at)
        for i in range(200):
            log.call(f"account-{ACC}", won_at + timedelta(hours=3 * i + 1))  # 25 days
        touches = customer(log).touches
        assert len(touches) == ONBOARDING_KEPT + TOUCHES_KEPT

    def test_wins_keep_36_months_before_the_latest_win_s_month(self):
        log = wins({"2023-06": "1.00", "2023-07": "2.00", "2026-07": "3.00"})
        assert [w.day for w in customer(log).won] == ["2023-07-10", "2026-07-10"]

    def test_the_first_win_is_remembered_when_its_entry_is_dropped(self):
        log = wins({"2020-01": "1.00", "2026-07": "3.00"})
        c = customer(log)
        assert len(c.won) == 1
        assert c.first_won_day == "2020-01-10"

    def test_wins_keep_at_most_500(self):
        log = Log()
        start = datetime(2026, 1, 1, 10, tzinfo=BERLIN)
        for i in range(WON_KEPT + 20):
            win(log, f"D{i}", start + timedelta(hours=i))
        c = customer(log)
        assert len(c.won) == WON_KEPT
        assert c.won[-1].day == (start + timedelta(hours=WON_KEPT + 19)).date().isoformat()
        assert c.first_won_at == int(start.timestamp())

    def test_contacts_and_renewals_keep_the_latest_twenty(self):
        log = Log()
        for i in range(30):
            contact_left(log, at(2026, 1, 1 + i), name=f"Contact {i}")
            win(log, f"D{i}", at(2026, 1, 1 + i), renewal=f"2027-01-{1 + i:02d}")
        c = customer(log)
        assert len(c.contacts_left) == CONTACTS_KEPT
        assert c.contacts_left[0].name == "Contact 10"
        assert len(c.renewals) == RENEWALS_KEPT
        assert c.renewals[0] == Renewal("2027-01-11", "deal-D10")


# --------------------------------------------------------------------------- laws


REPS = ((ANNA, NORTH), (BEN, NORTH), (CARA, SOUTH), (None, None))
ACCOUNTS = ("acc-1", "acc-2")
KINDS = ("visit", "call", "engagement", "won", "tier", "contact_left", "opened")


@st.composite
def logs(draw: st.DrawFn) -> Log:
    """Up to 30 events on two accounts over about eight months, in random time order; wins
    open their deal first (in log order) so their account resolves."""
    log = Log("law")
    start = datetime(2026, 1, 1, tzinfo=BERLIN)
    for i in range(draw(st.integers(0, 30))):
        kind = draw(st.sampled_from(KINDS))
        account = draw(st.sampled_from(ACCOUNTS))
        when = start + timedelta(hours=draw(st.integers(0, 240 * 24)))
        rep, team = draw(st.sampled_from(REPS))
        who: dict[str, Any] = {"rep": rep, "team": team}
        stream = f"account-{account}"
        if kind == "visit":
            log.visit(stream, when, **who)
        elif kind == "call":
            log.call(f"deal-X{i}", when, account=account, **who)
        elif kind == "engagement":
            log.engagement(stream, when, **who)
        elif kind == "tier":
            log.tier_changed(account, when, draw(st.sampled_from("ABC")), **who)
        elif kind == "contact_left":
            log.add(
                "contact.left",
                stream,
                when,
                {"contact_id": f"c-{i}", "key_contact": draw(st.booleans())},
                **who,
            )
        elif kind == "opened":
            log.deal_opened(f"O{i}", when, account=account, **who)
        else:
            amount = f"{draw(st.integers(1, 10_000))}.00"
            renewal = draw(st.sampled_from([None, "2027-03-01", "2027-04-30"]))
            win(
                log,
                f"D{i}",
                when,
                amount,
                draw(st.sampled_from(["EUR", "USD"])),
                account=account,
                renewal=renewal,
                **who,
            )
    return log


MOMENTS = st.integers(0, 4_000_000_000)
DAYS = st.dates().map(date.isoformat)
SHORT = st.text(max_size=5)
AMOUNTS = st.decimals(0, 10**6, places=2).map(str)
WONS = st.lists(st.builds(Won, DAYS, st.sampled_from(["EUR", "USD"]), AMOUNTS, SHORT), max_size=5)
DEPARTURES = st.lists(st.builds(Departure, MOMENTS, SHORT, SHORT, SHORT, st.booleans()), max_size=3)
RENEWALS = st.lists(st.builds(Renewal, DAYS, SHORT), max_size=3)
records = st.builds(
    Customer,
    account_id=st.text(min_size=1, max_size=10),
    tier=st.sampled_from(["", "A", "B", "C"]),
    rep_id=SHORT,
    team_id=SHORT,
    first_won_at=st.none() | MOMENTS,
    won=WONS.map(tuple),
    touches=st.lists(MOMENTS, max_size=5).map(tuple),
    contacts_left=DEPARTURES.map(tuple),
    renewals=RENEWALS.map(tuple),
    first_seen=st.none() | MOMENTS,
    first_won_day=st.sampled_from(["", "2026-07-01"]),
    tier_at=st.none() | MOMENTS,
    owner_at=st.none() | MOMENTS,
    owned_by_win=st.booleans(),
)


class TestLaws:
    @LAW
    @given(data=st.data(), log=logs())
    def test_the_order_events_are_folded_in_does_not_matter(self, data: st.DataObject, log: Log):
        pairs = resolved(log)
        shuffled = data.draw(st.permutations(pairs))
        assert fold_all(shuffled) == fold_all(pairs)

    @LAW
    @given(log=logs())
    def test_a_folded_record_survives_the_codec(self, log: Log):
        for c in customers_of(log).values():
            assert decode(encode(c)) == c
            assert decode(encode(c).encode()) == c

    @LAW
    @given(c=records)
    def test_any_record_survives_the_codec(self, c: Customer):
        back = decode(encode(c))
        assert back == c
        assert type(back.won) is tuple
        assert all(type(w) is Won for w in back.won)
        assert all(type(d) is Departure for d in back.contacts_left)
        assert all(type(r) is Renewal for r in back.renewals)


# --------------------------------------------------------------------------- lifecycle


class TestLifecycle:
    def test_prospect_without_a_won_deal(self):
        log = Log()
        log.deal_opened("D1", at(2026, 7, 1), account=ACC)
        assert lifecycle(customer(log), TODAY, "EUR") == "prospect"

    def test_prospect_when_the_first_win_is_after_today(self):
        log = Log()
        win(log, "D1", at(2026, 10, 16))
        assert lifecycle(customer(log), TODAY, "EUR") == "prospect"

    def test_new_up_to_new_days_after_the_first_win(self):
        log = Log()
        win(log, "D1", days_before(90))  # 17 July
        assert lifecycle(customer(log), TODAY, "EUR") == "new"

    def test_no_longer_new_the_day_after(self):
        log = Log()
        win(log, "D1", days_before(91))
        assert lifecycle(customer(log), TODAY, "EUR") == "growing"  # a customer for < 1 year
        assert lifecycle(customer(log), TODAY, "EUR", HealthRules(new_days=91)) == "new"

    def test_declining_when_the_last_six_months_are_below_half_the_six_before(self):
        # m-12..m-7 = 2025-10..2026-03: 10000; m-6..m-1 = 2026-04..09: 4999.99
        log = wins(
            {
                "2024-03": "1000.00",
                "2025-01": "15000.00",
                "2025-11": "10000.00",
                "2026-05": "4999.99",
            }
        )
        assert lifecycle(customer(log), TODAY, "EUR") == "declining"

    def test_not_declining_at_exactly_half(self):
        log = wins(
            {
                "2024-03": "1000.00",
                "2025-01": "15000.00",
                "2025-11": "10000.00",
                "2026-05": "5000.00",
            }
        )
        # last 12 = 15000, the 12 before = 15000: not growing either
        assert lifecycle(customer(log), TODAY, "EUR") == "mature"

    def test_declining_when_revenue_fell_two_months_running(self):
        log = wins({"2026-07": "3000.00", "2026-08": "2000.00", "2026-09": "1000.00"})
        c = customer(log)
        assert lifecycle(c, TODAY, "EUR") == "declining"
        assert "revenue_down" in found(c)

    def test_growing_when_the_last_twelve_months_are_ten_percent_up(self):
        # m-24..m-13 = 2024-10..2025-09: 10000; m-12..m-1 = 2025-10..2026-09: 11000
        log = wins(
            {"2023-05": "1.00", "2025-03": "10000.00", "2025-12": "5500.00", "2026-06": "5500.00"}
        )
        assert lifecycle(customer(log), TODAY, "EUR") == "growing"

    def test_mature_just_below_ten_percent_up(self):
        log = wins(
            {"2023-05": "1.00", "2025-03": "10000.00", "2025-12": "5500.00", "2026-06": "5499.99"}
        )
        assert lifecycle(customer(log), TODAY, "EUR") == "mature"

    def test_growing_when_a_customer_for_less_than_a_year(self):
        log = Log()
        win(log, "D1", at(2025, 10, 16), currency="USD")  # no EUR revenue at all
        assert lifecycle(customer(log), TODAY, "EUR") == "growing"

    def test_mature_after_exactly_a_year_without_growth(self):
        log = Log()
        win(log, "D1", at(2025, 10, 15), currency="USD")
        assert lifecycle(customer(log), TODAY, "EUR") == "mature"

    def test_revenue_in_other_currencies_does_not_count(self):
        log = wins({"2026-07": "3000.00", "2026-08": "2000.00", "2026-09": "1000.00"}, "USD")
        assert lifecycle(customer(log), TODAY, "EUR") == "growing"
        assert lifecycle(customer(log), TODAY, "USD") == "declining"


# --------------------------------------------------------------------------- signals


class TestRevenueDown:
    def test_fires_when_down_two_months_running(self):
        log = wins({"2026-07": "3000.00", "2026-08": "2000.00", "2026-09": "1000.00"})
        signal = found(customer(log))["revenue_down"]
        assert signal["since"] == "2026-08-01"
        assert signal["evidence"] == {
            "months": {"2026-07": "3000.00", "2026-08": "2000.00", "2026-09": "1000.00"},
            "currency": "EUR",
        }
        assert "two months running" in signal["message"]

    def test_fires_when_the_last_month_has_no_wins(self):
        log = wins({"2026-07": "3000.00", "2026-08": "2000.00"})
        assert found(customer(log))["revenue_down"]["evidence"]["months"]["2026-09"] == "0"

    @pytest.mark.parametrize(
        "amounts",
        [
            {"2026-07": "3000.00", "2026-08": "3000.00", "2026-09": "1000.00"},  # one month
            {"2026-07": "3000.00", "2026-08": "2000.00", "2026-09": "2000.00"},  # one month
            {"2026-07": "1000.00", "2026-08": "3000.00", "2026-09": "2000.00"},
            {"2026-06": "9000.00", "2026-10": "1.00"},  # no wins in m-3..m-1
        ],
    )
    def test_does_not_fire_otherwise(self, amounts: dict[str, str]):
        assert "revenue_down" not in found(customer(wins(amounts)))


class TestKeyContactLeft:
    def test_fires_up_to_180_days_after(self):
        log = Log()
        contact_left(log, days_before(180, h=23))
        signal = found(customer(log))["key_contact_left"]
        day = (TODAY - timedelta(days=180)).isoformat()
        assert signal["since"] == day
        assert signal["evidence"] == {
            "contact_id": "c-77",
            "name": "Jana Novak",
            "role": "Head of purchasing",
            "day": day,
            "days_ago": 180,
            "key_contacts_left": 1,
        }
        assert signal["message"].startswith("Jana Novak (Head of purchasing) left on")

    def test_does_not_fire_181_days_after(self):
        log = Log()
        contact_left(log, days_before(181, h=1))
        assert "key_contact_left" not in found(customer(log))

    def test_does_not_fire_for_a_contact_who_was_not_key(self):
        log = Log()
        contact_left(log, days_before(3), key=False)
        assert "key_contact_left" not in found(customer(log))

    def test_a_departure_after_today_does_not_count_yet(self):
        log = Log()
        contact_left(log, at(2026, 10, 16))
        assert "key_contact_left" not in found(customer(log))


class TestNoTouch:
    def tier_a(self, days_ago: int, h: int = 10) -> Customer:
        log = Log()
        log.tier_changed(ACC, at(2026, 1, 1), "A")
        log.visit(f"account-{ACC}", days_before(days_ago, h))
        return customer(log)

    def test_fires_for_tier_a_after_15_days(self):
        signal = found(self.tier_a(15, h=23))["no_touch"]
        last = (TODAY - timedelta(days=15)).isoformat()
        assert signal["since"] == last
        assert signal["evidence"] == {
            "days_since_touch": 15,
            "limit_days": 14,
            "tier": "A",
            "last_touch": last,
            "counted_from": "last_touch",
        }

    def test_does_not_fire_for_tier_a_after_14_days(self):
        assert "no_touch" not in found(self.tier_a(14, h=0))

    def test_days_are_local_days(self):
        # 1 October 00:30 in Berlin is 30 September 22:30 UTC: 14 days before 15 October in
        # Berlin, 15 in UTC.
        log = Log()
        log.tier_changed(ACC, at(2026, 1, 1), "A")
        log.call(f"account-{ACC}", at(2026, 10, 1, 0, 30))
        c = customer(log)
        assert "no_touch" not in found(c)
        assert "no_touch" in {s["signal"] for s in signals(c, TODAY, "EUR", UTC_ZONE)}

    def test_an_untiered_account_has_c_s_limit(self):
        log = Log()
        log.visit(f"account-{ACC}", days_before(60))
        assert "no_touch" not in found(customer(log))
        log = Log()
        log.visit(f"account-{ACC}", days_before(61))
        assert found(customer(log))["no_touch"]["evidence"]["tier"] == "C"

    def test_a_never_touched_customer_counts_from_its_first_win(self):
        log = Log()
        log.tier_changed(ACC, at(2026, 1, 1), "B")
        win(log, "D1", days_before(31))
        evidence = found(customer(log))["no_touch"]["evidence"]
        assert evidence["counted_from"] == "first_win"
        assert (evidence["days_since_touch"], evidence["limit_days"]) == (31, 30)

    def test_a_never_touched_prospect_counts_from_when_it_was_first_seen(self):
        log = Log()
        log.deal_opened("D1", days_before(61), account=ACC)
        evidence = found(customer(log))["no_touch"]["evidence"]
        assert (evidence["counted_from"], evidence["last_touch"]) == ("first_seen", None)
        log = Log()
        log.deal_opened("D1", days_before(60), account=ACC)
        assert "no_touch" not in found(customer(log))

    def test_a_touch_after_today_does_not_count(self):
        log = Log()
        log.visit(f"account-{ACC}", days_before(61))
        log.visit(f"account-{ACC}", at(2026, 10, 16))
        assert found(customer(log))["no_touch"]["evidence"]["days_since_touch"] == 61

    def test_engagements_are_not_touches(self):
        log = Log()
        log.visit(f"account-{ACC}", days_before(61))
        log.engagement(f"account-{ACC}", days_before(1))
        assert "no_touch" in found(customer(log))


class TestRenewalDue:
    def renewal_in(self, days: int, touched_days_ago: int | None = 31) -> Customer:
        log = Log()
        due = (TODAY + timedelta(days=days)).isoformat()
        win(log, "D1", at(2026, 1, 5), renewal=due)
        if touched_days_ago is not None:
            log.visit(f"account-{ACC}", days_before(touched_days_ago))
        return customer(log)

    def test_fires_60_days_ahead_without_a_touch_in_30_days(self):
        signal = found(self.renewal_in(60))["renewal_due"]
        assert signal["evidence"] == {
            "renewal_date": (TODAY + timedelta(days=60)).isoformat(),
            "days_to_go": 60,
            "days_since_touch": 31,
        }
        assert signal["since"] == TODAY.isoformat()  # in reach today, stale since today
        assert "in 60 days" in signal["message"]

    def test_does_not_fire_61_days_ahead(self):
        assert "renewal_due" not in found(self.renewal_in(61))

    def test_does_not_fire_with_a_touch_30_days_ago(self):
        assert "renewal_due" not in found(self.renewal_in(60, touched_days_ago=30))

    def test_fires_on_the_day_itself_and_without_any_touch(self):
        signal = found(self.renewal_in(0, touched_days_ago=None))["renewal_due"]
        assert signal["evidence"]["days_to_go"] == 0
        assert signal["evidence"]["days_since_touch"] is None

    def test_a_past_renewal_does_not_fire(self):
        assert "renewal_due" not in found(self.renewal_in(-1))

    def test_the_soonest_renewal_is_the_evidence(self):
        log = Log()
        win(log, "D1", at(2026, 1, 5), renewal=(TODAY + timedelta(days=40)).isoformat())
        win(log, "D2", at(2026, 1, 6), renewal=(TODAY + timedelta(days=10)).isoformat())
        assert found(customer(log))["renewal_due"]["evidence"]["days_to_go"] == 10


class TestOnboarding:
    WON = at(2026, 10, 10, 10)  # its 72 hours end on 13 October at 10:00

    def new_customer(self, *touches: str) -> Customer:
        log = Log()
        win(log, "D1", self.WON)
        for when in touches:
            log.visit(f"account-{ACC}", when)
        return customer(log)

    def test_the_72_hours_are_not_judged_before_they_have_passed(self):
        assert "onboarding" not in found(self.new_customer(), date(2026, 10, 13))

    def test_fires_when_nobody_touched_it_within_72_hours(self):
        signal = found(self.new_customer(), date(2026, 10, 14))["onboarding"]
        assert signal["since"] == "2026-10-10"
        assert signal["evidence"] == {
            "first_won": "2026-10-10",
            "touches_within_hours": 0,
            "hours": 72,
            "touches_first_30_days": None,
            "touches_required": 3,
        }
        assert "within 72 hours" in signal["message"]

    def test_a_touch_at_the_72nd_hour_counts(self):
        c = self.new_customer(at(2026, 10, 13, 10))
        assert "onboarding" not in found(c, date(2026, 10, 14))

    def test_a_touch_a_minute_later_does_not(self):
        c = self.new_customer(at(2026, 10, 13, 10, 1))
        assert "onboarding" in found(c, date(2026, 10, 14))

    def test_a_touch_before_the_win_does_not(self):
        c = self.new_customer(at(2026, 10, 10, 9))
        assert "onboarding" in found(c, date(2026, 10, 14))

    def first_month(self, *touches: str) -> Customer:
        log = Log()
        win(log, "D1", at(2026, 9, 1, 10))  # its first 30 days end on 1 October at 10:00
        for when in touches:
            log.call(f"account-{ACC}", when)
        return customer(log)

    def test_fewer_than_three_touches_in_the_first_30_days_fire(self):
        c = self.first_month(at(2026, 9, 2), at(2026, 10, 1, 10, 1))
        signal = found(c, date(2026, 10, 2))["onboarding"]
        assert signal["evidence"]["touches_first_30_days"] == 1
        assert signal["evidence"]["touches_within_hours"] == 1
        assert "only 1 visits or calls in its first 30 days" in signal["message"]

    def test_the_first_30_days_are_not_judged_before_they_have_passed(self):
        c = self.first_month(at(2026, 9, 2))
        assert "onboarding" not in found(c, date(2026, 10, 1))

    def test_three_touches_are_enough(self):
        c = self.first_month(at(2026, 9, 2), at(2026, 9, 15), at(2026, 10, 1, 10))
        assert "onboarding" not in found(c, date(2026, 10, 2))

    def test_only_new_customers_are_judged(self):
        c = self.first_month()
        assert "onboarding" in found(c, date(2026, 9, 1) + timedelta(days=90))
        assert "onboarding" not in found(c, date(2026, 9, 1) + timedelta(days=91))

    def test_prospects_are_not_judged(self):
        log = Log()
        log.deal_opened("D1", days_before(40), account=ACC)
        assert "onboarding" not in found(customer(log))


# --------------------------------------------------------------------------- tiers


class TestSuggestTiers:
    def test_a_up_to_80_percent_b_up_to_95_then_c(self):
        revenue = {
            "e": Decimal(0),
            "d": Decimal(5),
            "c": Decimal(15),
            "b": Decimal(30),
            "a": Decimal(50),
        }
        # shares before each: a 0, b 0.50, c 0.80 (not below 0.8), d 0.95 (not below 0.95)
        assert suggest_tiers(revenue) == {"a": "A", "b": "A", "c": "B", "d": "C", "e": "C"}

    def test_just_below_the_edges(self):
        revenue = {
            "a": Decimal("50"),
            "b": Decimal("29.99"),
            "c": Decimal("15"),
            "d": Decimal("5.01"),
        }
        # shares before: c 0.7999, d 0.9499
        assert suggest_tiers(revenue) == {"a": "A", "b": "A", "c": "A", "d": "B"}

    def test_ties_are_broken_by_account_id(self):
        revenue = {"y": Decimal(10), "x": Decimal(10), "z": Decimal(80)}
        # z 0 -> A; x 0.8 -> B; y 0.9 -> B
        assert suggest_tiers(revenue) == {"z": "A", "x": "B", "y": "B"}

    def test_the_biggest_account_is_always_a(self):
        assert suggest_tiers({"only": Decimal(1)}) == {"only": "A"}
        # the small one comes after 99 % of the revenue
        assert suggest_tiers({"big": Decimal(99), "small": Decimal(1)}) == {
            "big": "A",
            "small": "C",
        }

    def test_without_revenue_everything_is_c(self):
        assert suggest_tiers({"a": Decimal(0), "b": Decimal(0)}) == {"a": "C", "b": "C"}
        assert suggest_tiers({}) == {}

    def test_other_edges(self):
        revenue = {"a": Decimal(60), "b": Decimal(40)}
        assert suggest_tiers(revenue, HealthRules(pareto=(0.5, 0.6))) == {"a": "A", "b": "C"}


# --------------------------------------------------------------------------- health


class TestHealth:
    def test_a_whole_answer(self):
        log = Log()
        log.tier_changed(ACC, at(2025, 1, 1), "A")
        win(log, "D1", at(2025, 3, 1, 12), "5000.00", rep=BEN, team=NORTH)
        win(log, "D2", at(2025, 10, 15, 9), "700.00", rep=CARA, team=SOUTH)  # a year ago
        win(log, "D3", at(2025, 10, 16, 9), "1000.00", rep=CARA, team=SOUTH)
        win(log, "D4", at(2026, 5, 5), "1000.00", rep=CARA, team=SOUTH)
        win(log, "D5", at(2026, 9, 1, 9), "500.00", "USD", rep=BEN, team=NORTH)
        log.visit(f"account-{ACC}", at(2026, 9, 20, 9, 30))
        log.visit(f"account-{ACC}", at(2026, 10, 20, 9, 30))  # after today
        c = customer(log)
        # last 12 full months 2700 EUR against 5000 before: not growing; last 6 (1000) against
        # the 6 before (1700): not halved; nothing in July to September: not down.
        assert health(c, TODAY, "EUR", BERLIN, suggested_tier="B") == {
            "account_id": ACC,
            "tier": "A",
            "suggested_tier": "B",
            "lifecycle": "mature",
            "at_risk": True,
            "signals": [found(c)["no_touch"]],
            "owner": f"rep:{BEN}",
            "rep_id": BEN,
            "team_id": NORTH,
            "first_won_at": "2025-03-01T12:00:00+01:00",
            "last_touch_at": "2026-09-20T09:30:00+02:00",
            "won_12m": {"value": "2000.00", "currency": "EUR"},
        }
        assert found(c)["no_touch"]["evidence"]["days_since_touch"] == 25

    def test_a_prospect_never_won(self):
        log = Log()
        log.visit(f"account-{ACC}", days_before(2))
        answer = health(customer(log), TODAY, "EUR", BERLIN, suggested_tier=None)
        assert answer["lifecycle"] == "prospect"
        assert (answer["at_risk"], answer["signals"], answer["first_won_at"]) == (False, [], None)
        assert answer["tier"] is None
        assert answer["won_12m"] == {"value": "0", "currency": "EUR"}

    def test_won_12m_is_the_year_up_to_today(self):
        log = wins({"2025-10": "1.00", "2025-11": "2.00", "2026-10": "4.00"})
        assert won_12m(customer(log), date(2026, 10, 10), "EUR") == Decimal("6.00")
        assert won_12m(customer(log), date(2026, 10, 9), "EUR") == Decimal("3.00")
