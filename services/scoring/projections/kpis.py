"""The KPI fold: each event of the log becomes *facts*, additive contributions to a metric.

    book = Book(timezone=ZoneInfo("Europe/Berlin"))
    for event in feed:                       # dicts, as activity's feed serves them
        facts = fold(book, event)            # None: a type or version this code does not know

A fact says "add `value` to `metric`, on local `day`, for this rep and team, in this cut
(product line, customer tier, lead channel) and currency". Everything scoring serves is a sum of
facts over some days (or, for pipelines, over all days up to a moment), or a ratio of two sums,
so facts add up in any grouping: rep → team → org, day → month → year.

`Book` holds what the fold must remember between events: the leads, deals and accounts it has
seen, as frozen records replaced on every change. The same fold serves the live consumer, a full
rebuild and an `as_of` replay. Voids are not folded: a voided event is left out of a replay,
of the whole log or of the slice of it the event belongs to (follow/corrections.py), which is
exactly "as if it was never logged".

Definitions (README, "KPI definitions", says the same for API users):
- a fact's day is the event's `occurred_at` in the org's timezone; its rep and team are the
  event's, except pipeline and stage facts, which stay with the deal's opener so they cancel out;
- tier is the account's tier when the event is folded (log order); deals keep their tier, channel
  (of the lead they came from) and product line from when they were opened;
- counts ignore currency; money metrics are per currency;
- a deal is read by its events' `occurred_at`, not by the order they were logged in (CRMs
  deliver in none): its stage and amount are its latest by `occurred_at`, a stage reached before
  the close counts whenever it is logged, and events logged before the deal's opening wait for
  it (see "deals" below), so a deal's KPIs do not depend on the order its events arrived in;
- a deal's pipeline moves (stage, amount, close) count at their `occurred_at`, but never before
  the deal's previous one: a back-dated close cannot take a deal out of the pipeline before it
  entered it;
- a deal opened without an account (a prospect) counts in every deal-based metric as usual,
  with no tier; its account-based ones (new customers, distinct customers, follow-up within
  72 h, customer health, touches on the deal's stream) count from the `deal.account_linked`
  that gives it an account on: a win before the link is the account's win at the link's
  `occurred_at` (a first win makes a new customer on that day, for whoever won the deal), and a
  win back-dated before it counts at it too. A deal keeps the first account it gets (from its
  opening or a link); a link to another account changes nothing (void the wrong event instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from . import health, leads

FOLLOW_UP_WINDOW = timedelta(hours=72)
TOUCHES_KEPT = 50  # latest touches kept per account until its first win (see _touch)
KNOWN_SCHEMA_VERSION = 1

Value = int | Decimal


class Fact(NamedTuple):
    metric: str
    day: date
    rep_id: str
    team_id: str
    product_line: str
    tier: str
    channel: str
    currency: str
    value: Value


class Win(NamedTuple):
    """A won deal, kept per deal so distinct customers per period can be counted."""

    deal: str
    account_id: str
    day: date
    rep_id: str
    team_id: str
    product_line: str
    tier: str
    channel: str


class Lead(NamedTuple):
    rep_id: str
    team_id: str
    channel: str
    account_id: str
    created_at: datetime | None  # None: seen qualified/disqualified before its creation
    qualified: bool = False
    disqualified: bool = False
    # When and by whom, in which tier, it was (dis)qualified: a creation logged after that
    # moves those facts into the lead's channel (see `lead_created`).
    qualified_at: datetime | None = None
    qualified_by: tuple[str, str, str] = ("", "", "")  # rep, team, tier
    disqualified_at: datetime | None = None
    disqualified_by: tuple[str, str, str] = ("", "", "")


class Deal(NamedTuple):
    rep_id: str
    team_id: str
    opened_at: datetime
    account_id: str
    product_line: str
    tier: str
    channel: str
    amount: Decimal
    currency: str
    stage: str
    stages: tuple[str, ...]
    status: str = "open"  # open | won | lost | unopened (a placeholder, see `_remember`)
    # When its pipeline last moved (None: when it opened); see `_pipeline_moment`.
    pipeline_at: datetime | None = None
    # The `occurred_at` of its current stage and amount (None: the opening's), so an older
    # change folded later does not replace them; and of its close (the event's own time).
    stage_at: datetime | None = None
    amount_at: datetime | None = None
    closed_at: datetime | None = None
    # When each of `stages` was first reached (None: folded before this was kept).
    entered: tuple[datetime | None, ...] = ()
    # Its events folded before its opening, folded when the opening comes.
    pending: tuple[Pending, ...] = ()
    # The lead it was opened from (its stream, "" if none) and, lost, the reason given: the
    # cohort funnel follows leads into their deals (answer/reports.py, `cohort_funnel`).
    lead: str = ""
    lost_reason: str = ""
    # When `deal.account_linked` gave it its account (None: it had one when opened, or none).
    linked_at: datetime | None = None
    # Its win, while it has no account: the account's part of it is counted at the link.
    won_event: Pending | None = None


class Pending(NamedTuple):
    """A deal's event that came before the deal's opening (all a handler needs of it)."""

    type: str
    at: datetime
    rep_id: str
    team_id: str
    data: dict[str, Any]


class Account(NamedTuple):
    tier: str = ""
    first_won_at: datetime | None = None
    # Who won the customer first, and in which cut: its follow-up is counted for them.
    first_won_by: tuple[str, str] = ("", "")
    first_won_dims: tuple[str, str, str] = ("", "", "")
    followed_up: bool = False
    touches: tuple[datetime, ...] = ()


class Invoice(NamedTuple):
    deal: str  # the deal's stream, or ""


@dataclass(slots=True)
class Book:
    """What the fold remembers, by key: `lead-…`/`deal-…` streams, account and invoice ids."""

    timezone: ZoneInfo
    leads: dict[str, Lead] = field(default_factory=dict)
    deals: dict[str, Deal] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    # Lead and deal profiles (projections/leads.py) and customers (projections/health.py), by
    # stream and by account id: what lead priority and customer health are computed from.
    prospects: dict[str, Any] = field(default_factory=dict)
    customers: dict[str, Any] = field(default_factory=dict)
    wins: list[Win] = field(default_factory=list)  # wins folded since the caller last took them
    changed: set[tuple[str, str]] = field(default_factory=set)  # (kind, key) touched

    def put(self, kind: str, key: str, value: Any) -> None:
        getattr(self, kind)[key] = value
        self.changed.add((kind, key))


Event = Mapping[str, Any]


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fold(book: Book, event: Event) -> list[Fact] | None:
    """The facts one event contributes (updating `book`); None for an event this fold does not
    know (a newer schema version or type), which the caller counts as skipped."""
    handler = _HANDLERS.get(event["type"])
    if handler is None or event.get("schema_version", 1) > KNOWN_SCHEMA_VERSION:
        return None
    at = parse_time(event["occurred_at"])
    facts = handler(book, event, at)
    _profiles(book, event, at)
    return facts


def _profiles(book: Book, event: Event, at: datetime) -> None:
    """Keep the lead and deal profiles and the customers up to date (after the KPI handler, so
    a deal just opened is known): the same fold feeds KPIs, lead priority and customer health."""
    for key in leads.track(book.prospects, event, at, tier_of=lambda a: _tier(book, a)):
        book.changed.add(("prospects", key))
    account_id, _ = _context(book, event)
    _track_customer(book, event, at, account_id)


def _track_customer(book: Book, event: Event, at: datetime, account_id: str) -> None:
    """Fold `event` into its account's customer record; a deal's win counts for its account
    from the deal's link to it on (`_account_moment`)."""
    if not account_id:
        return
    if event["type"] == "deal.won":
        deal = book.deals.get(event["stream"])
        if deal is not None:
            at = _account_moment(deal, at)
    if health.track(book.customers, event, at, account_id, timezone=book.timezone):
        book.changed.add(("customers", account_id))


