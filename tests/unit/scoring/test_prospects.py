"""The lead and deal profile fold (projections/leads.py): hand-made logs whose profiles are worked
out by hand, then laws over random logs (the codec's round trip, paging through storage)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scoring.projections import codec
from services.scoring.projections.leads import (
    KEEP_FIRST,
    MAX_ITEMS,
    Item,
    Prospect,
    is_open,
    keys_read,
    track,
)
from tests.unit.scoring.helpers import ANNA, BEN, NORTH, RECORDED_FROM, SOUTH, Event, Log

encode = codec.encode


def decode(text: str | bytes) -> Prospect:
    prospect: Prospect = codec.decode("prospects", text)
    return prospect


TIERS = {"acc-1": "A", "acc-2": "B"}
REC = int(RECORDED_FROM.timestamp())  # recorded_at of a log's first event, epoch seconds


def tier_of(account: str) -> str:
    return TIERS.get(account, "")


def s(at: str) -> int:
    """An ISO time as epoch seconds."""
    return int(datetime.fromisoformat(at).timestamp())


def fold(events: Iterable[Event], tiers: Callable[[str], str] = tier_of) -> dict[str, Prospect]:
    prospects: dict[str, Prospect] = {}
    for event in events:
        track(prospects, event, datetime.fromisoformat(event["occurred_at"]), tier_of=tiers)
    return prospects


def step(prospects: dict[str, Prospect], event: Event) -> list[str]:
    return track(prospects, event, datetime.fromisoformat(event["occurred_at"]), tier_of=tier_of)


def created(log: Log, lead: str, at: str, **data: Any) -> Event:
    """A lead.created with more than the Log helper's fields."""
    return log.add(
        "lead.created", f"lead-{lead}", at, {"name": lead, "channel": "referral", **data}
    )


def with_signals(event: Event, *signals: str) -> Event:
    event["data"]["buying_signals"] = list(signals)
    return event


