"""Customer health: one `Customer` record per account, folded from the log, and its health as of
a day (lifecycle stage, risk signals, a Pareto tier suggestion).

    customers: dict[str, Customer] = {}
    for event in feed:                                   # dicts, as activity's feed serves them
        account_id, _ = _context(book, event)            # the account, resolved as the KPI fold does
        track(customers, event, parse_time(event["occurred_at"]), account_id, timezone=tz)
    tiers = suggest_tiers({a: won_12m(c, today, "EUR") for a, c in customers.items()})
    health(customers["acc-1"], today, "EUR", tz, suggested_tier=tiers.get("acc-1"))

The record (`track`)
- Moments are epoch seconds of the event's `occurred_at`; won days are local days in the org's
  timezone. Events may come in any order: every tuple is kept sorted, and every field is a
  minimum, a maximum or a bounded set, so the record does not depend on the order it was folded
  in (ties of equal time are broken by value, never by arrival), except that a touch already
  dropped by a bound does not come back when a back-dated first win moves its window.
- `tier`: the tier of the latest `account.tier_changed` (by occurred time; "" unknown).
- `rep_id`/`team_id`, the owner: the rep and team of the latest won deal; before any win, of the
  earliest event about the account. Only events naming a rep or a team count.
- `first_won_at`/`first_won_day`: the earliest win (a win logged late but occurred earlier
  becomes the first); `first_seen`: the earliest event about the account.
- `won`: one `Won` per won deal (a deal won twice keeps its earliest entry), bounded to the wins
  on or after the first day of the month 36 months before the latest win's month, and to the
  latest `WON_KEPT` (500) of those. Health reads at most 24 full months back.
- `touches` (visits and calls, not engagements): the latest `TOUCHES_KEPT` (50), plus the first
  `ONBOARDING_KEPT` (100) touches in the 31 days after the first win (onboarding needs 3).
- `contacts_left`, `renewals` (from `deal.won`'s `renewal_date`): the latest 20 of each.

Health as of `today` counts only what happened up to the end of `today` (local): touches, wins
(with their renewals), departures and the first win after it are left out, so an `as_of` view
needs no other replay.
Money is compared in one currency; wins in other currencies are left out (no conversion).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

KNOWN_SCHEMA_VERSION = 1
# Event types about an account; `event.voided` is not (a voided event is left out of a replay).
KNOWN_TYPES = frozenset(
    {
        "lead.created",
        "lead.qualified",
        "lead.disqualified",
        "lead.consent_changed",
        "visit.logged",
        "call.logged",
        "engagement.tracked",
        "deal.opened",
        "deal.account_linked",  # the account is the deal's (the KPI fold resolves it)
        "deal.stage_changed",
        "deal.amount_changed",
        "deal.won",
        "deal.lost",
        "invoice.issued",
        "payment.received",
        "account.tier_changed",
        "contact.left",
    }
)
TOUCH_TYPES = frozenset({"visit.logged", "call.logged"})

TOUCHES_KEPT = 50
ONBOARDING_WINDOW = 31 * 86_400  # seconds after the first win whose touches are all kept…
ONBOARDING_KEPT = 100  # …up to this many (the rule needs 3)
ONBOARDING_DAYS = 30
WON_KEPT = 500
WON_MONTHS = 36
CONTACTS_KEPT = 20
RENEWALS_KEPT = 20

PROSPECT, NEW, GROWING, MATURE, DECLINING = "prospect", "new", "growing", "mature", "declining"
LIFECYCLES = (PROSPECT, NEW, GROWING, MATURE, DECLINING)
DECLINE_SHARE = Decimal("0.5")  # last 6 full months below half of the 6 before them
GROWTH = Decimal("1.1")  # last 12 full months at least 10 % above the 12 before them
ZERO = Decimal(0)

_Row = TypeVar("_Row", bound=tuple[Any, ...])


class Won(NamedTuple):
    day: str  # ISO local day of the win
    currency: str
    amount: str  # decimal string, as the event gave it
    deal: str  # the deal's stream


class Departure(NamedTuple):
    at: int  # epoch seconds
    contact_id: str
    name: str  # "" unknown
    role: str  # "" unknown
    key_contact: bool


class Renewal(NamedTuple):
    due: str  # ISO date
    deal: str  # the deal's stream


class Customer(NamedTuple):
    account_id: str
    tier: str = ""
    rep_id: str = ""
    team_id: str = ""
    first_won_at: int | None = None
    won: tuple[Won, ...] = ()
    touches: tuple[int, ...] = ()
    contacts_left: tuple[Departure, ...] = ()
    renewals: tuple[Renewal, ...] = ()
    first_seen: int | None = None  # epoch of the earliest event about the account
    first_won_day: str = ""  # ISO local day of `first_won_at`
    tier_at: int | None = None  # epoch of the tier change `tier` comes from
    owner_at: int | None = None  # epoch of the event the owner comes from
    owned_by_win: bool = False  # …and whether it was a win


def _limits() -> Mapping[str, int]:
    # A fresh dict for each HealthRules (not a read-only proxy: rules go to worker processes,
    # and a MappingProxyType does not pickle).
    return {"A": 14, "B": 30, "C": 60}


@dataclass(frozen=True, slots=True)
class HealthRules:
    new_days: int = 90  # lifecycle "new": first win at most this many days before today
    no_touch_days: Mapping[str, int] = field(default_factory=_limits)  # must have "C"
    renewal_within_days: int = 60
    renewal_touch_days: int = 30
    onboarding_hours: int = 72
    onboarding_touches: int = 3  # in the first 30 days after the first win
    key_contact_days: int = 180
    pareto: tuple[float, float] = (0.8, 0.95)


DEFAULT_RULES = HealthRules()


# --------------------------------------------------------------------------- the fold


def track(
    customers: MutableMapping[str, Customer],
    event: Mapping[str, Any],
    at: datetime,
    account_id: str,
    *,
    timezone: ZoneInfo,
) -> bool:
    """Fold one event for the account it concerns (the caller resolves `account_id` as the KPI
    fold does; "" = none: return False). True if the record changed.

    Unknown types, newer schema versions and voids change nothing."""
    kind = event["type"]
    if (
        not account_id
        or kind not in KNOWN_TYPES
        or event.get("schema_version", 1) > KNOWN_SCHEMA_VERSION
    ):
        return False
    moment = int(at.timestamp())
    old = customers.get(account_id)
    new = _seen(old or Customer(account_id), event, moment)
    data: Mapping[str, Any] = event.get("data") or {}
    if kind in TOUCH_TYPES:
        touches = new.touches
        if len(touches) < TOUCHES_KEPT and (not touches or moment >= touches[-1]):
            new = new._replace(touches=(*touches, moment))  # in order, nothing to let go
        else:
            new = new._replace(touches=_keep_touches([*touches, moment], new.first_won_at))
    elif kind == "deal.won":
        new = _won(new, event, data, at, moment, timezone)
    elif kind == "contact.left":
        departure = Departure(
            moment,
            data["contact_id"],
            data.get("name") or "",
            data.get("role") or "",
            bool(data.get("key_contact")),
        )
        new = new._replace(contacts_left=_latest({*new.contacts_left, departure}, CONTACTS_KEPT))
    elif kind == "account.tier_changed":
        tier = data["tier"]
        if new.tier_at is None or (moment, tier) > (new.tier_at, new.tier):
            new = new._replace(tier=tier, tier_at=moment)
    if new == old:
        return False
    customers[account_id] = new
    return True


def _who(event: Mapping[str, Any]) -> tuple[str, str]:
    return event.get("rep_id") or "", event.get("team_id") or ""


def _seen(c: Customer, event: Mapping[str, Any], moment: int) -> Customer:
    """First seen, and the owner before any win: the earliest event naming a rep or team."""
    if c.first_seen is None or moment < c.first_seen:
        c = c._replace(first_seen=moment)
    rep, team = _who(event)
    if (rep or team) and not c.owned_by_win:
        if c.owner_at is None or (moment, rep, team) < (c.owner_at, c.rep_id, c.team_id):
            c = c._replace(rep_id=rep, team_id=team, owner_at=moment)
    return c


def _won(
    c: Customer,
    event: Mapping[str, Any],
    data: Mapping[str, Any],
    at: datetime,
    moment: int,
    timezone: ZoneInfo,
) -> Customer:
    deal: str = event["stream"]
    entry = Won(at.astimezone(timezone).date().isoformat(), data["currency"], data["amount"], deal)
    c = c._replace(won=_keep_won([*c.won, entry]))
    rep, team = _who(event)
    if (rep or team) and (
        not c.owned_by_win
        or c.owner_at is None
        or (moment, rep, team) > (c.owner_at, c.rep_id, c.team_id)
    ):
        c = c._replace(rep_id=rep, team_id=team, owner_at=moment, owned_by_win=True)
    if c.first_won_at is None or moment < c.first_won_at:
        c = c._replace(first_won_at=moment, first_won_day=entry.day)
        c = c._replace(touches=_keep_touches(list(c.touches), moment))
    if data.get("renewal_date"):
        renewal = Renewal(date.fromisoformat(data["renewal_date"]).isoformat(), deal)
        c = c._replace(renewals=_latest({*c.renewals, renewal}, RENEWALS_KEPT))
    return c


def _latest(items: set[_Row], kept: int) -> tuple[_Row, ...]:
    return tuple(sorted(items)[-kept:])


def _keep_touches(touches: list[int], first_won_at: int | None) -> tuple[int, ...]:
    """The latest TOUCHES_KEPT, plus the first ONBOARDING_KEPT in the onboarding window."""
    touches.sort()
    keep = set(range(max(0, len(touches) - TOUCHES_KEPT), len(touches)))
    if first_won_at is not None:
        window = [
            i
            for i, t in enumerate(touches)
            if first_won_at <= t <= first_won_at + ONBOARDING_WINDOW
        ]
        keep.update(window[:ONBOARDING_KEPT])
    return tuple(touches[i] for i in sorted(keep))


def _keep_won(won: list[Won]) -> tuple[Won, ...]:
    """One entry per deal (its earliest), the last WON_MONTHS months before the latest win's
    month and that month, at most the latest WON_KEPT."""
    per_deal: dict[str, Won] = {}
    for w in won:
        if w.deal not in per_deal or w < per_deal[w.deal]:
            per_deal[w.deal] = w
    ordered = sorted(per_deal.values())
    if not ordered:
        return ()
    cutoff = f"{_month(date.fromisoformat(ordered[-1].day), WON_MONTHS)}-01"
    return tuple(w for w in ordered if w.day >= cutoff)[-WON_KEPT:]


# --------------------------------------------------------------------------- days and months


def _month(day: date, back: int) -> str:
    """'YYYY-MM' of the month `back` months before `day`'s."""
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _midnight(day: date, timezone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(), tzinfo=timezone).timestamp())


