"""What an incentive plan pays (services/goals/incentive_math.py): known cases to the cent, and
Hypothesis for the laws (lines sum to the total, commission never falls as the value rises,
splits are exact and fair, one version governs each period, true-ups telescope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.goals.incentive_math import (
    UNCOLLECTED_CHAIN,
    GoalBounds,
    Line,
    PlanPeriod,
    Restatement,
    apportion,
    champion_bonus,
    commission,
    governing,
    money,
    parse_period,
    restated_amount,
    spiff,
    team_bonus,
    total,
    true_up,
    uncollected,
    uncollected_window,
)
from services.goals.incentive_spec import (
    Bracket,
    ChampionBonus,
    Commission,
    Decelerator,
    Spiff,
    TeamBonus,
    Uncollected,
)

D = Decimal


def bracket(pct: int, rate: str) -> Bracket:
    return Bracket.model_validate({"from_pct": pct, "rate": rate})


def rule_of(kind: type[Any], **fields: Any) -> Any:
    """A rule built as a plan's JSON gives it (decimals as strings)."""
    return kind.model_validate(
        {k: str(v) if isinstance(v, Decimal) else v for k, v in fields.items()}
    )


TIERS = [bracket(0, "0.03"), bracket(100, "0.05")]
GOAL = GoalBounds(target=D("10000.00"), floor=D("6000.00"))


def amounts(lines: list[Line]) -> list[Decimal]:
    return [line.amount for line in lines]


class TestPeriods:
    def test_months_and_quarters_are_read_and_shifted(self) -> None:
        assert parse_period("2026-11") == PlanPeriod("month", date(2026, 11, 1))
        assert parse_period("2026-Q4") == PlanPeriod("quarter", date(2026, 10, 1))
        assert parse_period("2026-Q4").end == date(2026, 12, 31)
        assert parse_period("2026-01").shifted(-1).label == "2025-12"
        assert parse_period("2026-Q1").shifted(-1).label == "2025-Q4"
        for bad in ("2026-13", "2026-Q5", "2026-1", "26-11", "2026-11-01"):
            with pytest.raises(ValueError, match="month"):
                parse_period(bad)

    def test_the_uncollected_window_is_the_period_moved_back_by_the_days(self) -> None:
        assert uncollected_window(parse_period("2026-11"), 30) == (
            date(2026, 10, 2),
            date(2026, 10, 31),
        )


class TestCommission:
    def test_each_bracket_used_has_its_line(self) -> None:
        rule = Commission(tiers=TIERS)
        lines = commission(rule, D("12000.00"), GOAL, "EUR", "2026-11")
        assert amounts(lines) == [D("300.00"), D("100.00")]
        assert [line.base for line in lines] == [D("10000.00"), D("2000.00")]
        assert total(lines) == D("400.00")

    def test_below_the_floor_the_decelerator_pays_the_whole_value(self) -> None:
        rule = Commission(tiers=TIERS, decelerator=rule_of(Decelerator, rate="0.01"))
        lines = commission(rule, D("5000.00"), GOAL, "EUR", "2026-11")
        assert amounts(lines) == [D("50.00")]
        assert lines[0].rule == "decelerator"

    def test_a_cap_adds_a_negative_line(self) -> None:
        rule = rule_of(Commission, tiers=TIERS, cap="350.00")
        lines = commission(rule, D("12000.00"), GOAL, "EUR", "2026-11")
        assert amounts(lines) == [D("300.00"), D("100.00"), D("-50.00")]
        assert total(lines) == D("350.00")

    def test_without_a_goal_the_first_tier_pays_everything_and_says_so(self) -> None:
        lines = commission(Commission(tiers=TIERS), D("12000.00"), None, "EUR", "2026-11")
        assert amounts(lines) == [D("360.00")]
        assert lines[0].note is not None
        assert "no goal" in lines[0].note

    def test_yen_are_whole(self) -> None:
        goal = GoalBounds(target=D(1_000_000), floor=D(0))
        lines = commission(Commission(tiers=TIERS), D(1_234_567), goal, "JPY", "2026-11")
        assert amounts(lines) == [D(30000), D(11728)]  # 234,567 × 0.05 = 11,728.35


