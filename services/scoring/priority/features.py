"""Features of a lead or deal profile at a moment, the sentences that explain them to a rep, and
the training and backtest sets made of them. Pure functions of profiles (projections/leads.py).

A row is a `dict[str, str]` of categorical features: name -> bucket label. A feature left out
means "" (unknown or none). Leads and deals get separate models, so the kind is not a feature.
`features(p, at)` looks only at what occurred before `at` (and, with `known_before`, was
recorded before it), never at the outcome nor at anything at or after it.

Features (names are API: they appear in factor lists):

    channel, industry, company_size, tier, product_line   as folded; industry lower-cased,
                                        trimmed, cut to 40 characters
    value           the lead's estimated value or the deal's amount (the latest amount change
                    before the moment), any currency:
                    "<1k" [0, 1000), "1k-5k" [1000, 5000), "5k-20k" [5000, 20000),
                    "20k-100k" [20000, 100000), "100k+"
    attr:<key>      each attribute of the lead: lower-cased, trimmed, cut to 40 characters; a
                    number is bucketed: "<0", "0", "1-9" (0, 10), "10-99", "100-999",
                    "1k-9.9k" [1000, 10000), "10k+"
    stage           a lead: "new" (qualification is its outcome); a deal: "reached:<stage>",
                    the stage entered most recently before the moment. Orgs do not share a
                    stage order, so "furthest" is not known; most deals move forward, and a
                    deal moved back is at the stage it is in.
    visits_14d      effective visits in the last `visit_window_days` (occurred in
                    [at - window, at)): "0", "1", "2", "3+"
    visits_plain_14d  visits that were not effective, same window: "0", "1", "2+"
    calls_14d       connected calls, same window: "0", "1", "2", "3+"
    eng:<kind>      for each engagement kind seen before the moment: its count decayed with the
                    kind's half-life, sum(count * 0.5 ** (age_days / half_life)):
                    "0" [0, 0.05), "<1" [0.05, 1), "1-3" [1, 3), "3+"
    eng_seconds     decayed seconds over all kinds (each with its half-life): "0" [0, 1 s),
                    "<1m" [1 s, 60 s), "1-5m" [1, 5) min, "5-15m" [5, 15) min, "15m+"
    signal:<name>   "yes" for each buying signal seen before the moment (any time)
    do_not_email, do_not_call   "yes" while the latest consent change before the moment says so
    since_touch     whole days since the last visit or call (engagements are not touches),
                    else since creation: "0-2", "3-7", "8-14", "15-30", "31-60", "60+" (61 and
                    more)
    touched         "never" while there has been no visit or call
    age             whole days since creation: "0-7", "8-30", "31-90", "90+" (91 and more)

Days are whole days, rounded down (a touch 47 hours ago is 1 day ago).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from ..projections.leads import (
    AMOUNT,
    CALL,
    CONSENT,
    ENGAGEMENT,
    SIGNAL,
    STAGE,
    VISIT,
    Item,
    Prospect,
)

DAY = 86_400
TEXT_LIMIT = 40
RATIO_MIN_COUNT = 10
RECENT_HALF_LIVES = 4  # "in the last weeks" of a sentence: four half-lives of the kind

DEFAULT_HALF_LIVES: Mapping[str, float] = MappingProxyType(
    {
        "email_sent": 7,
        "email_opened": 7,
        "email_clicked": 14,
        "page_viewed": 10,
        "form_submitted": 30,
        "chat": 21,
        "sms": 7,
        "webinar": 30,
        "other": 14,
    }
)


@dataclass(frozen=True, slots=True)
class FeatureRules:
    """How features look at time. `half_lives` (days, per engagement kind) may give only some
    kinds: the others keep their default, and a kind without any takes "other"'s."""

    half_lives: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_HALF_LIVES))
    visit_window_days: int = 14

    def __post_init__(self) -> None:
        if any(not h > 0 for h in self.half_lives.values()):
            raise ValueError("half-lives must be positive numbers of days")
        if self.visit_window_days < 1:
            raise ValueError("visit_window_days must be at least 1")

    def half_life(self, kind: str) -> float:
        for table in (self.half_lives, DEFAULT_HALF_LIVES):
            if kind in table:
                return float(table[kind])
        return float(self.half_lives.get("other", DEFAULT_HALF_LIVES["other"]))


