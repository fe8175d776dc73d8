"""Events as activity's feed serves them, and small readers of what the fold made of them.

    log = Log()
    log.visit("account-acc-1", "2026-07-06T10:00:00+02:00", effective=True)
    total(facts_of(log), "visits", owner="rep:rep-anna") == 1
    await metric(log, "effective_visit_rate", date(2026, 7, 1), date(2026, 7, 31))

Every event is a plain dict with the fields of `shared.events.StoredEvent`; ids are derived
from the log's name and the event's index (so a log built twice is the same log), positions and
recorded_at increase in log order, and stream_version counts per stream.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from services.scoring.answer.reports import kpi_buckets
from services.scoring.answer.sources import Cuts, MemorySource, Scope
from services.scoring.domain import Bucket, Owner, OwnerKind, Period, buckets, parse_owner
from services.scoring.projections.kpis import Book, Fact, fold
from services.scoring.projections.rollup import Replay, replay

Event = dict[str, Any]

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
NAMESPACE = UUID("5d0f6f5e-2c1b-4a7e-9a51-6b7c2d1e0f3a")
RECORDED_FROM = datetime(2026, 1, 1, tzinfo=UTC)

ANNA, BEN, CARA = "rep-anna", "rep-ben", "rep-cara"
NORTH, SOUTH = "team-north", "team-south"

_DEFAULT = object()
NO_CUTS = Cuts()


def iso(at: str | datetime) -> str:
    """An ISO-8601 string with an offset (a naive time is refused, as the contract does)."""
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("occurred_at needs an offset")
        return at.isoformat()
    if datetime.fromisoformat(at).tzinfo is None:
        raise ValueError("occurred_at needs an offset")
    return at


def local(*parts: int, zone: ZoneInfo = BERLIN) -> str:
    """A wall-clock time in `zone`, as an ISO string with that moment's offset."""
    return datetime(*parts, tzinfo=zone).isoformat()  # type: ignore[misc]


def event_id(log_name: str, index: int) -> str:
    return str(uuid5(NAMESPACE, f"{log_name}:{index}"))


