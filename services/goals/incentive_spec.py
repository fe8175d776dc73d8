"""An incentive plan as data: what an admin writes (`POST /v1/incentives/plans`) and every
version of it keeps, validated once here.

A plan pays the reps it applies to, for each period of its kind (month or quarter), in its one
currency:
- `commission`: a rate on a money metric (revenue won, collected…) in marginal attainment tiers
  against the rep's own goal for that metric and period: e.g. 3 % of the part up to 100 % of
  target, 5 % of the part above. Below the goal's floor a `decelerator` rate replaces them all.
  Rates never fall from one tier to the next and the decelerator is at most the first tier's
  rate, so more sold never pays less. A `cap` bounds the commission of a period.
- `spiffs`: an amount per unit of a count metric in a cut (each new customer in tier A).
- `champion_bonuses`: an amount to the rep ranked first on a metric in their team or the org
  (ties share it).
- `team_bonuses`: a pool, when the team reaches its goal on a metric, split among the team's
  members the plan applies to by their share of a metric.
- `clawbacks`: `restate` (a period's commission and spiffs recomputed in each of the next
  `lookback_periods` periods, the difference paid or clawed back there: a won deal voided after
  it was paid comes back as a negative line), and `uncollected` (a rate on what the rep invoiced
  and has not collected within `days` days).

Versions are effective-dated: a version applies to the periods that start on or after its
`effective_from` until the next version's, so each period is governed by exactly one version
and nothing is paid twice across versions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, ValidationError

from shared.contracts.scoring import METRICS
from shared.dates import Day
from shared.events import Amount, Channel, Currency, Identifier, ShortText, Tier
from shared.money import decimals_error
from shared.owners import OwnerText

_MAX_RATE_PLACES = 6
_MAX_PCT = Decimal(10_000)


def _rate(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError('must be a decimal string between 0 and 1, such as "0.03"')
    try:
        rate = Decimal(value)
    except ArithmeticError as exc:
        raise ValueError('must be a decimal string between 0 and 1, such as "0.03"') from exc
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise ValueError('must be a decimal string between 0 and 1, such as "0.03"')
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_RATE_PLACES:
        raise ValueError(f"has more than {_MAX_RATE_PLACES} decimals")
    return rate


def _pct(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('must be a number of percent such as 100 or "112.5"')
    try:
        pct = Decimal(value)
    except ArithmeticError as exc:
        raise ValueError('must be a number of percent such as 100 or "112.5"') from exc
    if not pct.is_finite() or not 0 <= pct <= _MAX_PCT:
        raise ValueError(f"must be between 0 and {_MAX_PCT} percent")
    return pct


Rate = Annotated[
    Decimal,
    PlainValidator(_rate),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["0.03"]}),
]
"""A share of a value, 0 to 1, as a decimal string of at most 6 decimals ("0.03" is 3 %)."""

Pct = Annotated[
    Decimal,
    PlainValidator(_pct),
    PlainSerializer(
        lambda d: int(d) if d == d.to_integral_value() else format(d, "f"),
        return_type=int | str,
        when_used="always",
    ),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], "examples": [100]}),
]
"""Percent of a goal's target, 0 to 10,000."""


def _money_metrics() -> list[str]:
    return [name for name, info in METRICS.items() if info.unit == "money" and info.additive]


def _count_metrics() -> list[str]:
    return [name for name, info in METRICS.items() if info.unit == "count"]


def _rankable_metrics() -> list[str]:
    return [name for name, info in METRICS.items() if info.additive]


