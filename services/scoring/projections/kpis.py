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
rebuild and an `as_of` replay. Voids are not folded: a voided event is left out of a replay of
the whole log (see `rebuild.py`), which is exactly "as if it was never logged".

Definitions (README, "KPI definitions", says the same for API users):
- a fact's day is the event's `occurred_at` in the org's timezone; its rep and team are the
  event's, except pipeline and stage facts, which stay with the deal's opener so they cancel out;
- tier is the account's tier when the event is folded (log order); deals keep their tier, channel
  (of the lead they came from) and product line from when they were opened;
- counts ignore currency; money metrics are per currency;
- a deal's pipeline moves (stage, amount, close) count at their `occurred_at`, but never before
  the deal's previous one: a back-dated close cannot take a deal out of the pipeline before it
  entered it.
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
    status: str = "open"  # open | won | lost
    # When its pipeline last moved (None: when it opened); see `_pipeline_moment`.
    pipeline_at: datetime | None = None


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
    if account_id and health.track(book.customers, event, at, account_id, timezone=book.timezone):
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


def _context(book: Book, event: Event) -> tuple[str, tuple[str, str, str]]:
    """The account and the cut (product line, tier, channel) of an event, from its stream."""
    stream: str = event["stream"]
    account_id: str = event["data"].get("account_id") or ""
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


def _touch(book: Book, event: Event, at: datetime, kind: str, hit: bool) -> list[Fact]:
    rep, team = _who(event)
    account_id, dims = _context(book, event)
    facts = _facts(
        book, at, rep, team, dims, (kind, "", 1), *([(f"{kind}_hit", "", 1)] if hit else [])
    )
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
    return _rename(_touch(book, event, at, "visits", bool(event["data"]["effective"])),
                   {"visits_hit": "effective_visits"})  # fmt: skip


def call_logged(book: Book, event: Event, at: datetime) -> list[Fact]:
    return _rename(_touch(book, event, at, "calls", bool(event["data"]["connected"])),
                   {"calls_hit": "connected_calls"})  # fmt: skip


def engagement_tracked(book: Book, event: Event, at: datetime) -> list[Fact]:
    """A digital touch (an e-mail opened, a page read…): counted, with its seconds, in the cut
    of its lead, deal or account. Not a visit or call: it does not follow a customer up."""
    rep, team = _who(event)
    _, dims = _context(book, event)
    data = event["data"]
    return _facts(book, at, rep, team, dims, ("engagements", "", data.get("count", 1)),
                  ("engaged_seconds", "", data.get("seconds", 0)))  # fmt: skip


def _rename(facts: list[Fact], names: dict[str, str]) -> list[Fact]:
    return [f._replace(metric=names[f.metric]) if f.metric in names else f for f in facts]


# --------------------------------------------------------------------------- leads


def lead_created(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    known = book.leads.get(stream)
    if known is not None and known.created_at is not None:
        return []
    rep, team = _who(event)
    data = event["data"]
    lead = Lead(rep, team, data["channel"], data.get("account_id") or "", at)
    facts = _facts(book, at, rep, team, ("", _tier(book, lead.account_id), lead.channel),
                   ("new_leads", "", 1))  # fmt: skip
    if known is not None:  # qualified or disqualified before its creation was logged
        lead = lead._replace(
            qualified=known.qualified, qualified_at=known.qualified_at,
            qualified_by=known.qualified_by, disqualified=known.disqualified,
            disqualified_at=known.disqualified_at, disqualified_by=known.disqualified_by,
        )  # fmt: skip
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
            book, at, q_rep, q_team, ("", tier, lead.channel), ("opportunities", "", 1),
            ("lead_to_opportunity_seconds", "", _seconds(lead.created_at or at, at)),
            ("lead_to_opportunity_count", "", 1),
        )  # fmt: skip
    if before.disqualified and before.disqualified_at is not None:
        d_rep, d_team, tier = before.disqualified_by
        at = before.disqualified_at
        facts += _facts(book, at, d_rep, d_team, ("", tier, ""), ("disqualified_leads", "", -1))
        facts += _facts(book, at, d_rep, d_team, ("", tier, lead.channel),
                        ("disqualified_leads", "", 1))  # fmt: skip
    return facts


