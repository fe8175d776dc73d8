"""What an incentive plan pays, as plain arithmetic: the version that governs a period, and the
lines of a rep's statement for it. No HTTP, no SQL, no async; `Decimal` throughout, every line
quantized half-even to the currency's minor units, a statement's total the exact sum of its lines.

- **Governing version**: of the versions recorded by the statement's moment, the highest
  version number whose `effective_from` is on or before the period's first day (a version with
  `active: false` governs and pays nothing).
- **Commission**: marginal brackets over the value of the rep's own goal's target T: bracket i
  pays `rate_i` on the part of the value from `from_pct_i`·T/100 up to `from_pct_{i+1}`·T/100.
  Below the goal's floor F, with a decelerator, its rate on the whole value instead. No goal (or
  T = 0): the first tier's rate on the whole value. The brackets are quantized *cumulatively*
  (line i = q(Σ_{j≤i} exact_j) − q(Σ_{j<i} exact_j)): each line is on the minor-unit grid, the
  lines add up to q(exact commission), and the commission is monotone in the value (bracket by
  bracket rounding could make a value just under the floor pay a cent more than the floor). A
  cap adds one negative line bringing the commission down to it.
- **Splits** (champion bonus among tied firsts, a team pool by share): whole minor units by the
  largest remainder, ties (and the units left over) to the earlier rep in id order.
- **Uncollected clawback**: invoices whose `days` ran out during the period P are those issued
  in W = [start, P.end − days], `start` the day after the previous period's window ended (as
  that period's governing version's `days` placed it, when it had an uncollected rule; else
  P.start − days): the windows of consecutive periods tile the days, without gap or overlap,
  when `days` changes from one version to the next (a W that would end before it starts is
  empty, and "ends" the day before its start: the previous ones already covered it). Clawed back: rate × max(0, invoiced(W) − collected(W.start .. P.end)). *An approximation*: scoring keeps no receivables per invoice, so
  payments are not matched to invoices: a payment in that range of an invoice issued before W
  counts as collecting W's invoices, and one of W's invoices paid after P.end is still counted
  uncollected. A receivables projection (open amount per invoice) in scoring would make it exact.
- **True-up (restatement)**: for an earlier period Q in the lookback, already paid at least once,
  the line is amount_Q (commission after cap plus spiffs, recomputed as the statement's moment
  sees the log, under Q's governing version) minus everything already paid about Q (Q's own
  payout's restated lines and earlier true-ups about Q). Summed over runs this telescopes: what
  was paid about Q is always amount_Q at the last run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from itertools import takewhile
from typing import Any, Literal, Protocol, TypeVar

from shared.money import minor_units
from shared.periods import Period, period_end

from . import decompose
from .incentive_spec import ChampionBonus, Commission, Spiff, TeamBonus, Uncollected

PeriodKind = Literal["month", "quarter"]
RESTATED = frozenset({"commission", "cap", "spiff"})
"""The kinds of line a true-up restates (commission after cap, and spiffs)."""
TRUE_UP = "true_up"

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    """A month or a quarter a plan pays for."""

    kind: PeriodKind
    start: date

    @property
    def end(self) -> date:
        return period_end(Period(self.kind), self.start)

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    def shifted(self, periods: int) -> PlanPeriod:
        """The period `periods` periods later (earlier when negative)."""
        step = 3 if self.kind == "quarter" else 1
        months = self.start.year * 12 + self.start.month - 1 + periods * step
        return PlanPeriod(self.kind, date(months // 12, months % 12 + 1, 1))


def parse_period(text: str) -> PlanPeriod:
    """`2026-11` (a month) or `2026-Q4` (a quarter); ValueError otherwise."""
    if m := _MONTH.match(text):
        return PlanPeriod("month", date(int(m[1]), int(m[2]), 1))
    if m := _QUARTER.match(text):
        return PlanPeriod("quarter", date(int(m[1]), 3 * int(m[2]) - 2, 1))
    raise ValueError("must be a month (2026-11) or a quarter (2026-Q4)")


UNCOLLECTED_CHAIN = {"month": 14, "quarter": 6}
"""How many periods back the `days` of earlier versions can move a window's start (more than
the 366 days an uncollected rule may give)."""


def uncollected_window(
    period: PlanPeriod, days: int, earlier: Sequence[int | None] = ()
) -> tuple[date, date]:
    """W: the days an invoice was issued on whose `days` ran out during `period`, from the day
    after the previous period's window ended to `period.end − days`. `earlier`: the `days` of
    the versions governing the periods before, the latest first (None: no uncollected rule
    then, and the windows start over: from `period.start − days`). A window ends on its last
    day, or the day before its first when empty (first > last: a longer `days` than the
    previous period's, whose window already reached past it), so the windows tile the days."""
    chain = list(takewhile(lambda d: d is not None, earlier))
    end: date | None = None  # where the previous period's window ended
    for back in range(len(chain), 0, -1):
        before, d = period.shifted(-back), chain[back - 1]
        assert d is not None
        first = before.start - timedelta(days=d) if end is None else end + timedelta(days=1)
        end = max(before.end - timedelta(days=d), first - timedelta(days=1))
    first = period.start - timedelta(days=days) if end is None else end + timedelta(days=1)
    return first, period.end - timedelta(days=days)


# --------------------------------------------------------------------------- versions


class Dated(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def effective_from(self) -> date: ...


V = TypeVar("V", bound=Dated)


def governing(versions: Iterable[V], period_start: date) -> V | None:
    """The version governing the period starting `period_start`: the highest version number
    whose `effective_from` is on or before it (None: none yet). The caller passes the versions
    recorded by the statement's moment, and reads `active` itself."""
    return max(
        (v for v in versions if v.effective_from <= period_start),
        key=lambda v: v.version,
        default=None,
    )


# --------------------------------------------------------------------------- money


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def money(amount: Decimal, currency: str) -> Decimal:
    """`amount` half-even to the currency's minor units."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_EVEN)


def to_minor(amount: Decimal, currency: str) -> int:
    """`amount` in the currency's minor units, exactly (decompose.to_minor)."""
    return decompose.to_minor(amount, minor_units(currency))


def from_minor(units: int, currency: str) -> Decimal:
    return decompose.from_minor(units, minor_units(currency))


def apportion(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """`total` minor units split by `weights` (≥ 0; all zero: equally) by decomposition's
    largest remainder (`decompose.split`: whole shares, then one unit each to the largest
    remainders, the earlier part first on a tie). Negative totals are split as their opposite,
    negated."""
    if not weights:
        return []
    if total < 0:
        return [-p for p in apportion(-total, weights)]
    if not any(weights):
        weights = [1] * len(weights)
    return decompose.split(total, [Decimal(w) for w in weights])


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a statement: what rule paid it, for which period, on what."""

    kind: str  # commission, cap, spiff, champion_bonus, team_bonus, uncollected, true_up
    rule: str  # the rule's name (commission: its bracket)
    about: str  # the period it is about (a label: 2026-11, 2026-Q4)
    amount: Decimal
    metric: str | None = None
    kpi_value: Decimal | None = None
    rate: Decimal | None = None  # a rate, or a unit amount (spiff)
    base: Decimal | None = None  # what the rate applied to
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The line as a payout stores it and a statement shows it (decimals as strings)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else format(value, "f")

        return {
            "rule": {"kind": self.kind, "name": self.rule},
            "about": self.about,
            "metric": self.metric,
            "kpi_value": text(self.kpi_value),
            "rate": text(self.rate),
            "base": text(self.base),
            "amount": format(self.amount, "f"),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Line:
        def number(value: Any) -> Decimal | None:
            return None if value is None else Decimal(str(value))

        return cls(
            kind=data["rule"]["kind"],
            rule=data["rule"]["name"],
            about=data["about"],
            amount=Decimal(str(data["amount"])),
            metric=data.get("metric"),
            kpi_value=number(data.get("kpi_value")),
            rate=number(data.get("rate")),
            base=number(data.get("base")),
            note=data.get("note"),
        )


def total(lines: Iterable[Line]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


# --------------------------------------------------------------------------- commission


@dataclass(frozen=True, slots=True)
class GoalBounds:
    target: Decimal
    floor: Decimal


def commission(
    rule: Commission,
    value: Decimal,
    goal: GoalBounds | None,
    currency: str,
    about: str,
) -> list[Line]:
    """The commission lines of a period: one per bracket used (or the decelerator's, or the
    first tier's without a goal), then the cap's negative line when it bites."""
    metric = rule.metric
    base = max(value, Decimal(0))
    lines: list[Line] = []
    if goal is None or goal.target <= 0:
        rate = rule.tiers[0].rate
        why = "no goal on it for the period" if goal is None else "the goal's target is 0"
        lines.append(
            Line(
                "commission",
                "first tier on the whole value",
                about,
                money(rate * base, currency),
                metric,
                value,
                rate,
                base,
                note=f"{why}: the first tier's rate on the whole value",
            )
        )
    elif rule.decelerator is not None and value < goal.floor:
        rate = rule.decelerator.rate
        lines.append(
            Line(
                "commission",
                "decelerator",
                about,
                money(rate * base, currency),
                metric,
                value,
                rate,
                base,
                note=f"below the goal's floor ({goal.floor}): the decelerator's rate on the "
                "whole value",
            )
        )
    else:
        target = goal.target
        done = Decimal(0)  # exact amount of the brackets before
        for i, tier in enumerate(rule.tiers):
            low = tier.from_pct * target / 100
            high = rule.tiers[i + 1].from_pct * target / 100 if i + 1 < len(rule.tiers) else None
            part = (min(base, high) if high is not None else base) - low
            if part <= 0:
                break
            exact = tier.rate * part
            amount = money(done + exact, currency) - money(done, currency)
            done += exact
            upto = f" to {_pct(rule.tiers[i + 1].from_pct)} %" if high is not None else ""
            lines.append(
                Line(
                    "commission",
                    f"tier {i + 1}: from {_pct(tier.from_pct)} %{upto} of target",
                    about,
                    amount,
                    metric,
                    value,
                    tier.rate,
                    part,
                )
            )
        if not lines:  # a value of 0: the first bracket, paying 0
            lines.append(
                Line(
                    "commission",
                    f"tier 1: from {_pct(rule.tiers[0].from_pct)} % of target",
                    about,
                    money(Decimal(0), currency),
                    metric,
                    value,
                    rule.tiers[0].rate,
                    Decimal(0),
                )
            )
    paid = total(lines)
    if rule.cap is not None and paid > rule.cap:
        # (a cap on the currency's grid, as a plan's is; one off it rounds down onto it)
        cap = rule.cap.quantize(quantum(currency), rounding=ROUND_FLOOR)
        lines.append(
            Line(
                "cap",
                "cap",
                about,
                cap - paid,
                metric,
                value,
                None,
                paid,
                note=f"the commission of a period is at most {rule.cap}",
            )
        )
    return lines


# --------------------------------------------------------------------------- other rules


def spiff(rule: Spiff, units: Decimal, currency: str, about: str) -> Line:
    cut = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("tier", rule.tier),
            ("product line", rule.product_line),
            ("channel", rule.channel),
        )
        if value is not None
    )
    return Line(
        "spiff",
        rule.name,
        about,
        money(units * rule.amount, currency),
        rule.metric,
        units,
        rule.amount,
        units,
        note=f"in {cut}" if cut else None,
    )


def champion_bonus(
    rule: ChampionBonus, ranking: Mapping[str, Decimal], rep: str, currency: str, about: str
) -> Line | None:
    """The rep's share of the bonus when ranked first with a value above 0 (ties share it
    equally, exact in minor units, the units left over to the earlier reps by id). `ranking` is
    the board as scoring ranks it (everyone it placed in the team during the period): a first
    the plan does not cover is still first, and then nobody is paid the bonus."""
    best = max(ranking.values(), default=Decimal(0))
    if best <= 0 or ranking.get(rep) != best:
        return None
    firsts = sorted(r for r, v in ranking.items() if v == best)
    parts = apportion(to_minor(rule.amount, currency), [1] * len(firsts))
    amount = from_minor(parts[firsts.index(rep)], currency)
    note = "first" if len(firsts) == 1 else f"first with {len(firsts) - 1} other(s): shared"
    return Line(
        "champion_bonus",
        rule.name,
        about,
        amount,
        rule.metric,
        ranking[rep],
        None,
        rule.amount,
        note=f"{note} ({rule.scope})",
    )


def team_reached(rule: TeamBonus, team_value: Decimal, team_target: Decimal | None) -> bool:
    return (
        team_target is not None
        and team_target > 0
        and team_value * 100 >= rule.reach_pct * team_target
    )


def team_bonus(
    rule: TeamBonus,
    team_value: Decimal,
    team_target: Decimal | None,
    shares: Mapping[str, Decimal],
    rep: str,
    currency: str,
    about: str,
) -> Line | None:
    """The rep's part of the pool when the team reached `reach_pct` % of its goal's target:
    split among `shares`' members (the caller passes the members eligible: the plan applies to
    them and the roster places them in the team) by their share (equally when nobody has any).
    The note names neither the team's value nor its target (scoring shows them no rep)."""
    if not team_reached(rule, team_value, team_target) or rep not in shares:
        return None
    members = sorted(shares)
    parts = apportion(to_minor(rule.pool, currency), [max(shares[m], Decimal(0)) for m in members])
    return Line(
        "team_bonus",
        rule.name,
        about,
        from_minor(parts[members.index(rep)], currency),
        rule.share_by,
        shares[rep],
        None,
        rule.pool,
        note=f"the team reached {_pct(rule.reach_pct)} % of its goal on {rule.metric}; split by "
        f"{rule.share_by} among {len(members)} member(s)",
    )


def uncollected(
    rule: Uncollected,
    invoiced: Decimal,
    collected: Decimal,
    window: tuple[date, date],
    currency: str,
    about: str,
) -> Line | None:
    """The clawback on what was invoiced in `window` and not collected by the period's end
    (payments not matched to invoices: see the module's docstring)."""
    open_ = max(Decimal(0), invoiced - collected)
    if open_ == 0:
        return None
    return Line(
        "uncollected",
        f"uncollected after {rule.days} days",
        about,
        -money(rule.rate * open_, currency),
        "invoiced",
        invoiced,
        rule.rate,
        open_,
        note=f"invoiced {window[0]}..{window[1]} {invoiced}, collected since then {collected}",
    )


# --------------------------------------------------------------------------- true-ups


def restated_amount(lines: Iterable[Line], about: str) -> Decimal:
    """What `lines` pay about `about` that a restatement recomputes (commission after cap,
    spiffs) or already restated (true-ups)."""
    return sum(
        (
            line.amount
            for line in lines
            if line.about == about and (line.kind in RESTATED or line.kind == TRUE_UP)
        ),
        Decimal(0),
    )


@dataclass(frozen=True, slots=True)
class Restatement:
    """Period Q as the statement's moment sees it, beside what was paid about it."""

    about: str
    amount_now: Decimal  # commission after cap + spiffs, recomputed
    paid: Decimal  # everything already paid about Q (restated kinds and true-ups)
    metric: str | None = None
    value_then: Decimal | None = None
    value_now: Decimal | None = None
    details: tuple[str, ...] = field(default=())


def true_up(r: Restatement, currency: str) -> Line | None:
    """The difference between Q restated and what was paid about it (None when nothing
    changed). Negative: a clawback."""
    amount = money(r.amount_now - r.paid, currency)
    if amount == 0:
        return None
    word = "clawback" if amount < 0 else "true-up"
    moved = (
        f": {r.metric} {r.value_then} → {r.value_now}"
        if r.metric is not None and r.value_then != r.value_now
        else ""
    )
    extra = f" ({'; '.join(r.details)})" if r.details else ""
    return Line(
        TRUE_UP,
        "restatement",
        r.about,
        amount,
        r.metric,
        r.value_now,
        None,
        r.paid,
        note=f"{word}: {r.about} restated{moved}: {r.amount_now} now, {r.paid} paid{extra}",
    )