DEFAULT_RULES = FeatureRules()


# --------------------------------------------------------------------------- buckets


def _bucket(x: float, edges: Sequence[tuple[float, str]], last: str) -> str:
    """The label of the first edge `x` is below, else `last`."""
    for edge, label in edges:
        if x < edge:
            return label
    return last


_VALUE = ((1000, "<1k"), (5000, "1k-5k"), (20000, "5k-20k"), (100_000, "20k-100k"))
_NUMBER = ((10, "1-9"), (100, "10-99"), (1000, "100-999"), (10_000, "1k-9.9k"))
_ENGAGED = ((0.05, "0"), (1, "<1"), (3, "1-3"))
_SECONDS = ((1, "0"), (60, "<1m"), (300, "1-5m"), (900, "5-15m"))
_SINCE = ((3, "0-2"), (8, "3-7"), (15, "8-14"), (31, "15-30"), (61, "31-60"))
_AGE = ((8, "0-7"), (31, "8-30"), (91, "31-90"))
_NUMERIC = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def value_bucket(amount: str) -> str:
    """A decimal string's size bucket ("" if none or not a number)."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, ValueError):
        return ""
    return _bucket(float(value), _VALUE, "100k+") if value.is_finite() else ""


def _text(raw: str) -> str:
    return raw.strip().lower()[:TEXT_LIMIT].rstrip()


def attribute_value(raw: str) -> str:
    """An attribute as a feature value: a number's power of ten, else the cleaned text."""
    text = raw.strip().lower()
    if _NUMERIC.fullmatch(text):
        number = Decimal(text)
        if number < 0:
            return "<0"
        return "0" if number == 0 else _bucket(float(number), _NUMBER, "10k+")
    return _text(text)


def _count(n: int, top: int) -> str:
    return str(n) if n < top else f"{top}+"


# --------------------------------------------------------------------------- what is visible


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _visible(p: Prospect, t: float, known_before: datetime | None) -> list[Item]:
    """Items occurred before `t` (and recorded before `known_before`), none at or after the
    outcome once the outcome is known."""
    end = t
    kb = _epoch(known_before) if known_before is not None else None
    if p.outcome_at is not None and (
        kb is None or (p.outcome_recorded is not None and p.outcome_recorded < kb)
    ):
        end = min(end, p.outcome_at)
    return [i for i in p.items if i.at < end and (kb is None or i.recorded < kb)]


def _touches(items: Iterable[Item], t: float, window_days: int) -> tuple[int, int, int]:
    """(effective visits, other visits, connected calls) in [t - window, t)."""
    start = t - window_days * DAY
    effective = plain = calls = 0
    for i in items:
        if i.at < start:
            continue
        if i.kind == VISIT:
            effective += i.n
            plain += 1 - i.n
        elif i.kind == CALL:
            calls += i.n
    return effective, plain, calls


def _decayed(
    items: Iterable[Item], t: float, rules: FeatureRules
) -> tuple[dict[str, float], float]:
    """Engagement counts per kind and total seconds, each weighted 0.5 ** (age / half-life)."""
    counts: dict[str, float] = {}
    seconds = 0.0
    for i in items:
        if i.kind != ENGAGEMENT:
            continue
        weight = 0.5 ** (max(0.0, t - i.at) / DAY / rules.half_life(i.name))
        counts[i.name] = counts.get(i.name, 0.0) + i.n * weight
        seconds += i.seconds * weight
    return counts, seconds


def _last_touch(items: Sequence[Item]) -> int | None:
    return next((i.at for i in reversed(items) if i.kind in (VISIT, CALL)), None)


def _days(t: float, since: int) -> int:
    return max(0, math.floor((t - since) / DAY))


def last_touch(p: Prospect, at: datetime) -> datetime | None:
    """The moment of the last visit or call that occurred before `at` (None: none yet)."""
    last = _last_touch(_visible(p, _epoch(at), None))
    return datetime.fromtimestamp(last, UTC) if last is not None else None