def lead_qualified(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    lead = book.leads.get(stream) or Lead("", "", "", "", None)
    if lead.qualified:
        return []
    rep, team = _who(event)
    tier = _tier(book, lead.account_id)
    book.put("leads", stream, lead._replace(qualified=True, qualified_at=at,
                                            qualified_by=(rep, team, tier)))  # fmt: skip
    dims = ("", tier, lead.channel)
    out: list[tuple[str, str, Value]] = [("opportunities", "", 1)]
    if lead.created_at is not None:
        out += [("lead_to_opportunity_seconds", "", _seconds(lead.created_at, at)),
                ("lead_to_opportunity_count", "", 1)]  # fmt: skip
    return _facts(book, at, rep, team, dims, *out)


def lead_disqualified(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    lead = book.leads.get(stream) or Lead("", "", "", "", None)
    if lead.disqualified:
        return []
    rep, team = _who(event)
    tier = _tier(book, lead.account_id)
    book.put("leads", stream, lead._replace(disqualified=True, disqualified_at=at,
                                            disqualified_by=(rep, team, tier)))  # fmt: skip
    dims = ("", tier, lead.channel)
    return _facts(book, at, rep, team, dims, ("disqualified_leads", "", 1))


# --------------------------------------------------------------------------- deals


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
    before it entered it, and the pipeline would read negative in between."""
    last = deal.pipeline_at or deal.opened_at
    return at if at >= last else last


def deal_opened(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    if stream in book.deals:
        return []
    rep, team = _who(event)
    data = event["data"]
    lead = book.leads.get(f"lead-{data['lead_id']}") if data.get("lead_id") else None
    account_id = data["account_id"]
    stage = data.get("stage") or "qualification"
    deal = Deal(
        rep_id=rep, team_id=team, opened_at=at, account_id=account_id,
        product_line=data["product_line"], tier=_tier(book, account_id),
        channel=lead.channel if lead else "", amount=Decimal(data["amount"]),
        currency=data["currency"], stage=stage, stages=(stage,),
    )  # fmt: skip
    book.put("deals", stream, deal)
    dims = (deal.product_line, deal.tier, deal.channel)
    return [
        *_facts(book, at, rep, team, dims, ("deals_opened", "", 1), (f"stage:{stage}", "", 1)),
        *_pipeline(book, deal, at, stage, deal.currency, deal.amount),
    ]


def deal_stage_changed(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    deal = book.deals.get(stream)
    to_stage = event["data"]["to_stage"]
    if deal is None or deal.status != "open" or to_stage == deal.stage:
        return []
    when = _pipeline_moment(deal, at)
    facts = [
        *_pipeline(book, deal, when, deal.stage, deal.currency, -deal.amount),
        *_pipeline(book, deal, when, to_stage, deal.currency, deal.amount),
    ]
    if to_stage not in deal.stages:
        dims = (deal.product_line, deal.tier, deal.channel)
        facts += _facts(book, at, deal.rep_id, deal.team_id, dims, (f"stage:{to_stage}", "", 1))
    book.put(
        "deals",
        stream,
        deal._replace(
            stage=to_stage, stages=tuple(dict.fromkeys((*deal.stages, to_stage))), pipeline_at=when
        ),
    )
    return facts


def deal_amount_changed(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status != "open":
        return []
    amount, currency = Decimal(event["data"]["amount"]), event["data"]["currency"]
    when = _pipeline_moment(deal, at)
    book.put("deals", stream, deal._replace(amount=amount, currency=currency, pipeline_at=when))
    return [
        *_pipeline(book, deal, when, deal.stage, deal.currency, -deal.amount),
        *_pipeline(book, deal, when, deal.stage, currency, amount),
    ]


def _close(book: Book, stream: str, deal: Deal, at: datetime, won: bool) -> list[Fact]:
    when = _pipeline_moment(deal, at)
    book.put("deals", stream, deal._replace(status="won" if won else "lost", pipeline_at=when))
    dims = (deal.product_line, deal.tier, deal.channel)
    per_stage: list[tuple[str, str, Value]] = []
    for stage in deal.stages:
        per_stage.append((f"stage_closed:{stage}", "", 1))
        if won:
            per_stage.append((f"stage_won:{stage}", "", 1))
    return [
        *_pipeline(book, deal, when, deal.stage, deal.currency, -deal.amount),
        *_facts(book, at, deal.rep_id, deal.team_id, dims, *per_stage),
    ]


def deal_won(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status != "open":
        return []
    rep, team = _who(event)
    amount, currency = Decimal(event["data"]["amount"]), event["data"]["currency"]
    tier = _tier(book, deal.account_id)
    dims = (deal.product_line, tier, deal.channel)
    facts = _close(book, stream, deal, at, won=True)
    facts += _facts(
        book, at, rep, team, dims,
        ("deals_won", currency, 1),
        ("revenue_won", currency, amount),
        ("sales_cycle_seconds", "", _seconds(deal.opened_at, at)),
        ("sales_cycle_count", "", 1),
    )  # fmt: skip
    account = book.accounts.get(deal.account_id, Account())
    if account.first_won_at is None:
        facts += _facts(book, at, rep, team, dims, ("new_customers", "", 1))
        followed = any(at <= t <= at + FOLLOW_UP_WINDOW for t in account.touches)
        account = account._replace(first_won_at=at, first_won_by=(rep, team),
                          first_won_dims=dims, followed_up=followed)  # fmt: skip
        if followed:
            facts += _followed_up(book, account, at=at)
    book.put("accounts", deal.account_id, account)
    day = at.astimezone(book.timezone).date()
    book.wins.append(
        Win(stream, deal.account_id, day, rep, team, deal.product_line, tier, deal.channel)
    )
    return facts


def deal_lost(book: Book, event: Event, at: datetime) -> list[Fact]:
    stream = event["stream"]
    deal = book.deals.get(stream)
    if deal is None or deal.status != "open":
        return []
    rep, team = _who(event)
    facts = _close(book, stream, deal, at, won=False)
    dims = (deal.product_line, _tier(book, deal.account_id), deal.channel)
    return facts + _facts(book, at, rep, team, dims, ("deals_lost", "", 1))


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
