"""Rate-drop alerts: a watched KPI rate that fell sharply in a period against the owner's previous
periods of the same length. Plain functions, no I/O: the caller reads the sums of
`stored_metrics(stages)` over each of `windows(first, last)` and hands them to `rate_alerts`.

Watched rates: lead → opportunity, win, connected-call, collection (money, in the reporting
currency only) and effective-visit rates from the catalogue (`domain.CATALOGUE`, derived with
`domain.derive`, so a rate means here what it means in the KPI table), and each step of the deal
funnel between consecutive stages of the order the caller gives, `stage_step:<s>-><t>` =
`stage:<t>` ÷ `stage:<s>` (deals that reached each stage in the period).

All arithmetic is exact (fractions), so a drop of exactly the threshold alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any

from .domain import CATALOGUE, Kind, Sums, derive, money, stored_parts
from .exceptions import RangeReversed, TooEarlyToCompare

STAGE, STEP = "stage:", "stage_step:"
MIN_BASELINE_PERIODS = 2  # previous periods with a nonzero denominator a baseline needs

LABELS = {
    "lead_to_opportunity_rate": "Lead → opportunity rate",
    "win_rate": "Win rate",
    "call_connect_rate": "Connected-call rate",
    "collection_rate": "Collection rate",
    "effective_visit_rate": "Effective-visit rate",
}
WATCHED = tuple(LABELS)

Amount = Decimal | int


@dataclass(frozen=True, slots=True)
class AlertRules:
    """When a rate's fall raises an alert.

    A rate alerts when its relative drop against the baseline, (baseline - value) ÷ baseline, is
    at least `drop`, and the volume means something: the current denominator is at least
    `min_denominator`, and so is the mean denominator of the previous periods that enter the
    baseline. The baseline compares with the last `history` periods before the current one."""

    drop: float = 0.20
    min_denominator: int = 20
    history: int = 4  # previous periods compared with

    def __post_init__(self) -> None:
        if not 0 < self.drop <= 1:
            raise ValueError("drop must be in (0, 1]")
        if self.min_denominator < 0:
            raise ValueError("min_denominator must not be negative")
        if self.history < 1:
            raise ValueError("history must be at least 1")


DEFAULT_RULES = AlertRules()


def windows(first: date, last: date, history: int = 4) -> list[tuple[date, date]]:
    """The period first..last and the `history` periods of the same length (in days) right before
    it, oldest first, current last. Windows are contiguous and inclusive at both ends; they are
    counted in days, not calendar periods (October's 31 days compare with four 31-day windows)."""
    if last < first:
        raise RangeReversed()
    if history < 0:
        raise ValueError("history must not be negative")
    length = (last - first).days + 1
    try:
        before = [
            (first - timedelta(days=k * length), first - timedelta(days=(k - 1) * length + 1))
            for k in range(history, 0, -1)
        ]
    except OverflowError:
        raise TooEarlyToCompare() from None
    return [*before, (first, last)]


@dataclass(frozen=True, slots=True)
class _Watch:
    """One watched rate: a catalogue rate, or a stage step (`step` = (from, to))."""

    name: str
    label: str
    step: tuple[str, str] | None = None

    @property
    def is_money(self) -> bool:
        return self.step is None and CATALOGUE[self.name].kind is Kind.MONEY_RATE

    def parts(self, sums: Sums, currency: str) -> tuple[Amount, Amount]:
        """Numerator and denominator over one window's sums."""
        if self.step is not None:
            source, target = self.step
            return _count(sums, STAGE + target), _count(sums, STAGE + source)
        derived = derive(self.name, sums, currency)
        if self.is_money:
            return Decimal(derived["numerator"]), Decimal(derived["denominator"])
        return int(derived["numerator"]), int(derived["denominator"])

    def render(self, amount: Amount) -> str | int:
        return money(amount) if self.is_money else int(amount)


def _count(sums: Sums, metric: str) -> int:
    """A count summed over currencies (counts carry none)."""
    return int(sum(v for (m, _), v in sums.items() if m == metric))


def _steps(stages: Sequence[str]) -> list[tuple[str, str]]:
    pairs = (pair for pair in pairwise(stages) if pair[0] != pair[1])
    return list(dict.fromkeys(pairs))


def _step_label(source: str, target: str) -> str:
    source, target = source.replace("_", " "), target.replace("_", " ")
    return f"{source[:1].upper()}{source[1:]} → {target} step"


def _watched(stages: Sequence[str]) -> list[_Watch]:
    return [
        *(_Watch(name, LABELS[name]) for name in WATCHED),
        *(_Watch(f"{STEP}{s}->{t}", _step_label(s, t), (s, t)) for s, t in _steps(stages)),
    ]


def stored_metrics(stages: Sequence[str]) -> set[str]:
    """Every stored metric the watched rates need (so the caller reads only those)."""
    needed = stored_parts(WATCHED)
    for source, target in _steps(stages):
        needed.update((STAGE + source, STAGE + target))
    return needed


def rate_alerts(
    windows_sums: Sequence[Sums],
    windows: Sequence[tuple[date, date]],
    *,
    currency: str,
    stages: Sequence[str],
    rules: AlertRules = DEFAULT_RULES,
) -> list[dict[str, Any]]:
    """The watched rates that fell in the last window against the previous ones, as JSON-ready
    alerts sorted by drop (largest first), then metric name.

    `windows_sums[i]` are the sums over `windows[i]`, history first, current last (see
    `windows()`); only the last `rules.history` windows before the current one are compared with.
    For each rate:

    - the baseline is the MEAN of the previous periods' rates, leaving out the periods whose
      denominator is 0 (they are reported with value null); at least 2 previous periods
      (`MIN_BASELINE_PERIODS`) must have data, else the rate is not judged;
    - the volume must mean something: the current denominator, and the mean denominator of the
      periods that enter the baseline, are at least `rules.min_denominator` (money for the
      collection rate, in `currency`);
    - the baseline must be above 0, and the drop (baseline - value) ÷ baseline at least
      `rules.drop`, compared exactly.

    The baseline's numerator and denominator are the sums over all the previous periods compared
    with, for information."""
    if len(windows_sums) != len(windows):
        raise ValueError("windows_sums and windows must have the same length")
    if len(windows) < 2:
        return []
    current = (windows[-1], windows_sums[-1])
    previous = list(zip(windows[:-1], windows_sums[:-1], strict=True))[-rules.history :]
    found: list[tuple[Fraction, str, dict[str, Any]]] = []
    for watch in _watched(stages):
        alert = _judge(watch, current, previous, currency, rules)
        if alert is not None:
            found.append(alert)
    found.sort(key=lambda item: (-item[0], item[1]))
    return [alert for _, _, alert in found]


def _judge(
    watch: _Watch,
    current: tuple[tuple[date, date], Sums],
    previous: Sequence[tuple[tuple[date, date], Sums]],
    currency: str,
    rules: AlertRules,
) -> tuple[Fraction, str, dict[str, Any]] | None:
    """The alert for one rate, with its exact drop and name (for sorting); None if none."""
    (first, last), sums = current
    numerator, denominator = watch.parts(sums, currency)
    if denominator <= 0 or denominator < rules.min_denominator:
        return None
    past = [(window, *watch.parts(s, currency)) for window, s in previous]
    rates = [Fraction(n) / Fraction(d) for _, n, d in past if d > 0]
    if len(rates) < MIN_BASELINE_PERIODS:
        return None
    mean_denominator = sum((Fraction(d) for _, _, d in past if d > 0), Fraction(0)) / len(rates)
    if mean_denominator < rules.min_denominator:
        return None
    baseline = sum(rates, Fraction(0)) / len(rates)
    if baseline <= 0:
        return None
    value = Fraction(numerator) / Fraction(denominator)
    drop = (baseline - value) / baseline
    if drop < Fraction(str(rules.drop)):
        return None

    periods = [
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "value": _float(Fraction(n) / Fraction(d)) if d > 0 else None,
            "numerator": watch.render(n),
            "denominator": watch.render(d),
        }
        for (start, end), n, d in past
    ]
    zero: Amount = Decimal(0) if watch.is_money else 0
    of = (
        f"the previous {len(past)} periods"
        if len(rates) == len(past)
        else f"{len(rates)} of the previous {len(past)} periods"
    )
    message = (
        f"{watch.label} fell {_percent(drop)} against the mean of {of} "
        f"({_percent(value)} vs {_percent(baseline)})."
    )
    alert = {
        "kind": "rate_drop",
        "metric": watch.name,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "value": _float(value),
        "numerator": watch.render(numerator),
        "denominator": watch.render(denominator),
        "baseline": {
            "value": _float(baseline),
            "numerator": watch.render(sum((n for _, n, _ in past), zero)),
            "denominator": watch.render(sum((d for _, _, d in past), zero)),
            "periods": periods,
        },
        "drop": _float(drop),
        "threshold": rules.drop,
        "message": message,
    }
    return drop, watch.name, alert


def _float(value: Fraction) -> float:
    return round(float(value), 6)


def _percent(value: Fraction) -> str:
    """A ratio as a percentage for people: whole percents, one decimal below 10 %."""
    percent = Decimal(value.numerator * 100) / Decimal(value.denominator)
    if abs(percent) >= 10:
        return f"{percent.quantize(Decimal(1), ROUND_HALF_UP)} %"
    tenth = percent.quantize(Decimal("0.1"), ROUND_HALF_UP).normalize()
    return f"{tenth:f} %"
