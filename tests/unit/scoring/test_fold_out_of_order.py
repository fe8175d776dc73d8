"""A deal's events folded out of the order they occurred in (issue 11: CRMs deliver in no promised
order) make the same KPIs as in that order.

The rule (services/scoring/projections/kpis.py, "deals"): a deal is what its events say read by
`occurred_at`: its stage and amount are the latest ones; a stage reached counts once, on the day
it was first reached, also when that move is folded after the close; a close ends the deal; events
before its opening wait for it. Each case compares the log as delivered with the log in occurred
order: every fact but the pipeline's by day and cut, the pipeline by stage and currency in total
(its moves are dated never before the deal's previous one, so only their days may differ), and
the open pipeline and revenue as the API reports them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.domain import Period
from services.scoring.projections.codec import decode, encode
from services.scoring.projections.kpis import UNOPENED, Book, Fact, fold
from services.scoring.projections.rollup import replay
from tests.unit.scoring.helpers import BERLIN, Event, Log, facts_of, local, metric, total

JUL_31 = date(2026, 7, 31)


def jul(day: int, hour: int = 10, minute: int = 0) -> str:
    return local(2026, 7, day, hour, minute)


def in_order(events: list[Event]) -> list[Event]:
    """The same events as the log would hold them had they arrived in occurred order."""
    ordered = sorted(events, key=lambda e: datetime.fromisoformat(e["occurred_at"]))
    return [{**e, "position": i + 1} for i, e in enumerate(ordered)]


def as_delivered(log: Log, order: list[int]) -> list[Event]:
    return [{**log.events[i], "position": n + 1} for n, i in enumerate(order)]


def non_pipeline(facts: list[Fact]) -> dict[tuple[Any, ...], Any]:
    """Every fact but the pipeline's, summed by everything but its value (zeros left out)."""
    sums: dict[tuple[Any, ...], Any] = defaultdict(int)
    for f in facts:
        if not f.metric.startswith("pipeline:"):
            sums[f[:-1]] += f.value
    return {k: v for k, v in sums.items() if v}


