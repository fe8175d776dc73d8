"""A synthetic org of leads whose true win probability is planted, to prove scoring's backtest.

Scoring learns a lead win-probability model per org and measures it with a backtest. Here every
lead's probability of converting is known, so the model's AUC can be set beside the AUC of the
truth on the same leads (`truth_auc`) and its calibration checked against the planted means.

The shape of the org (defaults: 6000 leads over 540 days from 2025-01-06, 2 teams of 4 reps,
Europe/Berlin), as the event envelopes a client would POST to activity:

- Reps and teams are named as in `salesperf.synthetic` (`rep-anna` of `team-north`, …); each lead
  goes to a rep drawn at random and every event carries that rep's `rep_id` and `team_id`.
- Leads `lead-P-NNNNN` are created on the working days (Monday–Friday) of the period, spread
  evenly, at 08:00–17:00 local: `lead.created` with a channel, an industry, a company size and
  attributes {city, employees} (employees a whole number, as a string, within the size bucket).
- Within the lead's first `horizon_days` days (strictly after its creation, strictly before
  creation + `horizon_days`) and on its own stream: visits (`visit.logged`, weekdays 08:00–18:00,
  effective or not, effective ones with buying signals now and then), calls (`call.logged`,
  connected or not, none after a `do_not_call`), engagements (`engagement.tracked`: e-mails
  opened and clicked, pages viewed, forms submitted; any day 07:00–23:00) and, for a few leads,
  `lead.consent_changed` {do_not_call: true}. Leads of warm channels (referral, inbound) see
  effective visits, clicks and forms more often than cold ones (`WARMTH`), so the features
  correlate as they do in life, but no activity depends on the outcome.
- The planted truth, from what those first days show (`true_log_odds`):

      logit(p) = INTERCEPT + CHANNEL_EFFECT[channel] + INDUSTRY_EFFECT[industry]
                 + SIZE_EFFECT[company_size] + VISIT_EFFECT * min(effective visits, 3)
                 + FORM_EFFECT * [form submitted] + PRICE_EFFECT * [asked_for_price signal]
                 + CLICK_EFFECT * [e-mail clicked] + DO_NOT_CALL_EFFECT * [do not call]

  Only categories, a count capped at 3 and yes/no flags, so a logistic model over one-hot
  buckets can represent it exactly. The activity is drawn first, p computed from it, and the
  outcome drawn last with probability p: the truth is exactly p.
- The outcome, `lead.qualified` (p) or `lead.disqualified` {reason} (1 - p), at a time drawn
  uniformly in (creation + `horizon_days`, creation + `horizon_days` + 30 days): after every
  event of the first days, and the lead's last event.
- With `leak=True` each qualified lead also gets an `engagement.tracked` {kind "webinar", count 1,
  seconds 3600} 1–3 days after its qualification: a perfect predictor that only exists after the
  outcome, which a backtest must never see. Apart from those webinars the events are the same
  as without the leak (same ids, same times).

Events come in append order: sorted by `occurred_at` (ties by creation), each stream causal.
The output depends only on the arguments: `random.Random(seed)` draws everything and event ids
are uuid5s of `salesperf.synthetic.NAMESPACE` and the arguments plus a counter.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid5
from zoneinfo import ZoneInfo

from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

from salesperf.synthetic import (
    CHANNEL_TABLE,
    CITIES,
    DISQUALIFY_TABLE,
    NAMESPACE,
    OTHER_CITIES,
    PLACE_NAMES,
    REP_NAMES,
    SIGNAL_SETS,
    SIZE_TABLE,
    SURNAMES,
    TEAM_NAMES,
)

__all__ = [
    "CHANNEL_EFFECT",
    "CLICK_EFFECT",
    "DO_NOT_CALL_EFFECT",
    "FORM_EFFECT",
    "INDUSTRY_EFFECT",
    "INTERCEPT",
    "OUTCOME_WINDOW_DAYS",
    "PRICE_EFFECT",
    "SIZE_EFFECT",
    "VISIT_CAP",
    "VISIT_EFFECT",
    "Planted",
    "planted_leads",
    "true_log_odds",
    "truth_auc",
]

Event = dict[str, Any]

# --- the planted truth (log-odds) ------------------------------------------------------------

INTERCEPT = -1.75
CHANNEL_EFFECT = {
    "referral": 1.1,
    "inbound": 0.5,
    "exhibition": 0.3,
    "online": 0.0,
    "other": -0.3,
    "cold_visit": -0.8,
}
INDUSTRY_EFFECT = {
    "bakery": 0.4,
    "restaurant": 0.0,
    "hospitality": 0.25,
    "catering": -0.3,
    "food retail": -0.4,
}
SIZE_EFFECT = {"1-9": -0.4, "10-49": 0.0, "50-249": 0.3, "250-999": 0.4, "1000+": -0.3}
VISIT_EFFECT = 0.55
"""Per effective visit in the first days, up to `VISIT_CAP` of them."""
VISIT_CAP = 3
FORM_EFFECT = 0.7
PRICE_EFFECT = 0.45
CLICK_EFFECT = 0.35
DO_NOT_CALL_EFFECT = -0.9

OUTCOME_WINDOW_DAYS = 30
"""The outcome falls within this many days after the first `horizon_days`."""

# --- the shape of the leads ------------------------------------------------------------------

INDUSTRY_TABLE = (
    ("bakery",) * 26
    + ("restaurant",) * 28
    + ("hospitality",) * 18
    + ("catering",) * 16
    + ("food retail",) * 12
)
EMPLOYEES = {
    "1-9": (1, 9),
    "10-49": (10, 49),
    "50-249": (50, 249),
    "250-999": (250, 999),
    "1000+": (1000, 12_000),
}
CITY_COUNT = 5
VISIT_COUNTS = (0,) * 25 + (1,) * 25 + (2,) * 20 + (3,) * 15 + (4,) * 10 + (5,) * 5
CALL_COUNTS = (0,) * 20 + (1,) * 25 + (2,) * 25 + (3,) * 15 + (4,) * 10 + (5,) * 5
WARMTH = {
    "referral": 1.0,
    "inbound": 0.8,
    "exhibition": 0.5,
    "online": 0.4,
    "other": 0.2,
    "cold_visit": 0.0,
}
"""How warm a channel's leads come in: warm leads' visits work more often, they open, click
and fill in more (the activity still never depends on the outcome)."""
EFFECTIVE_P = (0.3, 0.5)  # (p at warmth 0, added at warmth 1)
CONNECTED_P = 0.55
CALL_SIGNAL_P = 0.4
OPENED_P = (0.35, 0.4)
CLICKED_P = (0.3, 0.4)  # of leads that opened an e-mail
PAGE_P = 0.35
FORM_P = (0.03, 0.35)
DO_NOT_CALL_P = 0.06
PAGES = (
    "https://example.com/pricing",
    "https://example.com/ovens",
    "https://example.com/cooling",
    "https://example.com/service",
)
NAME_PREFIX = {
    "bakery": ("Bäckerei", "Backhaus", "Konditorei"),
    "restaurant": ("Restaurant", "Gasthaus"),
    "hospitality": ("Hotel",),
    "catering": ("Catering", "Kantine"),
    "food retail": ("Feinkost", "Markt"),
}


def true_log_odds(
    *,
    channel: str,
    industry: str,
    company_size: str,
    effective_visits: int,
    form_submitted: bool,
    asked_for_price: bool,
    email_clicked: bool,
    do_not_call: bool,
) -> float:
    """The planted log-odds of a lead converting, from what its first `horizon_days` show."""
    return (
        INTERCEPT
        + CHANNEL_EFFECT[channel]
        + INDUSTRY_EFFECT[industry]
        + SIZE_EFFECT[company_size]
        + VISIT_EFFECT * min(effective_visits, VISIT_CAP)
        + FORM_EFFECT * form_submitted
        + PRICE_EFFECT * asked_for_price
        + CLICK_EFFECT * email_clicked
        + DO_NOT_CALL_EFFECT * do_not_call
    )


@dataclass(frozen=True, slots=True)
class Planted:
    events: list[Event]
    """Envelopes in append order (sorted by occurred_at, ties by creation; each stream causal)."""
    truth: dict[str, float]
    """Lead stream -> its planted probability of converting."""
    outcome: dict[str, int]
    """Lead stream -> 1 (qualified) or 0 (disqualified)."""
    created: dict[str, datetime]
    """Lead stream -> when it was created (aware, in the org's time zone)."""


def truth_auc(p: Planted, streams: Iterable[str]) -> float:
    """The AUC of the planted probabilities against the outcomes of the leads `streams`: the
    ceiling a model of those leads can reach, give or take sampling noise."""
    chosen = list(streams)
    y = [p.outcome[s] for s in chosen]
    if len(set(y)) < 2:
        raise ValueError("the AUC needs converted and unconverted leads among the streams")
    return float(roc_auc_score(y, [p.truth[s] for s in chosen]))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Org:
    """The generator's state: the draws, the clock and the events made so far."""

    def __init__(
        self,
        *,
        seed: int,
        leads: int,
        start: date,
        days: int,
        horizon_days: int,
        teams: int,
        reps_per_team: int,
        timezone: str,
    ) -> None:
        if leads < 1 or days < 1 or horizon_days < 1 or teams < 1 or reps_per_team < 1:
            raise ValueError("leads, days, horizon_days, teams and reps_per_team must be >= 1")
        self.rng = random.Random(seed)
        self.r = self.rng.random
        self.zone = ZoneInfo(timezone)
        self.horizon = horizon_days
        self.name = (
            f"planted|{seed}|{leads}|{start.isoformat()}|{days}|{horizon_days}|{teams}|"
            f"{reps_per_team}|{timezone}|"
        )
        self.counter = 0
        self.workdays = [
            start + timedelta(days=d)
            for d in range(days)
            if (start + timedelta(days=d)).weekday() < 5
        ]
        if not self.workdays:
            raise ValueError("the period has no working day")
        self.reps: list[tuple[str, str, Sequence[str]]] = []
        for t in range(teams):
            base = TEAM_NAMES[t % len(TEAM_NAMES)]
            team = f"team-{base}" + (f"-{t // len(TEAM_NAMES) + 1}" if t >= len(TEAM_NAMES) else "")
            cities = CITIES.get(base, OTHER_CITIES)[:CITY_COUNT]
            for j in range(reps_per_team):
                k = t * reps_per_team + j
                rep = f"rep-{REP_NAMES[k % len(REP_NAMES)]}" + (
                    f"-{k // len(REP_NAMES) + 1}" if k >= len(REP_NAMES) else ""
                )
                self.reps.append((rep, team, cities))
        # (UTC seconds, creation counter, event); sorted at the end.
        self.made: list[tuple[int, int, Event]] = []
        self.leaked: list[tuple[int, int, Event]] = []

    def pick(self, table: Sequence[Any]) -> Any:
        return table[int(self.r() * len(table))]

    def local(self, day: date, sec: int) -> datetime:
        return datetime(
            day.year, day.month, day.day, sec // 3600, sec // 60 % 60, sec % 60, tzinfo=self.zone
        )

    def emit(
        self,
        moment: datetime,
        type_: str,
        stream: str,
        rep: tuple[str, str, Any],
        data: dict[str, Any],
    ) -> None:
        n = self.counter
        self.counter = n + 1
        event = {
            "event_id": str(uuid5(NAMESPACE, f"{self.name}{n}")),
            "type": type_,
            "stream": stream,
            "rep_id": rep[0],
            "team_id": rep[1],
            "occurred_at": moment.isoformat(),
            "data": data,
            "metadata": {"source": "app"},
        }
        self.made.append((int(moment.timestamp()), n, event))

    def in_window(self, day: date, created_sec: int, *, weekdays: bool) -> datetime:
        """A moment strictly after the creation (`day` at `created_sec`) and strictly before
        creation + `horizon` days: weekdays 08:00–18:00, or any day 07:00–23:00."""
        first, last = (28_800, 64_800) if weekdays else (25_200, 82_800)
        offsets = [
            k
            for k in range(self.horizon)
            if not (weekdays and (day + timedelta(days=k)).weekday() >= 5)
            and (k > 0 or created_sec + 60 < last)
        ]
        if not offsets:  # a short horizon over a weekend: the creation day itself
            offsets = [0]
            first, last = 25_200, 82_800
        k = self.pick(offsets)
        low = max(first, created_sec + 60) if k == 0 else first
        return self.local(day + timedelta(days=k), low + int(self.r() * (last - low)))

    def lead(self, i: int, day: date) -> tuple[str, float, int, datetime]:
        r = self.r
        stream = f"lead-P-{i + 1:05d}"
        rep = self.pick(self.reps)
        created_sec = 28_800 + int(r() * 32_400)
        created = self.local(day, created_sec)

        channel: str = self.pick(CHANNEL_TABLE)
        industry: str = self.pick(INDUSTRY_TABLE)
        size: str = self.pick(SIZE_TABLE)
        low, high = EMPLOYEES[size]
        employees = low + int(r() * (high - low + 1))
        prefix: str = self.pick(NAME_PREFIX[industry])
        surname: str = self.pick(SURNAMES if industry != "hospitality" else PLACE_NAMES)
        data: dict[str, Any] = {
            "name": f"{prefix} {surname}",
            "channel": channel,
            "industry": industry,
            "company_size": size,
            "attributes": {"city": self.pick(rep[2]), "employees": str(employees)},
        }
        self.emit(created, "lead.created", stream, rep, data)

        # The first days: activity drawn before, and independently of, the outcome.
        warmth = WARMTH[channel]
        do_not_call = r() < DO_NOT_CALL_P
        consent_at = self.in_window(day, created_sec, weekdays=False) if do_not_call else None
        activity: list[tuple[datetime, str, dict[str, Any]]] = []
        effective_visits, asked_for_price = 0, False
        for _ in range(self.pick(VISIT_COUNTS)):
            at = self.in_window(day, created_sec, weekdays=True)
            effective = r() < EFFECTIVE_P[0] + warmth * EFFECTIVE_P[1]
            signals = list(self.pick(SIGNAL_SETS)) if effective else []
            effective_visits += effective
            asked_for_price |= "asked_for_price" in signals
            if r() < 0.7:
                mode, minutes = "onsite", 20 + int(r() * 100)
            else:
                mode, minutes = "online", 10 + int(r() * 50)
            activity.append(
                (
                    at,
                    "visit.logged",
                    {
                        "mode": mode,
                        "effective": effective,
                        "duration_minutes": minutes,
                        "buying_signals": signals,
                    },
                )
            )
        for _ in range(self.pick(CALL_COUNTS)):
            at = self.in_window(day, created_sec, weekdays=True)
            if consent_at is not None and at >= consent_at:
                continue  # nobody calls a lead that asked not to be called
            if r() < CONNECTED_P:
                connected, seconds = True, 45 + int(r() * 900)
                signals = list(self.pick(SIGNAL_SETS)) if r() < CALL_SIGNAL_P else []
            else:
                connected, seconds, signals = False, int(r() * 30), []
            asked_for_price |= "asked_for_price" in signals
            direction = "outbound" if r() < 0.85 else "inbound"
            activity.append(
                (
                    at,
                    "call.logged",
                    {
                        "connected": connected,
                        "duration_seconds": seconds,
                        "direction": direction,
                        "buying_signals": signals,
                    },
                )
            )
        clicked = form = False
        if r() < OPENED_P[0] + warmth * OPENED_P[1]:
            at = self.in_window(day, created_sec, weekdays=False)
            count = 1 + int(r() * r() * 6)
            activity.append((at, "engagement.tracked", {"kind": "email_opened", "count": count}))
            if r() < CLICKED_P[0] + warmth * CLICKED_P[1]:
                clicked = True
                at = self.in_window(day, created_sec, weekdays=False)
                activity.append(
                    (at, "engagement.tracked", {"kind": "email_clicked", "count": 1 + int(r() * 2)})
                )
        if r() < PAGE_P:
            at = self.in_window(day, created_sec, weekdays=False)
            activity.append(
                (
                    at,
                    "engagement.tracked",
                    {
                        "kind": "page_viewed",
                        "count": 1 + int(r() * 4),
                        "seconds": 20 + int(r() * 880),
                        "url": self.pick(PAGES),
                    },
                )
            )
        if r() < FORM_P[0] + warmth * FORM_P[1]:
            form = True
            at = self.in_window(day, created_sec, weekdays=False)
            activity.append((at, "engagement.tracked", {"kind": "form_submitted", "count": 1}))
        if consent_at is not None:
            activity.append((consent_at, "lead.consent_changed", {"do_not_call": True}))
        for at, type_, payload in activity:
            self.emit(at, type_, stream, rep, payload)

        # The truth, then the outcome.
        p = _sigmoid(
            true_log_odds(
                channel=channel,
                industry=industry,
                company_size=size,
                effective_visits=effective_visits,
                form_submitted=form,
                asked_for_price=asked_for_price,
                email_clicked=clicked,
                do_not_call=do_not_call,
            )
        )
        won = r() < p
        # After creation + horizon both as elapsed time and on the wall clock (they differ by
        # the hour a daylight-saving change in between moves).
        horizon = timedelta(days=self.horizon)
        start = max(created.astimezone(UTC) + horizon, (created + horizon).astimezone(UTC))
        window = OUTCOME_WINDOW_DAYS * 86_400
        outcome_at = (start + timedelta(seconds=1 + int(r() * (window - 1)))).astimezone(self.zone)
        webinar_after = 86_400 + int(r() * 2 * 86_400)  # drawn always: the leak moves no draw
        if won:
            self.emit(outcome_at, "lead.qualified", stream, rep, {})
            at = outcome_at + timedelta(seconds=webinar_after)
            webinar = {"kind": "webinar", "count": 1, "seconds": 3600}
            self.leaked.append(
                (
                    int(at.timestamp()),
                    i,
                    {
                        "event_id": str(uuid5(NAMESPACE, f"{self.name}leak|{i}")),
                        "type": "engagement.tracked",
                        "stream": stream,
                        "rep_id": rep[0],
                        "team_id": rep[1],
                        "occurred_at": at.astimezone(self.zone).isoformat(),
                        "data": webinar,
                        "metadata": {"source": "app"},
                    },
                )
            )
        else:
            reason = self.pick(DISQUALIFY_TABLE)
            self.emit(outcome_at, "lead.disqualified", stream, rep, {"reason": reason})
        return stream, p, int(won), created


def planted_leads(
    *,
    seed: int = 7,
    leads: int = 6000,
    start: date = date(2025, 1, 6),
    days: int = 540,
    horizon_days: int = 14,
    teams: int = 2,
    reps_per_team: int = 4,
    timezone: str = "Europe/Berlin",
    leak: bool = False,
) -> Planted:
    """`leads` leads with their planted win probabilities and outcomes (see the module doc)."""
    org = _Org(
        seed=seed,
        leads=leads,
        start=start,
        days=days,
        horizon_days=horizon_days,
        teams=teams,
        reps_per_team=reps_per_team,
        timezone=timezone,
    )
    truth: dict[str, float] = {}
    outcome: dict[str, int] = {}
    created: dict[str, datetime] = {}
    workdays = org.workdays
    for i in range(leads):
        stream, p, won, at = org.lead(i, workdays[i * len(workdays) // leads])
        truth[stream], outcome[stream], created[stream] = p, won, at
    made = org.made
    if leak:  # after every ordinary event of the same second
        made += [(t, org.counter + n, event) for t, n, event in org.leaked]
    made.sort(key=lambda item: (item[0], item[1]))
    return Planted([event for _, _, event in made], truth, outcome, created)


def as_fed(events: Sequence[dict[str, Any]], org: str = "org-planted") -> list[dict[str, Any]]:
    """The envelopes as activity's feed serves them, each recorded when it occurred (a CRM
    logging as it goes), for folding them without the services."""
    return [
        {
            **e,
            "org_id": org,
            "position": i + 1,
            "stream_version": 1,
            "schema_version": 1,
            "recorded_at": datetime.fromisoformat(e["occurred_at"]).astimezone(UTC).isoformat(),
        }
        for i, e in enumerate(events)
    ]