@st.composite
def commissions(draw: st.DrawFn) -> Commission:
    count = draw(st.integers(min_value=1, max_value=5))
    starts = sorted(draw(st.sets(st.integers(1, 500), min_size=count - 1, max_size=count - 1)))
    rates = sorted(draw(st.lists(st.integers(0, 200_000), min_size=count, max_size=count)))
    tiers = [
        bracket(p, format(D(r).scaleb(-6), "f")) for p, r in zip([0, *starts], rates, strict=True)
    ]
    decelerator = draw(
        st.none()
        | st.integers(0, rates[0]).map(
            lambda r: rule_of(Decelerator, rate=format(D(r).scaleb(-6), "f"))
        )
    )
    cap = draw(st.none() | st.integers(0, 10**9).map(lambda c: D(c).scaleb(-2)))
    return rule_of(Commission, tiers=tiers, decelerator=decelerator, cap=cap)


VALUES = st.integers(0, 10**11).map(lambda v: D(v).scaleb(-2))
GOALS = st.none() | st.builds(
    lambda t, f: GoalBounds(D(t).scaleb(-2), D(min(f, t)).scaleb(-2)),
    st.integers(0, 10**10),
    st.integers(0, 10**10),
)


class TestCommissionLaws:
    @given(commissions(), VALUES, GOALS, st.sampled_from(["EUR", "JPY", "KWD"]))
    def test_lines_are_in_minor_units_and_sum_to_the_total(
        self, rule: Commission, value: Decimal, goal: GoalBounds | None, currency: str
    ) -> None:
        if currency == "JPY":
            value = value.to_integral_value()
        lines = commission(rule, value, goal, currency, "2026-11")
        places = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
        for line in lines:
            assert line.amount == line.amount.quantize(D(1).scaleb(-places))
        assert total(lines) == sum(amounts(lines))
        if rule.cap is not None:
            assert total(lines) <= rule.cap

    @given(commissions(), VALUES, VALUES, GOALS)
    def test_more_sold_never_pays_less(
        self, rule: Commission, a: Decimal, b: Decimal, goal: GoalBounds | None
    ) -> None:
        low, high = min(a, b), max(a, b)
        assert total(commission(rule, low, goal, "EUR", "Q")) <= total(
            commission(rule, high, goal, "EUR", "Q")
        )


class TestSplits:
    def test_a_tie_shares_the_champion_bonus_to_the_cent(self) -> None:
        rule = rule_of(ChampionBonus, name="Champion", amount="100.00")
        ranking = {"r3": D(5), "r1": D(5), "r2": D(5), "r4": D(1)}
        paid = {r: champion_bonus(rule, ranking, r, "EUR", "2026-11") for r in ranking}
        assert {r: line.amount for r, line in paid.items() if line} == {
            "r1": D("33.34"),
            "r2": D("33.33"),
            "r3": D("33.33"),
        }
        assert paid["r4"] is None

    def test_nobody_above_zero_wins_nothing(self) -> None:
        rule = rule_of(ChampionBonus, name="Champion", amount="100.00")
        assert champion_bonus(rule, {"r1": D(0), "r2": D(0)}, "r1", "EUR", "Q") is None

    def test_the_team_pool_is_split_by_share_once_reached(self) -> None:
        rule = rule_of(TeamBonus, name="Team", pool="1000.00")
        shares = {"r1": D(1), "r2": D(2)}
        lines = [team_bonus(rule, D(100), D(100), shares, r, "EUR", "Q") for r in ("r1", "r2")]
        assert [line.amount if line else None for line in lines] == [D("333.33"), D("666.67")]
        assert team_bonus(rule, D(99), D(100), shares, "r1", "EUR", "Q") is None
        assert team_bonus(rule, D(99), None, shares, "r1", "EUR", "Q") is None

    @given(st.integers(-(10**12), 10**12), st.lists(st.integers(0, 10**9), min_size=1))
    def test_splits_are_exact_and_equal_shares_differ_by_one_unit_at_most(
        self, pool: int, weights: list[int]
    ) -> None:
        parts = apportion(pool, weights)
        assert sum(parts) == pool
        for i, wi in enumerate(weights):
            for j, wj in enumerate(weights):
                if wi == wj:
                    assert abs(parts[i] - parts[j]) <= 1

    @given(st.integers(0, 10**9), st.integers(1, 50))
    def test_champions_split_the_amount_exactly(self, cents: int, tied: int) -> None:
        rule = rule_of(ChampionBonus, name="C", amount=D(cents).scaleb(-2))
        ranking = {f"r{i:02d}": D(7) for i in range(tied)}
        lines = [champion_bonus(rule, ranking, r, "EUR", "Q") for r in ranking]
        paid = [line.amount for line in lines if line is not None]
        assert sum(paid) == rule.amount
        assert max(paid) - min(paid) <= D("0.01")