class Log:
    """An org's log under construction. `rep`/`team` default to the log's; pass None to leave
    them out of an event."""

    def __init__(
        self,
        name: str = "log",
        *,
        org: str = "org-1",
        rep: str | None = ANNA,
        team: str | None = NORTH,
    ) -> None:
        self.name, self.org, self.rep, self.team = name, org, rep, team
        self.events: list[Event] = []
        self._versions: dict[str, int] = defaultdict(int)

    # ------------------------------------------------------------------ the envelope

    def add(
        self,
        type: str,
        stream: str,
        at: str | datetime,
        data: dict[str, Any],
        *,
        rep: Any = _DEFAULT,
        team: Any = _DEFAULT,
        schema_version: int = 1,
    ) -> Event:
        index = len(self.events)
        self._versions[stream] += 1
        event: Event = {
            "event_id": event_id(self.name, index),
            "type": type,
            "org_id": self.org,
            "stream": stream,
            "stream_version": self._versions[stream],
            "position": index + 1,
            "rep_id": self.rep if rep is _DEFAULT else rep,
            "team_id": self.team if team is _DEFAULT else team,
            "occurred_at": iso(at),
            "recorded_at": (RECORDED_FROM + timedelta(seconds=index)).isoformat(),
            "schema_version": schema_version,
            "data": data,
            "metadata": {"source": "app"},
        }
        self.events.append(event)
        return event

    # ------------------------------------------------------------------ leads

    def lead_created(
        self,
        lead: str,
        at: str | datetime,
        *,
        channel: str = "referral",
        account: str | None = None,
        **who: Any,
    ) -> Event:
        data: dict[str, Any] = {"name": f"Lead {lead}", "channel": channel}
        if account:
            data["account_id"] = account
        return self.add("lead.created", f"lead-{lead}", at, data, **who)

    def lead_qualified(self, lead: str, at: str | datetime, **who: Any) -> Event:
        return self.add("lead.qualified", f"lead-{lead}", at, {}, **who)

    def lead_disqualified(self, lead: str, at: str | datetime, **who: Any) -> Event:
        return self.add("lead.disqualified", f"lead-{lead}", at, {"reason": "no_budget"}, **who)

    # ------------------------------------------------------------------ touches

    def visit(
        self,
        stream: str,
        at: str | datetime,
        *,
        effective: bool = False,
        account: str | None = None,
        **who: Any,
    ) -> Event:
        data: dict[str, Any] = {"mode": "onsite", "effective": effective, "duration_minutes": 30}
        if account:
            data["account_id"] = account
        return self.add("visit.logged", stream, at, data, **who)

    def call(
        self,
        stream: str,
        at: str | datetime,
        *,
        connected: bool = False,
        account: str | None = None,
        **who: Any,
    ) -> Event:
        data: dict[str, Any] = {"connected": connected, "duration_seconds": 60}
        if account:
            data["account_id"] = account
        return self.add("call.logged", stream, at, data, **who)

    def engagement(
        self,
        stream: str,
        at: str | datetime,
        kind: str = "email_opened",
        *,
        count: int = 1,
        seconds: int = 0,
        **who: Any,
    ) -> Event:
        data: dict[str, Any] = {"kind": kind, "count": count, "seconds": seconds}
        return self.add("engagement.tracked", stream, at, data, **who)

    def consent(
        self,
        lead: str,
        at: str | datetime,
        *,
        do_not_email: bool | None = None,
        do_not_call: bool | None = None,
        **who: Any,
    ) -> Event:
        data = {
            k: v
            for k, v in (("do_not_email", do_not_email), ("do_not_call", do_not_call))
            if v is not None
        }
        return self.add("lead.consent_changed", f"lead-{lead}", at, data, **who)

    # ------------------------------------------------------------------ deals

    def deal_opened(
        self,
        deal: str,
        at: str | datetime,
        *,
        amount: str = "1000.00",
        currency: str = "EUR",
        product_line: str = "ovens",
        account: str | None = "acc-1",
        stage: str | None = None,
        lead: str | None = None,
        **who: Any,
    ) -> Event:
        data: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "product_line": product_line,
        }
        if account is not None:  # None: a prospect's deal, without an account (yet)
            data["account_id"] = account
        if stage:
            data["stage"] = stage
        if lead:
            data["lead_id"] = lead
        return self.add("deal.opened", f"deal-{deal}", at, data, **who)

    def account_linked(
        self, deal: str, at: str | datetime, account: str = "acc-1", **who: Any
    ) -> Event:
        data = {"account_id": account}
        return self.add("deal.account_linked", f"deal-{deal}", at, data, **who)

    def stage_changed(self, deal: str, at: str | datetime, to_stage: str, **who: Any) -> Event:
        return self.add("deal.stage_changed", f"deal-{deal}", at, {"to_stage": to_stage}, **who)

    def amount_changed(
        self, deal: str, at: str | datetime, amount: str, currency: str = "EUR", **who: Any
    ) -> Event:
        data = {"amount": amount, "currency": currency}
        return self.add("deal.amount_changed", f"deal-{deal}", at, data, **who)

    def deal_won(
        self,
        deal: str,
        at: str | datetime,
        amount: str = "1000.00",
        currency: str = "EUR",
        *,
        renewal: str | None = None,
        **who: Any,
    ) -> Event:
        data = {"amount": amount, "currency": currency}
        if renewal:
            data["renewal_date"] = renewal
        return self.add("deal.won", f"deal-{deal}", at, data, **who)

    def deal_lost(self, deal: str, at: str | datetime, reason: str = "price", **who: Any) -> Event:
        return self.add("deal.lost", f"deal-{deal}", at, {"reason": reason}, **who)

    # ------------------------------------------------------------------ money, accounts

    def invoice(
        self,
        invoice: str,
        at: str | datetime,
        *,
        amount: str,
        currency: str = "EUR",
        account: str = "acc-1",
        deal: str | None = None,
        stream: str | None = None,
        **who: Any,
    ) -> Event:
        data: dict[str, Any] = {
            "invoice_id": invoice,
            "account_id": account,
            "amount": amount,
            "currency": currency,
        }
        if deal:
            data["deal_id"] = deal
        return self.add("invoice.issued", stream or f"account-{account}", at, data, **who)

    def payment(
        self,
        invoice: str,
        at: str | datetime,
        *,
        amount: str,
        currency: str = "EUR",
        account: str = "acc-1",
        stream: str | None = None,
        **who: Any,
    ) -> Event:
        data = {
            "invoice_id": invoice,
            "account_id": account,
            "amount": amount,
            "currency": currency,
        }
        return self.add("payment.received", stream or f"account-{account}", at, data, **who)

    def tier_changed(self, account: str, at: str | datetime, tier: str, **who: Any) -> Event:
        return self.add("account.tier_changed", f"account-{account}", at, {"tier": tier}, **who)

    def contact_left(self, account: str, at: str | datetime, **who: Any) -> Event:
        data = {"contact_id": "c-1", "key_contact": True}
        return self.add("contact.left", f"account-{account}", at, data, **who)

    def void(self, target: Event, at: str | datetime, **who: Any) -> Event:
        data = {"voided_event_id": target["event_id"], "reason": "logged by mistake"}
        return self.add("event.voided", target["stream"], at, data, **who)


