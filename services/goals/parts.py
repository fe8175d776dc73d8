"""A goal's parts: the child goal specs a decomposition request makes of it, as plain
functions. No HTTP, no SQL.

In two steps, because some weights need actuals that only scoring has: `planned` checks the
request against the goal and says what the split needs (the spans whose actuals weigh the
parts, the reps whose team must be checked), then `parts` turns the goal, the plan, the org's
calendar and any actuals into the children's specs, which always sum exactly to the goal (money
in minor units, largest remainder). Refusals raise `InvalidField` naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .calendar import Calendar, Span, children, period_of
from .decompose import (
    Targets,
    across_weights,
    from_minor,
    split_targets,
    time_weights,
    to_minor,
)
from .domain import Owner, exponent
from .exceptions import InvalidField
from .schemas import DecomposeIn
from .spec import Decomposition, GoalSpec

TIME_STRATEGIES = ("even", "working_days", "seasonal", "last_year")
REP_STRATEGIES = ("even", "weights", "past_share")
TIERS = ("A", "B", "C")


@dataclass(frozen=True, slots=True)
class Split:
    """A decomposition request checked against its goal."""

    request: DecomposeIn
    strategy: str
    spans: tuple[Span, ...] = ()  # by=time: the children's periods
    keys: tuple[str, ...] = ()  # across: the tiers, product lines or reps
    team: str | None = None  # by=rep: the goal's team
    history: tuple[Span, ...] = ()  # the spans whose actuals weigh the parts

    @property
    def reps_field(self) -> str:
        """The field that named the reps (for errors about them)."""
        return "reps" if self.request.reps else "weights"


def year_earlier(span: Span) -> Span:
    def back(day: date) -> date:
        try:
            return day.replace(year=day.year - 1)
        except ValueError:  # 29 February
            return day.replace(year=day.year - 1, day=28)

    return Span(back(span.start), back(span.end))


def weight(raw: int | str, field: str) -> Decimal:
    """A weight as the API takes it: a number ≥ 0."""
    try:
        value = Decimal(str(raw))
    except ArithmeticError as exc:
        raise InvalidField(field, "is not a number") from exc
    if not value.is_finite() or value < 0:
        raise InvalidField(field, "must be a number ≥ 0")
    return value


def planned(spec: GoalSpec, request: DecomposeIn) -> Split:
    """The request checked against the goal: what its parts are and what weighing them needs."""
    if request.by == "time":
        if request.into is None:
            raise InvalidField("into", "by=time needs `into` (quarter, month, week or day)")
        try:
            spans = children(spec.span, spec.period, request.into)
        except ValueError as exc:
            raise InvalidField("into", str(exc)) from exc
        if request.strategy not in TIME_STRATEGIES:
            raise InvalidField(
                "strategy", "by=time splits even, by working_days, seasonal or last_year"
            )
        history = [year_earlier(s) for s in spans] if request.strategy == "last_year" else []
        return Split(request, request.strategy, spans=tuple(spans), history=tuple(history))
    if request.by in ("tier", "product_line"):
        if not request.weights:
            raise InvalidField("weights", f'by={request.by} needs `weights`, e.g. {{"A": 60}}')
        if spec.cut(request.by):
            raise InvalidField("by", f"the goal is already cut by {request.by}")
        if request.by == "tier":
            unknown = [k for k in request.weights if k not in TIERS]
            if unknown:
                raise InvalidField("weights", f"tiers are A, B and C, not {', '.join(unknown)}")
        return Split(request, "weights", keys=tuple(request.weights))
    if spec.owner.kind != "team":  # by rep
        raise InvalidField("by", "only a team's goal splits across its reps")
    reps = request.reps or (list(request.weights) if request.weights else None)
    if not reps:
        raise InvalidField("reps", "by=rep needs the team's `reps`")
    if len(set(reps)) != len(reps):
        raise InvalidField("reps", "a rep is named twice")
    if request.strategy not in REP_STRATEGIES:
        raise InvalidField("strategy", "by=rep splits even, by weights or by past_share")
    history = []
    if request.strategy == "past_share":  # the period before, of the same kind
        history = [period_of(spec.period, spec.span.start - timedelta(days=1))]
    return Split(
        request, request.strategy, keys=tuple(reps), team=spec.owner.id, history=tuple(history)
    )


def parts(
    goal_id: uuid.UUID,
    spec: GoalSpec,
    split: Split,
    calendar: Calendar,
    actuals: Sequence[Decimal] | None = None,
    by_rep: Mapping[str, Decimal] | None = None,
) -> list[GoalSpec]:
    """The children's specs: `actuals` over `split.history` (by time, last_year), or each rep's
    over it (`by_rep`, past_share)."""
    request = split.request
    if request.by == "time":
        assert request.into is not None
        seasonal = (
            {m: weight(w, f"seasonal.{m}") for m, w in request.seasonal.items()}
            if request.seasonal
            else None
        )
        weights = time_weights(
            split.spans, split.strategy, calendar=calendar, seasonal=seasonal, last_year=actuals
        )
        into = request.into
        kids = [spec.replace(period=into, span=span) for span in split.spans]
    elif request.by in ("tier", "product_line"):
        assert request.weights is not None
        weights = across_weights(
            list(split.keys), {k: weight(v, f"weights.{k}") for k, v in request.weights.items()}
        )
        kids = [spec.replace(**{request.by: key}) for key in split.keys]
    else:
        given = {k: weight(v, f"weights.{k}") for k, v in (request.weights or {}).items()}
        weights = across_weights(list(split.keys), given or None, split.strategy, by_rep)
        kids = [spec.replace(owner=Owner("rep", rep), team_id=split.team) for rep in split.keys]
    places = exponent(spec.info, spec.currency)
    whole = Targets(*(to_minor(v, places) for v in spec.bounds))
    return [
        kid.replace(
            target=from_minor(part.target, places),
            floor=from_minor(part.floor, places),
            stretch=from_minor(part.stretch, places),
            decomposition=None,
            parent_id=goal_id,
            note=f"{request.by} part of {goal_id}",
        )
        for kid, part in zip(kids, split_targets(whole, weights), strict=True)
    ]


def decomposed(spec: GoalSpec, split: Split, kids: Sequence[uuid.UUID]) -> GoalSpec:
    """The goal as its decomposition into `kids` leaves it."""
    request = split.request
    return spec.replace(
        decomposition=Decomposition(
            by=request.by,
            into=request.into,
            strategy=split.strategy,
            children=tuple(kids),
        )
    )
