"""The rules of goals as plain functions: who may see or set which goal, what a target is for
each kind of metric, and what changed between two revisions. No HTTP, no SQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shared import owners
from shared.auth import Principal, Role
from shared.contracts.scoring import METRICS, MetricInfo
from shared.dates import LAST_DAY
from shared.owners import Owner as Owner

from .calendar import PeriodKind, Span, period_span
from .decompose import floor_and_stretch, from_minor, minor_units, to_minor
from .exceptions import (
    BoundsGivenTwice,
    CurrencyMissing,
    CurrencyNotAllowed,
    GoalsForManagers,
    InvalidValue,
    NotYourTeamsGoal,
    PeriodMisaligned,
    PeriodOutOfRange,
    UnknownMetric,
)

MAX_TARGET = Decimal("1e15")


def parse_owner(text: str, field: str = "owner", location: str = "body") -> Owner:
    """An owner as a goal's body gives it (or, with `location="query"`, a query)."""
    return owners.parse_owner(text, field, location)


# --------------------------------------------------------------------------- access


def can_read(user: Principal, owner: Owner, team_id: str | None) -> bool:
    """Reps read their own goals, managers their team's (and its reps'), the rest the org's."""
    if user.role is Role.REP:
        return owner == Owner("rep", user.sub)
    if user.role is Role.MANAGER:
        return team_id is not None and team_id == user.team
    return True


def listed_for(user: Principal) -> tuple[str | None, str | None]:
    """What a role narrows a list of goals to, as (team, rep): a rep their own, a manager
    their team's, the rest nothing."""
    if user.role is Role.REP:
        return None, user.sub
    if user.role is Role.MANAGER:
        return user.team, None
    return None, None


def check_write(user: Principal, owner: Owner, team_id: str | None) -> None:
    """A manager sets the team's goals and its reps'; an admin the org's; nobody else."""
    if user.role is Role.ADMIN:
        return
    if user.role is Role.MANAGER:
        if owner.kind == "org" or team_id != user.team:
            raise NotYourTeamsGoal()
        return
    raise GoalsForManagers()


def may_see_rep(user: Principal, placed: str | None) -> bool:
    """A rep's team is where the roster, else their own history, places them (`placed`, from
    placement.py; None: no history yet), never what a goal claims: a manager sees and sets a
    rep's goals only while the rep is placed in the manager's team or nowhere yet. Everyone else
    is unaffected (a rep sees only their own goals anyway; an admin or bi token sees the org)."""
    return user.role is not Role.MANAGER or placed is None or placed == user.team


def team_of(user: Principal, owner: Owner, given: str | None) -> str | None:
    """The team a goal belongs to, for access: a team goal's own team; a rep goal's team as
    given, or the manager's; none for the org."""
    if owner.kind == "team":
        return owner.id
    if owner.kind == "rep":
        return given or (user.team if user.role is Role.MANAGER else None)
    return None


# --------------------------------------------------------------------------- values


def metric_info(metric: str, location: str = "body") -> MetricInfo:
    info = METRICS.get(metric)
    if info is None:
        raise UnknownMetric(metric, list(METRICS), location)
    return info


def goal_period(kind: PeriodKind, start: date) -> Span:
    """The period of `kind` that `start` begins (and that ends by the last day scoring knows)."""
    try:
        span = period_span(kind, start)
    except ValueError as exc:
        raise PeriodMisaligned(kind.value, start) from exc
    if span.end > LAST_DAY:  # scoring answers for days up to LAST_DAY only
        raise PeriodOutOfRange(kind.value, start, LAST_DAY)
    return span


def check_currency(info: MetricInfo, currency: str | None) -> None:
    if info.unit == "money" and currency is None:
        raise CurrencyMissing()
    if info.unit != "money" and currency is not None:
        raise CurrencyNotAllowed()


def exponent(info: MetricInfo, currency: str | None) -> int:
    """Decimals a value of this metric carries: a currency's minor units, none for counts."""
    if info.unit == "money":
        return minor_units(currency)
    return 0 if info.unit == "count" else 4


def parse_value(raw: object, field: str, info: MetricInfo, currency: str | None) -> Decimal:
    """A target, floor or stretch as the API takes it: an integer for counts, a decimal string
    for money (at most the currency's decimals), rates (0–1) and days."""
    if info.unit == "count":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidValue(field, "must be a whole number for a count metric", "int_type")
        value = Decimal(raw)
    else:
        if not isinstance(raw, str):
            raise InvalidValue(field, 'must be a decimal string such as "12500.00"', "decimal_type")
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise InvalidValue(field, "is not a decimal number", "decimal_parsing") from exc
        if not value.is_finite():
            raise InvalidValue(field, "is not a decimal number", "decimal_parsing")
    if value < 0 or value >= MAX_TARGET:
        raise InvalidValue(field, "must be between 0 and 10^15", "range")
    if info.unit == "ratio" and value > 1:
        raise InvalidValue(field, "a rate is between 0 and 1 (0.25 for 25 %)", "range")
    places = exponent(info, currency)
    try:
        to_minor(value, places)
    except ValueError as exc:
        raise InvalidValue(field, f"has more than {places} decimals", "decimal_places") from exc
    return value


def render(value: Decimal, info: MetricInfo, currency: str | None) -> int | str:
    if info.unit == "count":
        return int(value)
    return format(
        from_minor(to_minor(value, exponent(info, currency)), exponent(info, currency)), "f"
    )


def bounds(
    target: Decimal, info: MetricInfo, currency: str | None, given: Mapping[str, Any]
) -> tuple[Decimal, Decimal]:
    """Floor and stretch from what the caller gave: explicit, a buffer, or base/challenge %."""
    styles = {
        "explicit": given.get("floor") is not None or given.get("stretch") is not None,
        "buffer": given.get("buffer_pct") is not None,
        "percent": given.get("base_pct") is not None or given.get("challenge_pct") is not None,
    }
    if sum(styles.values()) > 1:
        raise BoundsGivenTwice(
            [
                f
                for f, on in (
                    ("floor", styles["explicit"]),
                    ("buffer_pct", styles["buffer"]),
                    ("base_pct", styles["percent"]),
                )
                if on
            ]
        )
    floor = (
        parse_value(given["floor"], "floor", info, currency)
        if given.get("floor") is not None
        else None
    )
    stretch = (
        parse_value(given["stretch"], "stretch", info, currency)
        if given.get("stretch") is not None
        else None
    )
    try:
        low, high = floor_and_stretch(
            target,
            floor=floor if floor is not None else (target if stretch is not None else None),
            stretch=stretch if stretch is not None else (target if floor is not None else None),
            buffer_pct=_pct(given.get("buffer_pct"), "buffer_pct"),
            base_pct=_pct(given.get("base_pct"), "base_pct"),
            challenge_pct=_pct(given.get("challenge_pct"), "challenge_pct"),
        )
    except ValueError as exc:
        name = next(
            (
                f
                for f in ("floor", "stretch", "buffer_pct", "base_pct", "challenge_pct")
                if f in str(exc)
            ),
            "floor",
        )
        raise InvalidValue(name, str(exc).rstrip("."), "bounds") from exc
    places = exponent(info, currency)
    return _round(low, places), _round(high, places)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _pct(raw: object, field: str) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise InvalidValue(
            field, 'must be a number of percent, such as 10 or "12.5"', "decimal_type"
        )
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise InvalidValue(field, "is not a number", "decimal_parsing") from exc
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1000):
        raise InvalidValue(field, "must be between 0 and 1000", "range")
    return value


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