# --------------------------------------------------------------------------- reading results


def events_of(log: Log | Sequence[Event]) -> list[Event]:
    return log.events if isinstance(log, Log) else list(log)


def fold_log(log: Log | Sequence[Event], timezone: ZoneInfo = BERLIN, **kwargs: Any) -> Replay:
    return replay(events_of(log), timezone, **kwargs)


def facts_of(log: Log | Sequence[Event], timezone: ZoneInfo = BERLIN) -> list[Fact]:
    """Every fact the fold makes of the log (unknown events left out)."""
    book = Book(timezone)
    out: list[Fact] = []
    for event in events_of(log):
        out += fold(book, event) or []
    return out


def _owner(owner: str | Owner) -> Owner:
    return owner if isinstance(owner, Owner) else parse_owner(owner)


def _owns(who: Owner, fact: Fact) -> bool:
    if who.kind is OwnerKind.REP:
        return fact.rep_id == who.id
    if who.kind is OwnerKind.TEAM:
        return fact.team_id == who.id
    return True


def total(
    facts: Iterable[Fact],
    metric: str,
    *,
    owner: str | Owner = "org",
    first: date = date.min,
    last: date = date.max,
    currency: str | None = None,
    product_line: str | None = None,
    tier: str | None = None,
    channel: str | None = None,
) -> Decimal | int:
    """The sum of a stored metric's facts over [first, last] for one owner and cut."""
    who = _owner(owner)
    out: Decimal | int = 0
    for f in facts:
        if f.metric != metric or not first <= f.day <= last or not _owns(who, f):
            continue
        if (
            (currency is not None and f.currency != currency)
            or (product_line is not None and f.product_line != product_line)
            or (tier is not None and f.tier != tier)
            or (channel is not None and f.channel != channel)
        ):
            continue
        out += f.value
    return out


def by_day(facts: Iterable[Fact], metric: str, owner: str | Owner = "org") -> dict[date, Any]:
    """{day: sum} of a stored metric's facts for one owner (all cuts and currencies), zeros out."""
    who = _owner(owner)
    out: dict[date, Any] = defaultdict(int)
    for f in facts:
        if f.metric == metric and _owns(who, f):
            out[f.day] += f.value
    return {d: v for d, v in sorted(out.items()) if v}


def cuts_of(facts: Iterable[Fact], metric: str) -> dict[tuple[str, str, str], Any]:
    """{(product_line, tier, channel): sum} of a stored metric's facts, zeros out."""
    out: dict[tuple[str, str, str], Any] = defaultdict(int)
    for f in facts:
        if f.metric == metric:
            out[(f.product_line, f.tier, f.channel)] += f.value
    return {c: v for c, v in out.items() if v}


async def report(
    source: Replay | Log | Sequence[Event],
    metrics: Sequence[str],
    first: date,
    last: date,
    *,
    period: Period = Period.MONTH,
    owner: str | Owner = "org",
    team: str | None = None,
    cuts: Cuts = NO_CUTS,
    currency: str = "EUR",
    timezone: ZoneInfo = BERLIN,
) -> list[dict[str, Any]]:
    """What the API's KPI report shows: the buckets of `period` over [first, last]."""
    result = source if isinstance(source, Replay) else fold_log(source, timezone)
    memory = MemorySource(result.rollups, result.wins)
    bucket_list: list[Bucket] = buckets(period, first, last)
    scope = Scope(_owner(owner), team, cuts)
    return await kpi_buckets(memory, scope, period, bucket_list, metrics, currency)


async def metric(
    source: Replay | Log | Sequence[Event], name: str, first: date, last: date, **kwargs: Any
) -> dict[str, Any]:
    """One metric over one bucket (`period` must make [first, last] a single bucket)."""
    rows = await report(source, [name], first, last, **kwargs)
    assert len(rows) == 1, [r["start"] for r in rows]
    return rows[0]["metrics"][name]