# --------------------------------------------------------------------------- helpers


def _facts(
    book: Book,
    at: datetime,
    rep: str,
    team: str,
    dims: tuple[str, str, str],
    *contributions: tuple[str, str, Value],
) -> list[Fact]:
    day = at.astimezone(book.timezone).date()
    product_line, tier, channel = dims
    return [
        Fact(metric, day, rep, team, product_line, tier, channel, currency, value)
        for metric, currency, value in contributions
    ]


def _who(event: Event) -> tuple[str, str]:
    return event.get("rep_id") or "", event.get("team_id") or ""


def _tier(book: Book, account_id: str) -> str:
    account = book.accounts.get(account_id) if account_id else None
    return account.tier if account else ""


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def _days(book: Book, start: datetime, end: datetime) -> int:
    """Calendar days from `start` to `end` in the org's timezone (the later day minus the
    earlier), as CRM reports count them: a date-only import gives the same whatever time of day
    it chose."""
    tz = book.timezone
    return max(0, (end.astimezone(tz).date() - start.astimezone(tz).date()).days)


def _context(book: Book, event: Event) -> tuple[str, tuple[str, str, str]]:
    """The account and the cut (product line, tier, channel) of an event, from its stream."""
    stream: str = event["stream"]
    # A link's account is the deal's (the first one it got: a link naming another is ignored).
    account_id: str = "" if event["type"] == LINKED else event["data"].get("account_id") or ""
    product_line = channel = ""
    if stream.startswith("lead-"):
        lead = book.leads.get(stream)
        if lead:
            channel, account_id = lead.channel, account_id or lead.account_id
    elif stream.startswith("deal-"):
        deal = book.deals.get(stream)
        if deal:
            product_line, channel = deal.product_line, deal.channel
            account_id = account_id or deal.account_id
    elif stream.startswith("account-"):
        account_id = account_id or stream.removeprefix("account-")
    return account_id, (product_line, _tier(book, account_id), channel)


