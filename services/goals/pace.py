"""A goal's progress: attainment, expected-to-date, projections, and on_track / at_risk / behind.

`GET /v1/goals/{id}/progress` gathers the actual so far (from scoring), the share of the target
expected by today along the decomposition's own shape (`expected_fraction`: working days or the
children's weights) and the share of the period's working days elapsed (`elapsed_fraction`),
and asks `progress` for the rest.

- attainment_pct, floor_pct, stretch_pct: actual ÷ target (floor, stretch) × 100, to 1 decimal
  (half up); None when that denominator is 0.
- expected_to_date = target × expected_fraction; gap = actual − expected_to_date.
- projected_run_rate = actual ÷ elapsed_fraction (None before any working day has elapsed);
  projected_with_pipeline = actual + weighted_pipeline (None without a pipeline). Once the
  period is over both are the actual: nothing more can land in it.
- status, and the rule that decided it, in words with the numbers compared:
  - period over: on_track if actual ≥ target, at_risk if actual ≥ floor, else behind;
  - otherwise, with projection = the larger of the two projections known: on_track if
    actual ≥ expected_to_date or projection ≥ target; at_risk if projection ≥ floor; else
    behind. With no projection (no working day elapsed yet): on_track ("nothing expected yet")
    unless something is already expected and not reached, which is at_risk.

Amounts stay exact Decimals (the HTTP layer rounds them to the metric's or currency's places:
a 3-decimal currency would lose a digit to an early rounding); only the percentages are rounded
here, to 1 decimal, and the numbers in `rule` are shown with thousands separators: whole
numbers without decimals, up to 4 decimals as they are (money), longer ones to 2 decimals.

Raises `ValueError` when a fraction lies outside 0..1 or unless 0 ≤ floor ≤ target ≤ stretch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Literal

Status = Literal["on_track", "at_risk", "behind"]

_WIDE = Context(prec=100)  # quantizes large values without InvalidOperation
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Progress:
    attainment_pct: Decimal | None
    floor_pct: Decimal | None
    stretch_pct: Decimal | None
    expected_to_date: Decimal
    gap: Decimal
    projected_run_rate: Decimal | None
    projected_with_pipeline: Decimal | None
    status: Status
    rule: str


def progress(
    *,
    target: Decimal,
    floor: Decimal,
    stretch: Decimal,
    actual: Decimal,
    expected_fraction: Decimal,
    elapsed_fraction: Decimal,
    weighted_pipeline: Decimal | None,
    period_over: bool,
) -> Progress:
    """Where `actual` stands against the goal, and whether the goal is on track."""
    for name, fraction in (
        ("expected_fraction", expected_fraction),
        ("elapsed_fraction", elapsed_fraction),
    ):
        if not fraction.is_finite() or not 0 <= fraction <= 1:
            raise ValueError(f"{name}: {fraction} is not between 0 and 1")
    if not 0 <= floor <= target <= stretch:
        raise ValueError(
            f"floor, target, stretch: need 0 ≤ floor ≤ target ≤ stretch, got {floor}, "
            f"{target}, {stretch}"
        )

    expected = target * expected_fraction
    if period_over:
        run_rate: Decimal | None = actual
        with_pipeline = None if weighted_pipeline is None else actual
        status, rule = _final_status(actual, target, floor)
    else:
        run_rate = None if elapsed_fraction == 0 else actual / elapsed_fraction
        with_pipeline = None if weighted_pipeline is None else actual + weighted_pipeline
        status, rule = _pace_status(actual, expected, run_rate, with_pipeline, target, floor)

    return Progress(
        attainment_pct=_pct(actual, target),
        floor_pct=_pct(actual, floor),
        stretch_pct=_pct(actual, stretch),
        expected_to_date=expected,
        gap=actual - expected,
        projected_run_rate=run_rate,
        projected_with_pipeline=with_pipeline,
        status=status,
        rule=rule,
    )


def _final_status(actual: Decimal, target: Decimal, floor: Decimal) -> tuple[Status, str]:
    a, t, f = _fmt(actual), _fmt(target), _fmt(floor)
    if actual >= target:
        return "on_track", f"period over: actual {a} ≥ target {t}"
    if actual >= floor:
        return "at_risk", f"period over: actual {a} ≥ floor {f} but < target {t}"
    return "behind", f"period over: actual {a} < floor {f}"


def _pace_status(
    actual: Decimal,
    expected: Decimal,
    run_rate: Decimal | None,
    with_pipeline: Decimal | None,
    target: Decimal,
    floor: Decimal,
) -> tuple[Status, str]:
    a, e, t, f = _fmt(actual), _fmt(expected), _fmt(target), _fmt(floor)
    projections = [
        (value, basis)
        for value, basis in ((run_rate, "run-rate"), (with_pipeline, "with pipeline"))
        if value is not None
    ]
    if not projections:
        if actual >= expected:
            if expected == 0:
                return "on_track", "nothing expected yet: no working day of the period has elapsed"
            return "on_track", f"actual {a} ≥ expected to date {e} (no projection yet)"
        return (
            "at_risk",
            f"actual {a} < expected to date {e}, and no projection yet: no working day of "
            "the period has elapsed",
        )
    projection, basis = max(projections, key=lambda pb: pb[0])
    p = f"projected {_fmt(projection)} ({basis})"
    if actual >= expected:
        return "on_track", f"actual {a} ≥ expected to date {e}"
    if projection >= target:
        return "on_track", f"actual {a} < expected to date {e}, but {p} ≥ target {t}"
    if projection >= floor:
        return (
            "at_risk",
            f"actual {a} < expected to date {e} and {p} < target {t}, but ≥ floor {f}",
        )
    return "behind", f"actual {a} < expected to date {e} and {p} < floor {f}"


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == 0:
        return None
    return (part / whole * _HUNDRED).quantize(_TENTH, ROUND_HALF_UP, _WIDE)


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP, _WIDE)


def _fmt(value: Decimal) -> str:
    """950000.00 → "950,000"; 1234.5 → "1,234.5"; 999999.999 → "999,999.999" (up to 4 decimals
    as given); 333333.33333… → "333,333.33"."""
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1), context=_WIDE):,f}"
    value = value.normalize(_WIDE)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -4:
        return f"{value:,f}"
    return f"{_round(value):,f}"


def level(
    *,
    target: Decimal,
    floor: Decimal,
    stretch: Decimal,
    actual: Decimal,
    lower_is_better: bool = False,
) -> Progress:
    """A rate or an average is not paced — it does not grow through the period — so it is
    judged by its level: where it stands now is where it is expected to stand, and (if it
    holds) where it ends. For durations (`lower_is_better`) the stretch is the far bound."""
    if lower_is_better:
        if actual <= target:
            status: Status = "on_track"
            rule = f"{_fmt(actual)} ≤ target {_fmt(target)} (lower is better)"
        elif actual <= stretch:
            status, rule = (
                "at_risk",
                f"{_fmt(actual)} > target {_fmt(target)} but ≤ {_fmt(stretch)}",
            )
        else:
            status, rule = "behind", f"{_fmt(actual)} > {_fmt(stretch)}"
    elif actual >= target:
        status, rule = "on_track", f"level {_fmt(actual)} ≥ target {_fmt(target)}"
    elif actual >= floor:
        status = "at_risk"
        rule = f"level {_fmt(actual)} ≥ floor {_fmt(floor)} but < target {_fmt(target)}"
    else:
        status, rule = "behind", f"level {_fmt(actual)} < floor {_fmt(floor)}"
    return Progress(
        attainment_pct=_pct(actual, target),
        floor_pct=_pct(actual, floor),
        stretch_pct=_pct(actual, stretch),
        expected_to_date=target,
        gap=actual - target,
        projected_run_rate=actual,
        projected_with_pipeline=None,
        status=status,
        rule=rule,
    )