def starts_period(period: str, day: date) -> bool:
    """Whether `day` is the first day of a month (`month`) or of a quarter (`quarter`)."""
    return day.day == 1 and (period == "month" or day.month % 3 == 1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bracket(_Strict):
    """One marginal bracket: `rate` on the part of the value from `from_pct` % of the target up
    to the next tier's `from_pct` (the last one: without end)."""

    from_pct: Pct = Field(description="Where the bracket starts, in % of target; the first is 0.")
    rate: Rate


class Decelerator(_Strict):
    rate: Rate = Field(
        description="Replaces every tier's rate, on the whole value, when the period's value "
        "is below the goal's floor. At most the first tier's rate."
    )


class Commission(_Strict):
    metric: str = Field(
        default="revenue_won",
        description="A money metric scoring serves, added up over the period (revenue_won, "
        "collected, invoiced).",
    )
    tiers: list[Bracket] = Field(min_length=1, max_length=10)
    decelerator: Decelerator | None = None
    cap: Amount | None = Field(
        default=None, description="The most the commission of one period pays (before clawbacks)."
    )


class Spiff(_Strict):
    name: ShortText
    metric: str = Field(default="new_customers", description="A count metric scoring serves.")
    tier: Tier | None = Field(default=None, description="Only in this customer tier.")
    product_line: Identifier | None = None
    channel: Channel | None = None
    amount: Amount = Field(description="Paid per unit of the metric in the period.")


class ChampionBonus(_Strict):
    name: ShortText
    metric: str = Field(default="revenue_won", description="An additive metric to rank reps by.")
    scope: Literal["team", "org"] = Field(
        default="team",
        description="`team`: the first of the rep's team (the roster's, on the period's last "
        "day); `org`: the first of the whole org.",
    )
    amount: Amount = Field(
        description="To the rep ranked first (a value above 0) on scoring's board; ties share "
        "it. A first the plan does not cover is still first: nobody is paid it then."
    )


class TeamBonus(_Strict):
    name: ShortText
    metric: str = Field(
        default="revenue_won", description="The team's goal on this metric must be reached."
    )
    reach_pct: Pct = Field(default=Decimal(100), description="Attainment that releases the pool.")
    pool: Amount
    share_by: str = Field(
        default="revenue_won",
        description="The pool is split among the team's members the plan applies to (the "
        "roster's, on the period's last day) by their share of this additive metric (equally "
        "when nobody has any).",
    )


class Uncollected(_Strict):
    days: int = Field(
        ge=1,
        le=366,
        description="Days an invoice is given to be paid. A period's invoices are those whose "
        "days ran out during it, from the day after the previous period's window ended.",
    )
    rate: Rate = Field(description="Clawed back on what is still uncollected after `days`.")


class Clawbacks(_Strict):
    restate: bool = Field(
        default=True,
        description="Recompute the commission and spiffs of the previous `lookback_periods` "
        "periods as the log stands at this period's end, and pay or claw back the difference.",
    )
    lookback_periods: int = Field(default=3, ge=1, le=12)
    uncollected: Uncollected | None = None


class PlanBody(_Strict):
    """One version of a plan: everything it pays, and to whom."""

    name: ShortText
    currency: Currency = Field(description="Every amount of the plan, and what it pays, in it.")
    period: Literal["month", "quarter"] = Field(description="The period a statement covers.")
    applies_to: list[OwnerText] = Field(
        min_length=1,
        max_length=200,
        description="`rep:ID`, `team:ID` (the reps the roster places in it on a period's last "
        "day) or `org`.",
    )
    commission: Commission | None = None
    spiffs: list[Spiff] = Field(default_factory=list, max_length=20)
    champion_bonuses: list[ChampionBonus] = Field(default_factory=list, max_length=10)
    team_bonuses: list[TeamBonus] = Field(default_factory=list, max_length=10)
    clawbacks: Clawbacks = Field(default_factory=Clawbacks)
    active: bool = Field(
        default=True, description="false: from this version on the plan pays nothing."
    )

    @model_validator(mode="after")
    def _consistent(self) -> PlanBody:
        if errors := self._rule_errors():
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def _rule_errors(self) -> list[InitErrorDetails]:
        """Every rule across fields the plan breaks, each at its field's path."""
        errors: list[InitErrorDetails] = []

        def bad(loc: tuple[str | int, ...], message: str, value: Any) -> None:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("plan_rule", message), loc=loc, input=value
                )
            )

        def metric(loc: tuple[str | int, ...], name: str, allowed: list[str], what: str) -> None:
            if name not in allowed:
                bad(loc, f"must be {what}: one of {', '.join(allowed)}", name)

        def money(loc: tuple[str | int, ...], amount: Decimal | None) -> None:
            if amount is not None and (problem := decimals_error(amount, self.currency)):
                bad(loc, problem, format(amount, "f"))

        if (c := self.commission) is not None:
            metric(("commission", "metric"), c.metric, _money_metrics(), "an additive money metric")
            if c.tiers[0].from_pct != 0:
                bad(
                    ("commission", "tiers", 0, "from_pct"),
                    "the first tier starts at 0",
                    c.tiers[0].from_pct,
                )
            for i, (low, high) in enumerate(zip(c.tiers, c.tiers[1:], strict=False), start=1):
                if high.from_pct <= low.from_pct:
                    bad(("commission", "tiers", i, "from_pct"), "tiers must rise", high.from_pct)
                if high.rate < low.rate:
                    bad(
                        ("commission", "tiers", i, "rate"),
                        "a tier's rate is at least the one before (more sold never pays less)",
                        format(high.rate, "f"),
                    )
            if c.decelerator is not None and c.decelerator.rate > c.tiers[0].rate:
                bad(
                    ("commission", "decelerator", "rate"),
                    "is at most the first tier's rate",
                    format(c.decelerator.rate, "f"),
                )
            money(("commission", "cap"), c.cap)
        for i, s in enumerate(self.spiffs):
            metric(("spiffs", i, "metric"), s.metric, _count_metrics(), "a count metric")
            money(("spiffs", i, "amount"), s.amount)
        for i, b in enumerate(self.champion_bonuses):
            metric(("champion_bonuses", i, "metric"), b.metric, _rankable_metrics(), "additive")
            money(("champion_bonuses", i, "amount"), b.amount)
        for i, t in enumerate(self.team_bonuses):
            metric(("team_bonuses", i, "metric"), t.metric, _rankable_metrics(), "additive")
            metric(("team_bonuses", i, "share_by"), t.share_by, _rankable_metrics(), "additive")
            money(("team_bonuses", i, "pool"), t.pool)
        if len(set(self.applies_to)) != len(self.applies_to):
            bad(("applies_to",), "names an owner twice", list(self.applies_to))
        return errors