class TestOtherRules:
    def test_a_spiff_pays_per_unit(self) -> None:
        rule = rule_of(Spiff, name="New A", tier="A", amount="250.00")
        line = spiff(rule, D(3), "EUR", "2026-11")
        assert (line.amount, line.note) == (D("750.00"), "in tier A")

    def test_what_is_not_collected_is_clawed_back(self) -> None:
        rule = rule_of(Uncollected, days=30, rate="0.03")
        window = (date(2026, 10, 2), date(2026, 10, 31))
        line = uncollected(rule, D("1000.00"), D("400.00"), window, "EUR", "2026-11")
        assert line is not None
        assert line.amount == D("-18.00")
        assert uncollected(rule, D("1000.00"), D("1200.00"), window, "EUR", "Q") is None


@dataclass(frozen=True)
class V:
    version: int
    effective_from: date


class TestGoverning:
    def test_the_highest_version_in_force_governs(self) -> None:
        versions = [V(1, date(2026, 1, 1)), V(2, date(2026, 6, 1)), V(3, date(2026, 3, 1))]
        assert governing(versions, date(2025, 12, 1)) is None
        assert governing(versions, date(2026, 2, 1)) == versions[0]
        assert governing(versions, date(2026, 4, 1)) == versions[2]
        assert governing(versions, date(2026, 7, 1)) == versions[2]  # 3 restates from March

    @given(
        st.lists(st.dates(date(2020, 1, 1), date(2030, 1, 1)), min_size=1, max_size=10),
        st.dates(date(2019, 1, 1), date(2031, 1, 1)),
    )
    def test_exactly_one_version_governs_each_period_from_the_first(
        self, days: list[date], start: date
    ) -> None:
        versions = [V(i + 1, d) for i, d in enumerate(days)]
        chosen = governing(versions, start)
        eligible = [v for v in versions if v.effective_from <= start]
        if not eligible:
            assert chosen is None
        else:
            assert chosen is not None
            assert chosen.effective_from <= start
            assert [v for v in eligible if v.version > chosen.version] == []


class TestTrueUps:
    def test_a_voided_win_comes_back_as_a_negative_line(self) -> None:
        paid = [Line("commission", "tier 1", "2026-10", D("360.00"), "revenue_won", D(12000))]
        line = true_up(
            Restatement(
                "2026-10",
                D(0),
                restated_amount(paid, "2026-10"),
                "revenue_won",
                D(12000),
                D(0),
            ),
            "EUR",
        )
        assert line is not None
        assert line.amount == D("-360.00")
        assert line.note is not None
        assert line.note.startswith("clawback: 2026-10 restated: revenue_won 12000 → 0")

    @given(
        st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=12),
        st.lists(st.integers(0, 10**6), max_size=5),
    )
    def test_true_ups_telescope_to_the_last_amount(
        self, amounts_q: list[int], others: list[int]
    ) -> None:
        """Run 1 pays Q's own lines; each later run pays the true-up: after any sequence, what
        was paid about Q is amount_Q at the last run (lines about other periods aside)."""
        stored: list[Line] = [Line("champion_bonus", "C", "Q", D(o).scaleb(-2)) for o in others]
        stored.append(Line("commission", "tier 1", "Q", D(amounts_q[0]).scaleb(-2)))
        for amount in amounts_q[1:]:
            now = D(amount).scaleb(-2)
            line = true_up(Restatement("Q", now, restated_amount(stored, "Q")), "EUR")
            if line is not None:
                stored.append(line)
            stored.append(Line("true_up", "restatement", "P", D(5)))  # about another period
        assert restated_amount(stored, "Q") == D(amounts_q[-1]).scaleb(-2)