def _stage(p: Prospect, items: Sequence[Item]) -> str:
    if p.kind == "lead":
        return "new"
    entered = next((i.name for i in reversed(items) if i.kind == STAGE), "")
    return f"reached:{entered}" if entered else ""


def _amount(p: Prospect, items: Sequence[Item]) -> str:
    latest = next((i.name for i in reversed(items) if i.kind == AMOUNT), "")
    return latest.partition(" ")[0] if latest else p.static.get("value", "")


# --------------------------------------------------------------------------- features

STATIC = ("channel", "industry", "company_size", "tier", "product_line")


def features(
    p: Prospect,
    at: datetime,
    *,
    rules: FeatureRules = DEFAULT_RULES,
    known_before: datetime | None = None,
) -> dict[str, str]:
    """The row of `p` at `at` (see the module's docstring). Static features are taken as known
    whenever the profile was created."""
    t = _epoch(at)
    items = _visible(p, t, known_before)
    row: dict[str, str] = {}
    for name in STATIC:
        value = p.static.get(name, "")
        value = _text(value) if name == "industry" else value
        if value:
            row[name] = value
    if value := value_bucket(_amount(p, items)):
        row["value"] = value
    for key, raw in p.static.items():
        if key.startswith("attr:") and (value := attribute_value(raw)):
            row[key] = value
    if stage := _stage(p, items):
        row["stage"] = stage
    effective, plain, calls = _touches(items, t, rules.visit_window_days)
    row["visits_14d"] = _count(effective, 3)
    row["visits_plain_14d"] = _count(plain, 2)
    row["calls_14d"] = _count(calls, 3)
    counts, seconds = _decayed(items, t, rules)
    for kind, count in sorted(counts.items()):
        row[f"eng:{kind}"] = _bucket(count, _ENGAGED, "3+")
    row["eng_seconds"] = _bucket(seconds, _SECONDS, "15m+")
    consent: dict[str, int] = {}
    for i in items:
        if i.kind == SIGNAL:
            row[f"signal:{i.name}"] = "yes"
        elif i.kind == CONSENT:
            consent[i.name] = i.n
    for flag in ("do_not_email", "do_not_call"):
        if consent.get(flag):
            row[flag] = "yes"
    last = _last_touch(items)
    since = last if last is not None else p.created_at
    if since is not None:
        row["since_touch"] = _bucket(_days(t, since), _SINCE, "60+")
    if last is None:
        row["touched"] = "never"
    if p.created_at is not None:
        row["age"] = _bucket(_days(t, p.created_at), _AGE, "90+")
    return row


# --------------------------------------------------------------------------- sentences

_CHANNEL_GROUP = {
    "referral": "referrals",
    "cold_visit": "cold visits",
    "exhibition": "exhibition contacts",
    "online": "online contacts",
    "inbound": "inbound contacts",
}
_ENGAGEMENT_WORDS = {  # kind: (seen recently, none recently)
    "email_sent": ("was sent e-mails recently", "no e-mails sent recently"),
    "email_opened": ("opened e-mails recently", "no e-mails opened recently"),
    "email_clicked": ("clicked links in e-mails recently", "no e-mail links clicked recently"),
    "page_viewed": ("viewed web pages recently", "no web pages viewed recently"),
    "form_submitted": ("submitted forms recently", "no forms submitted recently"),
    "chat": ("chatted recently", "no chats recently"),
    "sms": ("exchanged text messages recently", "no text messages recently"),
    "webinar": ("attended webinars recently", "no webinars attended recently"),
    "other": ("engaged online recently", "no online engagement recently"),
}


def _words(name: str) -> str:
    return name.replace("_", " ").strip()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _in_window(n: int, what: str, window: int, suffix: str = "") -> str:
    return f"{'no ' + what if n == 0 else _plural(n, what)}{suffix} in the last {window} days"


