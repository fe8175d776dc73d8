"""The funnel plan: how many deals, opportunities, leads, visits and calls a target needs.

`POST /v1/plans/funnel` takes a target over a period, the owner's own conversion rates over a
look-back window (`rates_from_kpis`, from scoring's totals) with any of them overridden
(`apply_overrides`), and asks `funnel_plan` for the activity needed.

The chain, with T = target × challenge (the challenge, default 1.1, *multiplies*: a stretched
target needs more activity, not less):

    revenue:        deals_won     = T ÷ average_deal_size
    new_customers:  deals_won     = T ÷ new_customer_share
                    deals_closed  = deals_won ÷ win_rate
                    deals_opened  = deals_closed ÷ open_to_close
                    opportunities = deals_opened ÷ opportunity_to_deal
                    leads         = opportunities ÷ lead_to_opportunity
                    visits        = deals_won × visits_per_won
                    calls         = deals_won × calls_per_won

Decisions:

- The chain runs on exact values; each step's `needed` is its `exact` value rounded *up* to a
  whole number (there is no 0.3 of a visit), rounded independently, so ceilings do not compound
  down the funnel. Before the ceiling the value is rounded to 20 significant digits, so that
  28-digit division noise (109.99…99 from 13.2 × (1 ÷ 0.12)) does not cost a whole visit.
- `per_week` = needed ÷ weeks and `per_working_day` = needed ÷ working days, to 2 decimals
  (half up); `per_week_whole` and `per_working_day_whole` are the same rounded up to a whole
  number. With 0 weeks or 0 working days they are None.
- A rate a step needs that is None (unknown) or 0 makes that step and every step built on it
  `needed=None`, with `missing` saying which rate and why, e.g. "win_rate is unknown (no
  closed deals in the look-back window); pass it in `rates` to plan". Nothing is divided by
  zero and a missing rate never raises.
- Except `open_to_close`: when unknown the plan assumes 1 (every deal opened in the period
  closes in it) and says so in `assumptions`; when 0 it is missing like any other rate.
- Rates are used as given. Ratios of look-back totals can exceed 1 (more deals closed than
  opened: some were opened before the window); such a share is used as it is and noted in
  `assumptions`. Overrides of shares must lie in (0, 1].
- `rates` in the plan lists the rates the goal's chain uses (revenue: `average_deal_size`;
  new customers: `new_customer_share`; then the others), each with its `source`: "scoring" or
  "override". An unknown `open_to_close` is listed as None (the assumption says 1 was used).
- `to_json` renders the plan's own fields for the response (counts as integers, decimals as
  strings); the caller adds the request's (goal, target, weeks, working days).
- Bad input (an unknown goal, a negative target, a challenge ≤ 0, negative weeks or working
  days, negative or infinite rates, invalid overrides) raises `InvalidField`, a
  `ValueError` that names the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal
from typing import Any, Literal

from .exceptions import InvalidField

RateSource = Literal["scoring", "override"]

GOALS = ("revenue", "new_customers")
DEFAULT_CHALLENGE = Decimal("1.1")

RATE_NAMES: tuple[str, ...] = (
    "average_deal_size",
    "win_rate",
    "open_to_close",
    "opportunity_to_deal",
    "lead_to_opportunity",
    "visits_per_won",
    "calls_per_won",
    "new_customer_share",
)
SHARES = frozenset(
    {
        "win_rate",
        "open_to_close",
        "opportunity_to_deal",
        "lead_to_opportunity",
        "new_customer_share",
    }
)
STEP_NAMES = (
    "deals_won",
    "deals_closed",
    "deals_opened",
    "opportunities",
    "leads",
    "visits",
    "calls",
)

_WINDOW = "in the look-back window"
_WHY_UNKNOWN = {
    "average_deal_size": f"no deals won {_WINDOW}",
    "win_rate": f"no closed deals {_WINDOW}",
    "open_to_close": f"no deals opened {_WINDOW}",
    "opportunity_to_deal": f"no opportunities {_WINDOW}",
    "lead_to_opportunity": f"no new leads {_WINDOW}",
    "visits_per_won": f"no deals won {_WINDOW}",
    "calls_per_won": f"no deals won {_WINDOW}",
    "new_customer_share": f"no deals won {_WINDOW}",
}
_WHY_ZERO = {
    "average_deal_size": f"no revenue won {_WINDOW}",
    "win_rate": f"no deals won {_WINDOW}",
    "open_to_close": f"no deals closed {_WINDOW}",
    "opportunity_to_deal": f"no deals opened {_WINDOW}",
    "lead_to_opportunity": f"no opportunities {_WINDOW}",
    "visits_per_won": f"no visits logged {_WINDOW}",
    "calls_per_won": f"no calls logged {_WINDOW}",
    "new_customer_share": f"no new customers {_WINDOW}",
}

_NOISE = Context(prec=20)  # rounds away 28-digit division noise before a ceiling
_WIDE = Context(prec=100)  # quantizes large values without InvalidOperation
_CENT = Decimal("0.01")
_ONE = Decimal(1)


@dataclass(frozen=True)
class Rates:
    """Conversion rates over a look-back window; None where unknown.

    `overridden` names the rates set by `apply_overrides` (their source is "override").
    """

    average_deal_size: Decimal | None = None  # money per won deal
    win_rate: Decimal | None = None  # won ÷ closed
    open_to_close: Decimal | None = None  # closed ÷ opened
    opportunity_to_deal: Decimal | None = None  # deals opened ÷ opportunities
    lead_to_opportunity: Decimal | None = None  # opportunities ÷ new leads
    visits_per_won: Decimal | None = None  # visits ÷ deals won
    calls_per_won: Decimal | None = None  # calls ÷ deals won
    new_customer_share: Decimal | None = None  # new customers ÷ deals won
    overridden: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in RATE_NAMES:
            value = self.value(name)
            if value is not None and (not value.is_finite() or value < 0):
                raise InvalidField(name, "must be a finite, non-negative decimal")
        unknown = sorted(self.overridden - set(RATE_NAMES))
        if unknown:
            raise InvalidField("overridden", f"unknown rates {', '.join(unknown)}")

    def value(self, name: str) -> Decimal | None:
        if name not in RATE_NAMES:
            raise InvalidField(name, "unknown rate")
        value: Decimal | None = getattr(self, name)
        return value

    def source(self, name: str) -> RateSource:
        return "override" if name in self.overridden else "scoring"


@dataclass(frozen=True)
class RateUsed:
    name: str
    value: Decimal | None
    source: RateSource


@dataclass(frozen=True)
class Step:
    """One count the target needs: `needed` is `exact` rounded up; None when a rate is missing."""

    name: str
    needed: Decimal | None
    exact: Decimal | None
    per_week: Decimal | None
    per_working_day: Decimal | None
    per_week_whole: Decimal | None
    per_working_day_whole: Decimal | None
    formula: str
    missing: str | None


@dataclass(frozen=True)
class Plan:
    goal: str
    target: Decimal
    challenge: Decimal
    stretched_target: Decimal
    weeks: Decimal
    working_days: int
    steps: tuple[Step, ...]
    rates: tuple[RateUsed, ...]
    assumptions: tuple[str, ...]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


# --------------------------------------------------------------------------- rates


def rates_from_kpis(sums: Mapping[str, Decimal | int]) -> Rates:
    """The rates from look-back totals named as scoring's metrics; None where the denominator is 0.

    Reads revenue_won, deals_won, deals_lost, deals_opened, opportunities, new_leads, visits,
    calls and new_customers; a name left out counts as 0, other names are ignored.
    """

    def total(name: str) -> Decimal:
        value = Decimal(sums.get(name, 0))
        if not value.is_finite() or value < 0:
            raise InvalidField(name, "must be a finite, non-negative number")
        return value

    won = total("deals_won")
    closed = won + total("deals_lost")
    opened = total("deals_opened")
    opportunities = total("opportunities")
    return Rates(
        average_deal_size=_ratio(total("revenue_won"), won),
        win_rate=_ratio(won, closed),
        open_to_close=_ratio(closed, opened),
        opportunity_to_deal=_ratio(opened, opportunities),
        lead_to_opportunity=_ratio(opportunities, total("new_leads")),
        visits_per_won=_ratio(total("visits"), won),
        calls_per_won=_ratio(total("calls"), won),
        new_customer_share=_ratio(total("new_customers"), won),
    )


def apply_overrides(rates: Rates, overrides: Mapping[str, Decimal]) -> Rates:
    """`rates` with `overrides` in their place, each marked as an override.

    Every override must be a known rate and a finite decimal greater than 0; shares (win_rate,
    open_to_close, opportunity_to_deal, lead_to_opportunity, new_customer_share) at most 1.
    """
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in RATE_NAMES:
            raise InvalidField(name, f"unknown rate; expected one of {', '.join(RATE_NAMES)}")
        if not isinstance(value, Decimal) or not value.is_finite():
            raise InvalidField(name, "must be a finite decimal")
        if value < 0:
            raise InvalidField(name, "must not be negative")
        if name in SHARES and not 0 < value <= 1:
            raise InvalidField(name, "is a share: must be greater than 0 and at most 1")
        if value == 0:
            raise InvalidField(name, "must be greater than 0 (a zero rate cannot plan)")
        changes[name] = value
    return replace(rates, **changes, overridden=rates.overridden | frozenset(changes))


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Chain:
    """A value along the funnel, or the problems (missing rates) that keep it unknown."""

    exact: Decimal | None
    problems: tuple[str, ...] = ()

    def then(self, rates: Rates, name: str, op: Callable[[Decimal, Decimal], Decimal]) -> _Chain:
        return self.with_rate(name, rates.value(name), op)

    def with_rate(
        self, name: str, rate: Decimal | None, op: Callable[[Decimal, Decimal], Decimal]
    ) -> _Chain:
        problems = self.problems
        if rate is None:
            problems += (f"{name} is unknown ({_WHY_UNKNOWN[name]})",)
        elif rate == 0:
            problems += (f"{name} is 0 ({_WHY_ZERO[name]})",)
        if problems or self.exact is None or rate is None:
            return _Chain(None, problems)
        return _Chain(op(self.exact, rate), ())


def funnel_plan(
    goal: str,
    target: Decimal,
    rates: Rates,
    *,
    challenge: Decimal = DEFAULT_CHALLENGE,
    weeks: Decimal,
    working_days: int,
) -> Plan:
    """The activity `target` × `challenge` needs over a period of `weeks` and `working_days`.

    `goal` is "revenue" (target in money) or "new_customers" (a count).
    """
    if goal not in GOALS:
        raise InvalidField("goal", "must be 'revenue' or 'new_customers'")
    if not target.is_finite() or target < 0:
        raise InvalidField("target", "must be a finite, non-negative decimal")
    if not challenge.is_finite() or challenge <= 0:
        raise InvalidField("challenge", "must be a finite decimal greater than 0")
    if not weeks.is_finite() or weeks < 0:
        raise InvalidField("weeks", "must be a finite, non-negative decimal")
    if working_days < 0:
        raise InvalidField("working_days", "must not be negative")

    stretched = target * challenge
    first = "average_deal_size" if goal == "revenue" else "new_customer_share"
    assumptions: list[str] = []

    won = _Chain(stretched).then(rates, first, _div)
    closed = won.then(rates, "win_rate", _div)
    open_to_close = rates.open_to_close
    if open_to_close is None:
        assumptions.append(
            f"open_to_close is unknown ({_WHY_UNKNOWN['open_to_close']}): assumed 1, every "
            "deal opened in the period closes in it"
        )
        opened = closed.with_rate("open_to_close", _ONE, _div)
        opened_formula = "deals_closed ÷ open_to_close (unknown: assumed 1)"
    else:
        opened = closed.with_rate("open_to_close", open_to_close, _div)
        opened_formula = "deals_closed ÷ open_to_close"
    opportunities = opened.then(rates, "opportunity_to_deal", _div)
    leads = opportunities.then(rates, "lead_to_opportunity", _div)
    visits = won.then(rates, "visits_per_won", _mul)
    calls = won.then(rates, "calls_per_won", _mul)

    used = (first, *_CHAIN_RATES)
    for name in used:
        value = rates.value(name)
        if name in SHARES and value is not None and value > 1:
            assumptions.append(
                f"{name} is {_text(value, 4)}, above 1: the look-back totals include work begun "
                "before the window; used as it is"
            )

    def step(name: str, chain: _Chain, formula: str) -> Step:
        return _step(name, chain, formula, weeks, working_days)

    return Plan(
        goal=goal,
        target=target,
        challenge=challenge,
        stretched_target=stretched,
        weeks=weeks,
        working_days=working_days,
        steps=(
            step("deals_won", won, f"target × challenge ÷ {first}"),
            step("deals_closed", closed, "deals_won ÷ win_rate"),
            step("deals_opened", opened, opened_formula),
            step("opportunities", opportunities, "deals_opened ÷ opportunity_to_deal"),
            step("leads", leads, "opportunities ÷ lead_to_opportunity"),
            step("visits", visits, "deals_won × visits_per_won"),
            step("calls", calls, "deals_won × calls_per_won"),
        ),
        rates=tuple(RateUsed(name, rates.value(name), rates.source(name)) for name in used),
        assumptions=tuple(assumptions),
    )


_CHAIN_RATES = (
    "win_rate",
    "open_to_close",
    "opportunity_to_deal",
    "lead_to_opportunity",
    "visits_per_won",
    "calls_per_won",
)


# --------------------------------------------------------------------------- JSON


def to_json(plan: Plan) -> dict[str, Any]:
    """The plan's own fields for a response body, beside the request's (goal, target, weeks,
    working days: the caller renders those). Whole counts are JSON integers; other decimals are
    strings: `exact` to 4 decimals, per week and per working day to 2, rates to 6, trailing zeros
    dropped."""
    return {
        "challenge": _text(plan.challenge, 6),
        "stretched_target": _text(plan.stretched_target, 4),
        "steps": [
            {
                "name": step.name,
                "needed": _int(step.needed),
                "exact": None if step.exact is None else _text(step.exact, 4),
                "per_week": None if step.per_week is None else _text(step.per_week, 2),
                "per_working_day": (
                    None if step.per_working_day is None else _text(step.per_working_day, 2)
                ),
                "per_week_whole": _int(step.per_week_whole),
                "per_working_day_whole": _int(step.per_working_day_whole),
                "formula": step.formula,
                "missing": step.missing,
            }
            for step in plan.steps
        ],
        "rates": [
            {
                "name": rate.name,
                "value": None if rate.value is None else _text(rate.value, 6),
                "source": rate.source,
            }
            for rate in plan.rates
        ],
        "assumptions": list(plan.assumptions),
    }


def _int(value: Decimal | None) -> int | None:
    return None if value is None else int(value)


def _text(value: Decimal, places: int) -> str:
    """`value` to at most `places` decimals (half up), without trailing zeros or an exponent."""
    text = f"{value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP, _WIDE):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --------------------------------------------------------------------------- helpers


def _step(name: str, chain: _Chain, formula: str, weeks: Decimal, working_days: int) -> Step:
    if chain.exact is None:
        return Step(
            name=name,
            needed=None,
            exact=None,
            per_week=None,
            per_working_day=None,
            per_week_whole=None,
            per_working_day_whole=None,
            formula=formula,
            missing=_missing(chain.problems),
        )
    needed = _ceil(chain.exact)
    days = Decimal(working_days)
    return Step(
        name=name,
        needed=needed,
        exact=chain.exact,
        per_week=_per(needed, weeks),
        per_working_day=_per(needed, days),
        per_week_whole=_per_whole(needed, weeks),
        per_working_day_whole=_per_whole(needed, days),
        formula=formula,
        missing=None,
    )


def _missing(problems: tuple[str, ...]) -> str:
    unique = tuple(dict.fromkeys(problems))
    if len(unique) == 1:
        return f"{unique[0]}; pass it in `rates` to plan"
    return f"{' and '.join(unique)}; pass them in `rates` to plan"


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return None if denominator == 0 else numerator / denominator


def _div(value: Decimal, rate: Decimal) -> Decimal:
    return value / rate


def _mul(value: Decimal, rate: Decimal) -> Decimal:
    return value * rate


def _ceil(value: Decimal) -> Decimal:
    whole = _NOISE.plus(value).to_integral_value(rounding=ROUND_CEILING)
    return whole.quantize(_ONE, context=_WIDE)


def _per(needed: Decimal, divisor: Decimal) -> Decimal | None:
    if divisor == 0:
        return None
    return (needed / divisor).quantize(_CENT, rounding=ROUND_HALF_UP, context=_WIDE)


def _per_whole(needed: Decimal, divisor: Decimal) -> Decimal | None:
    return None if divisor == 0 else _ceil(needed / divisor)
