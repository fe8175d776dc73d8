"""Lead and deal profiles: what lead priority needs to know of every lead and deal, folded from
the log.

    prospects: dict[str, Prospect] = {}       # by stream: "lead-…", "deal-…"
    for event in feed:                        # dicts, as activity's feed serves them
        changed = track(prospects, event, parse(event["occurred_at"]), tier_of=tier)

A `Prospect` keeps what does not change with time (`static`: channel, industry, size, tier,
value, the lead's attributes), its outcome, and a timeline of `Item`s (visits, calls, buying
signals, engagements, stage, consent and amount changes), each with its business time
(`occurred_at`) and the time it was logged (`recorded_at`), as epoch seconds. Features of the
profile at any moment, and training sets, are computed from it (priority/features.py), so one
profile serves today's score, a model trained on what was known before a date, and a backtest.

Definitions:
- a lead's outcome is 1 when it is qualified or a deal opened from it (deal.opened `lead_id`) is
  won, 0 when it is disqualified or such a deal is lost; a deal's is 1 won, 0 lost. The *first*
  outcome (the earliest `occurred_at`; on a tie, the one folded first) is the outcome: a
  qualified lead whose deal is later lost stays 1, and a back-dated outcome logged later takes
  its place. A lead's outcome through a deal counts as recorded when both the deal's outcome and
  its link to the lead (the deal.opened) were recorded.
- rep and team are those of the creating event (lead.created, deal.opened); later events by
  someone else do not move the prospect (a reassignment is not in the catalogue yet).
- tier is the account's tier when the prospect was created (log order), none for a deal opened
  without an account (a `deal.account_linked` sets its `account_id`, and no feature); a deal
  copies channel, industry, company size and attributes from its lead when the lead was created
  before the deal was opened (log order), and is not updated by a lead logged after it.
- an event on a lead or deal whose creation has not been folded yet (a visit logged before the
  lead, or a creation logged late) makes a placeholder (`created_at` None), which the creation
  fills in when it comes. A placeholder is neither open nor trained on.
- events after the outcome still join the timeline; features never use items at or after the
  outcome.
- account streams, event types without a bearing on leads and deals, and schema versions this
  code does not know change nothing.

The timeline is bounded (`MAX_ITEMS`), so a profile stays a small row whatever the log holds.
Beyond 512 items, in this order until it fits:
1. engagements of the same kind on the same UTC day merge into one (counts and seconds summed,
   the earliest occurred and recorded times kept), and a buying signal already seen (same name,
   occurred and recorded no later) is dropped, which changes no feature;
2. the oldest visits, calls and engagements *after the first* `KEEP_FIRST` (128) items go: the
   first days matter to a backtest of early scores, the latest to today's score;
3. only then (hundreds of stage, consent or amount changes or distinct signals) the oldest items
   of any kind after the first 128.
"""

from __future__ import annotations

import copyreg
import functools
import math
import sys
from bisect import insort
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

KNOWN_SCHEMA_VERSION = 1
MAX_ITEMS = 512
KEEP_FIRST = 128
DAY = 86_400

# Item kinds
VISIT, CALL, SIGNAL, ENGAGEMENT = "visit", "call", "signal", "eng"
STAGE, CONSENT, AMOUNT = "stage", "consent", "amount"
TOUCH_KINDS = frozenset({VISIT, CALL, ENGAGEMENT})

_EMPTY: Mapping[str, str] = MappingProxyType({})