# --------------------------------------------------------------------------- touches


def _touch(book: Book, event: Event, at: datetime, kind: str, hit: str | None) -> list[Fact]:
    """A visit or call (`kind`), and `hit` (effective, connected) when it was one."""
    rep, team = _who(event)
    account_id, dims = _context(book, event)
    facts = _facts(book, at, rep, team, dims, (kind, "", 1), *([(hit, "", 1)] if hit else []))
    if account_id:
        account = book.accounts.get(account_id) or Account()
        if account.first_won_at is None:
            # Remembered until the first win, which looks for a touch in its 72 h window that
            # was logged before it (out of order): the latest few are enough.
            touches = account.touches
            if not touches or at >= touches[-1]:
                touches = (*touches[-(TOUCHES_KEPT - 1) :], at)
            else:
                touches = tuple(sorted((*touches, at))[-TOUCHES_KEPT:])
            book.put("accounts", account_id, account._replace(touches=touches))
        elif (
            not account.followed_up
            and account.first_won_at <= at <= account.first_won_at + FOLLOW_UP_WINDOW
        ):
            facts += _followed_up(book, account, at=account.first_won_at)
            book.put("accounts", account_id, account._replace(followed_up=True))
    return facts


def _followed_up(book: Book, account: Account, *, at: datetime) -> list[Fact]:
    """The customer was touched within 72 h of its first win: counted on the win's day, for
    whoever won it and in the win's cut, so it divides by `new_customers` in any grouping."""
    rep, team = account.first_won_by
    return _facts(book, at, rep, team, account.first_won_dims, ("followed_up_72h", "", 1))


def visit_logged(book: Book, event: Event, at: datetime) -> list[Fact]:
    return _touch(
        book, event, at, "visits", "effective_visits" if event["data"]["effective"] else None
    )


def call_logged(book: Book, event: Event, at: datetime) -> list[Fact]:
    return _touch(
        book, event, at, "calls", "connected_calls" if event["data"]["connected"] else None
    )


def engagement_tracked(book: Book, event: Event, at: datetime) -> list[Fact]:
    """A digital touch (an e-mail opened, a page read…): counted, with its seconds, in the cut
    of its lead, deal or account. Not a visit or call: it does not follow a customer up."""
    rep, team = _who(event)
    _, dims = _context(book, event)
    data = event["data"]
    return _facts(
        book,
        at,
        rep,
        team,
        dims,
        ("engagements", "", data.get("count", 1)),
        ("engaged_seconds", "", data.get("seconds", 0)),
    )


# --------------------------------------------------------------------------- leads