def pipeline_totals(facts: list[Fact]) -> dict[tuple[str, str], Decimal]:
    """What each stage holds once every move is past, by currency (zeros left out)."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for f in facts:
        if f.metric.startswith("pipeline:"):
            sums[(f.metric, f.currency)] += f.value
    return {k: v for k, v in sums.items() if v}


def assert_same_kpis(delivered: list[Event], occurred: list[Event]) -> None:
    got, want = facts_of(delivered), facts_of(occurred)
    assert non_pipeline(got) == non_pipeline(want)
    assert pipeline_totals(got) == pipeline_totals(want)


async def open_pipeline(events: list[Event], day: date = JUL_31) -> dict[str, Any]:
    return await metric(events, "open_pipeline", day, day, period=Period.DAY)


async def revenue(events: list[Event]) -> dict[str, Any]:
    return await metric(events, "revenue_won", date(2026, 7, 1), JUL_31)


class TestAWonBeforeTheStageChangeThatPrecededIt:
    def log(self) -> Log:
        log = Log()
        log.deal_opened("D1", jul(1), amount="24000.00")
        log.stage_changed("D1", jul(4), "proposal")
        log.deal_won("D1", jul(5), "24000.00")
        return log

    async def test_the_stage_counts_reached_closed_and_won_as_in_occurred_order(self):
        log = self.log()
        delivered = as_delivered(log, [0, 2, 1])  # the won came before the move
        assert_same_kpis(delivered, in_order(delivered))
        facts = facts_of(delivered)
        for name in ("stage:proposal", "stage_closed:proposal", "stage_won:proposal"):
            assert total(facts, name) == 1, name
        # Reached on its own day; closed and won on the close's.
        assert [f.day for f in facts if f.metric == "stage:proposal"] == [date(2026, 7, 4)]
        assert [f.day for f in facts if f.metric == "stage_won:proposal"] == [date(2026, 7, 5)]

    async def test_the_late_move_neither_reopens_the_deal_nor_moves_the_pipeline(self):
        delivered = as_delivered(self.log(), [0, 2, 1])
        result = replay(delivered, BERLIN)
        assert result.book.deals["deal-D1"].status == "won"
        after = await open_pipeline(delivered)
        assert (Decimal(after["value"]), after["by_stage"]) == (0, {})
        assert (await revenue(delivered))["value"] == "24000.00"

    def test_a_move_that_occurred_after_the_close_does_not_count_in_either_order(self):
        log = Log()
        log.deal_opened("D1", jul(1))
        log.stage_changed("D1", jul(9), "negotiation")  # after the close: the deal was over
        log.deal_won("D1", jul(5))
        delivered = log.events
        assert_same_kpis(delivered, in_order(delivered))
        assert total(facts_of(delivered), "stage:negotiation") == 0
        assert total(facts_of(delivered), "stage_won:negotiation") == 0

    def test_an_earlier_entry_of_a_stage_folded_later_moves_its_count_to_its_day(self):
        log = Log()
        log.deal_opened("D1", jul(1))
        log.stage_changed("D1", jul(10), "proposal")
        log.stage_changed("D1", jul(12), "negotiation")
        log.stage_changed("D1", jul(3), "proposal")  # it was in proposal from the 3rd already
        delivered = log.events
        assert_same_kpis(delivered, in_order(delivered))
        facts = facts_of(delivered)
        assert total(facts, "stage:proposal") == 1
        assert total(facts, "stage:proposal", first=date(2026, 7, 3), last=date(2026, 7, 3)) == 1


class TestTwoStageChangesInReverse:
    def log(self) -> Log:
        log = Log()
        log.deal_opened("D1", jul(1), amount="24000.00")
        log.stage_changed("D1", jul(2), "proposal")
        log.stage_changed("D1", jul(3), "negotiation")
        return log

    async def test_the_deal_ends_in_the_stage_entered_last_not_the_one_folded_last(self):
        delivered = as_delivered(self.log(), [0, 2, 1])
        assert_same_kpis(delivered, in_order(delivered))
        assert replay(delivered, BERLIN).book.deals["deal-D1"].stage == "negotiation"
        assert await open_pipeline(delivered) == await open_pipeline(in_order(delivered))
        assert (await open_pipeline(delivered))["by_stage"] == {"negotiation": "24000.00"}

    async def test_amount_changes_in_reverse_leave_the_latest_amount(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="1000.00")
        log.amount_changed("D1", jul(3), "3000.00")
        log.amount_changed("D1", jul(2), "2000.00")  # older: folded after, replaces nothing
        assert_same_kpis(log.events, in_order(log.events))
        assert (await open_pipeline(log.events))["value"] == "3000.00"


class TestACloseBeforeTheOpening:
    async def test_a_won_delivered_before_its_opening_counts_revenue_win_and_cycle(self):
        log = Log()
        log.deal_opened("D1", jul(1), amount="24000.00")
        log.stage_changed("D1", jul(4), "proposal")
        log.deal_won("D1", jul(5), "24000.00")
        delivered = as_delivered(log, [2, 1, 0])  # everything before the creation
        assert_same_kpis(delivered, in_order(delivered))
        facts = facts_of(delivered)
        assert total(facts, "deals_won") == 1
        assert total(facts, "sales_cycle_seconds") == 4 * 86_400
        assert total(facts, "new_customers") == 1
        assert (await revenue(delivered))["value"] == "24000.00"
        after = await open_pipeline(delivered)
        assert (Decimal(after["value"]), after["by_stage"]) == (0, {})
        result = replay(delivered, BERLIN)
        assert result.book.deals["deal-D1"].status == "won"
        assert [w.deal for w in result.wins] == ["deal-D1"]
        # The customer's record learns the win too, now that the deal names its account.
        assert [w.deal for w in result.book.customers["acc-1"].won] == ["deal-D1"]

    def test_a_lost_delivered_before_its_opening_takes_it_out_of_the_pipeline(self):
        log = Log()
        log.deal_lost("D1", jul(6))
        log.deal_opened("D1", jul(1), amount="500.00")
        assert_same_kpis(log.events, in_order(log.events))
        facts = facts_of(log)
        assert total(facts, "deals_lost") == 1
        assert pipeline_totals(facts) == {}

    def test_the_dead_letter_path_an_opening_replayed_after_the_rest(self):
        """A first sighting with an unmapped stage is dead-lettered while the later events of the
        deal are appended; the opening is replayed once the stage is mapped."""
        log = Log()
        log.amount_changed("D1", jul(2), "800.00")
        log.stage_changed("D1", jul(3), "proposal")
        log.deal_won("D1", jul(4), "800.00")
        log.deal_opened("D1", jul(1), amount="700.00", stage="discovery")
        assert_same_kpis(log.events, in_order(log.events))
        facts = facts_of(log)
        assert total(facts, "revenue_won", currency="EUR") == Decimal("800.00")
        assert total(facts, "stage_won:discovery") == total(facts, "stage_won:proposal") == 1

    def test_a_pending_deal_survives_the_consumer_s_store(self):
        """The consumer keeps entities in Postgres between pages: a placeholder must too."""
        log = Log()
        log.deal_won("D1", jul(5), renewal="2027-07-05")
        book = Book(BERLIN)
        fold(book, log.events[0])
        stored = encode(book.deals["deal-D1"])
        again = decode("deals", stored)
        assert again == book.deals["deal-D1"]
        assert again.status == UNOPENED
        restarted = Book(BERLIN, deals={"deal-D1": again})
        opened = log.deal_opened("D1", jul(1))
        assert fold(restarted, opened) == facts_of(log)  # the won alone counted nothing
        assert restarted.deals["deal-D1"].status == "won"
        assert restarted.customers["acc-1"].renewals


# --------------------------------------------------------------------------- any order

STAGES = ("qualification", "proposal", "negotiation", "contract")
START = datetime(2026, 7, 1, 8, tzinfo=UTC)


@st.composite
def deal_histories(draw: st.DrawFn) -> list[Event]:
    """One deal's events at distinct times in occurred order: its opening, stage and amount
    changes, and at most one close, anywhere in time (a move after the close or before the
    opening included, as CRMs send them)."""
    n_moves = draw(st.integers(0, 6))
    close = draw(st.sampled_from((None, "won", "lost")))
    n = 1 + n_moves + (close is not None)
    minutes = draw(st.lists(st.integers(0, 20 * 24 * 60), min_size=n, max_size=n, unique=True))
    kinds = [
        "opened",
        *draw(st.lists(st.sampled_from(("stage", "amount")), min_size=n_moves, max_size=n_moves)),
        *([close] if close else []),
    ]
    items = sorted(zip(minutes, draw(st.permutations(kinds)), strict=True))
    log = Log("ooo")
    for minute, kind in items:
        at = START + timedelta(minutes=minute)
        amount = f"{draw(st.integers(1, 99_999))}.00"
        if kind == "opened":
            log.deal_opened("D1", at, amount=amount, stage=draw(st.sampled_from(STAGES)))
        elif kind == "stage":
            log.stage_changed("D1", at, draw(st.sampled_from(STAGES)))
        elif kind == "amount":
            log.amount_changed("D1", at, amount, draw(st.sampled_from(("EUR", "USD"))))
        elif kind == "won":
            log.deal_won("D1", at, amount)
        else:
            log.deal_lost("D1", at)
    return log.events


class TestAnyOrder:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data(), occurred=deal_histories())
    def test_any_permutation_of_a_deal_s_events_makes_the_kpis_of_occurred_order(
        self, data, occurred
    ):
        delivered = data.draw(st.permutations(occurred), label="delivered")
        assert_same_kpis(delivered, occurred)
        got, want = replay(delivered, BERLIN), replay(occurred, BERLIN)
        deal, true = got.book.deals["deal-D1"], want.book.deals["deal-D1"]
        assert deal.status == true.status
        if deal.status == "open":  # what a closed deal was at its close is in its facts
            assert (deal.stage, deal.amount, deal.currency) == (
                true.stage,
                true.amount,
                true.currency,
            )
        assert sorted(deal.stages) == sorted(true.stages)
        assert got.book.customers == want.book.customers
        assert len(got.wins) == len(want.wins)
        # And the pipeline never reads negative on any day, in any order.
        by_day: dict[date, list[Fact]] = defaultdict(list)
        for f in facts_of(delivered):
            by_day[f.day].append(f)
        running: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for day in sorted(by_day):
            for f in by_day[day]:
                if f.metric.startswith("pipeline:"):
                    running[(f.metric, f.currency)] += f.value
            assert all(v >= 0 for v in running.values()), day