def _day(moment: int, timezone: ZoneInfo) -> date:
    return datetime.fromtimestamp(moment, timezone).date()


def _iso(moment: int | None, timezone: ZoneInfo) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, timezone).isoformat()


def _money(value: Decimal) -> str:
    return format(value, "f")


def _as_of(c: Customer, today: date, timezone: ZoneInfo) -> Customer:
    """The record as it stood at the end of `today` (local). A renewal comes with its win: the
    renewals of deals won after `today` are left out (a deal whose win the bounds dropped was
    won long before the kept ones, so its renewal stays)."""
    end = _midnight(today + timedelta(days=1), timezone)
    day = today.isoformat()
    won_yet = bool(c.first_won_day) and c.first_won_day <= day
    won = tuple(w for w in c.won if w.day <= day)
    later = {w.deal for w in c.won} - {w.deal for w in won}
    return c._replace(
        first_won_at=c.first_won_at if won_yet else None,
        first_won_day=c.first_won_day if won_yet else "",
        won=won,
        renewals=tuple(r for r in c.renewals if r.deal not in later),
        touches=tuple(t for t in c.touches if t < end),
        contacts_left=tuple(d for d in c.contacts_left if d.at < end),
        first_seen=c.first_seen if c.first_seen is not None and c.first_seen < end else None,
    )


