"""salesperf.synthetic: a deterministic, valid and realistic sales quarter."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import pytest

from salesperf.synthetic import CHANNELS, NAMESPACE, STAGES, generate, in_dip, iter_events
from shared.events import new_event_adapter

Event = dict[str, Any]
ACTIVITIES = ("visit.logged", "call.logged")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def quarter() -> list[Event]:
    return generate()


def by_stream(events: list[Event]) -> dict[str, list[Event]]:
    streams: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        streams[e["stream"]].append(e)
    return streams


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def of_type(events: list[Event], *types: str) -> list[Event]:
    return [e for e in events if e["type"] in types]


class TestContract:
    def test_every_event_validates_as_a_client_would_post_it(self, quarter):
        for e in quarter:
            new_event_adapter.validate_python(e)

    def test_events_survive_a_json_round_trip_unchanged(self, quarter):
        assert json.loads(json.dumps(quarter)) == quarter

    def test_times_carry_the_zone_s_offset_and_lie_in_the_quarter(self, quarter):
        for e in quarter[::97]:
            t = at(e)
            assert t.utcoffset() == t.astimezone(BERLIN).utcoffset()
        days = {at(e).date() for e in quarter}
        assert min(days) == date(2026, 7, 1)
        assert max(days) <= date(2026, 9, 30)

    def test_another_time_zone_gives_its_own_offsets(self):
        events = generate(days=10, teams=1, scale=0.5, timezone="America/New_York")
        assert {e["occurred_at"][-6:] for e in events} == {"-04:00"}


class TestDeterminism:
    def test_the_same_arguments_give_byte_identical_output(self, quarter):
        assert json.dumps(generate()).encode() == json.dumps(quarter).encode()

    def test_iter_events_yields_the_same_events(self, quarter):
        assert list(iter_events()) == quarter

    def test_other_arguments_give_other_events_and_ids(self, quarter):
        other = generate(seed=8)
        assert other != quarter
        assert not {e["event_id"] for e in other} & {e["event_id"] for e in quarter}
        shorter = generate(days=91)
        assert not {e["event_id"] for e in shorter} & {e["event_id"] for e in quarter}

    def test_event_ids_are_unique_uuid5s_of_the_fixed_namespace(self, quarter):
        ids = [e["event_id"] for e in quarter]
        assert len(set(ids)) == len(ids)
        assert all(UUID(i).version == 5 and str(UUID(i)) == i for i in ids)
        first = str(uuid5(NAMESPACE, "7|2026-07-01|92|3|4|Europe/Berlin|1.0|0"))
        assert first in set(ids)

    def test_bad_arguments_are_refused(self):
        with pytest.raises(ValueError, match="at least 1"):
            generate(days=0)
        with pytest.raises(ValueError, match="scale must be positive"):
            generate(scale=0)


class TestVolumeAndTime:
    def test_a_default_quarter_has_8_000_to_15_000_events(self, quarter):
        assert 8_000 <= len(quarter) <= 15_000

    def test_scale_multiplies_the_volume(self):
        one = len(generate(days=30, scale=1.0))
        three = len(generate(days=30, scale=3.0))
        assert 2.5 < three / one < 3.5

    def test_events_come_sorted_by_occurred_at(self, quarter):
        times = [at(e) for e in quarter]
        assert times == sorted(times)

    def test_reps_and_teams(self, quarter):
        team_of = {e["rep_id"]: e["team_id"] for e in quarter}
        assert len(team_of) == 12
        assert set(team_of.values()) == {"team-north", "team-south", "team-west"}
        assert Counter(team_of.values()) == {"team-north": 4, "team-south": 4, "team-west": 4}
        assert all(r.startswith("rep-") and r[4:].isalpha() for r in team_of)
        assert all(team_of[e["rep_id"]] == e["team_id"] for e in quarter)

    def test_many_teams_still_get_distinct_ids(self):
        events = generate(days=2, teams=20, reps_per_team=5, scale=0.2)
        team_of = {e["rep_id"]: e["team_id"] for e in events}
        assert len(set(team_of.values())) == 20
        assert len(team_of) > 80

    def test_work_happens_in_working_hours_on_weekdays(self, quarter):
        local = [at(e) for e in quarter]
        weekend = sum(t.weekday() >= 5 for t in local)
        assert 0 < weekend < 0.03 * len(quarter)
        office = sum(8 <= t.hour < 18 for t in local)
        assert office > 0.85 * len(quarter)

    def test_activity_dips_in_the_summer_holidays(self, quarter):
        per_day = Counter(at(e).date() for e in of_type(quarter, *ACTIVITIES))
        weekdays = [date(2026, 7, 1) + timedelta(days=d) for d in range(92)]
        weekdays = [d for d in weekdays if d.weekday() < 5]
        dip = [per_day[d] for d in weekdays if in_dip(d)]
        rest = [per_day[d] for d in weekdays if not in_dip(d)]
        assert len(dip) == 15
        assert sum(dip) / len(dip) < 0.7 * sum(rest) / len(rest)


class TestVoids:
    def test_voids_cancel_an_earlier_event_of_the_same_stream_once(self, quarter):
        seen: dict[str, Event] = {}
        voided: set[str] = set()
        voids = 0
        for e in quarter:
            if e["type"] == "event.voided":
                voids += 1
                target = seen[e["data"]["voided_event_id"]]  # earlier
                assert target["stream"] == e["stream"]
                assert target["type"] != "event.voided"
                assert target["event_id"] not in voided
                assert 1 <= len(e["data"]["reason"]) <= 200
                voided.add(target["event_id"])
            seen[e["event_id"]] = e
        assert 0.003 < voids / len(quarter) < 0.008


class TestLeads:
    def test_every_lead_stream_starts_with_lead_created(self, quarter):
        leads = {s: es for s, es in by_stream(quarter).items() if s.startswith("lead-")}
        assert leads
        assert all(es[0]["type"] == "lead.created" for es in leads.values())
        assert all(sum(e["type"] == "lead.created" for e in es) == 1 for es in leads.values())

    def test_all_six_channels_appear_skewed(self, quarter):
        channels = Counter(e["data"]["channel"] for e in of_type(quarter, "lead.created"))
        assert set(channels) == set(CHANNELS)
        assert channels["cold_visit"] > 2 * channels["other"]

    def test_leads_carry_industry_size_value_and_attributes(self, quarter):
        created = of_type(quarter, "lead.created")
        assert all({"industry", "company_size"} <= e["data"].keys() for e in created)
        assert all(set(e["data"]["attributes"]) == {"campaign", "city"} for e in created)
        valued = [e for e in created if "estimated_value" in e["data"]]
        assert 0.7 < len(valued) / len(created) < 0.95
        assert any(e["data"].get("account_id") for e in created)

    def test_about_a_third_qualify_and_some_are_disqualified(self, quarter):
        created = len(of_type(quarter, "lead.created"))
        qualified = len(of_type(quarter, "lead.qualified"))
        assert 0.28 < qualified / created < 0.42
        assert 0.1 < len(of_type(quarter, "lead.disqualified")) / created < 0.3

    def test_a_lead_is_qualified_or_disqualified_at_most_once_and_days_after_creation(
        self, quarter
    ):
        for stream, es in by_stream(quarter).items():
            if not stream.startswith("lead-"):
                continue
            ends = [e for e in es if e["type"] in ("lead.qualified", "lead.disqualified")]
            assert len(ends) <= 1
            if ends:
                assert ends[0] is es[-1]  # no work on a lead after its outcome
                assert at(ends[0]) - at(es[0]) > timedelta(hours=12)


class TestDeals:
    def test_every_deal_stream_starts_with_deal_opened_in_qualification(self, quarter):
        deals = {s: es for s, es in by_stream(quarter).items() if s.startswith("deal-")}
        assert len(deals) > 100
        for es in deals.values():
            assert es[0]["type"] == "deal.opened"
            assert es[0]["data"]["stage"] == "qualification"
            assert sum(e["type"] == "deal.opened" for e in es) == 1

    def test_won_or_lost_at_most_once_and_nothing_but_voids_after(self, quarter):
        for stream, es in by_stream(quarter).items():
            if not stream.startswith("deal-"):
                continue
            ends = [i for i, e in enumerate(es) if e["type"] in ("deal.won", "deal.lost")]
            assert len(ends) <= 1
            if ends:
                after = {e["type"] for e in es[ends[0] + 1 :]}
                assert after <= {"invoice.issued", "payment.received", "event.voided"}

    def test_stages_go_qualification_proposal_negotiation(self, quarter):
        for stream, es in by_stream(quarter).items():
            changes = [e["data"] for e in es if e["type"] == "deal.stage_changed"]
            expected = [
                {"to_stage": STAGES[i + 1], "from_stage": STAGES[i]} for i in range(len(changes))
            ]
            assert changes == expected, stream

    def test_won_deals_went_through_negotiation(self, quarter):
        for es in by_stream(quarter).values():
            if any(e["type"] == "deal.won" for e in es):
                assert [e["data"]["to_stage"] for e in es if e["type"] == "deal.stage_changed"] == [
                    "proposal",
                    "negotiation",
                ]

    def test_deals_come_from_qualified_leads_named_without_prefix(self, quarter):
        qualified = {
            e["stream"].removeprefix("lead-"): at(e) for e in of_type(quarter, "lead.qualified")
        }
        opened = of_type(quarter, "deal.opened")
        from_leads = [e for e in opened if "lead_id" in e["data"]]
        assert len(from_leads) > 0.8 * len(opened)
        assert len(from_leads) < len(opened)  # repeat deals come straight from the account
        for e in from_leads:
            assert not e["data"]["lead_id"].startswith("lead-")
            assert qualified[e["data"]["lead_id"]] <= at(e)

    def test_about_3_percent_of_deals_are_in_usd_and_stay_in_their_currency(self, quarter):
        currency = {e["stream"]: e["data"]["currency"] for e in of_type(quarter, "deal.opened")}
        share = Counter(currency.values())["USD"] / len(currency)
        assert 0.02 <= share <= 0.05
        assert set(currency.values()) == {"EUR", "USD"}
        for e in of_type(quarter, "deal.won", "deal.amount_changed"):
            assert e["data"]["currency"] == currency[e["stream"]]
        for e in of_type(quarter, "invoice.issued"):
            assert e["data"]["currency"] == currency[f"deal-{e['data']['deal_id']}"]

    def test_product_lines(self, quarter):
        lines = {e["data"]["product_line"] for e in of_type(quarter, "deal.opened")}
        assert lines == {"ovens", "cooling", "service", "spare_parts"}

    def test_a_realistic_share_of_closed_deals_is_won_and_some_stay_open(self, quarter):
        won, lost = len(of_type(quarter, "deal.won")), len(of_type(quarter, "deal.lost"))
        assert 0.40 <= won / (won + lost) <= 0.55
        assert len(of_type(quarter, "deal.opened")) > won + lost
        assert {e["data"]["reason"] for e in of_type(quarter, "deal.lost")} >= {
            "price",
            "competitor",
        }


class TestAccountsAndMoney:
    def test_initial_tiers_are_about_20_30_50_and_changes_name_the_previous_tier(self, quarter):
        tier: dict[str, str] = {}
        initial: Counter[str] = Counter()
        changes = 0
        for e in of_type(quarter, "account.tier_changed"):
            data = e["data"]
            if e["stream"] in tier:
                assert data["previous_tier"] == tier[e["stream"]] != data["tier"]
                changes += 1
            else:
                assert "previous_tier" not in data
                initial[data["tier"]] += 1
            tier[e["stream"]] = data["tier"]
        total = sum(initial.values())
        for t, share in {"A": 0.2, "B": 0.3, "C": 0.5}.items():
            assert abs(initial[t] / total - share) < 0.07
        assert 10 < changes < 0.3 * total

    def test_invoices_follow_wins_and_payments_never_exceed_them(self, quarter):
        won_at = {e["stream"].removeprefix("deal-"): at(e) for e in of_type(quarter, "deal.won")}
        invoices = {}
        for e in of_type(quarter, "invoice.issued"):
            assert e["stream"] == f"account-{e['data']['account_id']}"
            assert won_at[e["data"]["deal_id"]] < at(e)
            invoices[e["data"]["invoice_id"]] = (at(e), Decimal(e["data"]["amount"]))
        assert len(invoices) > 0.8 * len(won_at)
        paid: dict[str, list[Decimal]] = defaultdict(list)
        for e in of_type(quarter, "payment.received"):
            issued, _ = invoices[e["data"]["invoice_id"]]
            assert issued < at(e)
            paid[e["data"]["invoice_id"]].append(Decimal(e["data"]["amount"]))
        assert all(sum(p) <= invoices[i][1] for i, p in paid.items())
        assert any(len(p) == 2 for p in paid.values())  # partial payments
        assert sum(sum(p) == invoices[i][1] for i, p in paid.items()) < len(invoices)

    def test_some_accounts_win_twice(self, quarter):
        account_of = {e["stream"]: e["data"]["account_id"] for e in of_type(quarter, "deal.opened")}
        wins = Counter(account_of[e["stream"]] for e in of_type(quarter, "deal.won"))
        assert any(n >= 2 for n in wins.values())

    def test_most_new_customers_are_followed_up_within_72_hours(self, quarter):
        streams = by_stream(quarter)
        account_of = {e["stream"]: e["data"]["account_id"] for e in of_type(quarter, "deal.opened")}
        first_win: dict[str, datetime] = {}
        for e in of_type(quarter, "deal.won"):
            first_win.setdefault(account_of[e["stream"]], at(e))
        new = [
            a
            for a in first_win
            if streams[f"account-{a}"][0]["metadata"]["source"] != "import"
            and at(streams[f"account-{a}"][0]) < first_win[a]
        ]
        late = first_win and max(first_win.values()) - timedelta(days=4)
        followed = [
            a
            for a in new
            if any(
                e["type"] in ACTIVITIES
                and timedelta(0) < at(e) - first_win[a] <= timedelta(hours=72)
                for e in streams[f"account-{a}"]
            )
        ]
        early = [a for a in new if first_win[a] < late]
        assert len(early) > 10
        assert 0.6 < len([a for a in followed if a in early]) / len(early) < 1.0

    def test_activities_name_the_account_when_known(self, quarter):
        for e in of_type(quarter, *ACTIVITIES):
            if e["stream"].startswith(("deal-", "account-")):
                assert e["data"]["account_id"]
            if e["stream"].startswith("account-"):
                assert e["stream"] == f"account-{e['data']['account_id']}"

    def test_visit_and_call_rates(self, quarter):
        visits = of_type(quarter, "visit.logged")
        calls = of_type(quarter, "call.logged")
        assert 0.5 < sum(v["data"]["effective"] for v in visits) / len(visits) < 0.7
        assert 0.45 < sum(c["data"]["connected"] for c in calls) / len(calls) < 0.65
        assert {v["data"]["mode"] for v in visits} == {"onsite", "online"}
        streams = Counter(e["stream"].split("-", 1)[0] for e in visits + calls)
        assert set(streams) == {"lead", "deal", "account"}

    def test_contacts_leave_some_of_them_key(self, quarter):
        left = of_type(quarter, "contact.left")
        assert 5 < len(left) < 100
        assert 0 < sum(e["data"]["key_contact"] for e in left) < len(left)

    def test_metadata_sources(self, quarter):
        sources = Counter(e["metadata"]["source"] for e in quarter)
        assert set(sources) == {"app", "import", "crm:hubspot"}
        assert sources["app"] > 0.85 * len(quarter)
