"""The funnel plan: from a target and conversion rates to the activity it needs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.goals.exceptions import InvalidField
from services.goals.plan import (
    STEP_NAMES,
    Plan,
    Rates,
    RateUsed,
    Step,
    apply_overrides,
    funnel_plan,
    rates_from_kpis,
    to_json,
)

D = Decimal

# A quarter: 13 weeks, 64 working days. Every step is computed by hand below.
FULL = Rates(
    average_deal_size=D(25000),
    win_rate=D("0.4"),
    open_to_close=D("0.8"),
    opportunity_to_deal=D("0.5"),
    lead_to_opportunity=D("0.25"),
    visits_per_won=D(6),
    calls_per_won=D("15.5"),
    new_customer_share=D("0.25"),
)


def revenue_plan(rates: Rates = FULL, **kwargs: object) -> Plan:
    args: dict[str, object] = {"weeks": D(13), "working_days": 64, **kwargs}
    return funnel_plan("revenue", D(1_000_000), rates, **args)


def needed(plan: Plan) -> dict[str, int | None]:
    return {s.name: None if s.needed is None else int(s.needed) for s in plan.steps}


def missing(plan: Plan) -> dict[str, str | None]:
    return {s.name: s.missing for s in plan.steps}


def unknown(name: str, why: str) -> str:
    return f"{name} is unknown ({why} in the look-back window); pass it in `rates` to plan"


# --------------------------------------------------------------------------- the chain


class TestARevenuePlan:
    def test_stretches_the_target_by_the_challenge_then_walks_down_the_funnel(self):
        plan = revenue_plan()
        assert plan.stretched_target == D(1_100_000)
        assert plan.challenge == D("1.1")
        # 1,100,000 ÷ 25,000 = 44 won; ÷ 0.4 = 110 closed; ÷ 0.8 = 137.5 opened;
        # ÷ 0.5 = 275 opportunities; ÷ 0.25 = 1,100 leads; 44 × 6 = 264 visits; 44 × 15.5 = 682.
        assert needed(plan) == {
            "deals_won": 44,
            "deals_closed": 110,
            "deals_opened": 138,
            "opportunities": 275,
            "leads": 1100,
            "visits": 264,
            "calls": 682,
        }
        assert [s.exact for s in plan.steps] == [
            D(44),
            D(110),
            D("137.5"),
            D(275),
            D(1100),
            D(264),
            D(682),
        ]
        assert all(s.missing is None for s in plan.steps)
        assert plan.assumptions == ()

    def test_lists_its_steps_in_funnel_order_with_their_formulas(self):
        plan = revenue_plan()
        assert tuple(s.name for s in plan.steps) == STEP_NAMES
        assert [s.formula for s in plan.steps] == [
            "target × challenge ÷ average_deal_size",
            "deals_won ÷ win_rate",
            "deals_closed ÷ open_to_close",
            "deals_opened ÷ opportunity_to_deal",
            "opportunities ÷ lead_to_opportunity",
            "deals_won × visits_per_won",
            "deals_won × calls_per_won",
        ]

    def test_spreads_each_count_per_week_and_per_working_day_to_two_decimals(self):
        plan = revenue_plan()
        per = {s.name: (s.per_week, s.per_working_day) for s in plan.steps}
        assert per == {
            "deals_won": (D("3.38"), D("0.69")),  # 44 ÷ 13 = 3.384…; 44 ÷ 64 = 0.6875
            "deals_closed": (D("8.46"), D("1.72")),  # 8.461…; 1.71875
            "deals_opened": (D("10.62"), D("2.16")),  # 138 (rounded up) ÷ 13 = 10.615…; 2.15625
            "opportunities": (D("21.15"), D("4.30")),  # 21.153…; 4.296875
            "leads": (D("84.62"), D("17.19")),  # 84.615…; 17.1875
            "visits": (D("20.31"), D("4.13")),  # 20.307…; 4.125, half up
            "calls": (D("52.46"), D("10.66")),  # 52.461…; 10.65625
        }

    def test_also_gives_whole_numbers_per_week_and_per_working_day_rounded_up(self):
        plan = revenue_plan()
        whole = {s.name: (s.per_week_whole, s.per_working_day_whole) for s in plan.steps}
        assert whole == {
            "deals_won": (D(4), D(1)),
            "deals_closed": (D(9), D(2)),
            "deals_opened": (D(11), D(3)),
            "opportunities": (D(22), D(5)),
            "leads": (D(85), D(18)),
            "visits": (D(21), D(5)),
            "calls": (D(53), D(11)),
        }

    def test_returns_the_rates_it_used_with_their_source(self):
        plan = revenue_plan(apply_overrides(FULL, {"win_rate": D("0.4")}))
        assert plan.rates == (
            RateUsed("average_deal_size", D(25000), "scoring"),
            RateUsed("win_rate", D("0.4"), "override"),
            RateUsed("open_to_close", D("0.8"), "scoring"),
            RateUsed("opportunity_to_deal", D("0.5"), "scoring"),
            RateUsed("lead_to_opportunity", D("0.25"), "scoring"),
            RateUsed("visits_per_won", D(6), "scoring"),
            RateUsed("calls_per_won", D("15.5"), "scoring"),
        )

    def test_a_plan_for_nothing_needs_nothing(self):
        plan = funnel_plan("revenue", D(0), FULL, weeks=D(13), working_days=64)
        assert set(needed(plan).values()) == {0}
        assert all(s.per_week == 0 and s.per_working_day == 0 for s in plan.steps)


class TestTheChallenge:
    def test_multiplies_the_target(self):
        plans = {
            c: funnel_plan(
                "revenue", D(1_000_000), FULL, challenge=D(c), weeks=D(13), working_days=64
            )
            for c in ("1", "1.1", "1.5")
        }
        assert [needed(plans[c])["deals_won"] for c in ("1", "1.1", "1.5")] == [40, 44, 60]

    def test_defaults_to_1_1(self):
        assert revenue_plan().challenge == D("1.1")


class TestANewCustomerPlan:
    def test_starts_from_the_share_of_won_deals_that_are_new_customers(self):
        plan = funnel_plan("new_customers", D(10), FULL, weeks=D(13), working_days=64)
        # 10 × 1.1 = 11 new customers ÷ 0.25 = 44 won deals, then as for revenue.
        assert needed(plan)["deals_won"] == 44
        assert needed(plan)["visits"] == 264
        assert plan.step("deals_won").formula == "target × challenge ÷ new_customer_share"
        assert plan.rates[0] == RateUsed("new_customer_share", D("0.25"), "scoring")
        assert "average_deal_size" not in {r.name for r in plan.rates}

    def test_does_not_need_the_average_deal_size(self):
        rates = apply_overrides(Rates(), {n: D("0.5") for n in ("win_rate", "new_customer_share")})
        plan = funnel_plan("new_customers", D(10), rates, weeks=D(13), working_days=64)
        assert plan.step("deals_won").needed == 22
        assert plan.step("deals_closed").needed == 44

    def test_multiplies_by_the_challenge_where_the_issue_s_rule_of_thumb_divides(self):
        """The issue: "new-customer target = effective visits × 12 % × 1.1 → visits needed =
        target ÷ (0.12 × 1.1)". We multiply: a stretched target needs more visits, not fewer.
        12 % of visits winning a new customer: every won deal a new customer, 1 ÷ 0.12 visits a
        win; 12 new customers × 1.1 ÷ 0.12 = 110 visits."""
        rates = Rates(new_customer_share=D(1), visits_per_won=D(1) / D("0.12"))
        plan = funnel_plan("new_customers", D(12), rates, weeks=D(13), working_days=64)
        assert plan.step("deals_won").needed == 14  # 13.2 won deals, rounded up
        assert plan.step("visits").needed == 110  # 109.99…99 at 28 digits: not 111
        # The same as 12 % of won deals being new customers, one visit a win.
        same = Rates(new_customer_share=D("0.12"), visits_per_won=D(1))
        alike = funnel_plan("new_customers", D(12), same, weeks=D(13), working_days=64)
        assert alike.step("visits").needed == alike.step("visits").exact == 110
        # For 10 new customers: 10 × 1.1 ÷ 0.12 = 91.67 → 92 visits, where the issue's
        # 10 ÷ (0.12 × 1.1) = 75.76 would give 76.
        ten = funnel_plan("new_customers", D(10), rates, weeks=D(13), working_days=64)
        assert ten.step("visits").needed == 92


class TestCountsAreRoundedUp:
    def test_a_fraction_of_a_deal_is_a_whole_deal(self):
        rates = apply_overrides(FULL, {"average_deal_size": D(30000)})
        plan = revenue_plan(rates)
        # 1,100,000 ÷ 30,000 = 36.67
        assert plan.step("deals_won").exact == D(1_100_000) / D(30000)
        assert plan.step("deals_won").needed == 37

    def test_a_tiny_need_is_one(self):
        plan = funnel_plan("revenue", D("0.01"), FULL, challenge=D(1), weeks=D(1), working_days=5)
        assert needed(plan)["deals_won"] == 1

    def test_each_step_from_the_exact_value_before_it_so_ceilings_do_not_compound(self):
        plan = revenue_plan()
        # 137.5 opened ÷ 0.5 = 275 opportunities, not 138 ÷ 0.5 = 276.
        assert plan.step("deals_opened").needed == 138
        assert plan.step("opportunities").needed == 275

    def test_division_noise_in_the_last_digit_does_not_add_one(self):
        rates = Rates(new_customer_share=D(1), visits_per_won=D(1) / D(7))
        plan = funnel_plan(
            "new_customers", D(14), rates, challenge=D(1), weeks=D(2), working_days=10
        )
        assert plan.step("visits").exact == D("2.000000000000000000000000001")
        assert plan.step("visits").needed == 2

    def test_per_week_and_per_working_day_are_none_for_an_empty_period(self):
        plan = revenue_plan(weeks=D(0), working_days=0)
        step = plan.step("visits")
        assert step.needed == 264
        assert (step.per_week, step.per_working_day) == (None, None)
        assert (step.per_week_whole, step.per_working_day_whole) == (None, None)


# --------------------------------------------------------------------------- missing rates


class TestAnUnknownOrZeroRate:
    def test_average_deal_size_unknown_leaves_every_step_unknown(self):
        plan = revenue_plan(Rates(win_rate=D("0.5"), visits_per_won=D(3)))
        why = unknown("average_deal_size", "no deals won")
        assert needed(plan) == dict.fromkeys(STEP_NAMES)
        assert plan.step("deals_won").missing == why
        assert plan.step("visits").missing == why
        assert plan.step("deals_closed").missing == why

    def test_average_deal_size_zero_says_so(self):
        plan = revenue_plan(Rates(average_deal_size=D(0), win_rate=D("0.5")))
        assert plan.step("deals_won").missing == (
            "average_deal_size is 0 (no revenue won in the look-back window); "
            "pass it in `rates` to plan"
        )
        assert plan.step("deals_won").exact is None

    def test_new_customer_share_unknown_or_zero(self):
        for share, why in (
            (None, "new_customer_share is unknown (no deals won in the look-back window)"),
            (D(0), "new_customer_share is 0 (no new customers in the look-back window)"),
        ):
            rates = Rates(new_customer_share=share, average_deal_size=D(1000))
            plan = funnel_plan("new_customers", D(10), rates, weeks=D(13), working_days=64)
            assert needed(plan) == dict.fromkeys(STEP_NAMES)
            assert plan.step("deals_won").missing == f"{why}; pass it in `rates` to plan"

    def test_win_rate_unknown_stops_the_deal_side_but_not_visits_and_calls(self):
        plan = revenue_plan(replace(FULL, win_rate=None))
        assert needed(plan) == {
            "deals_won": 44,
            "deals_closed": None,
            "deals_opened": None,
            "opportunities": None,
            "leads": None,
            "visits": 264,
            "calls": 682,
        }
        expected = (
            "win_rate is unknown (no closed deals in the look-back window); "
            "pass it in `rates` to plan"
        )
        assert missing(plan) == {
            "deals_won": None,
            "deals_closed": expected,
            "deals_opened": expected,
            "opportunities": expected,
            "leads": expected,
            "visits": None,
            "calls": None,
        }
        assert plan.step("leads").per_week is None
        assert plan.step("leads").per_working_day is None

    def test_win_rate_zero_is_missing_too_and_nothing_divides_by_zero(self):
        plan = revenue_plan(replace(FULL, win_rate=D(0)))
        assert plan.step("deals_closed").missing == (
            "win_rate is 0 (no deals won in the look-back window); pass it in `rates` to plan"
        )
        assert plan.step("leads").needed is None

    def test_open_to_close_unknown_is_assumed_1_and_said_so(self):
        plan = revenue_plan(replace(FULL, open_to_close=None))
        assert plan.step("deals_opened").needed == plan.step("deals_closed").needed == 110
        assert plan.step("opportunities").needed == 220
        assert plan.step("deals_opened").formula == (
            "deals_closed ÷ open_to_close (unknown: assumed 1)"
        )
        assert plan.assumptions == (
            "open_to_close is unknown (no deals opened in the look-back window): assumed 1, "
            "every deal opened in the period closes in it",
        )
        assert RateUsed("open_to_close", None, "scoring") in plan.rates

    def test_open_to_close_zero_is_missing(self):
        plan = revenue_plan(replace(FULL, open_to_close=D(0)))
        assert needed(plan)["deals_closed"] == 110
        assert needed(plan)["deals_opened"] is None
        assert needed(plan)["leads"] is None
        assert plan.step("deals_opened").missing == (
            "open_to_close is 0 (no deals closed in the look-back window); "
            "pass it in `rates` to plan"
        )
        assert plan.assumptions == ()

    def test_opportunity_to_deal_unknown_stops_opportunities_and_leads(self):
        plan = revenue_plan(replace(FULL, opportunity_to_deal=None))
        assert needed(plan)["deals_opened"] == 138
        assert needed(plan)["opportunities"] is None
        assert needed(plan)["leads"] is None
        why = unknown("opportunity_to_deal", "no opportunities")
        assert plan.step("opportunities").missing == plan.step("leads").missing == why

    def test_lead_to_opportunity_unknown_or_zero_stops_only_leads(self):
        for rate, why in (
            (None, unknown("lead_to_opportunity", "no new leads")),
            (
                D(0),
                "lead_to_opportunity is 0 (no opportunities in the look-back window); "
                "pass it in `rates` to plan",
            ),
        ):
            plan = revenue_plan(replace(FULL, lead_to_opportunity=rate))
            assert needed(plan)["opportunities"] == 275
            assert needed(plan)["leads"] is None
            assert plan.step("leads").missing == why

    def test_visits_and_calls_per_won_unknown_or_zero_stop_only_their_step(self):
        plan = revenue_plan(replace(FULL, visits_per_won=None, calls_per_won=D(0)))
        assert needed(plan)["leads"] == 1100
        assert missing(plan)["visits"] == unknown("visits_per_won", "no deals won")
        assert missing(plan)["calls"] == (
            "calls_per_won is 0 (no calls logged in the look-back window); "
            "pass it in `rates` to plan"
        )

    def test_several_missing_rates_are_all_named(self):
        plan = revenue_plan(Rates(average_deal_size=D(1000)))
        assert plan.step("leads").missing == (
            "win_rate is unknown (no closed deals in the look-back window) and "
            "opportunity_to_deal is unknown (no opportunities in the look-back window) and "
            "lead_to_opportunity is unknown (no new leads in the look-back window); "
            "pass them in `rates` to plan"
        )

    def test_no_rates_at_all_still_plans_without_raising(self):
        for goal in ("revenue", "new_customers"):
            plan = funnel_plan(goal, D(100), Rates(), weeks=D(4), working_days=20)
            assert needed(plan) == dict.fromkeys(STEP_NAMES)
            assert all(s.missing for s in plan.steps)


class TestAShareAboveOne:
    def test_is_used_as_it_is_and_noted(self):
        plan = revenue_plan(replace(FULL, open_to_close=D("1.25")))
        assert plan.step("deals_opened").needed == 88  # 110 ÷ 1.25
        assert plan.assumptions == (
            "open_to_close is 1.25, above 1: the look-back totals include work begun before "
            "the window; used as it is",
        )


# --------------------------------------------------------------------------- bad input


class TestBadPlanInput:
    @pytest.mark.parametrize(
        ("field", "kwargs"),
        [
            ("goal", {"goal": "profit"}),
            ("target", {"target": D(-1)}),
            ("target", {"target": D("NaN")}),
            ("challenge", {"challenge": D(0)}),
            ("challenge", {"challenge": D("-1.1")}),
            ("weeks", {"weeks": D(-1)}),
            ("working_days", {"working_days": -1}),
        ],
    )
    def test_is_refused_naming_the_field(self, field: str, kwargs: dict[str, object]):
        args: dict[str, object] = {
            "goal": "revenue",
            "target": D(100),
            "rates": FULL,
            "weeks": D(13),
            "working_days": 64,
            **kwargs,
        }
        with pytest.raises(InvalidField) as caught:
            funnel_plan(**args)
        assert caught.value.field == field
        assert isinstance(caught.value, ValueError)
        assert str(caught.value).startswith(f"{field}: ")

    def test_a_negative_or_infinite_rate_cannot_be_built(self):
        with pytest.raises(InvalidField, match="win_rate"):
            Rates(win_rate=D("-0.1"))
        with pytest.raises(InvalidField, match="visits_per_won"):
            Rates(visits_per_won=D("Infinity"))


# --------------------------------------------------------------------------- rates


class TestRatesFromKpis:
    SUMS: dict[str, Decimal | int] = {  # noqa: RUF012
        "revenue_won": D("500000.00"),
        "deals_won": 20,
        "deals_lost": 30,
        "deals_opened": 40,
        "opportunities": 80,
        "new_leads": 200,
        "visits": 300,
        "calls": 900,
        "new_customers": 5,
    }

    def test_divides_the_look_back_totals(self):
        rates = rates_from_kpis(self.SUMS)
        assert rates == Rates(
            average_deal_size=D(25000),  # 500,000 ÷ 20
            win_rate=D("0.4"),  # 20 ÷ (20 + 30)
            open_to_close=D("1.25"),  # 50 closed ÷ 40 opened
            opportunity_to_deal=D("0.5"),  # 40 ÷ 80
            lead_to_opportunity=D("0.4"),  # 80 ÷ 200
            visits_per_won=D(15),
            calls_per_won=D(45),
            new_customer_share=D("0.25"),
        )
        assert rates.overridden == frozenset()
        assert all(rates.source(n) == "scoring" for n in ("win_rate", "visits_per_won"))

    def test_leaves_a_rate_unknown_where_its_denominator_is_zero(self):
        rates = rates_from_kpis({**self.SUMS, "deals_won": 0, "deals_lost": 0, "new_leads": 0})
        assert rates.average_deal_size is None
        assert rates.win_rate is None
        assert rates.visits_per_won is None
        assert rates.calls_per_won is None
        assert rates.new_customer_share is None
        assert rates.lead_to_opportunity is None
        assert rates.open_to_close == 0  # nothing closed of 40 opened
        assert rates.opportunity_to_deal == D("0.5")

    def test_counts_a_total_left_out_as_zero_and_ignores_others(self):
        rates = rates_from_kpis({"deals_won": 2, "deals_lost": 2, "win_rate": D("0.9")})
        assert rates == Rates(
            average_deal_size=D(0),
            win_rate=D("0.5"),
            visits_per_won=D(0),
            calls_per_won=D(0),
            new_customer_share=D(0),
        )

    def test_nothing_at_all_gives_no_rates(self):
        assert rates_from_kpis({}) == Rates()

    def test_refuses_a_negative_total(self):
        with pytest.raises(InvalidField) as caught:
            rates_from_kpis({**self.SUMS, "visits": -1})
        assert caught.value.field == "visits"

    def test_plan_from_totals_of_a_window_without_wins(self):
        rates = rates_from_kpis({"deals_opened": 4, "opportunities": 8, "new_leads": 10})
        plan = revenue_plan(rates)
        assert needed(plan) == dict.fromkeys(STEP_NAMES)
        assert plan.step("deals_won").missing == unknown("average_deal_size", "no deals won")


class TestApplyOverrides:
    def test_replaces_the_rates_given_and_marks_them_as_overrides(self):
        base = rates_from_kpis(TestRatesFromKpis.SUMS)
        rates = apply_overrides(base, {"win_rate": D("0.3"), "visits_per_won": D(10)})
        assert rates.win_rate == D("0.3")
        assert rates.visits_per_won == D(10)
        assert rates.average_deal_size == D(25000)
        assert rates.overridden == frozenset({"win_rate", "visits_per_won"})
        assert rates.source("win_rate") == "override"
        assert rates.source("calls_per_won") == "scoring"
        assert base.win_rate == D("0.4")  # the original is untouched

    def test_overrides_accumulate(self):
        rates = apply_overrides(apply_overrides(FULL, {"win_rate": D("0.3")}), {})
        rates = apply_overrides(rates, {"calls_per_won": D(3)})
        assert rates.overridden == frozenset({"win_rate", "calls_per_won"})

    def test_fills_in_an_unknown_rate_so_the_plan_completes(self):
        plan = revenue_plan(apply_overrides(replace(FULL, win_rate=None), {"win_rate": D("0.4")}))
        assert needed(plan)["leads"] == 1100

    def test_a_share_of_exactly_one_is_allowed(self):
        assert apply_overrides(FULL, {"open_to_close": D(1)}).open_to_close == 1

    def test_a_count_rate_above_one_is_allowed(self):
        assert apply_overrides(FULL, {"visits_per_won": D("12.5")}).visits_per_won == D("12.5")

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("win_rat", D("0.3"), "unknown rate"),
            ("overridden", D(1), "unknown rate"),
            ("average_deal_size", D(-1), "must not be negative"),
            ("visits_per_won", D("-0.5"), "must not be negative"),
            ("win_rate", D("-0.1"), "must not be negative"),
            ("win_rate", D("1.01"), "share: must be greater than 0 and at most 1"),
            ("open_to_close", D(0), "share: must be greater than 0 and at most 1"),
            ("opportunity_to_deal", D(2), "share"),
            ("lead_to_opportunity", D(0), "share"),
            ("new_customer_share", D("1.5"), "share"),
            ("calls_per_won", D(0), "must be greater than 0"),
            ("average_deal_size", D("NaN"), "finite"),
            ("win_rate", D("Infinity"), "finite"),
        ],
    )
    def test_refuses_a_bad_override_naming_it(self, name: str, value: Decimal, message: str):
        with pytest.raises(ValueError, match=message) as caught:
            apply_overrides(FULL, {name: value})
        assert isinstance(caught.value, InvalidField)
        assert caught.value.field == name
        assert str(caught.value).startswith(f"{name}: ")


# --------------------------------------------------------------------------- JSON


class TestToJson:
    def test_renders_counts_as_integers_and_decimals_as_strings(self):
        body = to_json(revenue_plan(apply_overrides(FULL, {"win_rate": D("0.4")})))
        assert set(body) == {"challenge", "stretched_target", "steps", "rates", "assumptions"}
        assert body["challenge"] == "1.1"
        assert body["stretched_target"] == "1100000"
        assert body["steps"][2] == {
            "name": "deals_opened",
            "needed": 138,
            "exact": "137.5",
            "per_week": "10.62",
            "per_working_day": "2.16",
            "per_week_whole": 11,
            "per_working_day_whole": 3,
            "formula": "deals_closed ÷ open_to_close",
            "missing": None,
        }
        assert body["rates"][1] == {"name": "win_rate", "value": "0.4", "source": "override"}
        assert body["assumptions"] == []

    def test_renders_missing_steps_and_long_rates(self):
        rates = Rates(new_customer_share=D(1), visits_per_won=D(1) / D(3))
        body = to_json(funnel_plan("new_customers", D(10), rates, weeks=D(4), working_days=20))
        visits, calls = body["steps"][5], body["steps"][6]
        assert visits["needed"] == 4  # 11 × 0.333… = 3.67
        assert visits["exact"] == "3.6667"
        assert calls["needed"] is None
        assert calls["per_week"] is None
        assert calls["missing"].startswith("calls_per_won is unknown")
        assert {"name": "visits_per_won", "value": "0.333333", "source": "scoring"} in body["rates"]


# --------------------------------------------------------------------------- laws

rate = st.one_of(
    st.none(),
    st.just(D(0)),
    st.decimals(min_value=D("0.01"), max_value=D(100), places=2),
)
rates_strategy = st.builds(
    Rates,
    average_deal_size=rate,
    win_rate=rate,
    open_to_close=rate,
    opportunity_to_deal=rate,
    lead_to_opportunity=rate,
    visits_per_won=rate,
    calls_per_won=rate,
    new_customer_share=rate,
)
amount = st.decimals(min_value=D(0), max_value=D(10) ** 9, places=2)
challenge = st.decimals(min_value=D("0.1"), max_value=D(10), places=2)
goal = st.sampled_from(["revenue", "new_customers"])
LAW = settings(max_examples=200, deadline=None)


def plan_of(g: str, target: Decimal, rates: Rates, c: Decimal) -> Plan:
    return funnel_plan(g, target, rates, challenge=c, weeks=D(13), working_days=64)


class TestPlanLaws:
    @LAW
    @given(goal, amount, amount, rates_strategy, challenge)
    def test_needed_counts_grow_with_the_target(self, g, a, b, rates, c):
        low, high = plan_of(g, min(a, b), rates, c), plan_of(g, max(a, b), rates, c)
        for small, large in zip(low.steps, high.steps, strict=True):
            assert (small.needed is None) == (large.needed is None)
            if small.needed is not None and large.needed is not None:
                assert small.needed <= large.needed

    @LAW
    @given(goal, amount, rates_strategy, challenge, challenge)
    def test_needed_counts_grow_with_the_challenge(self, g, target, rates, c1, c2):
        low, high = plan_of(g, target, rates, min(c1, c2)), plan_of(g, target, rates, max(c1, c2))
        for small, large in zip(low.steps, high.steps, strict=True):
            if small.needed is not None and large.needed is not None:
                assert small.needed <= large.needed

    @LAW
    @given(goal, amount, rates_strategy, challenge)
    def test_a_step_is_either_known_and_rounded_up_or_missing_and_explained(
        self, g, target, rates, c
    ):
        plan = plan_of(g, target, rates, c)
        for step in plan.steps:
            check_step(step)


def check_step(step: Step) -> None:
    if step.needed is None:
        assert step.exact is None
        assert step.per_week is None
        assert step.per_working_day is None
        assert step.missing is not None
        assert step.missing.endswith("to plan")
    else:
        assert step.exact is not None
        assert step.missing is None
        assert step.needed == step.needed.to_integral_value()
        # Rounded up, but for noise below the 20th significant digit.
        assert step.exact - step.needed <= abs(step.exact) * D("1e-19")
        assert step.needed < step.exact + 1
        assert step.per_week == (step.needed / 13).quantize(D("0.01"), rounding="ROUND_HALF_UP")