# --------------------------------------------------------------------------- revenue


def monthly_revenue(c: Customer, currency: str) -> dict[str, Decimal]:
    """'YYYY-MM' -> won amount in `currency` that month (local days), months in order."""
    out: dict[str, Decimal] = {}
    for w in c.won:
        if w.currency == currency:
            out[w.day[:7]] = out.get(w.day[:7], ZERO) + Decimal(w.amount)
    return out


def _months(revenue: Mapping[str, Decimal], today: date, first: int, last: int) -> Decimal:
    """Revenue of the full months `first`..`last` months before today's month."""
    return sum((revenue.get(_month(today, k), ZERO) for k in range(first, last + 1)), ZERO)


def won_12m(c: Customer, today: date, currency: str) -> Decimal:
    """Won revenue in `currency` over the year up to `today`: local days after the same date a
    year earlier (28 February for 29 February), up to and including `today`."""
    start, end = _year_before(today).isoformat(), today.isoformat()
    return sum(
        (Decimal(w.amount) for w in c.won if w.currency == currency and start < w.day <= end),
        ZERO,
    )


# --------------------------------------------------------------------------- lifecycle


def lifecycle(c: Customer, today: date, currency: str, rules: HealthRules = DEFAULT_RULES) -> str:
    """The customer's stage as of `today`, the first that holds of:

    - "prospect": no won deal on or before `today`;
    - "new": its first win's local day is at most `rules.new_days` days before `today`;
    - "declining": won revenue (in `currency`) of the last 6 full months before today's month
      (m-6..m-1) is below 50 % of the 6 full months before those (m-12..m-7), which had revenue;
      or the "revenue_down" signal holds (m-3 > m-2 > m-1);
    - "growing": revenue of the last 12 full months (m-12..m-1) is positive and at least 110 %
      of the 12 before them (m-24..m-13); or its first win is less than a year before `today`
      (after the same date a year earlier);
    - "mature": otherwise.
    """
    day = today.isoformat()
    if not c.first_won_day or c.first_won_day > day:
        return PROSPECT
    first = date.fromisoformat(c.first_won_day)
    if (today - first).days <= rules.new_days:
        return NEW
    revenue = monthly_revenue(c, currency)
    last_6, prior_6 = _months(revenue, today, 1, 6), _months(revenue, today, 7, 12)
    halved = prior_6 > 0 and last_6 < prior_6 * DECLINE_SHARE
    if halved or _revenue_down(revenue, today, currency) is not None:
        return DECLINING
    last_12, prior_12 = _months(revenue, today, 1, 12), _months(revenue, today, 13, 24)
    if (last_12 > 0 and last_12 >= prior_12 * GROWTH) or first > _year_before(today):
        return GROWING
    return MATURE