def lead_created(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    known = book.leads.get(stream)
    if known is not None and known.created_at is not None:
        return []
    rep, team = _who(event)
    data = event["data"]
    lead = Lead(rep, team, data["channel"], data.get("account_id") or "", at)
    facts = _facts(
        book, at, rep, team, ("", _tier(book, lead.account_id), lead.channel), ("new_leads", "", 1)
    )
    if known is not None:  # qualified or disqualified before its creation was logged
        lead = lead._replace(
            qualified=known.qualified,
            qualified_at=known.qualified_at,
            qualified_by=known.qualified_by,
            disqualified=known.disqualified,
            disqualified_at=known.disqualified_at,
            disqualified_by=known.disqualified_by,
        )
        facts += _late_creation(book, known, lead)
    book.put("leads", stream, lead)
    return facts


def _late_creation(book: Book, before: Lead, lead: Lead) -> list[Fact]:
    """Move the (dis)qualification facts counted without a channel into the lead's channel,
    and add the lead→opportunity time now that the creation is known."""
    facts: list[Fact] = []
    if before.qualified and before.qualified_at is not None:
        q_rep, q_team, tier = before.qualified_by
        at = before.qualified_at
        facts += _facts(book, at, q_rep, q_team, ("", tier, ""), ("opportunities", "", -1))
        facts += _facts(
            book,
            at,
            q_rep,
            q_team,
            ("", tier, lead.channel),
            ("opportunities", "", 1),
            ("lead_to_opportunity_seconds", "", _seconds(lead.created_at or at, at)),
            ("lead_to_opportunity_days", "", _days(book, lead.created_at or at, at)),
            ("lead_to_opportunity_count", "", 1),
        )
    if before.disqualified and before.disqualified_at is not None:
        d_rep, d_team, tier = before.disqualified_by
        at = before.disqualified_at
        facts += _facts(book, at, d_rep, d_team, ("", tier, ""), ("disqualified_leads", "", -1))
        facts += _facts(
            book, at, d_rep, d_team, ("", tier, lead.channel), ("disqualified_leads", "", 1)
        )
    return facts


def lead_qualified(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    lead = book.leads.get(stream) or Lead("", "", "", "", None)
    if lead.qualified:
        return []
    rep, team = _who(event)
    tier = _tier(book, lead.account_id)
    book.put(
        "leads",
        stream,
        lead._replace(qualified=True, qualified_at=at, qualified_by=(rep, team, tier)),
    )
    dims = ("", tier, lead.channel)
    out: list[tuple[str, str, Value]] = [("opportunities", "", 1)]
    if lead.created_at is not None:
        out += [
            ("lead_to_opportunity_seconds", "", _seconds(lead.created_at, at)),
            ("lead_to_opportunity_days", "", _days(book, lead.created_at, at)),
            ("lead_to_opportunity_count", "", 1),
        ]
    return _facts(book, at, rep, team, dims, *out)


def lead_disqualified(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    lead = book.leads.get(stream) or Lead("", "", "", "", None)
    if lead.disqualified:
        return []
    rep, team = _who(event)
    tier = _tier(book, lead.account_id)
    book.put(
        "leads",
        stream,
        lead._replace(disqualified=True, disqualified_at=at, disqualified_by=(rep, team, tier)),
    )
    dims = ("", tier, lead.channel)
    return _facts(book, at, rep, team, dims, ("disqualified_leads", "", 1))


# --------------------------------------------------------------------------- deals
#
# A deal's events may be folded in any order (a CRM delivers them so), and the fold makes the
# same KPIs of them as in the order they occurred, by one rule: a deal is what its events say,
# read by their `occurred_at`, not by when they were folded.
# - Its current stage and amount are those of the latest `occurred_at` (the opening's, until a
#   later change): an older change folded after a newer one changes neither, nor the pipeline.
# - A stage counts as reached (`stage:<s>`) once, on the day it was first reached: an earlier
#   entry folded later moves the count to its day; one that occurred before the close but is
#   folded after it still counts, and in the close's `stage_closed`/`stage_won` too, without
#   reopening the deal. A stage reached after the close (folded before it) is not counted.
# - Its close (the first folded) ends it: a change that occurred after it counts for nothing.
# - Events of a deal folded before its opening are kept on the deal (`pending`) and folded when
#   the opening comes, in occurred order, so a won delivered before its deal.opened counts its
#   revenue, win and cycle time as if it came after.
# What still depends on the order folded: pipeline moves are dated never before the deal's
# previous one (`_pipeline_moment`), so between a late change's `occurred_at` and the moment of
# the change it was folded after, the pipeline by day may differ (never its value once both are
# past); of two closes of one deal, the first folded counts; `new_customers` is an account's
# first win in log order.

UNOPENED = "unopened"  # a placeholder: events of the deal came before its opening
_CLOSED = ("won", "lost")
PENDING_KEPT = 100  # events kept per deal until its opening (closes first, then the latest)


def _pipeline(
    book: Book, deal: Deal, at: datetime, stage: str, currency: str, amount: Decimal
) -> list[Fact]:
    dims = (deal.product_line, deal.tier, deal.channel)
    return _facts(
        book, at, deal.rep_id, deal.team_id, dims, (f"pipeline:{stage}", currency, amount)
    )


def _pipeline_moment(deal: Deal, at: datetime) -> datetime:
    """When a change of an open deal's pipeline counts: at its event's time, but never before
    the deal's previous pipeline change. A close, stage move or amount change logged with an
    earlier `occurred_at` would otherwise take the deal out of the pipeline (or out of a stage)
    before it entered it, and the pipeline would read negative in between. Only a change newer
    than the value it replaces moves the pipeline (see `deal_stage_changed`), so this clamps
    only when the stage and the amount changed out of order with each other, or a close did."""
    last = deal.pipeline_at or deal.opened_at
    return at if at >= last else last


def _closed_at(deal: Deal) -> datetime | None:
    """When a closed deal's life ended (never before it opened); None while open, or for a deal
    closed by a fold older than `closed_at` (then nothing after its close counts, as before)."""
    if deal.closed_at is None:
        return None
    return max(deal.closed_at, deal.opened_at)


def _entered(deal: Deal) -> tuple[datetime | None, ...]:
    """When each of `deal.stages` was first reached (None: unknown, folded before it was kept)."""
    missing = len(deal.stages) - len(deal.entered)
    return (*deal.entered, *(None,) * missing) if missing > 0 else deal.entered


def _stage_facts(book: Book, deal: Deal, at: datetime, *metrics: tuple[str, int]) -> list[Fact]:
    """Funnel counts stay with the deal's opener and cut, like its pipeline."""
    dims = (deal.product_line, deal.tier, deal.channel)
    return _facts(
        book,
        at,
        deal.rep_id,
        deal.team_id,
        dims,
        *((metric, "", value) for metric, value in metrics),
    )


def _closed_stage(deal: Deal, stage: str) -> list[tuple[str, int]]:
    return [(f"stage_closed:{stage}", 1), *([(f"stage_won:{stage}", 1)] * (deal.status == "won"))]


def _reach(book: Book, deal: Deal, stage: str, at: datetime) -> tuple[Deal, list[Fact]]:
    """`stage` reached at `at`: counted once per deal, on the day it was first reached, so the
    order its entries are folded in does not matter. A closed deal counts it closed (and won)
    too, on the close's day, as if the move had been folded before the close."""
    entered = _entered(deal)
    if stage in deal.stages:
        i = deal.stages.index(stage)
        first = entered[i]
        if first is None or at >= first:
            return deal, []
        moved = (*entered[:i], at, *entered[i + 1 :])
        facts = _stage_facts(book, deal, first, (f"stage:{stage}", -1))
        return deal._replace(entered=moved), facts + _stage_facts(
            book, deal, at, (f"stage:{stage}", 1)
        )
    facts = _stage_facts(book, deal, at, (f"stage:{stage}", 1))
    if deal.status in _CLOSED and deal.closed_at is not None:
        facts += _stage_facts(book, deal, deal.closed_at, *_closed_stage(deal, stage))
    return deal._replace(stages=(*deal.stages, stage), entered=(*entered, at)), facts


def _remember(book: Book, stream: str, deal: Deal | None, event: Event, at: datetime) -> list[Fact]:
    """An event of a deal not opened yet: kept on a placeholder, folded when the opening comes
    (`_unpend`). Nothing counts until then: the deal's rep, cut and account are not known."""
    rep, team = _who(event)
    item = Pending(event["type"], at, rep, team, dict(event["data"]))
    placeholder = deal or Deal(
        rep_id="",
        team_id="",
        opened_at=at,
        account_id="",
        product_line="",
        tier="",
        channel="",
        amount=Decimal(0),
        currency="",
        stage="",
        stages=(),
        status=UNOPENED,
    )
    book.put("deals", stream, placeholder._replace(pending=_bounded((*placeholder.pending, item))))
    return []


def _bounded(pending: tuple[Pending, ...]) -> tuple[Pending, ...]:
    """At most PENDING_KEPT: the oldest move (stage or amount change) goes first, closes stay."""
    if len(pending) <= PENDING_KEPT:
        return pending
    moves = sorted((p.at, i) for i, p in enumerate(pending) if p.type not in _KEPT)
    drop = moves[0][1] if moves else 0
    return (*pending[:drop], *pending[drop + 1 :])


def _unpend(book: Book, stream: str, pending: tuple[Pending, ...]) -> list[Fact]:
    """Fold a deal's events that came before its opening, in occurred order (ties as they came),
    each through its own handler, now that the deal is open; and into its customer's record,
    which could not tell the account before (their lead profiles were kept as they came)."""
    facts: list[Fact] = []
    for p in sorted(pending, key=lambda p: p.at):
        event = {
            "type": p.type,
            "stream": stream,
            "rep_id": p.rep_id,
            "team_id": p.team_id,
            "data": p.data,
        }
        facts += _HANDLERS[p.type](book, event, p.at)
        _track_customer(book, event, p.at, book.deals[stream].account_id)
    return facts


def deal_opened(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    known = book.deals.get(stream)
    if known is not None and known.status != UNOPENED:
        return []
    rep, team = _who(event)
    data = event["data"]
    lead = book.leads.get(f"lead-{data['lead_id']}") if data.get("lead_id") else None
    account_id = data.get("account_id") or ""  # "" until a deal.account_linked
    stage = data.get("stage") or "qualification"
    deal = Deal(
        rep_id=rep,
        team_id=team,
        opened_at=at,
        account_id=account_id,
        product_line=data["product_line"],
        tier=_tier(book, account_id),
        channel=lead.channel if lead else "",
        amount=Decimal(data["amount"]),
        currency=data["currency"],
        stage=stage,
        stages=(stage,),
        entered=(at,),
        lead=f"lead-{data['lead_id']}" if data.get("lead_id") else "",
    )
    book.put("deals", stream, deal)
    dims = (deal.product_line, deal.tier, deal.channel)
    facts = [
        *_facts(book, at, rep, team, dims, ("deals_opened", "", 1), (f"stage:{stage}", "", 1)),
        *_pipeline(book, deal, at, stage, deal.currency, deal.amount),
    ]
    if known is not None:
        facts += _unpend(book, stream, known.pending)
    return facts


def deal_stage_changed(book: Book, event: Event, at: datetime) -> list[Fact]:
    """The stage reached counts (`_reach`) unless it came after the close; the pipeline moves
    only for the latest stage change by `occurred_at` of an open deal."""
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status == UNOPENED:
        return _remember(book, stream, deal, event, at)
    closed_at = _closed_at(deal)
    if deal.status != "open" and (closed_at is None or at > closed_at):
        return []
    to_stage = event["data"]["to_stage"]
    deal, facts = _reach(book, deal, to_stage, at)
    if deal.status == "open" and at >= (deal.stage_at or deal.opened_at):
        if to_stage != deal.stage:
            when = _pipeline_moment(deal, at)
            facts += [
                *_pipeline(book, deal, when, deal.stage, deal.currency, -deal.amount),
                *_pipeline(book, deal, when, to_stage, deal.currency, deal.amount),
            ]
            deal = deal._replace(stage=to_stage, pipeline_at=when)
        deal = deal._replace(stage_at=at)
    book.put("deals", stream, deal)
    return facts


def deal_amount_changed(book: Book, event: Event, at: datetime) -> list[Fact]:
    """Moves an open deal's pipeline if it is the latest amount by `occurred_at`; an older one
    folded later, or any change of a closed deal, counts for nothing."""
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status == UNOPENED:
        return _remember(book, stream, deal, event, at)
    if deal.status != "open" or at < (deal.amount_at or deal.opened_at):
        return []
    amount, currency = Decimal(event["data"]["amount"]), event["data"]["currency"]
    when = _pipeline_moment(deal, at)
    book.put(
        "deals",
        stream,
        deal._replace(amount=amount, currency=currency, pipeline_at=when, amount_at=at),
    )
    return [
        *_pipeline(book, deal, when, deal.stage, deal.currency, -deal.amount),
        *_pipeline(book, deal, when, deal.stage, currency, amount),
    ]


def _close(book: Book, stream: str, deal: Deal, at: datetime, won: bool) -> list[Fact]:
    """The deal leaves the pipeline; the stages it reached by the close count closed (and won).
    A stage reached after the close, folded before it, was never part of the deal's life: its
    count is taken back."""
    when = _pipeline_moment(deal, at)
    end = max(at, deal.opened_at)
    reached = list(zip(deal.stages, _entered(deal), strict=True))
    kept = [(s, t) for s, t in reached if t is None or t <= end]
    facts = [
        *_pipeline(book, deal, when, deal.stage, deal.currency, -deal.amount),
        *(
            f
            for s, t in reached
            if t is not None and t > end
            for f in _stage_facts(book, deal, t, (f"stage:{s}", -1))
        ),
    ]
    closed = deal._replace(
        status="won" if won else "lost",
        pipeline_at=when,
        closed_at=at,
        stages=tuple(s for s, _ in kept),
        entered=tuple(t for _, t in kept),
    )
    book.put("deals", stream, closed)
    for stage, _ in kept:
        facts += _stage_facts(book, closed, at, *_closed_stage(closed, stage))
    return facts


def deal_won(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status == UNOPENED:
        return _remember(book, stream, deal, event, at)
    if deal.status != "open":
        return []
    rep, team = _who(event)
    amount, currency = Decimal(event["data"]["amount"]), event["data"]["currency"]
    tier = _tier(book, deal.account_id)
    dims = (deal.product_line, tier, deal.channel)
    facts = _close(book, stream, deal, at, won=True)
    facts += _facts(
        book,
        at,
        rep,
        team,
        dims,
        ("deals_won", currency, 1),
        ("revenue_won", currency, amount),
        ("sales_cycle_seconds", "", _seconds(deal.opened_at, at)),
        ("sales_cycle_days", "", _days(book, deal.opened_at, at)),
        ("sales_cycle_count", "", 1),
    )
    if not deal.account_id:  # nobody's customer yet: its account's part waits for the link
        won = Pending(event["type"], at, rep, team, dict(event["data"]))
        book.put("deals", stream, book.deals[stream]._replace(won_event=won))
        return facts
    return facts + _account_win(book, stream, deal, _account_moment(deal, at), rep, team)


def _account_moment(deal: Deal, at: datetime) -> datetime:
    """When a deal's event at `at` counts for its account: not before the deal got it."""
    return at if deal.linked_at is None or at >= deal.linked_at else deal.linked_at


def _account_win(
    book: Book, stream: str, deal: Deal, at: datetime, rep: str, team: str
) -> list[Fact]:
    """The account's part of a deal's win, at `at`: its first win makes it a new customer (and
    starts the 72 h follow-up window), and every win is kept for distinct customers per period."""
    facts: list[Fact] = []
    tier = _tier(book, deal.account_id)
    dims = (deal.product_line, tier, deal.channel)
    account = book.accounts.get(deal.account_id, Account())
    if account.first_won_at is None:
        facts += _facts(book, at, rep, team, dims, ("new_customers", "", 1))
        followed = any(at <= t <= at + FOLLOW_UP_WINDOW for t in account.touches)
        account = account._replace(
            first_won_at=at, first_won_by=(rep, team), first_won_dims=dims, followed_up=followed
        )
        if followed:
            facts += _followed_up(book, account, at=at)
    book.put("accounts", deal.account_id, account)
    day = at.astimezone(book.timezone).date()
    book.wins.append(
        Win(stream, deal.account_id, day, rep, team, deal.product_line, tier, deal.channel)
    )
    return facts


LINKED = "deal.account_linked"


def deal_account_linked(book: Book, event: Event, at: datetime) -> list[Fact]:
    """A deal opened without an account gets one. Its deal-based facts (opened, won, revenue,
    cycle, pipeline, stages) were counted already and stay, in the cut it was opened in (no
    tier); its account-based ones count from the link on: a win before it is the account's win
    at the link (a new customer on the link's day, if it is the first). A deal that has an
    account (from its opening or an earlier link) keeps it: the link changes nothing."""
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status == UNOPENED:
        return _remember(book, stream, deal, event, at)
    if deal.account_id:
        return []
    linked = deal._replace(account_id=event["data"]["account_id"], linked_at=at, won_event=None)
    book.put("deals", stream, linked)
    won = deal.won_event
    if won is None:
        return []
    when = _account_moment(linked, won.at)
    facts = _account_win(book, stream, linked, when, won.rep_id, won.team_id)
    event = {
        "type": won.type,
        "stream": stream,
        "rep_id": won.rep_id,
        "team_id": won.team_id,
        "data": won.data,
    }
    _track_customer(book, event, won.at, linked.account_id)
    return facts


LOST_REASON = "lost:"
"""A lost deal also counts under its reason (`lost:price`, `lost:competitor`…), for the funnel."""


def deal_lost(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status == UNOPENED:
        return _remember(book, stream, deal, event, at)
    if deal.status != "open":
        return []
    rep, team = _who(event)
    facts = _close(book, stream, deal, at, won=False)
    book.put("deals", stream, book.deals[stream]._replace(lost_reason=event["data"]["reason"]))
    dims = (deal.product_line, _tier(book, deal.account_id), deal.channel)
    reason = f"{LOST_REASON}{event['data']['reason']}"
    return facts + _facts(book, at, rep, team, dims, ("deals_lost", "", 1), (reason, "", 1))


_CLOSES = frozenset({"deal.won", "deal.lost"})
_KEPT = _CLOSES | {LINKED}  # pending events kept whatever their number


# --------------------------------------------------------------------------- money, accounts


def _money_dims(book: Book, account_id: str, deal_stream: str) -> tuple[str, str, str]:
    deal = book.deals.get(deal_stream) if deal_stream else None
    product_line, channel = (deal.product_line, deal.channel) if deal else ("", "")
    return product_line, _tier(book, account_id), channel


def invoice_issued(book: Book, event: Event, at: datetime) -> list[Fact]:
    data = event["data"]
    deal_stream = f"deal-{data['deal_id']}" if data.get("deal_id") else ""
    if not deal_stream and event["stream"].startswith("deal-"):
        deal_stream = event["stream"]
    book.put("invoices", data["invoice_id"], Invoice(deal_stream))
    rep, team = _who(event)
    dims = _money_dims(book, data["account_id"], deal_stream)
    return _facts(
        book, at, rep, team, dims, ("invoiced", data["currency"], Decimal(data["amount"]))
    )


def payment_received(book: Book, event: Event, at: datetime) -> list[Fact]:
    data = event["data"]
    invoice = book.invoices.get(data["invoice_id"])
    rep, team = _who(event)
    dims = _money_dims(book, data["account_id"], invoice.deal if invoice else "")
    return _facts(
        book, at, rep, team, dims, ("collected", data["currency"], Decimal(data["amount"]))
    )


def account_tier_changed(book: Book, event: Event, at: datetime) -> list[Fact]:
    account_id = event["stream"].removeprefix("account-")
    book.put(
        "accounts",
        account_id,
        book.accounts.get(account_id, Account())._replace(tier=event["data"]["tier"]),
    )
    return []


def ignored(book: Book, event: Event, at: datetime) -> list[Fact]:
    """Known events with no KPI of their own (contact.left feeds customer health, a consent
    change lead priority; voids are applied by leaving their target out of a replay; a stream's
    reassignment changes who may append to it, in activity, and no KPI)."""
    return []


_HANDLERS = {
    "lead.created": lead_created,
    "lead.qualified": lead_qualified,
    "lead.disqualified": lead_disqualified,
    "visit.logged": visit_logged,
    "call.logged": call_logged,
    "deal.opened": deal_opened,
    LINKED: deal_account_linked,
    "deal.stage_changed": deal_stage_changed,
    "deal.amount_changed": deal_amount_changed,
    "deal.won": deal_won,
    "deal.lost": deal_lost,
    "invoice.issued": invoice_issued,
    "payment.received": payment_received,
    "account.tier_changed": account_tier_changed,
    "contact.left": ignored,
    "engagement.tracked": engagement_tracked,
    "lead.consent_changed": ignored,
    "event.voided": ignored,
    "stream.reassigned": ignored,
}
