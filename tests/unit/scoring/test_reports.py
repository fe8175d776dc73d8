"""The report side over a replay held in memory: `MemorySource` and the funnel."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.answer.reports import funnel, running_totals
from services.scoring.answer.sources import Cuts, MemorySource, Scope
from services.scoring.domain import Owner, OwnerKind
from tests.unit.scoring.helpers import ANNA, BEN, CARA, NORTH, SOUTH, Log, fold_log, local

JUL_1, JUL_31 = date(2026, 7, 1), date(2026, 7, 31)
ORG = Scope(Owner(OwnerKind.ORG))


def jul(day: int, hour: int = 10) -> str:
    return local(2026, 7, day, hour)


def aug(day: int, hour: int = 10) -> str:
    return local(2026, 8, day, hour)


def source_of(log: Log) -> MemorySource:
    result = fold_log(log)
    return MemorySource(result.rollups, result.wins)


def rep(rep_id: str, team: str | None = None, cuts: Cuts = Cuts()) -> Scope:  # noqa: B008
    return Scope(Owner(OwnerKind.REP, rep_id), team, cuts)


def team(team_id: str) -> Scope:
    return Scope(Owner(OwnerKind.TEAM, team_id))


class TestMemorySourceRows:
    def log(self) -> Log:
        log = Log()
        log.visit("account-acc-1", jul(1), rep=ANNA, team=NORTH)
        log.visit("account-acc-1", jul(1, 12), rep=ANNA, team=SOUTH)  # helping the other team
        log.visit("account-acc-2", jul(2), rep=BEN, team=NORTH)
        log.call("account-acc-2", local(2026, 8, 1, 10), rep=CARA, team=SOUTH)
        log.deal_opened("D1", jul(3), product_line="ovens", rep=CARA, team=SOUTH)
        log.deal_opened("D2", jul(3), product_line="mixers", currency="USD", rep=CARA, team=SOUTH)
        return log

    async def test_answer_the_grain_range_and_metrics_asked_summed_over_cuts(self):
        source = source_of(self.log())
        days = await source.rows(ORG, "d", JUL_1, JUL_31, metrics=("visits", "deals_opened"))
        assert sorted(days) == [
            (date(2026, 7, 1), "visits", "", 2),
            (date(2026, 7, 2), "visits", "", 1),
            (date(2026, 7, 3), "deals_opened", "", 2),
        ]
        months = await source.rows(ORG, "m", JUL_1, date(2026, 8, 1), metrics=("visits", "calls"))
        assert sorted(months) == [
            (date(2026, 7, 1), "visits", "", 3),
            (date(2026, 8, 1), "calls", "", 1),
        ]

    async def test_answer_prefixed_metrics_per_currency(self):
        source = source_of(self.log())
        rows = await source.rows(ORG, "m", JUL_1, JUL_31, prefixes=("pipeline:",))
        assert sorted(rows) == [
            (JUL_1, "pipeline:qualification", "EUR", 1000),
            (JUL_1, "pipeline:qualification", "USD", 1000),
        ]

    async def test_keep_to_the_owner_and_a_manager_s_team(self):
        source = source_of(self.log())
        for grain in ("d", "m"):
            anna = await source.rows(rep(ANNA), grain, JUL_1, JUL_31, metrics=("visits",))
            assert sum(v for *_, v in anna) == 2, grain
            in_north = await source.rows(
                rep(ANNA, NORTH), grain, JUL_1, JUL_31, metrics=("visits",)
            )
            assert sum(v for *_, v in in_north) == 1, grain
            south = await source.rows(team(SOUTH), grain, JUL_1, JUL_31, metrics=("visits",))
            assert sum(v for *_, v in south) == 1, grain

    async def test_keep_to_the_cut(self):
        source = source_of(self.log())
        scope = Scope(Owner(OwnerKind.ORG), cuts=Cuts(product_line="mixers"))
        rows = await source.rows(scope, "d", JUL_1, JUL_31, metrics=("deals_opened", "visits"))
        assert rows == [(date(2026, 7, 3), "deals_opened", "", 1)]


class TestMemorySourceWins:
    def log(self) -> Log:
        log = Log()
        log.lead_created("L1", jul(1), channel="online")
        log.deal_opened("D1", jul(1), account="acc-1", lead="L1")
        log.deal_opened("D2", jul(1), account="acc-1", product_line="mixers")
        log.deal_opened("D3", jul(1), account="acc-2")
        log.deal_won("D2", local(2026, 6, 20, 10), rep=BEN, team=NORTH)  # logged first
        log.deal_won("D1", jul(10), rep=ANNA, team=NORTH)
        log.deal_won("D3", jul(12), rep=CARA, team=SOUTH)
        return log

    async def test_are_the_won_deals_of_the_scope_in_the_range(self):
        source = source_of(self.log())
        assert sorted(await source.wins(ORG, JUL_1, JUL_31)) == [
            ("acc-1", date(2026, 7, 10)),
            ("acc-2", date(2026, 7, 12)),
        ]
        assert await source.wins(team(SOUTH), JUL_1, JUL_31) == [("acc-2", date(2026, 7, 12))]
        assert await source.wins(rep(BEN), date(2026, 6, 1), JUL_31) == [
            ("acc-1", date(2026, 6, 20))
        ]
        assert await source.wins(rep(ANNA, SOUTH), JUL_1, JUL_31) == []
        online = Scope(Owner(OwnerKind.ORG), cuts=Cuts(channel="online"))
        assert await source.wins(online, JUL_1, JUL_31) == [("acc-1", date(2026, 7, 10))]

    async def test_first_wins_are_the_earliest_day_of_each_account_whoever_won(self):
        source = source_of(self.log())
        assert await source.first_wins({"acc-1", "acc-2", "acc-9"}) == {
            "acc-1": date(2026, 6, 20),
            "acc-2": date(2026, 7, 12),
        }


class TestFunnel:
    def log(self) -> Log:
        log = Log()
        for i in range(4):
            log.lead_created(f"L{i}", jul(1))
        log.lead_qualified("L0", jul(2))
        log.lead_qualified("L1", jul(2))
        log.deal_opened("D1", jul(3))
        log.deal_opened("D2", jul(3), stage="proposal")
        log.stage_changed("D1", jul(4), "proposal")
        log.stage_changed("D1", jul(5), "negotiation")
        log.deal_won("D1", jul(6))
        log.deal_lost("D2", jul(7))
        return log

    async def test_steps_from_leads_to_won_with_each_step_s_conversion(self):
        result = await funnel(source_of(self.log()), ORG, JUL_1, JUL_31)
        assert [(s["step"], s["count"]) for s in result["steps"]] == [
            ("leads", 4),
            ("opportunities", 2),
            ("deals_opened", 2),
            ("stage:proposal", 2),
            ("stage:negotiation", 1),
            ("stage:qualification", 1),
            ("won", 1),
            ("lost", 1),
        ]
        assert "conversion" not in result["steps"][0]
        assert result["steps"][1]["conversion"] == {"value": 0.5, "numerator": 2, "denominator": 4}
        assert result["steps"][-2]["conversion"] == {"value": 1.0, "numerator": 1, "denominator": 1}
        assert result["win_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}

    async def test_lost_deals_are_a_step_with_their_reasons(self):
        """Lost is the other way out of the deals opened: its share is of them, not of the step
        before, and it names the reasons, the most frequent first."""
        log = self.log()
        for deal, reason in (("D3", "competitor"), ("D4", "competitor"), ("D5", "no_budget")):
            log.deal_opened(deal, jul(8), account=f"acc-{deal}")
            log.deal_lost(deal, jul(9), reason=reason)
        log.deal_opened("D6", jul(8), account="acc-D6")
        log.deal_lost("D6", aug(1), reason="timing")  # outside July
        result = await funnel(source_of(log), ORG, JUL_1, JUL_31)
        lost = result["steps"][-1]
        assert lost == {
            "step": "lost",
            "count": 4,
            "conversion": {"value": 0.666667, "numerator": 4, "denominator": 6},
            "reasons": [
                {"reason": "competitor", "count": 2},
                {"reason": "no_budget", "count": 1},
                {"reason": "price", "count": 1},
            ],
        }
        assert sum(r["count"] for r in lost["reasons"]) == lost["count"]

    async def test_counts_only_the_days_of_the_range(self):
        result = await funnel(source_of(self.log()), ORG, date(2026, 7, 2), date(2026, 7, 5))
        assert [(s["step"], s["count"]) for s in result["steps"]][:3] == [
            ("leads", 0),
            ("opportunities", 2),
            ("deals_opened", 2),
        ]
        assert result["steps"][1]["conversion"]["value"] is None
        assert result["win_rate"] == {"value": None, "numerator": 0, "denominator": 0}


# --------------------------------------------------------------------------- running totals

_DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
_ROWS = st.lists(
    st.tuples(
        _DAYS,
        st.sampled_from(["pipeline:a", "pipeline:b"]),
        st.sampled_from(["EUR", ""]),
        st.integers(-50, 50),
    ),
    max_size=60,
)


def _totals_by_definition(months, days, ends):
    """What `running_totals` must equal: each end looked at on its own."""
    out = []
    for end in ends:
        month = end.replace(day=1)
        total: dict = defaultdict(int)
        for bucket, metric, cur, value in months:
            if bucket < month:
                total[(metric, cur)] += value
        for bucket, metric, cur, value in days:
            if month <= bucket <= end:
                total[(metric, cur)] += value
        out.append(total)
    return out


@settings(max_examples=300, deadline=None)
@given(days=_ROWS, months=_ROWS, ends=st.lists(_DAYS, min_size=1, max_size=40))
def test_running_totals_equal_each_end_summed_on_its_own(days, months, ends) -> None:
    month_rows = [(b.replace(day=1), m, c, v) for b, m, c, v in months]
    got = running_totals(month_rows, days, ends)
    want = _totals_by_definition(month_rows, days, ends)
    assert [{k: v for k, v in t.items() if v} for t in got] == [
        {k: v for k, v in t.items() if v} for t in want
    ]