# --------------------------------------------------------------------------- signals


def _signal(
    name: str, since: date | None, evidence: dict[str, Any], message: str
) -> dict[str, Any]:
    return {
        "signal": name,
        "since": since.isoformat() if since else None,
        "evidence": evidence,
        "message": message,
    }


def _revenue_down(
    revenue: Mapping[str, Decimal], today: date, currency: str
) -> dict[str, Any] | None:
    """Won revenue down two months running: m-2 below m-3 and m-1 below m-2 (so m-3 had wins).
    Since the first day of m-2."""
    months = [_month(today, k) for k in (3, 2, 1)]
    m3, m2, m1 = (revenue.get(m, ZERO) for m in months)
    if not (m2 < m3 and m1 < m2):
        return None
    amounts = {m: _money(revenue.get(m, ZERO)) for m in months}
    text = ", ".join(f"{v} in {m}" for m, v in amounts.items())
    return _signal(
        "revenue_down",
        date.fromisoformat(f"{months[1]}-01"),
        {"months": amounts, "currency": currency},
        f"Won revenue fell two months running ({currency}: {text}).",
    )


def _key_contact_left(
    c: Customer, today: date, timezone: ZoneInfo, rules: HealthRules
) -> dict[str, Any] | None:
    """A key contact left at most `key_contact_days` days before today. The latest one is the
    evidence; since the day it left."""
    horizon = today - timedelta(days=rules.key_contact_days)
    gone = [
        (d, x)
        for x in c.contacts_left
        if x.key_contact and horizon <= (d := _day(x.at, timezone)) <= today
    ]
    if not gone:
        return None
    day, contact = gone[-1]
    who = contact.name or "A key contact"
    if contact.role:
        who += f" ({contact.role})"
    return _signal(
        "key_contact_left",
        day,
        {
            "contact_id": contact.contact_id,
            "name": contact.name or None,
            "role": contact.role or None,
            "day": day.isoformat(),
            "days_ago": (today - day).days,
            "key_contacts_left": len(gone),
        },
        f"{who} left on {day.isoformat()}; find out who decides now.",
    )


