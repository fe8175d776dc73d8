"""A deliberately simple, independent computation of scoring's KPIs, written only from the KPI
definitions in README.md ("KPI definitions"), for the end-to-end test to check scoring against.

Nothing here comes from `services/scoring`: it walks the events in posting order with plain loops,
turns each one into *facts* (metric, rep, team, local day, value, currency), and answers a bucket
by summing the facts of an owner whose day falls in it. Slow and obvious on purpose.

Readings of the README used here (each a sentence of it):

- Voids: an `event.voided` takes its event's contribution out everywhere: the voided events are
  dropped before anything is counted; the void itself adds nothing.
- A fact's day is the event's `occurred_at` in the org's timezone; its rep and team are the
  event's.
- Money counts in its own currency; money metrics show the reporting currency only (so a USD
  win counts in `deals_won` but not in `revenue_won` when reporting in EUR), and
  `average_deal_size` is revenue ÷ deals won *in that currency*.
- `opportunities` is a lead's first `lead.qualified`; `deals_opened` a stream's first
  `deal.opened`; `deal.won`/`deal.lost` count only for an open deal.
- `avg_sales_cycle_days`: calendar days from `deal.opened` to `deal.won` (the day won minus the
  day opened, in the org's timezone), over deals won in the bucket.
- `new_customers`: accounts whose first won deal (log order) is in the bucket; a deal opened
  without an account counts for the account a `deal.account_linked` gives it, a win before the
  link on the link's day (posting order here: the log's links follow the wins they date).
- `repeat_purchase_rate`: customers with a won deal in the bucket that had a won deal before the
  bucket ÷ customers with a won deal in the bucket (distinct accounts).
- `followed_up_72h`: new customers with a visit or call on the account whose `occurred_at` lies
  within 72 h after the first win (whenever the touch was logged), counted with the win.
- `open_pipeline`: amounts of deals open at the end of the bucket: a deal's amount enters on the
  day it opens, changes on the day of `deal.amount_changed`, moves stage on the day of
  `deal.stage_changed` and leaves on the day it is won or lost; but none of those counts on a
  day before the deal's previous one (a back-dated close counts on that day instead).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

FOLLOW_UP = timedelta(hours=72)


@dataclass(frozen=True)
class Fact:
    metric: str
    rep: str | None
    team: str | None
    day: date
    value: Any  # int, Decimal (money), or a stage name for pipeline facts
    currency: str | None = None
    account: str | None = None
    stage: str | None = None


@dataclass
class _Deal:
    rep: str | None
    team: str | None
    opened_at: datetime
    amount: Decimal
    currency: str
    account: str | None
    stage: str
    open: bool = True
    pipeline_day: date | None = None  # the day its pipeline last moved (None: opened_at's)
    won_by: tuple[str | None, str | None] | None = None  # won while it had no account


@dataclass
class NaiveKpis:
    """The facts of a log, and buckets summed from them."""

    currency: str
    facts: list[Fact] = field(default_factory=list)
    first_win_day: dict[str, date] = field(default_factory=dict)  # account → day of first win

    def _owned(self, owner: str) -> list[Fact]:
        if owner == "org":
            return list(self.facts)
        kind, _, ident = owner.partition(":")
        out = []
        for fact in self.facts:
            if kind == "rep" and fact.rep == ident:
                out.append(fact)
            elif kind == "team" and fact.team == ident:
                out.append(fact)
        return out

    def bucket(self, owner: str, start: date, end: date) -> dict[str, Any]:
        """Every metric for `owner` ("org", "team:ID", "rep:ID") over the days start..end.

        Counts are ints, money Decimals in the reporting currency, rates (numerator,
        denominator), averages (value, numerator, denominator), open_pipeline
        (total, {stage: amount})."""
        counts: dict[str, int] = defaultdict(int)
        money: dict[str, Decimal] = defaultdict(Decimal)
        cycle_days = 0
        customers: set[str] = set()
        pipeline_by_stage: dict[str, Decimal] = defaultdict(Decimal)
        for fact in self._owned(owner):
            if fact.metric == "pipeline":
                # Cumulative: everything up to the end of the bucket.
                if fact.day <= end and fact.currency == self.currency:
                    assert fact.stage is not None
                    pipeline_by_stage[fact.stage] += fact.value
                continue
            if not start <= fact.day <= end:
                continue
            if fact.metric in ("revenue_won", "invoiced", "collected"):
                if fact.currency == self.currency:
                    money[fact.metric] += fact.value
                continue
            if fact.metric == "sales_cycle_days":
                cycle_days += fact.value
                continue
            if fact.metric == "won_in_currency":
                if fact.currency == self.currency:
                    counts["won_in_currency"] += 1
                continue
            if fact.metric == "win":
                assert fact.account is not None
                customers.add(fact.account)
                continue
            counts[fact.metric] += fact.value

        repeat = {a for a in customers if self.first_win_day[a] < start}

        won = counts["deals_won"]
        revenue = money["revenue_won"]
        eur_wins = counts["won_in_currency"]
        return {
            "visits": counts["visits"],
            "effective_visits": counts["effective_visits"],
            "calls": counts["calls"],
            "connected_calls": counts["connected_calls"],
            "new_leads": counts["new_leads"],
            "opportunities": counts["opportunities"],
            "lead_to_opportunity_rate": (counts["opportunities"], counts["new_leads"]),
            "deals_opened": counts["deals_opened"],
            "deals_won": won,
            "deals_lost": counts["deals_lost"],
            "win_rate": (won, won + counts["deals_lost"]),
            "revenue_won": revenue,
            "average_deal_size": (
                (revenue / eur_wins) if eur_wins else None,
                revenue,
                eur_wins,
            ),
            "avg_sales_cycle_days": (
                cycle_days / won if won else None,
                cycle_days,
                won,
            ),
            "new_customers": counts["new_customers"],
            "repeat_purchase_rate": (len(repeat), len(customers)),
            "invoiced": money["invoiced"],
            "collected": money["collected"],
            "collection_rate": (money["collected"], money["invoiced"]),
            "followed_up_72h": counts["followed_up_72h"],
            "open_pipeline": (
                sum(pipeline_by_stage.values(), Decimal(0)),
                {s: a for s, a in pipeline_by_stage.items() if a},
            ),
        }

    def months(self, owner: str, first: date, last: date) -> list[tuple[date, dict[str, Any]]]:
        """One bucket per calendar month from first's month to last's month."""
        out = []
        start = first.replace(day=1)
        while start <= last:
            following = (start + timedelta(days=32)).replace(day=1)
            out.append((start, self.bucket(owner, start, following - timedelta(days=1))))
            start = following
        return out


def compute(events: list[dict[str, Any]], timezone: str, currency: str) -> NaiveKpis:
    """The facts of `events` (in posting order, voids included) for an org in `timezone`
    reporting in `currency`."""
    tz = ZoneInfo(timezone)

    # 1. Drop every voided event (and the voids themselves: they add nothing).
    voided = set()
    for event in events:
        if event["type"] == "event.voided":
            voided.add(event["data"]["voided_event_id"])
    kept = []
    for event in events:
        if event["type"] == "event.voided" or event["event_id"] in voided:
            continue
        kept.append(event)

    result = NaiveKpis(currency=currency)
    facts = result.facts
    qualified_leads: set[str] = set()
    deals: dict[str, _Deal] = {}
    first_win_at: dict[str, datetime] = {}
    new_customer_wins: list[tuple[str, datetime, str | None, str | None, date]] = []
    touches: list[tuple[str, datetime]] = []  # (account, moment) of each visit and call

    # 2. Walk the log in posting order.
    for event in kept:
        kind = event["type"]
        data = event["data"]
        rep = event.get("rep_id")
        team = event.get("team_id")
        moment = datetime.fromisoformat(event["occurred_at"])
        day = moment.astimezone(tz).date()
        stream = event["stream"]

        def add(metric: str, value: Any = 1, cur: str | None = None, **more: Any) -> None:
            facts.append(Fact(metric, rep, team, day, value, cur, **more))  # noqa: B023

        def move(deal: _Deal, value: Decimal, cur: str) -> None:
            """A pipeline change: never on a day before the deal's previous one."""
            last = deal.pipeline_day or deal.opened_at.astimezone(tz).date()
            deal.pipeline_day = max(day, last)  # noqa: B023
            facts.append(
                Fact("pipeline", rep, team, deal.pipeline_day, value, cur, stage=deal.stage)  # noqa: B023
            )

        if kind in ("visit.logged", "call.logged"):
            if kind == "visit.logged":
                add("visits")
                if data.get("effective") is True:
                    add("effective_visits")
            else:
                add("calls")
                if data.get("connected") is True:
                    add("connected_calls")
            account = data.get("account_id")
            if account is None and stream.startswith("account-"):
                account = stream.removeprefix("account-")
            if account is not None:
                touches.append((account, moment))

        elif kind == "lead.created":
            add("new_leads")

        elif kind == "lead.qualified":
            if stream not in qualified_leads:
                qualified_leads.add(stream)
                add("opportunities")

        elif kind == "deal.opened":
            if stream not in deals:
                amount = Decimal(data["amount"])
                deals[stream] = _Deal(
                    rep,
                    team,
                    moment,
                    amount,
                    data["currency"],
                    data.get("account_id"),
                    data.get("stage") or "qualification",
                )
                add("deals_opened")
                add("pipeline", amount, data["currency"], stage=deals[stream].stage)

        elif kind == "deal.stage_changed":
            deal = deals.get(stream)
            if deal is not None and deal.open:
                move(deal, -deal.amount, deal.currency)
                deal.stage = data["to_stage"]
                move(deal, deal.amount, deal.currency)

        elif kind == "deal.amount_changed":
            deal = deals.get(stream)
            if deal is not None and deal.open:
                move(deal, -deal.amount, deal.currency)
                deal.amount = Decimal(data["amount"])
                deal.currency = data.get("currency") or deal.currency
                move(deal, deal.amount, deal.currency)

        elif kind == "deal.won":
            deal = deals.get(stream)
            if deal is not None and deal.open:
                deal.open = False
                move(deal, -deal.amount, deal.currency)
                add("deals_won")
                add("won_in_currency", 1, data["currency"])
                add("revenue_won", Decimal(data["amount"]), data["currency"])
                opened = deal.opened_at.astimezone(tz).date()
                add("sales_cycle_days", max(0, (day - opened).days))  # a win before its opening: 0
                account = deal.account
                if account is not None:
                    add("win", 1, account=account)
                    if account not in first_win_at:
                        first_win_at[account] = moment
                        result.first_win_day[account] = day
                        add("new_customers")
                        new_customer_wins.append((account, moment, rep, team, day))
                else:
                    deal.won_by = (rep, team)

        elif kind == "deal.account_linked":
            # A deal keeps its first account; a win before the link counts for the account at
            # the link, for whoever won the deal.
            deal = deals.get(stream)
            if deal is not None and deal.account is None:
                account = deal.account = data["account_id"]
                if deal.won_by is not None:
                    w_rep, w_team = deal.won_by
                    facts.append(Fact("win", w_rep, w_team, day, 1, account=account))
                    if account not in first_win_at:
                        first_win_at[account] = moment
                        result.first_win_day[account] = day
                        facts.append(Fact("new_customers", w_rep, w_team, day, 1))
                        new_customer_wins.append((account, moment, w_rep, w_team, day))

        elif kind == "deal.lost":
            deal = deals.get(stream)
            if deal is not None and deal.open:
                deal.open = False
                move(deal, -deal.amount, deal.currency)
                add("deals_lost")

        elif kind == "invoice.issued":
            add("invoiced", Decimal(data["amount"]), data["currency"])

        elif kind == "payment.received":
            add("collected", Decimal(data["amount"]), data["currency"])

    # 3. Follow-ups: a touch on the account within 72 h after the first win, counted with the win.
    for account, won_at, rep, team, day in new_customer_wins:
        followed = False
        for touched, moment in touches:
            if touched == account and won_at <= moment <= won_at + FOLLOW_UP:
                followed = True
                break
        if followed:
            facts.append(Fact("followed_up_72h", rep, team, day, 1))

    return result