class TestUncollectedWindows:
    def test_a_longer_days_starts_where_the_previous_window_ended(self) -> None:
        nov = parse_period("2026-11")
        # October's 30 days: invoices of 2026-09-01..10-01. November's 60 days would reach
        # back to 10-01 again: it starts on 10-02 and is empty (ends 10-01, before it starts).
        assert uncollected_window(nov, 60, [30]) == (date(2026, 10, 2), date(2026, 10, 1))
        assert uncollected_window(nov.shifted(1), 60, [60, 30]) == (
            date(2026, 10, 2),
            date(2026, 11, 1),
        )
        # Shorter: from the day after October's window, no invoice left out.
        assert uncollected_window(nov, 10, [30]) == (date(2026, 10, 2), date(2026, 11, 20))
        assert uncollected_window(nov, 30, [None, 60]) == uncollected_window(nov, 30)

    @given(
        st.sampled_from(["2024-01", "2025-11", "2026-Q3"]),
        st.lists(st.integers(1, 366), min_size=1, max_size=30),
    )
    def test_windows_are_contiguous_and_disjoint(self, start: str, days: list[int]) -> None:
        """Whatever `days` each period's version gives, the windows of consecutive periods
        cover every day from the first window's start once (a window ending before its start
        is empty and moves nothing)."""
        first = parse_period(start)
        windows = [
            uncollected_window(first.shifted(i), d, days[:i][::-1]) for i, d in enumerate(days)
        ]
        covered: list[date] = []
        reached = windows[0][0] - timedelta(days=1)
        for low, high in windows:
            assert low == reached + timedelta(days=1)  # starts where the last one ended
            if low <= high:
                covered += [low + timedelta(days=n) for n in range((high - low).days + 1)]
                reached = high
        assert len(covered) == len(set(covered))  # disjoint
        assert covered == sorted(covered)
        if covered:
            assert covered == [
                covered[0] + timedelta(days=n) for n in range((covered[-1] - covered[0]).days + 1)
            ]  # contiguous
        # The chain the statements read (UNCOLLECTED_CHAIN periods back) places them the same.
        for i, d in enumerate(days):
            here = first.shifted(i)
            cut = days[:i][::-1][: UNCOLLECTED_CHAIN[here.kind]]
            assert uncollected_window(here, d, cut) == windows[i]


class TestTeamBonusNote:
    def test_the_note_names_no_figure_of_the_team(self) -> None:
        rule = rule_of(TeamBonus, name="Team", pool="1000.00", reach_pct="110")
        line = team_bonus(rule, D("4321.00"), D("3900.00"), {"r1": D(1)}, "r1", "EUR", "Q")
        assert line is not None
        assert line.note == (
            "the team reached 110 % of its goal on revenue_won; split by revenue_won among "
            "1 member(s)"
        )


CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])


def grid(currency: str) -> st.SearchStrategy[Decimal]:
    """An amount on the currency's minor-unit grid."""
    places = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
    return st.integers(0, 10**9).map(lambda v: D(v).scaleb(-places))


class TestWholeStatement:
    @given(st.data(), commissions(), VALUES, GOALS, CURRENCIES)
    def test_every_line_sums_exactly_to_the_total(
        self,
        data: st.DataObject,
        rule: Commission,
        value: Decimal,
        goal: GoalBounds | None,
        currency: str,
    ) -> None:
        """Commission (and cap), spiffs, a champion bonus, a team pool, the uncollected clawback
        and true-ups, from random inputs: each line on the grid, and the section's total (as
        statements.py rounds it) is exactly their sum."""
        about = "2026-11"
        money_ = grid(currency)
        lines = commission(rule, value, goal, currency, about)
        for n in range(data.draw(st.integers(0, 3))):
            spiff_rule = rule_of(Spiff, name=f"S{n}", amount=data.draw(money_))
            lines.append(spiff(spiff_rule, D(data.draw(st.integers(1, 10**4))), currency, about))
        reps = [f"r{i}" for i in range(data.draw(st.integers(1, 6)))]
        ranking = {r: D(data.draw(st.integers(0, 10**6))) for r in reps}
        bonus = rule_of(ChampionBonus, name="C", amount=data.draw(money_))
        if (line := champion_bonus(bonus, ranking, "r0", currency, about)) is not None:
            lines.append(line)
        pool = rule_of(TeamBonus, name="T", pool=data.draw(money_))
        team_line = team_bonus(
            pool, D(10), D(data.draw(st.integers(0, 20))), ranking, "r0", currency, about
        )
        if team_line is not None:
            lines.append(team_line)
        claw = rule_of(
            Uncollected, days=30, rate=format(D(data.draw(st.integers(0, 10**6))).scaleb(-6), "f")
        )
        window = uncollected_window(parse_period(about), 30)
        owed = uncollected(claw, data.draw(money_), data.draw(money_), window, currency, about)
        if owed is not None:
            lines.append(owed)
        for back in ("2026-10", "2026-09"):
            restated = Restatement(back, data.draw(money_), data.draw(money_))
            if (line := true_up(restated, currency)) is not None:
                lines.append(line)
        for line in lines:
            assert money(line.amount, currency) == line.amount
        exact = sum((line.amount for line in lines), D(0))
        assert total(lines) == exact
        assert money(total(lines), currency) == exact  # the section's total, as served