def sentence(
    name: str,
    value: str,
    p: Prospect,
    at: datetime,
    *,
    rules: FeatureRules = DEFAULT_RULES,
    stats: tuple[float, float] | None = None,
    base_rate: float | None = None,
) -> str:
    """A factor (a feature and its value) as a rep reads it; counts and days are exact, from the
    profile at `at`. With `stats` (weighted positives, count) of that value, at least 10 of
    them, and the model's `base_rate`, the sentence says how much more often such prospects
    close: "came through referral: referrals close 2.1× as often here"."""
    text = _phrase(name, value, p, at, rules) if value else _absent(name)
    if stats is not None and base_rate and stats[1] >= RATIO_MIN_COUNT:
        ratio = stats[0] / stats[1] / base_rate
        group = _CHANNEL_GROUP.get(value, "") if name == "channel" else ""
        ratio_text = f"{group or p.kind + 's like this'} close {ratio:.1f}× as often here"
        # "city: Kiel (leads like this close …)" rather than a second colon
        text = f"{text} ({ratio_text})" if ":" in text else f"{text}: {ratio_text}"
    return text


_ABSENT = {
    "tier": "no account tier",
    "industry": "industry not known",
    "company_size": "company size not known",
    "value": "no value given",
    "product_line": "no product line",
    "channel": "channel not known",
    "do_not_email": "may be e-mailed",
    "do_not_call": "may be called",
    "touched": "visited or called before",
    "stage": "no stage yet",
}


def _absent(name: str) -> str:
    """A factor whose value is missing (""): what its absence says."""
    if name.startswith("signal:"):
        return f"has not {_words(name.removeprefix('signal:'))} yet"
    if name.startswith("eng:"):
        kind = name.removeprefix("eng:")
        return _ENGAGEMENT_WORDS.get(kind, ("", f"no {_words(kind)}"))[1]
    if name.startswith("attr:"):
        return f"{name.removeprefix('attr:')} not known"
    return _ABSENT.get(name, f"no {_words(name)}")


def _phrase(name: str, value: str, p: Prospect, at: datetime, rules: FeatureRules) -> str:
    t = _epoch(at)
    items = _visible(p, t, None)
    window = rules.visit_window_days
    if name == "channel":
        return f"came through {_words(value)}"
    if name == "industry":
        return f"industry: {p.static.get('industry') or value}"
    if name == "company_size":
        return f"company size {value}"
    if name == "tier":
        return f"account tier {value}"
    if name == "product_line":
        return f"product line {value}"
    if name == "value":
        return f"deal of {value}" if p.kind == "deal" else f"lead worth {value}"
    if name.startswith("attr:"):
        key = name.removeprefix("attr:")
        return f"{key}: {p.static.get(name) or value}"
    if name == "stage":
        if value.startswith("reached:"):
            return f"at stage {_words(value.removeprefix('reached:'))}"
        return "not qualified yet" if value == "new" else f"stage {value}"
    if name in ("visits_14d", "visits_plain_14d", "calls_14d"):
        effective, plain, calls = _touches(items, t, window)
        if name == "visits_14d":
            return _in_window(effective, "effective visit", window)
        if name == "visits_plain_14d":
            return _in_window(plain, "visit", window, " without progress")
        return _in_window(calls, "connected call", window)
    if name.startswith("eng:"):
        kind = name.removeprefix("eng:")
        seen, none = _ENGAGEMENT_WORDS.get(kind, (f"{_words(kind)} recently", f"no {kind}"))
        if value == "0":
            return none
        horizon = t - RECENT_HALF_LIVES * rules.half_life(kind) * DAY
        n = sum(i.n for i in items if i.kind == ENGAGEMENT and i.name == kind and i.at >= horizon)
        return f"{seen} ({n} in the last weeks, weighted to recent)" if n else seen
    if name == "eng_seconds":
        _, seconds = _decayed(items, t, rules)
        if value == "0":
            return "no time spent on e-mails, pages or chats recently"
        if seconds < 60:
            return "under a minute on e-mails, pages or chats recently"
        minutes = round(seconds / 60)
        spent = _plural(minutes, "minute")
        return f"{spent} on e-mails, pages or chats recently (weighted to recent)"
    if name.startswith("signal:"):
        return _words(name.removeprefix("signal:"))
    if name == "do_not_email":
        return "asked not to be e-mailed"
    if name == "do_not_call":
        return "asked not to be called"
    if name in ("since_touch", "touched"):
        last = _last_touch(items)
        if last is not None:
            days = _days(t, last)
            return "touched today" if days == 0 else f"no touch for {_plural(days, 'day')}"
        if p.created_at is None:
            return "never visited or called"
        return f"never visited or called in {_plural(_days(t, p.created_at), 'day')}"
    if name == "age" and p.created_at is not None:
        days = _days(t, p.created_at)
        return f"{p.kind} created today" if days == 0 else f"{p.kind} is {_plural(days, 'day')} old"
    return f"{_words(name)}: {value}" if value else _words(name)