def _last_touch(c: Customer, timezone: ZoneInfo) -> date | None:
    return _day(c.touches[-1], timezone) if c.touches else None


def _no_touch(
    c: Customer, today: date, timezone: ZoneInfo, rules: HealthRules
) -> dict[str, Any] | None:
    """No visit or call for more than the tier's days (untiered: C's), counted from the last
    touch, or, never touched, from the first win, else from when the account was first seen.
    Since that day."""
    tier = c.tier if c.tier in rules.no_touch_days else "C"
    limit = rules.no_touch_days[tier]
    last = _last_touch(c, timezone)
    if last is not None:
        since, counted_from = last, "last_touch"
    elif c.first_won_at is not None:
        since, counted_from = _day(c.first_won_at, timezone), "first_win"
    elif c.first_seen is not None:
        since, counted_from = _day(c.first_seen, timezone), "first_seen"
    else:
        return None
    days = (today - since).days
    if days <= limit:
        return None
    what = {
        "last_touch": "since the last one",
        "first_win": "since the first win",
        "first_seen": "since the account was first seen",
    }[counted_from]
    return _signal(
        "no_touch",
        since,
        {
            "days_since_touch": days,
            "limit_days": limit,
            "tier": tier,
            "last_touch": last.isoformat() if last else None,
            "counted_from": counted_from,
        },
        f"No visit or call for {days} days {what} (tier {tier}: at most {limit}).",
    )


def _renewal_due(
    c: Customer, today: date, timezone: ZoneInfo, rules: HealthRules
) -> dict[str, Any] | None:
    """The soonest renewal on `today`..`today + renewal_within_days`, with no touch in the last
    `renewal_touch_days` days. Since both held: the later of the day the renewal came within
    reach and the day after the last touch went stale."""
    horizon = today + timedelta(days=rules.renewal_within_days)
    due = [d for r in c.renewals if today <= (d := date.fromisoformat(r.due)) <= horizon]
    if not due:
        return None
    last = _last_touch(c, timezone)
    quiet = (today - last).days if last else None
    if quiet is not None and quiet <= rules.renewal_touch_days:
        return None
    renewal = min(due)
    since = renewal - timedelta(days=rules.renewal_within_days)
    if last is not None:
        since = max(since, last + timedelta(days=rules.renewal_touch_days + 1))
    to_go = (renewal - today).days
    touched = (
        f"nobody has visited or called for {quiet} days"
        if quiet is not None
        else ("nobody has visited or called yet")
    )
    return _signal(
        "renewal_due",
        since,
        {"renewal_date": renewal.isoformat(), "days_to_go": to_go, "days_since_touch": quiet},
        f"The contract renews on {renewal.isoformat()} (in {to_go} days) and {touched}.",
    )


