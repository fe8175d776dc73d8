"""A deal opened without an account, and `deal.account_linked`: deal metrics count the deal as
usual; account metrics (new customers, wins per customer, follow-up, customer health) count it
from the link on, a win before the link at the link's time."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from services.scoring.projections.kpis import Win
from tests.unit.scoring.helpers import (
    ANNA,
    BEN,
    NORTH,
    SOUTH,
    Log,
    by_day,
    facts_of,
    fold_log,
    local,
)


def jul(day: int, hour: int = 10) -> str:
    return local(2026, 7, day, hour)


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


class TestADealWithoutAnAccount:
    def test_counts_in_every_deal_metric_and_in_no_account_metric(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="1000.00", account=None)
        log.stage_changed("D1", jul(3), "proposal")
        log.deal_won("D1", jul(5), "1200.00", rep=BEN, team=SOUTH)
        result = fold_log(log)
        facts = facts_of(log)
        assert by_day(facts, "deals_opened") == {date(2026, 7, 1): 1}
        assert by_day(facts, "deals_won") == {date(2026, 7, 5): 1}
        assert by_day(facts, "revenue_won") == {date(2026, 7, 5): Decimal("1200.00")}
        assert by_day(facts, "sales_cycle_days") == {date(2026, 7, 5): 4}
        assert by_day(facts, "new_customers") == {}
        assert result.wins == []
        assert result.book.accounts == {}
        assert result.book.customers == {}
        deal = result.book.deals["deal-D1"]
        assert (deal.account_id, deal.tier, deal.status, deal.linked_at) == ("", "", "won", None)
        assert deal.won_event is not None
        assert (deal.won_event.type, deal.won_event.rep_id, deal.won_event.team_id) == (
            "deal.won",
            BEN,
            SOUTH,
        )

    def test_touches_on_its_stream_touch_no_account(self):
        log = Log()
        log.deal_opened("D1", jul(1), account=None)
        log.visit("deal-D1", jul(2))
        result = fold_log(log)
        assert by_day(facts_of(log), "visits") == {date(2026, 7, 2): 1}
        assert result.book.accounts == {}
        assert result.book.customers == {}


class TestTheLink:
    def test_a_deal_linked_then_won_makes_a_new_customer_on_the_win_s_day(self):
        log = Log()
        log.deal_opened("D1", jul(1), account=None)
        log.account_linked("D1", jul(3), "acc-9")
        log.visit("deal-D1", jul(4))  # on the deal's stream: now the account's touch
        log.deal_won("D1", jul(6), "1200.00")
        log.call("deal-D1", jul(7))  # within 72 h of the first win
        result = fold_log(log)
        facts = facts_of(log)
        assert by_day(facts, "new_customers") == {date(2026, 7, 6): 1}
        assert by_day(facts, "followed_up_72h") == {date(2026, 7, 6): 1}
        assert result.wins == [
            Win("deal-D1", "acc-9", date(2026, 7, 6), ANNA, NORTH, "ovens", "", "")
        ]
        customer = result.book.customers["acc-9"]
        assert customer.first_won_day == "2026-07-06"
        assert customer.touches == (epoch(jul(4)), epoch(jul(7)))
        assert customer.first_seen == epoch(jul(3))  # the link: before it, not the account's
        deal = result.book.deals["deal-D1"]
        assert (deal.account_id, deal.linked_at, deal.won_event) == (
            "acc-9",
            datetime.fromisoformat(jul(3)),
            None,
        )

    def test_a_win_before_the_link_is_the_account_s_first_win_at_the_link(self):
        log = Log()
        log.deal_opened("D1", jul(1), account=None)
        log.deal_won("D1", jul(5), "1200.00", rep=BEN, team=SOUTH)
        log.visit("account-acc-9", jul(6))  # before the link, within 72 h of it: a follow-up
        log.tier_changed("acc-9", jul(7, 9), "A")
        log.account_linked("D1", jul(8), "acc-9", rep=ANNA, team=NORTH)
        result = fold_log(log)
        facts = facts_of(log)
        assert by_day(facts, "deals_won") == {date(2026, 7, 5): 1}  # deal metrics do not move
        assert by_day(facts, "new_customers", owner=f"rep:{BEN}") == {date(2026, 7, 8): 1}
        assert by_day(facts, "new_customers", owner=f"rep:{ANNA}") == {}
        assert by_day(facts, "followed_up_72h") == {}  # the visit came before the first win
        assert result.wins == [
            Win("deal-D1", "acc-9", date(2026, 7, 8), BEN, SOUTH, "ovens", "A", "")
        ]
        account = result.book.accounts["acc-9"]
        assert account.first_won_at == datetime.fromisoformat(jul(8))
        assert account.first_won_by == (BEN, SOUTH)
        customer = result.book.customers["acc-9"]
        assert (customer.first_won_day, customer.rep_id, customer.team_id) == (
            "2026-07-08",
            BEN,
            SOUTH,
        )
        assert [(w.day, w.amount, w.deal) for w in customer.won] == [
            ("2026-07-08", "1200.00", "deal-D1")
        ]

    def test_a_link_logged_before_a_win_that_occurred_earlier_counts_it_at_the_link(self):
        in_order = Log("a")
        in_order.deal_opened("D1", jul(1), account=None)
        in_order.deal_won("D1", jul(5))
        in_order.account_linked("D1", jul(8), "acc-9")
        late_win = Log("b")
        late_win.deal_opened("D1", jul(1), account=None)
        late_win.account_linked("D1", jul(8), "acc-9")
        late_win.deal_won("D1", jul(5))
        for log in (in_order, late_win):
            result = fold_log(log)
            assert by_day(facts_of(log), "new_customers") == {date(2026, 7, 8): 1}
            assert [w.day for w in result.wins] == [date(2026, 7, 8)]
            assert result.book.customers["acc-9"].first_won_day == "2026-07-08"

    def test_a_link_logged_before_the_opening_waits_for_it(self):
        log = Log()
        log.account_linked("D1", jul(2), "acc-9")
        log.deal_opened("D1", jul(1), account=None)
        log.deal_won("D1", jul(5))
        result = fold_log(log)
        assert by_day(facts_of(log), "new_customers") == {date(2026, 7, 5): 1}
        assert result.book.deals["deal-D1"].account_id == "acc-9"
        assert result.book.deals["deal-D1"].pending == ()

    def test_linking_to_the_same_account_again_changes_nothing(self):
        once, twice = Log("a"), Log("b")
        for log in (once, twice):
            log.deal_opened("D1", jul(1), account=None)
            log.account_linked("D1", jul(2), "acc-9")
            log.deal_won("D1", jul(5))
        twice.account_linked("D1", jul(6), "acc-9")
        assert facts_of(twice) == facts_of(once)
        assert fold_log(twice).book.deals == fold_log(once).book.deals

    def test_a_deal_keeps_its_first_account(self):
        log = Log()
        log.deal_opened("D1", jul(1), account="acc-1")
        log.deal_opened("D2", jul(1), account=None)
        log.account_linked("D2", jul(2), "acc-2")
        log.account_linked("D1", jul(3), "acc-3")  # opened with acc-1
        log.account_linked("D2", jul(3), "acc-3")  # linked to acc-2 already
        log.deal_won("D1", jul(5))
        log.deal_won("D2", jul(5))
        result = fold_log(log)
        assert {w.deal: w.account_id for w in result.wins} == {
            "deal-D1": "acc-1",
            "deal-D2": "acc-2",
        }
        assert by_day(facts_of(log), "new_customers") == {date(2026, 7, 5): 2}
        assert "acc-3" not in result.book.customers
        assert "acc-3" not in result.book.accounts

    def test_sets_the_deal_s_account_on_its_profile_and_no_feature(self):
        log = Log()
        log.tier_changed("acc-9", jul(1, 8), "A")
        log.deal_opened("D1", jul(1), account=None)
        log.account_linked("D1", jul(2), "acc-9")
        prospect = fold_log(log).book.prospects["deal-D1"]
        assert prospect.account_id == "acc-9"
        assert "tier" not in prospect.static  # as it was when opened

    def test_a_lost_deal_linked_makes_no_customer(self):
        log = Log()
        log.deal_opened("D1", jul(1), account=None)
        log.deal_lost("D1", jul(3))
        log.account_linked("D1", jul(4), "acc-9")
        result = fold_log(log)
        assert by_day(facts_of(log), "new_customers") == {}
        assert result.wins == []
        assert result.book.customers["acc-9"].first_won_at is None