class TestALeadsProfile:
    def test_keeps_what_the_lead_was_created_with(self) -> None:
        log = Log()
        created(
            log,
            "L1",
            "2026-07-01T09:00:00+02:00",
            channel="exhibition",
            account_id="acc-1",
            industry="Bakery",
            company_size="10-49",
            estimated_value="18000.00",
            currency="EUR",
            attributes={"city": "Leipzig", "employees": "45", "note": ""},
        )
        p = fold(log.events)["lead-L1"]
        assert p == Prospect(
            kind="lead",
            key="lead-L1",
            rep_id=ANNA,
            team_id=NORTH,
            created_at=s("2026-07-01T07:00:00+00:00"),
            created_recorded=REC,
            static={
                "channel": "exhibition",
                "industry": "Bakery",
                "company_size": "10-49",
                "tier": "A",
                "value": "18000.00",
                "currency": "EUR",
                "attr:city": "Leipzig",
                "attr:employees": "45",
            },
            account_id="acc-1",
        )
        assert is_open(p)

    def test_leaves_out_what_is_not_known(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00", account="acc-9")
        assert fold(log.events)["lead-L1"].static == {"channel": "referral"}

    def test_records_touches_signals_engagements_and_consent_as_items(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        with_signals(
            log.visit("lead-L1", "2026-07-02T09:00:00+02:00", effective=True),
            "asked_for_price",
            "met_decision_maker",
        )
        log.call("lead-L1", "2026-07-03T09:00:00+02:00", connected=False)
        log.engagement("lead-L1", "2026-07-04T09:00:00+02:00", "page_viewed", count=2, seconds=90)
        log.consent("L1", "2026-07-05T09:00:00+02:00", do_not_call=True)
        log.consent("L1", "2026-07-06T09:00:00+02:00", do_not_email=False, do_not_call=False)
        p = fold(log.events)["lead-L1"]
        day = s("2026-07-01T09:00:00+02:00")
        assert p.items == (
            Item(day + 86400, REC + 1, "visit", "", 1, 1800),
            Item(day + 86400, REC + 1, "signal", "asked_for_price"),
            Item(day + 86400, REC + 1, "signal", "met_decision_maker"),
            Item(day + 2 * 86400, REC + 2, "call", "", 0, 60),
            Item(day + 3 * 86400, REC + 3, "eng", "page_viewed", 2, 90),
            Item(day + 4 * 86400, REC + 4, "consent", "do_not_call", 1),
            Item(day + 5 * 86400, REC + 5, "consent", "do_not_email", 0),
            Item(day + 5 * 86400, REC + 5, "consent", "do_not_call", 0),
        )

    def test_keeps_the_creators_rep_and_team(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.visit("lead-L1", "2026-07-02T09:00:00+02:00", rep=BEN, team=SOUTH)
        p = fold(log.events)["lead-L1"]
        assert (p.rep_id, p.team_id) == (ANNA, NORTH)
        assert len(p.items) == 1

    def test_returns_the_keys_it_changed(self) -> None:
        log = Log()
        prospects: dict[str, Prospect] = {}
        assert step(prospects, log.lead_created("L1", "2026-07-01T09:00:00+02:00")) == ["lead-L1"]
        assert step(prospects, log.visit("lead-L1", "2026-07-02T09:00:00+02:00")) == ["lead-L1"]
        assert step(prospects, log.lead_created("L1", "2026-07-03T09:00:00+02:00")) == []
        assert step(prospects, log.lead_qualified("L1", "2026-07-04T09:00:00+02:00")) == ["lead-L1"]
        assert step(prospects, log.lead_qualified("L1", "2026-07-05T09:00:00+02:00")) == []


class TestWhatItIgnores:
    def test_account_streams_other_types_and_newer_versions(self) -> None:
        log = Log()
        ignored = [
            log.visit("account-acc-1", "2026-07-02T09:00:00+02:00", effective=True),
            log.tier_changed("acc-1", "2026-07-02T09:00:00+02:00", "A"),
            log.invoice("I1", "2026-07-02T09:00:00+02:00", amount="10.00", stream="deal-D1"),
            log.add("lead.converted", "lead-L1", "2026-07-02T09:00:00+02:00", {"to": "D1"}),
            log.add(
                "visit.logged",
                "lead-L1",
                "2026-07-02T09:00:00+02:00",
                {"mode": "onsite", "effective": True, "duration_minutes": 5},
                schema_version=2,
            ),
        ]
        prospects: dict[str, Prospect] = {}
        for event in ignored:
            assert step(prospects, event) == []
            assert keys_read(event, prospects) == set()
        assert prospects == {}


class TestOutcomes:
    def test_qualification_converts_a_lead(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.lead_qualified("L1", "2026-07-08T09:00:00+02:00")
        p = fold(log.events)["lead-L1"]
        assert (p.outcome, p.outcome_at, p.outcome_recorded) == (
            1,
            s("2026-07-08T09:00:00+02:00"),
            REC + 1,
        )
        assert not is_open(p)

    def test_disqualification_fails_a_lead(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.lead_disqualified("L1", "2026-07-08T09:00:00+02:00")
        p = fold(log.events)["lead-L1"]
        assert (p.outcome, p.outcome_at) == (0, s("2026-07-08T09:00:00+02:00"))

    def test_a_deal_inherits_its_leads_profile_and_its_win_converts_the_lead(self) -> None:
        log = Log()
        created(
            log,
            "L1",
            "2026-07-01T09:00:00+02:00",
            industry="bakery",
            company_size="1-9",
            estimated_value="500.00",
            currency="EUR",
            attributes={"city": "Leipzig"},
        )
        log.deal_opened(
            "D1",
            "2026-07-05T09:00:00+02:00",
            amount="24000.00",
            lead="L1",
            account="acc-2",
            rep=BEN,
            team=SOUTH,
        )
        log.stage_changed("D1", "2026-07-06T09:00:00+02:00", "proposal")
        log.amount_changed("D1", "2026-07-07T09:00:00+02:00", "21500.00")
        log.deal_won("D1", "2026-07-09T09:00:00+02:00", "21500.00")
        prospects = fold(log.events)
        deal, lead = prospects["deal-D1"], prospects["lead-L1"]
        assert deal.static == {
            "channel": "referral",
            "industry": "bakery",
            "company_size": "1-9",
            "attr:city": "Leipzig",
            "tier": "B",
            "product_line": "ovens",
            "value": "24000.00",
            "currency": "EUR",
        }
        assert (deal.kind, deal.lead, deal.rep_id, deal.team_id) == ("deal", "lead-L1", BEN, SOUTH)
        assert (deal.stage, deal.amount, deal.currency) == ("proposal", "21500.00", "EUR")
        assert [(i.kind, i.name) for i in deal.items] == [
            ("stage", "qualification"),
            ("stage", "proposal"),
            ("amount", "21500.00 EUR"),
        ]
        won = s("2026-07-09T09:00:00+02:00")
        assert (deal.outcome, deal.outcome_at, deal.outcome_recorded) == (1, won, REC + 4)
        assert (lead.outcome, lead.outcome_at, lead.outcome_recorded) == (1, won, REC + 4)

    def test_a_lost_deal_fails_its_lead(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.deal_opened("D1", "2026-07-05T09:00:00+02:00", lead="L1")
        log.deal_lost("D1", "2026-07-09T09:00:00+02:00")
        prospects = fold(log.events)
        assert prospects["deal-D1"].outcome == 0
        assert prospects["lead-L1"].outcome == 0

    def test_the_first_outcome_wins(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.lead_qualified("L1", "2026-07-03T09:00:00+02:00")
        log.deal_opened("D1", "2026-07-05T09:00:00+02:00", lead="L1")
        log.deal_lost("D1", "2026-07-09T09:00:00+02:00")
        log.deal_won("D1", "2026-07-10T09:00:00+02:00")
        prospects = fold(log.events)
        assert (prospects["lead-L1"].outcome, prospects["deal-D1"].outcome) == (1, 0)
        assert prospects["lead-L1"].outcome_at == s("2026-07-03T09:00:00+02:00")

    def test_a_back_dated_outcome_logged_later_is_the_first(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.lead_qualified("L1", "2026-07-08T09:00:00+02:00")
        log.lead_disqualified("L1", "2026-07-04T09:00:00+02:00")
        p = fold(log.events)["lead-L1"]
        assert (p.outcome, p.outcome_at, p.outcome_recorded) == (
            0,
            s("2026-07-04T09:00:00+02:00"),
            REC + 2,
        )

    def test_a_deal_closed_before_its_opening_was_logged_settles_its_lead_then(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        log.deal_won("D1", "2026-07-09T09:00:00+02:00")
        log.deal_opened("D1", "2026-07-05T09:00:00+02:00", lead="L1")
        prospects = fold(log.events)
        lead = prospects["lead-L1"]
        assert (lead.outcome, lead.outcome_at) == (1, s("2026-07-09T09:00:00+02:00"))
        assert lead.outcome_recorded == REC + 2  # when the link to the lead was logged

    def test_a_win_makes_a_placeholder_of_a_lead_not_seen_yet(self) -> None:
        log = Log()
        log.deal_opened("D1", "2026-07-05T09:00:00+02:00", lead="L1")
        log.deal_won("D1", "2026-07-09T09:00:00+02:00")
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        lead = fold(log.events)["lead-L1"]
        assert (lead.outcome, lead.created_at) == (1, s("2026-07-01T09:00:00+02:00"))
        assert lead.static == {"channel": "referral"}


class TestOutOfOrder:
    def test_a_visit_before_the_creation_makes_a_placeholder_the_creation_fills_in(self) -> None:
        log = Log()
        log.visit("lead-L1", "2026-07-02T09:00:00+02:00", effective=True, rep=BEN, team=SOUTH)
        prospects = fold(log.events)
        placeholder = prospects["lead-L1"]
        assert placeholder.created_at is None
        assert placeholder.rep_id == ""
        assert not is_open(placeholder)
        assert len(placeholder.items) == 1
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        p = fold(log.events)["lead-L1"]
        assert (p.created_at, p.created_recorded) == (s("2026-07-01T09:00:00+02:00"), REC + 1)
        assert (p.rep_id, p.team_id, p.static) == (ANNA, NORTH, {"channel": "referral"})
        assert p.items == placeholder.items
        assert is_open(p)

    def test_items_are_kept_in_occurred_order(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-07-01T09:00:00+02:00")
        for day in (9, 3, 7, 3, 1, 12):
            log.call("lead-L1", f"2026-07-{day:02d}T09:00:00+02:00")
        items = fold(log.events)["lead-L1"].items
        assert [(i.at, i.recorded) for i in items] == sorted((i.at, i.recorded) for i in items)
        assert [i.recorded - REC for i in items] == [5, 2, 4, 3, 1, 6]  # ties: log order

    def test_a_deals_stage_is_the_one_entered_last_in_occurred_order(self) -> None:
        log = Log()
        log.deal_opened("D1", "2026-07-01T09:00:00+02:00")
        log.stage_changed("D1", "2026-07-08T09:00:00+02:00", "negotiation")
        log.stage_changed("D1", "2026-07-04T09:00:00+02:00", "proposal")
        assert fold(log.events)["deal-D1"].stage == "negotiation"


class TestTheBound:
    def test_engagements_of_a_kind_on_a_day_merge_beyond_512_items(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-01-01T00:00:00+00:00")
        start = datetime(2026, 1, 1, 8, tzinfo=UTC)
        for i in range(600):  # two opens a day, at 08:00 and 20:00, for 300 days
            log.engagement("lead-L1", start + timedelta(hours=12 * i), count=1, seconds=10)
        items = fold(log.events)["lead-L1"].items
        assert len(items) <= MAX_ITEMS
        assert sum(i.n for i in items) == 600
        assert sum(i.seconds for i in items) == 6000
        assert items[0] == Item(int(start.timestamp()), REC + 1, "eng", "email_opened", 2, 20)
        assert [i.at for i in items] == sorted(i.at for i in items)
        assert len({i.at // 86400 for i in items}) == 300

    def test_beyond_that_the_oldest_touches_after_the_first_128_go(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-01-01T00:00:00+00:00")
        start = datetime(2026, 1, 1, 8, tzinfo=UTC)
        times = [int((start + timedelta(hours=i)).timestamp()) for i in range(700)]
        for i in range(700):
            log.visit("lead-L1", start + timedelta(hours=i))
        consent = log.consent("L1", start + timedelta(hours=200), do_not_email=True)
        items = fold(log.events)["lead-L1"].items
        assert len(items) == MAX_ITEMS
        assert [i.at for i in items if i.kind == "visit"] == (
            times[:KEEP_FIRST] + times[-(MAX_ITEMS - KEEP_FIRST - 1) :]
        )
        assert Item(s(consent["occurred_at"]), REC + 701, "consent", "do_not_email", 1) in items

    def test_a_repeated_signal_goes_before_any_touch(self) -> None:
        log = Log()
        log.lead_created("L1", "2026-01-01T00:00:00+00:00")
        start = datetime(2026, 1, 1, 8, tzinfo=UTC)
        for i in range(300):
            with_signals(log.visit("lead-L1", start + timedelta(hours=i)), "asked_for_price")
        items = fold(log.events)["lead-L1"].items
        assert len([i for i in items if i.kind == "visit"]) == 300
        signals = [i for i in items if i.kind == "signal"]
        assert signals[0] == Item(int(start.timestamp()), REC + 1, "signal", "asked_for_price")
        assert len(items) <= MAX_ITEMS


class TestKeys:
    def test_an_event_reads_its_own_stream(self) -> None:
        log = Log()
        assert keys_read(log.visit("lead-L1", "2026-07-01T09:00:00+02:00"), {}) == {"lead-L1"}
        assert keys_read(log.stage_changed("D1", "2026-07-01T09:00:00+02:00", "x"), {}) == {
            "deal-D1"
        }

    def test_an_opening_reads_its_lead(self) -> None:
        log = Log()
        opened = log.deal_opened("D1", "2026-07-01T09:00:00+02:00", lead="L1")
        assert keys_read(opened, {}) == {"deal-D1", "lead-L1"}
        alone = log.deal_opened("D2", "2026-07-01T09:00:00+02:00")
        assert keys_read(alone, {}) == {"deal-D2"}

    def test_a_close_reads_the_deals_lead_once_the_deal_is_known(self) -> None:
        log = Log()
        opened = log.deal_opened("D1", "2026-07-01T09:00:00+02:00", lead="L1")
        won = log.deal_won("D1", "2026-07-09T09:00:00+02:00")
        assert keys_read(won, {}) == {"deal-D1"}
        assert keys_read(won, fold([opened])) == {"deal-D1", "lead-L1"}

    def test_is_open_needs_a_creation_and_no_outcome(self) -> None:
        assert not is_open(Prospect("lead", "lead-L1"))
        assert is_open(Prospect("lead", "lead-L1", created_at=1))
        assert not is_open(Prospect("lead", "lead-L1", created_at=1, outcome=0, outcome_at=2))


# --------------------------------------------------------------------------- laws

LAW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEADS, DEALS = ("L0", "L1", "L2"), ("D0", "D1", "D2")
START = datetime(2026, 7, 1, tzinfo=UTC)
OFFSETS = tuple(timezone(timedelta(minutes=m)) for m in (120, 0, -240))
WHEN = st.builds(
    lambda minutes, offset: (START + timedelta(minutes=minutes)).astimezone(offset),
    st.integers(0, 60 * 24 * 40),
    st.sampled_from(OFFSETS),
)
LEAD, DEAL = st.sampled_from(LEADS), st.sampled_from(DEALS)
STREAM = st.sampled_from(
    [*(f"lead-{x}" for x in LEADS), *(f"deal-{x}" for x in DEALS), "account-acc-1"]
)
SIGNALS = st.lists(st.sampled_from(("asked_for_price", "requested_demo")), max_size=2)
KIND = st.sampled_from(
    (
        "lead.created",
        "lead.created",
        "lead.qualified",
        "lead.disqualified",
        "visit.logged",
        "visit.logged",
        "call.logged",
        "engagement.tracked",
        "engagement.tracked",
        "lead.consent_changed",
        "deal.opened",
        "deal.opened",
        "deal.stage_changed",
        "deal.amount_changed",
        "deal.won",
        "deal.lost",
        "account.tier_changed",
    )
)


@st.composite
def logs(draw: st.DrawFn, max_events: int = 40) -> list[Event]:
    log = Log("prospects")
    for _ in range(draw(st.integers(0, max_events))):
        kind, at = draw(KIND), draw(WHEN)
        if kind == "lead.created":
            attributes = draw(
                st.dictionaries(
                    st.sampled_from(("city", "size")), st.sampled_from(("Leipzig", "45", ""))
                )
            )
            created(
                log,
                draw(LEAD),
                at.isoformat(),
                attributes=attributes,
                account_id=draw(st.sampled_from(("acc-1", "acc-2"))),
            )
        elif kind == "lead.qualified":
            log.lead_qualified(draw(LEAD), at)
        elif kind == "lead.disqualified":
            log.lead_disqualified(draw(LEAD), at)
        elif kind == "visit.logged":
            with_signals(log.visit(draw(STREAM), at, effective=draw(st.booleans())), *draw(SIGNALS))
        elif kind == "call.logged":
            with_signals(log.call(draw(STREAM), at, connected=draw(st.booleans())), *draw(SIGNALS))
        elif kind == "engagement.tracked":
            kind_of = draw(st.sampled_from(("email_opened", "webinar")))
            log.engagement(
                draw(STREAM),
                at,
                kind_of,
                count=draw(st.integers(1, 5)),
                seconds=draw(st.integers(0, 300)),
            )
        elif kind == "lead.consent_changed":
            log.consent(
                draw(LEAD),
                at,
                do_not_email=draw(st.sampled_from((None, True, False))),
                do_not_call=True,
            )
        elif kind == "deal.opened":
            log.deal_opened(
                draw(DEAL),
                at,
                lead=draw(st.sampled_from((None, *LEADS))),
                account=draw(st.sampled_from(("acc-1", "acc-3"))),
            )
        elif kind == "deal.stage_changed":
            log.stage_changed(draw(DEAL), at, draw(st.sampled_from(("proposal", "won_soon"))))
        elif kind == "deal.amount_changed":
            log.amount_changed(draw(DEAL), at, draw(st.sampled_from(("10.00", "25000.5"))))
        elif kind == "deal.won":
            log.deal_won(draw(DEAL), at)
        elif kind == "deal.lost":
            log.deal_lost(draw(DEAL), at)
        else:
            log.tier_changed("acc-1", at, "B")
    return log.events


@st.composite
def pages(draw: st.DrawFn, events: list[Event]) -> list[list[Event]]:
    cuts = sorted(draw(st.lists(st.integers(0, len(events)), max_size=8)))
    return [events[a:b] for a, b in pairwise([0, *cuts, len(events)])]


def fold_in_pages(events_by_page: list[list[Event]]) -> dict[str, Prospect]:
    """What the consumer does: per page, load only the keys an event reads (asking again once
    the loaded deal names its lead), fold, and store the changed profiles as JSON."""
    store: dict[str, str] = {}
    for page in events_by_page:
        loaded: dict[str, Prospect] = {}
        changed: set[str] = set()
        for event in page:
            for _ in range(2):
                for key in keys_read(event, loaded) - loaded.keys():
                    if key in store:
                        loaded[key] = decode(store[key])
            changed |= set(step(loaded, event))
        store |= {key: encode(loaded[key]) for key in changed}
    return {key: decode(text) for key, text in store.items()}


class TestLaws:
    @LAW
    @given(st.data())
    def test_folding_in_pages_through_storage_gives_the_profiles_of_one_pass(
        self, data: st.DataObject
    ) -> None:
        events = data.draw(logs())
        assert fold_in_pages(data.draw(pages(events))) == fold(events)

    @LAW
    @given(logs())
    def test_encode_and_decode_round_trip_exactly(self, events: list[Event]) -> None:
        for p in fold(events).values():
            assert decode(encode(p)) == p
            assert encode(decode(encode(p).encode())) == encode(p)

    @LAW
    @given(logs())
    def test_items_stay_in_occurred_order_and_every_event_lands(self, events: list[Event]) -> None:
        prospects = fold(events)
        for p in prospects.values():
            assert [(i.at, i.recorded) for i in p.items] == sorted(
                (i.at, i.recorded) for i in p.items
            )
        touched = {
            e["stream"]
            for e in events
            if e["type"] in ("visit.logged", "call.logged", "engagement.tracked")
            and not e["stream"].startswith("account-")
        }
        assert touched <= prospects.keys()


def test_a_prospect_with_no_static_fields_pickles_for_a_worker_process() -> None:
    """A deal known only from events logged before its opening has the read-only empty
    `static`; rebuilds and rescores send profiles to worker processes, so it must pickle."""
    import pickle

    from services.scoring.projections.leads import Prospect

    prospect = Prospect("deal", "deal-D1")
    back = pickle.loads(pickle.dumps(prospect))
    assert back == prospect
    assert dict(back.static) == {}
