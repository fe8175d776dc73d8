"""The KPI fold, scenario by scenario: small logs whose numbers are worked out by hand.

Counts are read from the facts the fold makes (`facts_of`, `total`); derived values (rates,
averages, pipelines, distinct customers) from the report the API builds out of the rollups of a
replay (`metric`, over `MemorySource`). All times are Europe/Berlin (+02:00 in summer).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from services.scoring.answer.sources import Cuts
from services.scoring.domain import CATALOGUE, Period
from services.scoring.projections.kpis import UNOPENED, Book, fold
from shared.events import StoredEvent, new_event_adapter
from tests.unit.scoring.helpers import (
    ANNA,
    BEN,
    BERLIN,
    CARA,
    NORTH,
    SOUTH,
    Log,
    by_day,
    cuts_of,
    facts_of,
    fold_log,
    local,
    metric,
    report,
    total,
)

JUL_1, JUL_31 = date(2026, 7, 1), date(2026, 7, 31)
JUN_1, JUN_30 = date(2026, 6, 1), date(2026, 6, 30)


def jun(day: int, hour: int = 10, minute: int = 0) -> str:
    return local(2026, 6, day, hour, minute)


def jul(day: int, hour: int = 10, minute: int = 0) -> str:
    return local(2026, 7, day, hour, minute)


def aug(day: int, hour: int = 10, minute: int = 0) -> str:
    return local(2026, 8, day, hour, minute)


async def july(log: Log, name: str, **kwargs: object) -> dict:
    return await metric(log, name, JUL_1, JUL_31, **kwargs)


# --------------------------------------------------------------------------- the helper


class TestTheHelperBuildsEventsAsTheFeedServesThem:
    def one_of_each(self) -> Log:
        log = Log()
        created = log.lead_created("L1", jul(1), channel="exhibition", account="acc-1")
        log.lead_qualified("L1", jul(2))
        log.lead_disqualified("L2", jul(2))
        log.visit("account-acc-1", jul(3), effective=True, account="acc-1")
        log.call("lead-L1", jul(3), connected=True)
        log.deal_opened("D1", jul(4), lead="L1", stage="proposal")
        log.stage_changed("D1", jul(5), "negotiation")
        log.amount_changed("D1", jul(5), "1200.50", "USD")
        log.deal_won("D1", jul(6), "1200.50", "USD")
        log.deal_lost("D2", jul(6))
        log.invoice("I1", jul(7), amount="10.0000", deal="D1")
        log.payment("I1", jul(8), amount="10", stream="deal-D1")
        log.tier_changed("acc-1", jul(9), "A")
        log.contact_left("acc-1", jul(9))
        log.void(created, jul(10))
        return log

    def test_every_event_is_a_valid_client_envelope_and_a_valid_stored_event(self):
        stored_only = ("org_id", "stream_version", "position", "recorded_at")
        for event in self.one_of_each().events:
            StoredEvent.model_validate(event)
            new_event_adapter.validate_python(
                {k: v for k, v in event.items() if k not in stored_only}
            )

    def test_ids_are_deterministic_positions_increase_and_versions_count_per_stream(self):
        a, b = self.one_of_each().events, self.one_of_each().events
        assert [e["event_id"] for e in a] == [e["event_id"] for e in b]
        assert len({e["event_id"] for e in a}) == len(a)
        assert [e["position"] for e in a] == list(range(1, len(a) + 1))
        assert [e["recorded_at"] for e in a] == sorted(e["recorded_at"] for e in a)
        assert [e["stream_version"] for e in a if e["stream"] == "deal-D1"] == [1, 2, 3, 4, 5]

    def test_a_log_can_leave_out_rep_and_team(self):
        event = Log().visit("account-acc-1", jul(1), rep=None, team=None)
        assert event["rep_id"] is None
        assert event["team_id"] is None


# --------------------------------------------------------------------------- touches


class TestVisits:
    def log(self) -> Log:
        log = Log()
        log.visit("account-acc-1", jul(1), effective=True)
        log.visit("account-acc-2", jul(2), effective=False)
        log.visit("lead-L1", jul(3), effective=True)
        log.visit("account-acc-1", aug(1), effective=True)
        return log

    def test_every_visit_counts_and_effective_ones_count_as_effective_too(self):
        facts = facts_of(self.log())
        assert total(facts, "visits", last=JUL_31) == 3
        assert total(facts, "effective_visits", last=JUL_31) == 2
        assert by_day(facts, "visits") == {
            date(2026, 7, 1): 1,
            date(2026, 7, 2): 1,
            date(2026, 7, 3): 1,
            date(2026, 8, 1): 1,
        }

    async def test_the_report_shows_counts_and_the_effective_rate_with_its_parts(self):
        log = self.log()
        assert await july(log, "visits") == {"value": 3}
        assert await july(log, "effective_visits") == {"value": 2}
        assert await july(log, "effective_visit_rate") == {
            "value": 0.666667,
            "numerator": 2,
            "denominator": 3,
        }

    async def test_the_rate_has_no_value_without_visits(self):
        assert await july(Log(), "effective_visit_rate") == {
            "value": None,
            "numerator": 0,
            "denominator": 0,
        }


class TestCalls:
    def log(self) -> Log:
        log = Log()
        log.call("account-acc-1", jul(1), connected=True)
        log.call("account-acc-1", jul(1, 11), connected=False)
        log.call("lead-L1", jul(2), connected=False)
        log.call("deal-D1", jul(3), connected=True)
        return log

    def test_every_call_counts_and_connected_ones_count_as_connected_too(self):
        facts = facts_of(self.log())
        assert total(facts, "calls") == 4
        assert total(facts, "connected_calls") == 2
        assert total(facts, "visits") == 0

    async def test_the_report_shows_the_connect_rate_with_its_parts(self):
        log = self.log()
        assert await july(log, "calls") == {"value": 4}
        assert await july(log, "connected_calls") == {"value": 2}
        assert await july(log, "call_connect_rate") == {
            "value": 0.5,
            "numerator": 2,
            "denominator": 4,
        }


class TestEngagements:
    def log(self) -> Log:
        log = Log()
        log.lead_created("L1", jul(1), channel="online")
        log.engagement("lead-L1", jul(2), "email_opened", count=3)
        log.engagement("lead-L1", jul(3), "page_viewed", seconds=840)
        log.engagement("account-acc-1", jul(3, 11), "webinar", count=1, seconds=3600)
        log.engagement("lead-L1", aug(1), "form_submitted")
        log.consent("L1", jul(4), do_not_email=True)
        return log

    def test_engagements_sum_their_counts_and_seconds(self):
        facts = facts_of(self.log())
        assert total(facts, "engagements", last=JUL_31) == 5
        assert total(facts, "engaged_seconds", last=JUL_31) == 4440
        assert total(facts, "engagements") == 6

    def test_an_engagement_of_a_lead_is_in_the_leads_channel_cut(self):
        facts = facts_of(self.log())
        assert total(facts, "engagements", last=JUL_31, channel="online") == 4
        assert total(facts, "engaged_seconds", last=JUL_31, channel="online") == 840

    def test_an_engagement_is_not_a_touch_and_a_consent_change_counts_nothing(self):
        facts = facts_of(self.log())
        assert {f.metric for f in facts} == {"new_leads", "engagements", "engaged_seconds"}

    async def test_the_report_shows_both_sums(self):
        log = self.log()
        assert await july(log, "engagements") == {"value": 5}
        assert await july(log, "engaged_seconds") == {"value": 4440}


# --------------------------------------------------------------------------- leads


class TestNewLeads:
    def test_each_lead_counts_once_on_the_day_it_was_created(self):
        log = Log()
        log.lead_created("L1", jul(1))
        log.lead_created("L2", jul(2))
        log.lead_created("L1", jul(3))  # the same stream again: not a new lead
        assert by_day(facts_of(log), "new_leads") == {date(2026, 7, 1): 1, date(2026, 7, 2): 1}

    def test_a_creation_appended_again_after_a_void_counts_as_the_new_lead(self):
        log = Log()
        wrong = log.lead_created("L1", jul(1), channel="online")
        log.lead_qualified("L1", jul(2))
        log.void(wrong, jul(3))
        log.lead_created("L1", jul(1), channel="exhibition")  # the corrected creation
        log.deal_opened("D1", jul(4), lead="L1")
        result = fold_log(log, voided=frozenset({wrong["event_id"]}))
        facts = facts_of([e for e in log.events if e is not wrong])  # the same log, never voided
        assert total(facts, "new_leads") == 1
        assert cuts_of(facts, "deals_opened") == {("ovens", "", "exhibition"): 1}
        assert result.book.leads["lead-L1"].channel == "exhibition"

    async def test_the_report_counts_the_leads_of_the_period(self):
        log = Log()
        log.lead_created("L0", jun(30))
        log.lead_created("L1", jul(1))
        log.lead_created("L2", jul(31, 23, 59))
        assert await july(log, "new_leads") == {"value": 2}


class TestOpportunities:
    def test_only_the_first_qualification_of_a_lead_counts(self):
        log = Log()
        log.lead_created("L1", jul(1))
        log.lead_qualified("L1", jul(2))
        log.lead_qualified("L1", jul(3))
        log.lead_created("L2", jul(1))
        log.lead_qualified("L2", jul(4))
        assert by_day(facts_of(log), "opportunities") == {
            date(2026, 7, 2): 1,
            date(2026, 7, 4): 1,
        }

    def test_a_lead_can_be_both_qualified_and_disqualified_once_each(self):
        log = Log()
        log.lead_created("L1", jul(1))
        log.lead_qualified("L1", jul(2))
        log.lead_disqualified("L1", jul(3))
        log.lead_disqualified("L1", jul(4))
        facts = facts_of(log)
        assert total(facts, "opportunities") == 1
        assert total(facts, "disqualified_leads") == 1

    async def test_the_lead_to_opportunity_rate_divides_both_counts_of_the_period(self):
        log = Log()
        log.lead_created("L0", jun(20))
        log.lead_qualified("L0", jul(1))  # created in June, an opportunity in July
        for i in range(1, 5):
            log.lead_created(f"L{i}", jul(i))
        log.lead_qualified("L1", jul(9))
        assert await july(log, "opportunities") == {"value": 2}
        assert await july(log, "new_leads") == {"value": 4}
        assert await july(log, "lead_to_opportunity_rate") == {
            "value": 0.5,
            "numerator": 2,
            "denominator": 4,
        }


class TestDisqualifiedLeads:
    async def test_each_lead_disqualified_counts_once(self):
        log = Log()
        log.lead_created("L1", jul(1))
        log.lead_created("L2", jul(1))
        log.lead_disqualified("L1", jul(2))
        log.lead_disqualified("L1", jul(3))
        log.lead_disqualified("L2", jul(4))
        assert by_day(facts_of(log), "disqualified_leads") == {
            date(2026, 7, 2): 1,
            date(2026, 7, 4): 1,
        }
        assert await july(log, "disqualified_leads") == {"value": 2}


class TestAverageDaysFromLeadToOpportunity:
    def log(self) -> Log:
        log = Log()
        log.lead_created("L1", jul(1, 10))
        log.lead_qualified("L1", jul(3, 22))  # 2.5 days
        log.lead_created("L2", jul(10, 8))
        log.lead_qualified("L2", jul(10, 20))  # 0.5 days
        return log

    def test_the_fold_keeps_calendar_days_seconds_and_a_count_per_qualified_lead(self):
        facts = facts_of(self.log())
        assert total(facts, "lead_to_opportunity_days") == 2  # 1 to 3 July, and 10 July
        assert total(facts, "lead_to_opportunity_seconds") == 3 * 86400
        assert total(facts, "lead_to_opportunity_count") == 2

    async def test_the_average_is_over_the_leads_qualified_in_the_period(self):
        """In calendar days (the qualifying day minus the creation day), as CRM reports count."""
        assert await july(self.log(), "avg_days_lead_to_opportunity") == {
            "value": 1.0,
            "numerator": 2,
            "denominator": 2,
            "unit": "days",
        }

    async def test_the_elapsed_time_is_its_own_metric(self):
        assert await july(self.log(), "avg_elapsed_days_lead_to_opportunity") == {
            "value": 1.5,
            "numerator": 3.0,
            "denominator": 2,
            "unit": "days",
        }

    async def test_a_lead_created_in_an_earlier_month_counts_its_whole_wait(self):
        log = Log()
        log.lead_created("L1", jun(29, 10))
        log.lead_qualified("L1", jul(2, 10))
        assert (await july(log, "avg_days_lead_to_opportunity"))["value"] == 3.0

    async def test_a_qualification_without_a_known_creation_is_an_opportunity_without_a_wait(
        self,
    ):
        log = self.log()
        log.lead_qualified("L3", jul(5))
        assert await july(log, "opportunities") == {"value": 3}
        assert (await july(log, "avg_days_lead_to_opportunity"))["denominator"] == 2

    async def test_no_qualified_lead_means_no_average(self):
        assert (await july(Log(), "avg_days_lead_to_opportunity"))["value"] is None


# --------------------------------------------------------------------------- deals


class TestDealsOpenedWonAndLost:
    def log(self) -> Log:
        log = Log()
        log.deal_opened("D1", jul(1))
        log.deal_opened("D1", jul(2))  # opened again: ignored
        log.deal_opened("D2", jul(2), currency="USD")
        log.deal_opened("D3", jul(3))
        log.deal_opened("D4", jul(3))
        log.deal_won("D1", jul(10))
        log.deal_won("D1", jul(11))  # won again: ignored
        log.deal_lost("D1", jul(12))  # lost after won: ignored
        log.deal_won("D2", jul(12), currency="USD")
        log.deal_lost("D3", jul(13))
        log.deal_won("D3", jul(14))  # won after lost: ignored
        return log

    def test_each_deal_is_opened_once_and_closed_once(self):
        facts = facts_of(self.log())
        assert total(facts, "deals_opened") == 4
        assert by_day(facts, "deals_won") == {date(2026, 7, 10): 1, date(2026, 7, 12): 1}
        assert by_day(facts, "deals_lost") == {date(2026, 7, 13): 1}

    async def test_the_report_counts_deals_in_every_currency(self):
        log = self.log()
        assert await july(log, "deals_opened") == {"value": 4}
        assert await july(log, "deals_won") == {"value": 2}
        assert await july(log, "deals_lost") == {"value": 1}

    async def test_the_win_rate_is_won_over_won_and_lost(self):
        assert await july(self.log(), "win_rate") == {
            "value": 0.666667,
            "numerator": 2,
            "denominator": 3,
        }

    async def test_no_closed_deal_means_no_win_rate(self):
        log = Log()
        log.deal_opened("D1", jul(1))
        assert await july(log, "win_rate") == {"value": None, "numerator": 0, "denominator": 0}


class TestAnEventOfAnUnknownDeal:
    @pytest.mark.parametrize(
        "add",
        [
            lambda log: log.stage_changed("D9", jul(2), "proposal"),
            lambda log: log.amount_changed("D9", jul(2), "5.00"),
            lambda log: log.deal_won("D9", jul(2)),
            lambda log: log.deal_lost("D9", jul(2)),
        ],
        ids=["stage_changed", "amount_changed", "won", "lost"],
    )
    def test_contributes_nothing_yet_and_is_kept_for_the_opening(self, add):
        log = Log()
        log.deal_opened("D1", jul(1))
        book = Book(BERLIN)
        fold(book, log.events[0])
        before = (book.deals["deal-D1"], dict(book.accounts), list(book.wins))
        book.changed.clear()
        event = add(log)
        assert fold(book, event) == []
        assert (book.deals["deal-D1"], dict(book.accounts), list(book.wins)) == before
        # A placeholder remembers it until the deal's opening; it counts nowhere until then.
        placeholder = book.deals["deal-D9"]
        assert placeholder.status == UNOPENED
        assert [(p.type, p.data) for p in placeholder.pending] == [(event["type"], event["data"])]
        assert book.changed <= {("prospects", "deal-D9"), ("deals", "deal-D9")}

    def test_a_deal_won_before_it_was_opened_in_the_log_is_won_when_the_opening_comes(self):
        """A CRM may deliver the won before the deal's creation (or the creation went to the
        dead letters and was replayed): the win counts as if it had come after the opening."""
        log = Log()
        log.deal_won("D1", jul(2), "1200.00")
        log.deal_opened("D1", jul(1))
        facts = facts_of(log)
        assert total(facts, "deals_won") == 1
        assert total(facts, "revenue_won", currency="EUR") == Decimal("1200.00")
        assert total(facts, "sales_cycle_seconds") == 86_400
        assert total(facts, "new_customers") == 1
        assert total(facts, "deals_opened") == 1
        assert total(facts, "pipeline:qualification", currency="EUR") == 0
        assert total(facts, "stage_won:qualification") == 1


class TestRevenueWon:
    def log(self) -> Log:
        log = Log()
        log.deal_opened("D1", jul(1), amount="900.00")
        log.deal_won("D1", jul(5), "1000.00")  # the won amount counts, not the opened one
        log.deal_opened("D2", jul(1), amount="500.00", account="acc-2")
        log.deal_won("D2", jul(6), "500.00")
        log.deal_opened("D3", jul(1), amount="700.00", currency="USD", account="acc-3")
        log.deal_won("D3", jul(7), "700.00", "USD")
        log.deal_opened("D4", jul(1), amount="50.00", account="acc-4")
        log.deal_lost("D4", jul(8))
        return log

    def test_revenue_is_kept_per_currency(self):
        facts = facts_of(self.log())
        assert total(facts, "revenue_won", currency="EUR") == Decimal("1500.00")
        assert total(facts, "revenue_won", currency="USD") == Decimal("700.00")

    async def test_a_usd_deal_does_not_count_in_a_eur_report(self):
        log = self.log()
        assert await july(log, "revenue_won") == {"value": "1500.00", "currency": "EUR"}
        assert await july(log, "revenue_won", currency="USD") == {
            "value": "700.00",
            "currency": "USD",
        }
        nothing = await july(log, "revenue_won", currency="GBP")
        assert (Decimal(nothing["value"]), nothing["currency"]) == (0, "GBP")

    async def test_the_average_deal_size_divides_by_the_deals_won_in_that_currency(self):
        log = self.log()
        assert await july(log, "average_deal_size") == {
            "value": "750.00",
            "numerator": "1500.00",
            "denominator": 2,
            "currency": "EUR",
        }
        assert (await july(log, "average_deal_size", currency="USD"))["value"] == "700.00"
        assert (await july(log, "average_deal_size", currency="GBP"))["value"] is None

    async def test_the_average_deal_size_is_rounded_to_cents(self):
        log = Log()
        for i, amount in enumerate(("100.00", "100.00", "100.01")):
            log.deal_opened(f"D{i}", jul(1), account=f"acc-{i}")
            log.deal_won(f"D{i}", jul(2), amount)
        assert (await july(log, "average_deal_size"))["value"] == "100.00"


class TestAverageSalesCycle:
    def log(self) -> Log:
        log = Log()
        log.deal_opened("D1", jul(1, 10))
        log.deal_won("D1", jul(11, 10))  # 10 days
        log.deal_opened("D2", jun(30, 12), account="acc-2")
        log.deal_won("D2", jul(4, 12), currency="USD")  # 4 days, opened in June
        log.deal_opened("D3", jul(1), account="acc-3")
        log.deal_lost("D3", jul(20))  # lost deals have no sales cycle
        return log

    def test_the_fold_keeps_calendar_days_seconds_and_a_count_per_won_deal(self):
        facts = facts_of(self.log())
        assert total(facts, "sales_cycle_days") == 14
        assert total(facts, "sales_cycle_seconds") == 14 * 86400
        assert total(facts, "sales_cycle_count") == 2

    async def test_the_average_is_over_the_deals_won_in_the_period(self):
        assert await july(self.log(), "avg_sales_cycle_days") == {
            "value": 7.0,
            "numerator": 14,
            "denominator": 2,
            "unit": "days",
        }

    async def test_an_evening_open_and_a_morning_win_are_a_day_apart(self):
        log = Log()
        log.deal_opened("D1", jul(1, 18))
        log.deal_won("D1", jul(2, 9))  # 15 hours later, the next calendar day
        assert (await july(log, "avg_sales_cycle_days"))["value"] == 1.0
        assert (await july(log, "avg_sales_cycle_elapsed_days"))["value"] == 0.62  # 0.625

    @pytest.mark.parametrize("hour", [0, 9, 17, 23])
    async def test_date_only_imports_count_the_same_whatever_hour_they_chose(self, hour: int):
        """A CRM's opportunities carry dates only; an importer stamps them all at one hour of
        its choosing, in UTC. In Los Angeles (UTC-7 in July) that may move both days back by
        one, never the days between them."""
        la = ZoneInfo("America/Los_Angeles")
        log = Log()
        log.deal_opened("D1", f"2026-07-01T{hour:02d}:00:00+00:00")
        log.deal_won("D1", f"2026-07-15T{hour:02d}:00:00+00:00")
        log.lead_created("L1", f"2026-07-01T{hour:02d}:00:00+00:00")
        log.lead_qualified("L1", f"2026-07-04T{hour:02d}:00:00+00:00")
        facts = facts_of(log, la)
        assert total(facts, "sales_cycle_days") == 14
        assert total(facts, "lead_to_opportunity_days") == 3


# --------------------------------------------------------------------------- customers


class TestNewCustomers:
    def test_the_first_won_deal_of_an_account_makes_a_new_customer(self):
        log = Log()
        log.deal_opened("D1", jul(1), account="acc-1")
        log.deal_opened("D2", jul(1), account="acc-1")
        log.deal_opened("D3", jul(1), account="acc-2")
        log.deal_won("D1", jul(5))
        log.deal_won("D2", jul(6))  # the same account again: not new
        log.deal_won("D3", jul(7))
        facts = facts_of(log)
        assert by_day(facts, "new_customers") == {date(2026, 7, 5): 1, date(2026, 7, 7): 1}
        assert total(facts, "deals_won") == 3

    async def test_a_customer_won_in_an_earlier_month_is_not_new_again(self):
        log = Log()
        log.deal_opened("D1", jun(1))
        log.deal_won("D1", jun(10))
        log.deal_opened("D2", jul(1))
        log.deal_won("D2", jul(10))
        assert await metric(log, "new_customers", JUN_1, JUN_30) == {"value": 1}
        assert await july(log, "new_customers") == {"value": 0}

    def test_a_lost_deal_makes_no_customer(self):
        log = Log()
        log.deal_opened("D1", jul(1))
        log.deal_lost("D1", jul(5))
        log.deal_opened("D2", jul(6))
        log.deal_won("D2", jul(7))
        assert by_day(facts_of(log), "new_customers") == {date(2026, 7, 7): 1}

    def test_the_new_customer_counts_for_the_rep_who_won_it(self):
        log = Log()
        log.deal_opened("D1", jul(1), rep=ANNA, team=NORTH)
        log.deal_won("D1", jul(5), rep=BEN, team=NORTH)
        facts = facts_of(log)
        assert total(facts, "new_customers", owner=f"rep:{BEN}") == 1
        assert total(facts, "new_customers", owner=f"rep:{ANNA}") == 0


class TestRepeatPurchaseRate:
    def log(self) -> Log:
        log = Log()
        log.deal_opened("A1", jun(1), account="acc-a", rep=BEN, team=SOUTH)
        log.deal_won("A1", jun(10), rep=BEN, team=SOUTH)  # acc-a: a customer since June
        log.deal_opened("A2", jul(1), account="acc-a")
        log.deal_won("A2", jul(10))  # acc-a again in July: a repeat purchase
        log.deal_opened("B1", jul(1), account="acc-b")
        log.deal_opened("B2", jul(1), account="acc-b")
        log.deal_won("B1", jul(5))
        log.deal_won("B2", jul(20))  # acc-b twice in July, but nothing before July
        log.deal_opened("C1", jul(1), account="acc-c")
        log.deal_won("C1", jul(15))
        log.deal_opened("E1", jul(1), account="acc-e")
        log.deal_lost("E1", jul(15))
        return log

    async def test_a_customer_repeats_when_it_won_before_the_period_began(self):
        assert await july(self.log(), "repeat_purchase_rate") == {
            "value": 0.333333,
            "numerator": 1,
            "denominator": 3,
        }

    async def test_the_first_period_has_no_repeat(self):
        assert await metric(self.log(), "repeat_purchase_rate", JUN_1, JUN_30) == {
            "value": 0.0,
            "numerator": 0,
            "denominator": 1,
        }

    async def test_an_earlier_win_by_another_rep_still_makes_a_repeat(self):
        assert await july(self.log(), "repeat_purchase_rate", owner=f"rep:{ANNA}") == {
            "value": 0.333333,
            "numerator": 1,
            "denominator": 3,
        }

    async def test_within_a_quarter_the_earlier_win_must_precede_the_quarter(self):
        log = self.log()
        q3 = await metric(
            log, "repeat_purchase_rate", JUL_1, date(2026, 9, 30), period=Period.QUARTER
        )
        assert q3 == {"value": 0.333333, "numerator": 1, "denominator": 3}
        q2_q3 = await report(
            log, ["repeat_purchase_rate"], JUN_1, date(2026, 9, 30), period=Period.QUARTER
        )
        assert [b["metrics"]["repeat_purchase_rate"]["numerator"] for b in q2_q3] == [0, 1]

    async def test_no_win_means_no_rate(self):
        assert await july(Log(), "repeat_purchase_rate") == {
            "value": None,
            "numerator": 0,
            "denominator": 0,
        }


class TestFollowUpWithin72Hours:
    """A new customer counts as followed up when a visit or call of its account occurred within
    72 h after its first win, whatever the order the two were logged in."""

    def won(self, log: Log | None = None, **who: str) -> Log:
        log = log or Log()
        log.deal_opened("D1", jul(1), account="acc-1")
        log.deal_won("D1", jul(6, 10), **who)
        return log

    def followed(self, log: Log, owner: str = "org") -> dict[date, int]:
        return by_day(facts_of(log), "followed_up_72h", owner)

    def test_a_touch_exactly_72_hours_after_the_first_win_counts_on_the_win_s_day(self):
        log = self.won()
        log.visit("account-acc-1", jul(9, 10))
        assert self.followed(log) == {date(2026, 7, 6): 1}

    def test_a_touch_73_hours_after_does_not_count(self):
        log = self.won()
        log.call("account-acc-1", jul(9, 11))
        assert self.followed(log) == {}

    def test_a_touch_logged_before_the_win_that_occurred_inside_the_window_counts(self):
        log = Log()
        log.call("account-acc-1", jul(7, 9))  # logged first, occurred a day after the win
        self.won(log)
        assert self.followed(log) == {date(2026, 7, 6): 1}

    # Until a first win, the latest TOUCHES_KEPT (50) touches of an account are kept: enough
    # for a win logged weeks late; beyond that a follow-up can be missed (README says so).
    def test_a_win_logged_late_still_finds_its_follow_up_among_many_later_touches(self):
        log = Log()
        for day in range(7, 30):  # a call every day from the day after the win, 23 in all
            log.call("account-acc-1", jul(day, 9))
        self.won(log)  # won on 6 July at 10:00, logged three weeks late
        assert self.followed(log) == {date(2026, 7, 6): 1}

    def test_a_touch_logged_before_the_win_that_occurred_before_it_does_not_count(self):
        log = Log()
        log.visit("account-acc-1", jul(6, 9))
        log.visit("account-acc-1", jul(9, 11))
        self.won(log)
        assert self.followed(log) == {}

    def test_a_touch_before_the_win_in_time_but_logged_after_it_does_not_count(self):
        log = self.won()
        log.visit("account-acc-1", jul(5))
        assert self.followed(log) == {}

    def test_a_customer_is_followed_up_once_however_often_it_is_touched(self):
        log = Log()
        log.visit("account-acc-1", jul(7))
        self.won(log)
        log.visit("account-acc-1", jul(6, 12))
        log.call("account-acc-1", jul(8))
        assert self.followed(log) == {date(2026, 7, 6): 1}

    def test_it_counts_for_the_rep_who_won_not_the_one_who_touched(self):
        log = self.won(rep=ANNA, team=NORTH)
        log.visit("account-acc-1", jul(7), rep=CARA, team=SOUTH)
        assert self.followed(log, f"rep:{ANNA}") == {date(2026, 7, 6): 1}
        assert self.followed(log, f"team:{NORTH}") == {date(2026, 7, 6): 1}
        assert self.followed(log, f"rep:{CARA}") == {}

    def test_the_account_is_found_from_a_deal_or_lead_stream(self):
        log = Log()
        log.lead_created("L1", jul(1), account="acc-2")
        log.deal_opened("D2", jul(1), account="acc-2")
        log.deal_won("D2", jul(6, 10))
        log.call("lead-L1", jul(7))
        log.deal_opened("D3", jul(1), account="acc-3")
        log.deal_won("D3", jul(6, 10))
        log.visit("deal-D3", jul(8))
        assert self.followed(log) == {date(2026, 7, 6): 2}

    def test_only_the_first_win_of_an_account_opens_a_window(self):
        log = Log()
        log.deal_opened("D1", jun(1))
        log.deal_won("D1", jun(10))
        log.deal_opened("D2", jul(1))
        log.deal_won("D2", jul(6))
        log.visit("account-acc-1", jul(7))
        assert self.followed(log) == {}

    async def test_the_rate_divides_by_new_customers(self):
        log = self.won()
        log.visit("account-acc-1", jul(7))
        log.deal_opened("D2", jul(1), account="acc-2")
        log.deal_won("D2", jul(10))
        assert await july(log, "followed_up_72h") == {"value": 1}
        assert await july(log, "followed_up_72h_rate") == {
            "value": 0.5,
            "numerator": 1,
            "denominator": 2,
        }


# --------------------------------------------------------------------------- money


class TestInvoicedAndCollected:
    def log(self) -> Log:
        log = Log()
        log.invoice("I0", jun(20), amount="800.00")
        log.invoice("I1", jul(1), amount="1000.00")
        log.invoice("I2", jul(2), amount="300.00", currency="USD", account="acc-2")
        log.payment("I1", jul(10), amount="400.00")
        log.payment("I0", jul(11), amount="100.00")  # June's invoice, paid in July
        return log

    def test_money_is_kept_per_currency(self):
        facts = facts_of(self.log())
        assert total(facts, "invoiced", first=JUL_1, currency="EUR") == Decimal("1000.00")
        assert total(facts, "invoiced", currency="USD") == Decimal("300.00")
        assert total(facts, "collected", currency="EUR") == Decimal("500.00")

    async def test_the_collection_rate_divides_what_was_collected_and_invoiced_in_the_period(
        self,
    ):
        log = self.log()
        assert await july(log, "invoiced") == {"value": "1000.00", "currency": "EUR"}
        assert await july(log, "collected") == {"value": "500.00", "currency": "EUR"}
        assert await july(log, "collection_rate") == {
            "value": 0.5,
            "numerator": "500.00",
            "denominator": "1000.00",
            "currency": "EUR",
        }

    async def test_another_currency_has_its_own_rate(self):
        log = self.log()
        assert (await july(log, "collection_rate", currency="USD"))["value"] == 0.0
        assert (await july(log, "collection_rate", currency="GBP"))["value"] is None


# --------------------------------------------------------------------------- pipeline


class TestOpenPipeline:
    async def pipeline(self, log: Log, day: date, **kwargs: object) -> dict:
        return await metric(log, "open_pipeline", day, day, period=Period.DAY, **kwargs)

    async def test_an_opened_deal_is_open_in_its_stage_from_the_day_it_opened(self):
        log = Log()
        log.deal_opened("D1", jul(2), amount="1000.00")
        log.deal_opened("D2", jul(3), amount="250.50", stage="proposal")
        before = await self.pipeline(log, JUL_1)
        assert (Decimal(before["value"]), before["by_stage"]) == (0, {})
        assert await self.pipeline(log, date(2026, 7, 3)) == {
            "value": "1250.50",
            "currency": "EUR",
            "by_stage": {"proposal": "250.50", "qualification": "1000.00"},
        }

    async def test_an_amount_change_replaces_the_amount_from_that_day(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="1000.00")
        log.amount_changed("D1", jul(5), "1500.00")
        assert (await self.pipeline(log, date(2026, 7, 4)))["value"] == "1000.00"
        assert (await self.pipeline(log, date(2026, 7, 5)))["value"] == "1500.00"

    async def test_a_stage_move_moves_the_amount(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="2000.00", stage="proposal")
        log.stage_changed("D1", jul(10), "negotiation")
        log.stage_changed("D1", jul(11), "negotiation")  # no move
        assert (await self.pipeline(log, date(2026, 7, 9)))["by_stage"] == {"proposal": "2000.00"}
        assert (await self.pipeline(log, date(2026, 7, 11)))["by_stage"] == {
            "negotiation": "2000.00"
        }

    async def test_a_won_or_lost_deal_leaves_the_pipeline(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="500.00")
        log.deal_opened("D2", jul(1), amount="300.00", stage="proposal")
        log.deal_opened("D3", jul(1), amount="200.00")
        log.deal_won("D1", jul(15), "450.00")
        log.deal_lost("D2", jul(16))
        log.amount_changed("D1", jul(17), "9999.00")  # closed: ignored
        log.stage_changed("D2", jul(17), "negotiation")  # closed: ignored
        assert (await self.pipeline(log, date(2026, 7, 14)))["value"] == "1000.00"
        assert await self.pipeline(log, date(2026, 7, 31)) == {
            "value": "200.00",
            "currency": "EUR",
            "by_stage": {"qualification": "200.00"},
        }

    async def test_a_close_dated_before_the_deal_opened_never_makes_the_pipeline_negative(self):
        """Found by fuzzing: a deal.lost back-dated to July for a deal opened in November read
        −24,000 in July..October. The close counts on the day the deal entered the pipeline."""
        log = Log()
        log.deal_opened("D1", local(2026, 11, 20, 10, 0), amount="24000.00")
        log.deal_lost("D1", jul(9))
        months = await report(
            log, ["open_pipeline", "deals_lost"], JUL_1, date(2026, 11, 30), period=Period.MONTH
        )
        assert [Decimal(m["metrics"]["open_pipeline"]["value"]) for m in months] == [0] * 5
        assert [m["metrics"]["open_pipeline"]["by_stage"] for m in months] == [{}] * 5
        assert [m["metrics"]["deals_lost"]["value"] for m in months] == [1, 0, 0, 0, 0]

    async def test_a_back_dated_move_never_leaves_a_stage_before_the_deal_reached_it(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="1000.00")
        log.stage_changed("D1", jul(20), "proposal")
        log.stage_changed("D1", jul(10), "negotiation")  # logged later, dated earlier
        log.amount_changed("D1", jul(5), "1500.00")  # likewise
        log.deal_won("D1", jul(15), "1500.00")  # likewise: leaves on the 20th
        for day in (9, 10, 15, 19):
            assert (await self.pipeline(log, date(2026, 7, day)))["by_stage"] == {
                "qualification": "1000.00"
            }
        after = await self.pipeline(log, date(2026, 7, 20))
        assert (Decimal(after["value"]), after["by_stage"]) == (0, {})

    async def test_another_currency_is_its_own_pipeline_and_a_currency_change_moves_it(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="1000.00")
        log.deal_opened("D2", jul(1), amount="999.00", currency="USD")
        log.amount_changed("D1", jul(5), "1100.00", "USD")
        day = date(2026, 7, 4)
        assert (await self.pipeline(log, day))["value"] == "1000.00"
        assert (await self.pipeline(log, day, currency="USD"))["value"] == "999.00"
        assert Decimal((await self.pipeline(log, JUL_31))["value"]) == 0
        assert (await self.pipeline(log, JUL_31, currency="USD"))["value"] == "2099.00"

    async def test_a_bucket_shows_what_is_open_at_its_end_across_months(self):
        log = Log()
        log.deal_opened("D1", jun(15), amount="100.00")
        log.deal_opened("D2", jul(20), amount="200.00")
        log.deal_won("D1", aug(3))
        rows = await report(
            log, ["open_pipeline"], date(2026, 5, 1), date(2026, 9, 30), period=Period.MONTH
        )
        assert [Decimal(r["metrics"]["open_pipeline"]["value"]) for r in rows] == [
            0,
            100,
            300,
            200,
            200,
        ]
        weeks = await report(log, ["open_pipeline"], JUL_1, JUL_31, period=Period.WEEK)
        assert [(w["start"], w["metrics"]["open_pipeline"]["value"]) for w in weeks] == [
            ("2026-06-29", "100.00"),
            ("2026-07-06", "100.00"),
            ("2026-07-13", "100.00"),
            ("2026-07-20", "300.00"),
            ("2026-07-27", "300.00"),
        ]


class TestWeightedPipeline:
    async def weighted(self, log: Log, day: date = JUL_31, **kwargs: object) -> str:
        value = await metric(log, "weighted_pipeline", day, day, period=Period.DAY, **kwargs)
        return value["value"]

    def history(self, log: Log) -> Log:
        """Closed deals of the org (of no amount, so they weigh nothing while open):
        qualification 1 won of 3, proposal 1 of 2, negotiation 0 of 1."""
        log.deal_opened("X", jun(1), amount="0.00", account="acc-x")
        log.stage_changed("X", jun(2), "proposal")
        log.deal_won("X", jun(3))
        log.deal_opened("Y", jun(1), amount="0.00", account="acc-y")
        log.deal_lost("Y", jun(4))
        log.deal_opened("Z", jun(1), amount="0.00", account="acc-z")
        log.stage_changed("Z", jun(2), "proposal")
        log.stage_changed("Z", jun(3), "negotiation")
        log.stage_changed("Z", jun(4), "proposal")  # back: no second count of proposal
        log.deal_lost("Z", jun(5))
        return log

    async def test_without_history_each_stage_weighs_one_half(self):
        log = Log()
        log.deal_opened("P", jul(1), amount="1000.00")
        log.deal_opened("Q", jul(1), amount="301.00", stage="proposal")
        assert await self.weighted(log) == "650.50"

    async def test_each_stage_weighs_its_won_plus_one_over_closed_plus_two(self):
        log = self.history(Log())
        log.deal_opened("P", jul(1), amount="1000.00")  # × (1+1)/(3+2) = 400
        log.deal_opened("Q", jul(1), amount="600.00", stage="proposal")  # × 2/4 = 300
        log.deal_opened("R", jul(1), amount="300.00", stage="negotiation")  # × 1/3 = 100
        log.deal_opened("S", jul(1), amount="200.00", stage="demo")  # no history: × 1/2
        assert await self.weighted(log) == "900.00"
        open_ = await metric(log, "open_pipeline", JUL_31, JUL_31, period=Period.DAY)
        assert open_["value"] == "2100.00"

    async def test_only_deals_closed_by_the_end_of_the_bucket_count(self):
        log = self.history(Log())
        log.deal_opened("P", jun(1), amount="1000.00")
        # on 3 June only X has closed (won, via qualification): (1+1)/(1+2)
        assert await self.weighted(log, date(2026, 6, 3)) == "666.67"

    async def test_a_rep_s_pipeline_is_weighed_with_the_org_s_history(self):
        log = self.history(Log(rep=BEN, team=SOUTH))
        log.deal_opened("P", jul(1), amount="1000.00", rep=ANNA, team=NORTH)
        assert await self.weighted(log, owner=f"rep:{ANNA}") == "400.00"
        assert Decimal(await self.weighted(log, owner=f"team:{SOUTH}")) == 0


# --------------------------------------------------------------------------- owners


class TestRepTeamAndOrg:
    def log(self) -> Log:
        log = Log()
        log.visit("account-acc-1", jul(1), rep=ANNA, team=NORTH)
        log.visit("account-acc-1", jul(1), rep=ANNA, team=NORTH)
        log.visit("account-acc-2", jul(2), rep=BEN, team=NORTH)
        log.visit("account-acc-3", jul(3), rep=CARA, team=SOUTH)
        log.visit("account-acc-4", jul(4), rep=None, team=NORTH)  # the team's, no rep named
        log.visit("account-acc-5", jul(5), rep=None, team=None)  # the org's only
        return log

    async def test_a_team_is_the_sum_of_its_reps_and_the_org_of_everything(self):
        log = self.log()
        counts = {
            owner: (await july(log, "visits", owner=owner))["value"]
            for owner in (f"rep:{ANNA}", f"rep:{BEN}", f"rep:{CARA}", f"team:{SOUTH}")
        }
        assert counts == {f"rep:{ANNA}": 2, f"rep:{BEN}": 1, f"rep:{CARA}": 1, f"team:{SOUTH}": 1}
        assert await july(log, "visits", owner=f"team:{NORTH}") == {"value": 4}
        assert await july(log, "visits") == {"value": 6}

    async def test_day_buckets_add_up_the_same_way(self):
        log = self.log()
        rows = await report(
            log, ["visits"], JUL_1, date(2026, 7, 5), period=Period.DAY, owner=f"team:{NORTH}"
        )
        assert [r["metrics"]["visits"]["value"] for r in rows] == [2, 1, 0, 1, 0]
        rows = await report(log, ["visits"], JUL_1, date(2026, 7, 5), period=Period.DAY)
        assert [r["metrics"]["visits"]["value"] for r in rows] == [2, 1, 1, 1, 1]

    def test_an_event_without_a_rep_counts_for_its_team_and_the_org_only(self):
        facts = facts_of(self.log())
        day = date(2026, 7, 4)
        assert total(facts, "visits", first=day, last=day) == 1
        assert total(facts, "visits", first=day, last=day, owner=f"team:{NORTH}") == 1
        assert [f.rep_id for f in facts if f.day == day] == [""]

    def test_the_rollup_rows_keep_month_rows_for_every_owner(self):
        rollups = fold_log(self.log()).rollups
        months = {
            (kind, owner): value
            for (grain, _, kind, owner, *_, m), value in rollups.items()
            if grain == "m" and m == "visits"
        }
        assert months == {
            ("rep", ANNA): 2,
            ("rep", BEN): 1,
            ("rep", CARA): 1,
            ("team", NORTH): 4,
            ("team", SOUTH): 1,
            ("org", ""): 6,
        }

    def test_pipeline_and_stage_facts_stay_with_the_rep_who_opened_the_deal(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="100.00", rep=ANNA, team=NORTH)
        log.stage_changed("D1", jul(2), "proposal", rep=CARA, team=SOUTH)
        log.amount_changed("D1", jul(3), "150.00", rep=CARA, team=SOUTH)
        log.deal_won("D1", jul(4), "150.00", rep=CARA, team=SOUTH)
        facts = facts_of(log)
        for stored in (
            "pipeline:qualification",
            "pipeline:proposal",
            "stage:proposal",
            "stage_closed:proposal",
            "stage_won:qualification",
        ):
            assert {f.rep_id for f in facts if f.metric == stored} == {ANNA}, stored
        assert total(facts, "pipeline:proposal", owner=f"rep:{ANNA}") == 0  # opened and closed
        assert {f.rep_id for f in facts if f.metric in ("deals_won", "revenue_won")} == {CARA}
        assert total(facts, "deals_opened", owner=f"rep:{ANNA}") == 1


# --------------------------------------------------------------------------- cuts


class TestCuts:
    def test_the_product_line_comes_from_the_deal(self):
        log = Log()
        log.deal_opened("D1", jul(1), product_line="ovens")
        log.visit("deal-D1", jul(2))
        log.deal_won("D1", jul(3))
        log.invoice("I1", jul(4), amount="10.00", deal="D1")  # on the account, naming the deal
        log.invoice("I2", jul(4), amount="20.00", stream="deal-D1")  # on the deal's stream
        log.payment("I1", jul(5), amount="5.00")  # via the invoice's deal
        log.invoice("I3", jul(4), amount="40.00")  # no deal: no product line
        facts = facts_of(log)
        for stored in ("deals_opened", "deals_won", "revenue_won", "visits", "collected"):
            assert set(cuts_of(facts, stored)) == {("ovens", "", "")}, stored
        assert cuts_of(facts, "invoiced") == {
            ("ovens", "", ""): Decimal("30.00"),
            ("", "", ""): Decimal("40.00"),
        }

    def test_the_tier_is_the_account_s_when_the_event_is_folded(self):
        log = Log()
        log.tier_changed("acc-1", jul(1), "B")
        log.deal_opened("D1", jul(2), account="acc-1")
        log.visit("account-acc-1", jul(3))
        log.tier_changed("acc-1", jul(4), "A")
        log.visit("deal-D1", jul(5))
        log.deal_won("D1", jul(6))
        log.visit("account-acc-2", jul(6))  # an account with no tier
        facts = facts_of(log)
        assert cuts_of(facts, "deals_opened") == {("ovens", "B", ""): 1}
        assert cuts_of(facts, "deals_won") == {("ovens", "A", ""): 1}
        assert cuts_of(facts, "new_customers") == {("ovens", "A", ""): 1}
        assert cuts_of(facts, "visits") == {
            ("", "B", ""): 1,
            ("ovens", "A", ""): 1,
            ("", "", ""): 1,
        }
        # the pipeline keeps the tier the deal was opened with, so opening and closing cancel
        assert cuts_of(facts, "pipeline:qualification") == {}
        assert {f.tier for f in facts if f.metric == "pipeline:qualification"} == {"B"}

    def test_the_tier_is_taken_in_log_order_not_by_occurred_at(self):
        log = Log()
        log.tier_changed("acc-1", jul(20), "C")  # occurred later, but logged first
        log.visit("account-acc-1", jul(1))
        assert cuts_of(facts_of(log), "visits") == {("", "C", ""): 1}

    def test_the_channel_comes_from_the_lead_the_deal_came_from(self):
        log = Log()
        log.lead_created("L1", jul(1), channel="exhibition", account="acc-1")
        log.lead_qualified("L1", jul(2))
        log.deal_opened("D1", jul(3), lead="L1", amount="700.00")
        log.deal_opened("D2", jul(3), amount="300.00")  # no lead: no channel
        log.deal_won("D1", jul(5), "700.00")
        log.deal_won("D2", jul(5), "300.00")
        log.call("lead-L1", jul(6))
        facts = facts_of(log)
        assert cuts_of(facts, "new_leads") == {("", "", "exhibition"): 1}
        assert cuts_of(facts, "opportunities") == {("", "", "exhibition"): 1}
        assert cuts_of(facts, "deals_opened") == {
            ("ovens", "", "exhibition"): 1,
            ("ovens", "", ""): 1,
        }
        assert cuts_of(facts, "calls") == {("", "", "exhibition"): 1}

    async def test_a_report_can_be_cut(self):
        log = Log()
        log.lead_created("L1", jul(1), channel="exhibition")
        log.tier_changed("acc-1", jul(1), "A")
        log.deal_opened("D1", jul(3), lead="L1", product_line="ovens", account="acc-1")
        log.deal_opened("D2", jul(3), product_line="mixers", account="acc-2")
        log.deal_won("D1", jul(5), "700.00")
        log.deal_won("D2", jul(5), "300.00")

        async def revenue(**cut: str) -> str:
            return (await july(log, "revenue_won", cuts=Cuts(**cut)))["value"]

        assert await revenue() == "1000.00"
        assert await revenue(channel="exhibition") == "700.00"
        assert await revenue(product_line="mixers") == "300.00"
        assert await revenue(tier="A") == "700.00"
        assert Decimal(await revenue(tier="A", product_line="mixers")) == 0
        rate = await july(log, "repeat_purchase_rate", cuts=Cuts(product_line="mixers"))
        assert rate["denominator"] == 1


# --------------------------------------------------------------------------- what is skipped


class TestEventsTheFoldDoesNotKnow:
    def test_an_unknown_type_folds_to_none(self):
        event = Log().add("lead.converted", "lead-L1", jul(1), {})
        assert fold(Book(BERLIN), event) is None

    def test_a_newer_schema_version_folds_to_none_even_for_a_known_type(self):
        book = Book(BERLIN)
        log = Log()
        event = log.add(
            "lead.created", "lead-L1", jul(1), {"name": "x", "channel": "online"}, schema_version=2
        )
        assert fold(book, event) is None
        assert book.leads == {}
        assert book.changed == set()

    def test_a_replay_counts_what_it_skipped_by_type_and_folds_the_rest(self):
        log = Log()
        log.visit("account-acc-1", jul(1))
        log.add("lead.converted", "lead-L1", jul(1), {})
        log.add("lead.converted", "lead-L2", jul(1), {})
        log.add("visit.logged", "account-acc-1", jul(1), {"effective": True}, schema_version=2)
        log.contact_left("acc-1", jul(2))
        result = fold_log(log)
        assert dict(result.skipped) == {"lead.converted": 2, "visit.logged": 1}
        assert result.folded == 2
        assert total(facts_of(log), "visits") == 1

    def test_contact_left_and_voids_are_known_and_add_nothing(self):
        log = Log()
        target = log.visit("account-acc-1", jul(1))
        book = Book(BERLIN)
        assert fold(book, log.contact_left("acc-1", jul(2))) == []
        assert fold(book, log.void(target, jul(3))) == []

    def test_a_voided_event_is_left_out_of_a_replay_and_counted(self):
        log = Log()
        target = log.visit("account-acc-1", jul(1))
        log.visit("account-acc-1", jul(2))
        log.void(target, jul(3))
        result = fold_log(log, voided=frozenset({target["event_id"]}))
        assert result.voided == 1
        assert result.folded == 2  # the other visit and the void itself
        visits = {k[1]: v for k, v in result.rollups.items() if k[0] == "d" and k[-1] == "visits"}
        assert visits == {date(2026, 7, 2): 1}


# --------------------------------------------------------------------------- the catalogue


COVERED = {
    "visits": TestVisits,
    "effective_visits": TestVisits,
    "effective_visit_rate": TestVisits,
    "calls": TestCalls,
    "connected_calls": TestCalls,
    "call_connect_rate": TestCalls,
    "engagements": TestEngagements,
    "engaged_seconds": TestEngagements,
    "new_leads": TestNewLeads,
    "opportunities": TestOpportunities,
    "disqualified_leads": TestDisqualifiedLeads,
    "lead_to_opportunity_rate": TestOpportunities,
    "avg_days_lead_to_opportunity": TestAverageDaysFromLeadToOpportunity,
    "avg_elapsed_days_lead_to_opportunity": TestAverageDaysFromLeadToOpportunity,
    "deals_opened": TestDealsOpenedWonAndLost,
    "deals_won": TestDealsOpenedWonAndLost,
    "deals_lost": TestDealsOpenedWonAndLost,
    "win_rate": TestDealsOpenedWonAndLost,
    "revenue_won": TestRevenueWon,
    "average_deal_size": TestRevenueWon,
    "avg_sales_cycle_days": TestAverageSalesCycle,
    "avg_sales_cycle_elapsed_days": TestAverageSalesCycle,
    "new_customers": TestNewCustomers,
    "repeat_purchase_rate": TestRepeatPurchaseRate,
    "invoiced": TestInvoicedAndCollected,
    "collected": TestInvoicedAndCollected,
    "collection_rate": TestInvoicedAndCollected,
    "open_pipeline": TestOpenPipeline,
    "weighted_pipeline": TestWeightedPipeline,
    "followed_up_72h": TestFollowUpWithin72Hours,
    "followed_up_72h_rate": TestFollowUpWithin72Hours,
}


class TestTheCatalogue:
    def test_every_metric_of_the_catalogue_has_its_scenarios_here(self):
        assert set(COVERED) == set(CATALOGUE)

    async def test_a_report_of_every_metric_has_every_metric_in_every_bucket(self):
        log = Log()
        log.visit("account-acc-1", jul(1))
        log.deal_opened("D1", jul(1))
        log.deal_won("D1", aug(1))
        rows = await report(log, list(CATALOGUE), JUL_1, date(2026, 8, 31))
        assert [r["start"] for r in rows] == ["2026-07-01", "2026-08-01"]
        assert [r["end"] for r in rows] == ["2026-07-31", "2026-08-31"]
        for row in rows:
            assert list(row["metrics"]) == list(CATALOGUE)
        assert rows[0]["metrics"]["open_pipeline"]["value"] == "1000.00"
        assert rows[1]["metrics"]["deals_won"] == {"value": 1}