def _rule(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("plan_rule", message), loc=loc, input=value)


def _period_start_errors(period: str, day: date) -> list[InitErrorDetails]:
    if starts_period(period, day):
        return []
    return [_rule(("effective_from",), f"must be the first day of a {period}", day.isoformat())]


class PlanIn(PlanBody):
    """`POST /v1/incentives/plans`: the plan's first version."""

    effective_from: Day = Field(
        description="The first day of the first period it governs (a month's or a quarter's "
        "first day)."
    )

    def _rule_errors(self) -> list[InitErrorDetails]:
        # Reported with the body's own faults, all in one answer.
        return [*super()._rule_errors(), *_period_start_errors(self.period, self.effective_from)]

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Field sales 2027",
                    "currency": "EUR",
                    "period": "month",
                    "applies_to": ["team:team-north"],
                    "effective_from": "2027-01-01",
                    "commission": {
                        "metric": "revenue_won",
                        "tiers": [
                            {"from_pct": 0, "rate": "0.03"},
                            {"from_pct": 100, "rate": "0.05"},
                        ],
                        "decelerator": {"rate": "0.01"},
                        "cap": "20000.00",
                    },
                    "spiffs": [
                        {
                            "name": "New A customer",
                            "metric": "new_customers",
                            "tier": "A",
                            "amount": "250.00",
                        }
                    ],
                    "champion_bonuses": [
                        {"name": "Revenue champion", "metric": "revenue_won", "amount": "500.00"}
                    ],
                    "team_bonuses": [
                        {
                            "name": "Team goal",
                            "metric": "revenue_won",
                            "pool": "3000.00",
                            "share_by": "revenue_won",
                        }
                    ],
                    "clawbacks": {
                        "restate": True,
                        "lookback_periods": 3,
                        "uncollected": {"days": 60, "rate": "0.03"},
                    },
                }
            ]
        },
    )