@dataclass(frozen=True)
class Version:
    version: int
    effective_from: date
    rate: int  # what the version pays per unit of a period's value


class TestVersionsAndRuns:
    @given(st.data())
    def test_each_period_is_paid_once_and_settles_at_its_last_amount(
        self, data: st.DataObject
    ) -> None:
        """Plan versions (some back-dated) and payout runs in any order: each period's own
        payout is stored once, under one version, and after every run what was paid about a
        period (its payout's restated lines and every true-up) is its amount at the last run
        that saw it (the version governing it then, its value then)."""
        months = [date(2026, m, 1) for m in range(1, 13)]
        lookback = data.draw(st.integers(1, 4))
        versions: list[Version] = [Version(1, months[0], data.draw(st.integers(0, 5)))]
        payouts: list[tuple[date, int, list[Line]]] = []  # (period, version, lines), append-only
        last_amount: dict[str, Decimal] = {}
        values = {m: data.draw(st.integers(0, 1000)) for m in months}

        def amount(month: date) -> Decimal | None:
            held = governing(versions, month)
            return None if held is None else D(held.rate * values[month]).scaleb(-2)

        def label_of(month: date) -> str:
            return f"{month.year}-{month.month:02d}"

        for _ in range(data.draw(st.integers(1, 25))):
            step = data.draw(st.sampled_from(["version", "run", "value"]))
            if step == "version":
                versions.append(
                    Version(
                        len(versions) + 1,
                        data.draw(st.sampled_from(months)),  # back-dated or ahead
                        data.draw(st.integers(0, 5)),
                    )
                )
            elif step == "value":
                values[data.draw(st.sampled_from(months))] = data.draw(st.integers(0, 1000))
            else:
                i = data.draw(st.integers(0, len(months) - 1))
                month = months[i]
                held = governing(versions, month)
                if any(paid == month for paid, _, _ in payouts) or held is None:
                    continue  # paid once: a run again skips it (as add_payouts does)
                own = amount(month)
                assert own is not None
                lines = [Line("commission", "tier 1", label_of(month), own)]
                last_amount[label_of(month)] = own
                stored = [line for _, _, ls in payouts for line in ls]
                paid_months = {paid for paid, _, _ in payouts}
                for back in range(lookback, 0, -1):
                    if i - back < 0 or months[i - back] not in paid_months:
                        continue
                    earlier = label_of(months[i - back])
                    now = amount(months[i - back]) or D(0)
                    restated = Restatement(earlier, now, restated_amount(stored, earlier))
                    if (line := true_up(restated, "EUR")) is not None:
                        lines.append(line)
                    last_amount[earlier] = now
                payouts.append((month, held.version, lines))
            every = [line for _, _, ls in payouts for line in ls]
            for about, expected in last_amount.items():
                assert restated_amount(every, about) == expected
        for month in {paid for paid, _, _ in payouts}:
            under = [version for paid, version, _ in payouts if paid == month]
            assert len(under) == 1  # one payout of the period, under one version
            own = [
                line
                for _, _, ls in payouts
                for line in ls
                if line.about == label_of(month) and line.kind == "commission"
            ]
            assert len(own) == 1  # its own lines are paid once; later runs only true it up