def _onboarding(
    c: Customer, today: date, timezone: ZoneInfo, rules: HealthRules
) -> dict[str, Any] | None:
    """A customer whose first win is at most `new_days` days old, not touched within
    `onboarding_hours` after it, or touched fewer than `onboarding_touches` times in the 30 days
    after it. Each window is judged once it ended before `today` began; since the first win."""
    if c.first_won_at is None:
        return None
    first_day = date.fromisoformat(c.first_won_day)
    if (today - first_day).days > rules.new_days:
        return None
    start, won_at = _midnight(today, timezone), c.first_won_at
    hours_end = won_at + rules.onboarding_hours * 3600
    month_end = won_at + ONBOARDING_DAYS * 86_400
    in_hours = sum(1 for t in c.touches if won_at <= t <= hours_end)
    in_month = sum(1 for t in c.touches if won_at <= t <= month_end)
    late = hours_end <= start and in_hours == 0
    thin = month_end <= start and in_month < rules.onboarding_touches
    if not (late or thin):
        return None
    problems = []
    if late:
        problems.append(f"not visited or called within {rules.onboarding_hours} hours of the win")
    if thin:
        problems.append(
            f"only {in_month} visits or calls in its first {ONBOARDING_DAYS} days "
            f"({rules.onboarding_touches} expected)"
        )
    return _signal(
        "onboarding",
        first_day,
        {
            "first_won": first_day.isoformat(),
            "touches_within_hours": in_hours if hours_end <= start else None,
            "hours": rules.onboarding_hours,
            "touches_first_30_days": in_month if month_end <= start else None,
            "touches_required": rules.onboarding_touches,
        },
        f"New customer since {first_day.isoformat()}: {' and '.join(problems)}.",
    )


_Judge = Callable[[Customer, date, ZoneInfo, HealthRules], dict[str, Any] | None]
_JUDGES: Sequence[_Judge] = (_key_contact_left, _no_touch, _renewal_due, _onboarding)
SIGNALS = ("revenue_down", "key_contact_left", "no_touch", "renewal_due", "onboarding")


def signals(
    c: Customer,
    today: date,
    currency: str,
    timezone: ZoneInfo,
    rules: HealthRules = DEFAULT_RULES,
) -> list[dict[str, Any]]:
    """The risk signals that hold as of `today`, in the order of SIGNALS; each
    {"signal", "since" (ISO date or None), "evidence", "message"}. Days are local days in
    `timezone`; "within N days" includes N. A signal is judged only with the data to judge it."""
    view = _as_of(c, today, timezone)
    found = [_revenue_down(monthly_revenue(view, currency), today, currency)]
    found += [judge(view, today, timezone, rules) for judge in _JUDGES]
    return [s for s in found if s is not None]


# --------------------------------------------------------------------------- tiers, health


def suggest_tiers(
    revenue_12m: Mapping[str, Decimal], rules: HealthRules = DEFAULT_RULES
) -> dict[str, str]:
    """A Pareto tier per account: by revenue, largest first (ties by account id), an account is
    A while the cumulative share of the accounts before it is below `pareto[0]`, B while below
    `pareto[1]`, else C; accounts without revenue are C. The largest account is always A."""
    a_share, b_share = (Decimal(str(p)) for p in rules.pareto)
    ranked = sorted(revenue_12m.items(), key=lambda item: (-item[1], item[0]))
    total = sum((v for _, v in ranked if v > 0), ZERO)
    out: dict[str, str] = {}
    before = ZERO
    for account_id, value in ranked:
        if value <= 0:
            out[account_id] = "C"
            continue
        out[account_id] = (
            "A" if before < a_share * total else "B" if before < b_share * total else "C"
        )
        before += value
    return out


def health(
    c: Customer,
    today: date,
    currency: str,
    timezone: ZoneInfo,
    *,
    suggested_tier: str | None,
    rules: HealthRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """The customer's health as of `today`, as the API renders it."""
    view = _as_of(c, today, timezone)
    found = signals(c, today, currency, timezone, rules)
    owner = f"rep:{c.rep_id}" if c.rep_id else f"team:{c.team_id}" if c.team_id else None
    return {
        "account_id": c.account_id,
        "tier": c.tier or None,
        "suggested_tier": suggested_tier,
        "lifecycle": lifecycle(view, today, currency, rules),
        "at_risk": bool(found),
        "signals": found,
        "owner": owner,
        "rep_id": c.rep_id or None,
        "team_id": c.team_id or None,
        "first_won_at": _iso(view.first_won_at, timezone),
        "last_touch_at": _iso(view.touches[-1] if view.touches else None, timezone),
        "won_12m": {"value": _money(won_12m(view, today, currency)), "currency": currency},
    }