def applies(applies_to: Sequence[str], rep: str, team: str | None) -> bool:
    """Whether a plan naming `applies_to` pays `rep`, whom the roster places in `team` (None:
    in no team) on the day that counts (a statement: its period's last day)."""
    return (
        "org" in applies_to
        or f"rep:{rep}" in applies_to
        or (team is not None and f"team:{team}" in applies_to)
    )


def reaches(applies_to: Sequence[str], reps: Collection[str], teams: Collection[str]) -> bool:
    """Whether a plan naming `applies_to` names `org`, one of `reps` or one of `teams`: who may
    read it (a rep: themselves and the teams the roster has placed them in; a manager: their
    team and its reps)."""
    return (
        "org" in applies_to
        or any(f"rep:{rep}" in applies_to for rep in reps)
        or any(f"team:{team}" in applies_to for team in teams)
    )


Reason = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]
FIXED_FIELDS = ("currency", "period")
"""What a new version may not change: a plan pays in one currency, for one kind of period."""
PATCH_ONLY = ("effective_from", "reason", "expected_version")


class PlanPatch(_Strict):
    """`PATCH /v1/incentives/plans/{id}`: a new version, the latest one's body with the
    top-level fields given here replaced (`commission: null` removes the commission), validated
    again as a whole."""

    effective_from: Day = Field(
        description="The first day of the first period the new version governs (a month's or "
        "a quarter's first day, as the plan's `period`). A version governs each period that "
        "starts on or after it, unless a higher version's `effective_from` is on or before "
        "that period's first day."
    )
    reason: Reason | None = Field(default=None, description="Why: kept with the version.")
    expected_version: StrictInt | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="409 when the plan has moved past this version.",
    )
    name: ShortText | None = None
    currency: Currency | None = Field(default=None, description="May not change (422).")
    period: Literal["month", "quarter"] | None = Field(
        default=None, description="May not change (422)."
    )
    applies_to: list[OwnerText] | None = Field(default=None, min_length=1, max_length=200)
    commission: Commission | None = None
    spiffs: list[Spiff] | None = Field(default=None, max_length=20)
    champion_bonuses: list[ChampionBonus] | None = Field(default=None, max_length=10)
    team_bonuses: list[TeamBonus] | None = Field(default=None, max_length=10)
    clawbacks: Clawbacks | None = None
    active: StrictBool | None = None

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "effective_from": "2027-04-01",
                    "reason": "Q2: a higher top tier",
                    "expected_version": 1,
                    "commission": {
                        "metric": "revenue_won",
                        "tiers": [
                            {"from_pct": 0, "rate": "0.03"},
                            {"from_pct": 100, "rate": "0.06"},
                        ],
                    },
                }
            ]
        },
    )


def _as_rule(error: ErrorDetails) -> InitErrorDetails:
    """A validation error re-raised as it was reported (its message kept word for word)."""
    message = error["msg"].removeprefix("Value error, ")
    return InitErrorDetails(
        type=PydanticCustomError(error["type"], message),
        loc=tuple(error["loc"]),
        input=error.get("input"),
    )


def revise(latest: Mapping[str, Any], patch: PlanPatch) -> PlanBody:
    """The body of a plan's next version: `latest` (the latest version's body, as stored) with
    the patch's top-level fields replaced, validated again as a whole. Refused (every fault in
    one ValidationError, at its field's path): a change of currency or period, an
    `effective_from` that does not start a period of the plan's kind, anything PlanBody's own
    rules refuse."""
    changes = patch.model_dump(mode="json", exclude_unset=True, exclude=set(PATCH_ONLY))
    errors: list[InitErrorDetails] = [
        _rule((name,), f"may not change (it is {latest.get(name)}): make a new plan", changes[name])
        for name in FIXED_FIELDS
        if name in changes and changes[name] != latest.get(name)
    ]
    errors += _period_start_errors(str(latest.get("period")), patch.effective_from)
    body: PlanBody | None = None
    try:
        body = PlanBody.model_validate({**latest, **changes})
    except ValidationError as exc:
        errors += [_as_rule(e) for e in exc.errors()]
    if errors or body is None:
        raise ValidationError.from_exception_data(PlanPatch.__name__, errors)
    return body