# Profiles cross to worker processes (scores, rebuilds): a read-only mapping, which does not
# pickle on its own, pickles as its contents and comes back read-only.
def _read_only(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(items)


copyreg.pickle(MappingProxyType, lambda m: (_read_only, (dict(m),)))


class Item(NamedTuple):
    """One thing that happened to a lead or deal.

    kind     name                           n                       seconds
    visit    ""                             1 effective, 0 not      duration
    call     ""                             1 connected, 0 not      duration
    signal   the buying signal              0                       0
    eng      engagement kind                how many                time spent
    stage    the stage entered              0                       0
    consent  do_not_email | do_not_call     1 set, 0 lifted         0
    amount   "<amount> <currency>"          0                       0
    """

    at: int  # occurred_at, epoch seconds
    recorded: int  # recorded_at, epoch seconds
    kind: str
    name: str = ""
    n: int = 0  # `count` would hide tuple.count
    seconds: int = 0


class Prospect(NamedTuple):
    kind: str  # "lead" | "deal"
    key: str  # the stream: "lead-…" / "deal-…"
    rep_id: str = ""
    team_id: str = ""
    created_at: int | None = None  # occurred_at of lead.created / deal.opened, epoch seconds
    created_recorded: int | None = None
    static: Mapping[str, str] = _EMPTY
    """channel, industry, company_size, tier, product_line (deals), value (estimated value or
    deal amount when created, a decimal string), currency, "attr:<key>" (the lead's attributes,
    raw); only what is known and not empty."""
    lead: str = ""  # a deal's lead stream ("" if none)
    outcome: int | None = None  # 1 converted/won, 0 failed/lost, None open
    outcome_at: int | None = None
    outcome_recorded: int | None = None
    items: tuple[Item, ...] = ()  # in occurred order (then recorded, then log order)
    account_id: str = ""
    stage: str = ""  # a deal's stage: the one entered last (occurred order)
    amount: str = ""  # a deal's current amount (occurred order), a decimal string
    currency: str = ""


Event = Mapping[str, Any]


def is_open(p: Prospect) -> bool:
    """Created (not a placeholder) and without an outcome."""
    return p.created_at is not None and p.outcome is None


# --------------------------------------------------------------------------- keys


def _kind_of(stream: str) -> str:
    kind = stream.split("-", 1)[0]
    return kind if kind in ("lead", "deal") else ""


def _known_event(event: Event) -> bool:
    return (
        event.get("type") in _HANDLERS
        and int(event.get("schema_version", 1) or 1) <= KNOWN_SCHEMA_VERSION
        and bool(_kind_of(event.get("stream") or ""))
    )


def keys_read(event: Event, known: Mapping[str, Prospect]) -> set[str]:
    """The prospect keys a fold of `event` may read or write: its own lead-/deal- stream; for
    deal.opened with lead_id, the lead; for deal.won/deal.lost, the deal's lead (found from
    `known[deal].lead` when the deal is in `known`: load the deal, then ask again)."""
    if not _known_event(event):
        return set()
    stream: str = event["stream"]
    keys = {stream}
    kind = event["type"]
    if kind == "deal.opened" and stream.startswith("deal-"):
        lead_id = (event.get("data") or {}).get("lead_id")
        if lead_id:
            keys.add(f"lead-{lead_id}")
    elif kind in ("deal.won", "deal.lost"):
        deal = known.get(stream)
        if deal is not None and deal.lead:
            keys.add(deal.lead)
    return keys


# --------------------------------------------------------------------------- the fold


class _Moment(NamedTuple):
    at: int
    recorded: int


def _epoch(moment: datetime) -> int:
    """Whole seconds, rounded up: "recorded before a cutoff" and "occurred before a moment"
    then never take in what happened a fraction of a second after it (no leakage)."""
    return math.ceil(moment.timestamp())


def track(
    prospects: MutableMapping[str, Prospect],
    event: Event,
    at: datetime,
    *,
    tier_of: Callable[[str], str],
) -> list[str]:
    """Fold one event into the profiles; returns the keys it changed. `prospects` holds at least
    the keys `keys_read(event, prospects)` names (the caller loads them from storage); `at` is
    the event's parsed `occurred_at`; `tier_of(account_id)` the account's current tier ("")."""
    if not _known_event(event):
        return []
    recorded = event.get("recorded_at")
    when = _Moment(_epoch(at), _recorded_epoch(recorded) if recorded else _epoch(at))
    changed = _HANDLERS[event["type"]](prospects, event, when, tier_of)
    return changed if len(changed) < 2 else list(dict.fromkeys(changed))


@functools.lru_cache(maxsize=1)
def _recorded_epoch(text: str) -> int:
    """`_epoch` of a `recorded_at`: the events of one append share it, so the last one is kept."""
    return _epoch(datetime.fromisoformat(text))


def _get(prospects: Mapping[str, Prospect], key: str) -> Prospect:
    """The profile of `key`, or a placeholder for a lead or deal not created yet."""
    found = prospects.get(key)
    return found if found is not None else Prospect(_kind_of(key), key)


def _who(event: Event) -> tuple[str, str]:
    return event.get("rep_id") or "", event.get("team_id") or ""


def _with_items(p: Prospect, new: list[Item]) -> Prospect:
    # stable: as inserting each in turn after its equals
    added = new if len(new) < 2 else sorted(new, key=_order)
    if not added:
        return p
    if not p.items or _order(added[0]) >= _order(p.items[-1]):
        items = p.items + tuple(added)  # the common case: the timeline grows at its end
        trimmed = len(items) > MAX_ITEMS
        if trimmed:
            items = tuple(bound(list(items)))
    else:
        merged = list(p.items)
        for item in added:
            insort(merged, item, key=_order)
        trimmed = len(merged) > MAX_ITEMS
        items = tuple(bound(merged))
    p = p._replace(items=items)
    # A deal's stage and amount move only with stage and amount items (or a trim of them).
    if p.kind == "deal" and (trimmed or any(i.kind in (STAGE, AMOUNT) for i in added)):
        p = _current(p)
    return p


def _order(item: Item) -> tuple[int, int]:
    return item.at, item.recorded


def _current(p: Prospect) -> Prospect:
    """A deal's stage and amount: the latest entered (occurred order), else as opened."""
    stage = next((i.name for i in reversed(p.items) if i.kind == STAGE), "")
    latest = next((i.name for i in reversed(p.items) if i.kind == AMOUNT), "")
    if latest:
        amount, _, currency = latest.partition(" ")
    else:
        amount, currency = p.static.get("value", ""), p.static.get("currency", "")
    return p._replace(stage=stage, amount=amount, currency=currency)


def _touch(event: Event, m: _Moment) -> list[Item]:
    data = event["data"]
    if event["type"] == "visit.logged":
        main = Item(
            m.at,
            m.recorded,
            VISIT,
            "",
            int(bool(data.get("effective"))),
            int(data.get("duration_minutes") or 0) * 60,
        )
    else:
        main = Item(
            m.at,
            m.recorded,
            CALL,
            "",
            int(bool(data.get("connected"))),
            int(data.get("duration_seconds") or 0),
        )
    signals = dict.fromkeys(data.get("buying_signals") or ())
    return [main, *(Item(m.at, m.recorded, SIGNAL, s) for s in signals)]


def _add(ps: MutableMapping[str, Prospect], key: str, items: list[Item]) -> list[str]:
    ps[key] = _with_items(_get(ps, key), items)
    return [key]


def touch_logged(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    return _add(ps, event["stream"], _touch(event, m))


def engagement_tracked(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    data = event["data"]
    item = Item(
        m.at,
        m.recorded,
        ENGAGEMENT,
        str(data.get("kind") or "other"),
        int(data.get("count", 1)),
        int(data.get("seconds", 0)),
    )
    return _add(ps, event["stream"], [item])


def consent_changed(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    data = event["data"]
    items = [
        Item(m.at, m.recorded, CONSENT, flag, int(data[flag]))
        for flag in ("do_not_email", "do_not_call")
        if data.get(flag) is not None
    ]
    return _add(ps, event["stream"], items) if items else []


def stage_changed(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    if not event["stream"].startswith("deal-"):
        return []
    item = Item(m.at, m.recorded, STAGE, event["data"]["to_stage"])
    return _add(ps, event["stream"], [item])


def amount_changed(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    if not event["stream"].startswith("deal-"):
        return []
    data = event["data"]
    item = Item(m.at, m.recorded, AMOUNT, f"{data['amount']} {data['currency']}")
    return _add(ps, event["stream"], [item])


def _text(value: Any) -> str:
    return "" if value is None else sys.intern(str(value))


def lead_created(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    stream = event["stream"]
    if not stream.startswith("lead-"):
        return []
    p = _get(ps, stream)
    if p.created_at is not None:
        return []
    data = event["data"]
    account_id = _text(data.get("account_id"))
    static = {
        "channel": _text(data.get("channel")),
        "industry": _text(data.get("industry")),
        "company_size": _text(data.get("company_size")),
        "tier": tier_of(account_id) if account_id else "",
        "value": _text(data.get("estimated_value")),
        "currency": _text(data.get("currency")),
        **{
            sys.intern(f"attr:{k}"): _text(v)
            for k, v in sorted((data.get("attributes") or {}).items())
        },
    }
    rep, team = _who(event)
    ps[stream] = p._replace(
        rep_id=rep,
        team_id=team,
        created_at=m.at,
        created_recorded=m.recorded,
        static={k: v for k, v in static.items() if v},
        account_id=account_id,
    )
    return [stream]


INHERITED = ("channel", "industry", "company_size")


def deal_opened(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    stream = event["stream"]
    if not stream.startswith("deal-"):
        return []
    p = _get(ps, stream)
    if p.created_at is not None:
        return []
    data = event["data"]
    lead_key = f"lead-{data['lead_id']}" if data.get("lead_id") else ""
    lead = ps.get(lead_key) if lead_key else None
    static: dict[str, str] = {}
    if lead is not None and lead.created_at is not None:
        static |= {k: v for k, v in lead.static.items() if k in INHERITED or k.startswith("attr:")}
    account_id = _text(data.get("account_id"))
    static |= {
        "tier": tier_of(account_id) if account_id else "",
        "product_line": _text(data.get("product_line")),
        "value": _text(data.get("amount")),
        "currency": _text(data.get("currency")),
    }
    rep, team = _who(event)
    p = p._replace(
        rep_id=rep,
        team_id=team,
        created_at=m.at,
        created_recorded=m.recorded,
        static={k: v for k, v in sorted(static.items()) if v},
        lead=lead_key,
        account_id=account_id or p.account_id,  # else a link's, folded before the opening
    )
    stage = Item(m.at, m.recorded, STAGE, _text(data.get("stage")) or "qualification")
    ps[stream] = _with_items(p, [stage])
    changed = [stream]
    if lead_key and p.outcome is not None:  # closed before its opening was logged
        changed += _settle_lead(ps, ps[stream])
    return changed


def account_linked(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    """A deal opened without an account gets one (the first it gets is kept, as in the KPI
    fold). Its features do not move: `static` (its tier too) stays as it was when opened."""
    stream = event["stream"]
    if not stream.startswith("deal-"):
        return []
    p = _get(ps, stream)
    if p.account_id:
        return []
    ps[stream] = p._replace(account_id=_text(event["data"]["account_id"]))
    return [stream]


def _settle(
    ps: MutableMapping[str, Prospect], key: str, outcome: int, at: int, recorded: int
) -> list[str]:
    """Give `key` this outcome unless it has one that occurred no later."""
    p = _get(ps, key)  # a lead seen only through its deal gets a placeholder
    if p.outcome_at is not None and p.outcome_at <= at:
        return []
    ps[key] = p._replace(outcome=outcome, outcome_at=at, outcome_recorded=recorded)
    return [key]


def _settle_lead(ps: MutableMapping[str, Prospect], deal: Prospect) -> list[str]:
    """A deal's outcome is its lead's too (unless the lead's came first): recorded once both
    the outcome and the deal's link to the lead were."""
    assert deal.outcome is not None
    assert deal.outcome_at is not None
    recorded = max(deal.outcome_recorded or 0, deal.created_recorded or 0)
    return _settle(ps, deal.lead, deal.outcome, deal.outcome_at, recorded)


def lead_settled(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    stream = event["stream"]
    if not stream.startswith("lead-"):
        return []
    return _settle(ps, stream, int(event["type"] == "lead.qualified"), m.at, m.recorded)


def deal_closed(
    ps: MutableMapping[str, Prospect], event: Event, m: _Moment, tier_of: Callable[[str], str]
) -> list[str]:
    stream = event["stream"]
    if not stream.startswith("deal-"):
        return []
    changed = _settle(ps, stream, int(event["type"] == "deal.won"), m.at, m.recorded)
    deal = ps[stream]
    if changed and deal.lead:
        changed += _settle_lead(ps, deal)
    return changed


_HANDLERS: dict[
    str,
    Callable[[MutableMapping[str, Prospect], Event, _Moment, Callable[[str], str]], list[str]],
] = {
    "lead.created": lead_created,
    "lead.qualified": lead_settled,
    "lead.disqualified": lead_settled,
    "lead.consent_changed": consent_changed,
    "visit.logged": touch_logged,
    "call.logged": touch_logged,
    "engagement.tracked": engagement_tracked,
    "deal.opened": deal_opened,
    "deal.account_linked": account_linked,
    "deal.stage_changed": stage_changed,
    "deal.amount_changed": amount_changed,
    "deal.won": deal_closed,
    "deal.lost": deal_closed,
}


# --------------------------------------------------------------------------- the bound


def bound(items: list[Item]) -> list[Item]:
    """At most `MAX_ITEMS` items, in occurred order (see the module's docstring)."""
    if len(items) <= MAX_ITEMS:
        return items
    items = _compact(items)
    if len(items) > MAX_ITEMS:
        items = _drop_oldest(items, TOUCH_KINDS)
    if len(items) > MAX_ITEMS:
        items = _drop_oldest(items, None)
    return items


def _compact(items: list[Item]) -> list[Item]:
    """Merge engagements of a kind on a UTC day; drop signals seen before (no feature moves)."""
    merged: dict[tuple[str, int], Item] = {}
    first_recorded: dict[str, int] = {}
    out: list[Item] = []
    for item in items:
        if item.kind == ENGAGEMENT:
            day = (item.name, item.at // DAY)
            seen = merged.get(day)
            merged[day] = (
                item
                if seen is None
                else seen._replace(
                    recorded=min(seen.recorded, item.recorded),
                    n=seen.n + item.n,
                    seconds=seen.seconds + item.seconds,
                )
            )
            continue
        if item.kind == SIGNAL:
            earliest = first_recorded.get(item.name)
            if earliest is not None and earliest <= item.recorded:
                continue  # an earlier copy occurred and was recorded no later
            first_recorded[item.name] = item.recorded
        out.append(item)
    return sorted([*out, *merged.values()], key=_order)


def _drop_oldest(items: list[Item], kinds: frozenset[str] | None) -> list[Item]:
    excess = len(items) - MAX_ITEMS
    out = items[:KEEP_FIRST]
    for item in items[KEEP_FIRST:]:
        if excess > 0 and (kinds is None or item.kind in kinds):
            excess -= 1
            continue
        out.append(item)
    return out