# --------------------------------------------------------------------------- example sets


@dataclass(frozen=True, slots=True)
class Example:
    key: str
    row: dict[str, str]
    label: int
    weight: float
    at: datetime  # the snapshot moment
    outcome_at: datetime


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def snapshots(created_at: int, outcome_at: int, ages_days: Sequence[int]) -> list[int]:
    """When a closed prospect is seen for training: at each age (0: one second after creation)
    while still open, and one second before its outcome; none if the outcome did not come
    after its creation."""
    moments = {created_at + max(1, age * DAY) for age in ages_days}
    moments = {s for s in moments if s < outcome_at}
    if outcome_at - 1 >= created_at:
        moments.add(outcome_at - 1)
    return sorted(moments)


def training_examples(
    prospects: Iterable[Prospect],
    *,
    kind: str,
    rules: FeatureRules = DEFAULT_RULES,
    known_before: datetime | None = None,
    ages_days: Sequence[int] = (0, 3, 7, 14, 30, 60, 90),
) -> list[Example]:
    """Every closed prospect of `kind` (with `known_before`: created and closed as recorded
    before it), seen at `snapshots`, each snapshot weighing 1 / its prospect's snapshots so
    every prospect counts once. Features see what was known before `known_before` too."""
    limit = _epoch(known_before) if known_before is not None else None
    out: list[Example] = []
    for p in prospects:
        if p.kind != kind or p.created_at is None or p.outcome is None or p.outcome_at is None:
            continue
        if limit is not None and not (
            (p.outcome_recorded if p.outcome_recorded is not None else math.inf) < limit
            and (p.created_recorded if p.created_recorded is not None else math.inf) < limit
        ):
            continue
        moments = snapshots(p.created_at, p.outcome_at, ages_days)
        for s in moments:
            at = _moment(s)
            row = features(p, at, rules=rules, known_before=known_before)
            out.append(
                Example(p.key, row, p.outcome, 1.0 / len(moments), at, _moment(p.outcome_at))
            )
    return out


def backtest_examples(
    prospects: Iterable[Prospect],
    *,
    kind: str,
    cutoff: datetime,
    horizon_days: int,
    rules: FeatureRules = DEFAULT_RULES,
) -> list[Example]:
    """Every prospect of `kind` created (occurred) on or after `cutoff` whose outcome is known,
    seen once at min(created + horizon, outcome - 1 s), from its own items before that moment
    (never one at or after its outcome). A prospect whose outcome did not come after its
    creation is left out (there is no moment to score it at)."""
    start = _epoch(cutoff)
    out: list[Example] = []
    for p in prospects:
        if p.kind != kind or p.created_at is None or p.outcome is None or p.outcome_at is None:
            continue
        if p.created_at < start:
            continue
        s = min(p.created_at + horizon_days * DAY, p.outcome_at - 1)
        if s < p.created_at:
            continue
        at = _moment(s)
        row = features(p, at, rules=rules)
        out.append(Example(p.key, row, p.outcome, 1.0, at, _moment(p.outcome_at)))
    return out


def recency_weights(
    examples: Sequence[Example], *, now: datetime, half_life_days: float = 180
) -> list[float]:
    """Each example's weight halved per `half_life_days` between its outcome and `now` (an
    outcome after `now` is not weighted up)."""
    return [
        e.weight * 0.5 ** (max(0.0, (now - e.outcome_at).total_seconds()) / DAY / half_life_days)
        for e in examples
    ]


def stage_counts(examples: Iterable[Example]) -> dict[str, tuple[float, float]]:
    """Per value of the "stage" feature ("" when absent): (weighted positives, weighted count)."""
    out: dict[str, tuple[float, float]] = {}
    for e in examples:
        stage = e.row.get("stage", "")
        positives, count = out.get(stage, (0.0, 0.0))
        out[stage] = (positives + e.weight * e.label, count + e.weight)
    return out
