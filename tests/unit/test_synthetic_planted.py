"""salesperf.synthetic_planted: an org of leads whose true win probability is planted and known."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from salesperf.synthetic import CHANNELS
from salesperf.synthetic_planted import (
    EMPLOYEES,
    OUTCOME_WINDOW_DAYS,
    Planted,
    planted_leads,
    true_log_odds,
    truth_auc,
)
from shared.events import new_event_adapter

Event = dict[str, Any]
OUTCOMES = ("lead.qualified", "lead.disqualified")
HORIZON = timedelta(days=14)


@pytest.fixture(scope="module")
def org() -> Planted:
    return planted_leads()


@pytest.fixture(scope="module")
def leaky() -> Planted:
    return planted_leads(leads=1500, leak=True)


def by_stream(events: list[Event]) -> dict[str, list[Event]]:
    streams: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        streams[e["stream"]].append(e)
    return streams


def at(event: Event) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def is_webinar(event: Event) -> bool:
    return event["type"] == "engagement.tracked" and event["data"]["kind"] == "webinar"


def recomputed_truth(created: Event, first_days: list[Event]) -> float:
    """The planted probability, from the lead's creation and its first days' events only."""
    signals = [
        s
        for e in first_days
        if e["type"] in ("visit.logged", "call.logged")
        for s in e["data"]["buying_signals"]
    ]
    kinds = {e["data"]["kind"] for e in first_days if e["type"] == "engagement.tracked"}
    log_odds = true_log_odds(
        channel=created["data"]["channel"],
        industry=created["data"]["industry"],
        company_size=created["data"]["company_size"],
        effective_visits=sum(
            1 for e in first_days if e["type"] == "visit.logged" and e["data"]["effective"]
        ),
        form_submitted="form_submitted" in kinds,
        asked_for_price="asked_for_price" in signals,
        email_clicked="email_clicked" in kinds,
        do_not_call=any(e["type"] == "lead.consent_changed" for e in first_days),
    )
    return 1.0 / (1.0 + math.exp(-log_odds))


class TestContract:
    def test_every_envelope_validates_as_a_client_would_post_it(self, leaky):
        for e in leaky.events:
            new_event_adapter.validate_python(e)

    def test_envelopes_survive_a_json_round_trip_unchanged(self, leaky):
        assert json.loads(json.dumps(leaky.events)) == leaky.events

    def test_event_ids_are_unique(self, leaky):
        assert len({e["event_id"] for e in leaky.events}) == len(leaky.events)

    def test_streams_reps_and_metadata_look_like_the_quarter_generator_s(self, org):
        streams = {e["stream"] for e in org.events}
        assert streams == set(org.truth) == set(org.outcome) == set(org.created)
        assert "lead-P-00001" in streams
        assert "lead-P-06000" in streams
        assert {e["team_id"] for e in org.events} == {"team-north", "team-south"}
        assert len({e["rep_id"] for e in org.events}) == 8
        assert {e["metadata"]["source"] for e in org.events} == {"app"}

    def test_times_carry_the_zone_s_offset(self, org):
        berlin = ZoneInfo("Europe/Berlin")
        for e in org.events[::53]:
            t = at(e)
            assert t.utcoffset() == t.astimezone(berlin).utcoffset()

    def test_another_time_zone_gives_its_own_offsets(self):
        p = planted_leads(leads=50, days=60, timezone="America/New_York")
        assert {e["occurred_at"][-6:] for e in p.events} == {"-05:00", "-04:00"}


class TestLeads:
    def test_leads_are_created_on_working_days_spread_over_the_period(self, org):
        days = [t.date() for t in org.created.values()]
        assert all(d.weekday() < 5 for d in days)
        assert min(days) == date(2025, 1, 6)
        assert max(days) >= date(2026, 6, 20)
        per_month: dict[tuple[int, int], int] = defaultdict(int)
        for d in days:
            per_month[d.year, d.month] += 1
        full_months = [n for (y, m), n in per_month.items() if (y, m) != (2026, 6)]
        assert max(full_months) < 1.25 * min(full_months)

    def test_lead_created_carries_channel_industry_size_and_a_consistent_employee_count(self, org):
        created = [e for e in org.events if e["type"] == "lead.created"]
        assert len(created) == len(org.truth)
        assert {e["data"]["channel"] for e in created} == set(CHANNELS)
        assert len({e["data"]["industry"] for e in created}) == 5
        assert len({e["data"]["attributes"]["city"] for e in created}) >= 4
        for e in created:
            low, high = EMPLOYEES[e["data"]["company_size"]]
            assert low <= int(e["data"]["attributes"]["employees"]) <= high

    def test_the_first_days_hold_every_kind_of_activity(self, org):
        kinds = {e["data"]["kind"] for e in org.events if e["type"] == "engagement.tracked"}
        assert kinds == {"email_opened", "email_clicked", "page_viewed", "form_submitted"}
        types = {e["type"] for e in org.events}
        assert {"visit.logged", "call.logged", "lead.consent_changed"} <= types
        signals = {s for e in org.events for s in e["data"].get("buying_signals", [])}
        assert {"asked_for_price", "met_decision_maker"} <= signals


class TestTimeline:
    def test_events_come_in_append_order(self, org):
        times = [at(e) for e in org.events]
        assert times == sorted(times)

    def test_every_lead_starts_with_its_creation_and_ends_with_exactly_one_outcome(self, org):
        for stream, events in by_stream(org.events).items():
            assert events[0]["type"] == "lead.created"
            assert at(events[0]) == org.created[stream]
            assert [e["type"] in OUTCOMES for e in events].count(True) == 1
            expected = "lead.qualified" if org.outcome[stream] == 1 else "lead.disqualified"
            assert events[-1]["type"] == expected

    def test_activity_lies_strictly_within_the_first_horizon_days(self, org):
        for stream, events in by_stream(org.events).items():
            created = org.created[stream]
            end = min(created.astimezone(UTC) + HORIZON, created + HORIZON)
            for e in events[1:-1]:
                assert created < at(e) < end

    def test_the_outcome_falls_in_the_month_after_the_horizon_and_nothing_follows(self, org):
        for stream, events in by_stream(org.events).items():
            outcome = at(events[-1])
            created = org.created[stream]
            elapsed, wall = created.astimezone(UTC) + HORIZON, created + HORIZON
            assert elapsed < outcome
            assert wall < outcome
            assert outcome < created + HORIZON + timedelta(days=OUTCOME_WINDOW_DAYS, hours=1)
            assert all(at(e) < outcome for e in events[:-1])

    def test_visits_and_calls_fall_on_weekdays_in_working_hours(self, org):
        for e in org.events:
            if e["type"] in ("visit.logged", "call.logged"):
                t = at(e)
                assert t.weekday() < 5
                assert 8 <= t.hour < 18

    def test_nobody_calls_a_lead_after_it_asked_not_to_be_called(self, org):
        for events in by_stream(org.events).values():
            consent = [at(e) for e in events if e["type"] == "lead.consent_changed"]
            if consent:
                calls = [at(e) for e in events if e["type"] == "call.logged"]
                assert all(t < consent[0] for t in calls)


class TestTruth:
    def test_the_truth_is_a_function_of_the_creation_and_the_first_days_only(self, org):
        for stream, events in by_stream(org.events).items():
            expected = recomputed_truth(events[0], events[1:-1])
            assert org.truth[stream] == pytest.approx(expected, abs=1e-12)

    def test_the_overall_conversion_rate_is_a_third_or_so(self, org):
        rate = sum(org.outcome.values()) / len(org.outcome)
        assert 0.30 <= rate <= 0.40
        assert rate == pytest.approx(sum(org.truth.values()) / len(org.truth), abs=0.02)

    def test_outcomes_track_the_planted_probability_decile_by_decile(self, org):
        ranked = sorted(org.truth, key=lambda s: (org.truth[s], s))
        size = len(ranked) // 10
        for k in range(10):
            decile = ranked[k * size : (k + 1) * size]
            planted = sum(org.truth[s] for s in decile) / size
            observed = sum(org.outcome[s] for s in decile) / size
            assert abs(observed - planted) < 0.06, (k, planted, observed)

    def test_the_planted_truth_ranks_well_but_not_trivially(self, org):
        assert 0.75 <= truth_auc(org, org.truth) <= 0.9

    def test_truth_auc_takes_any_subset_of_leads(self, org):
        later = [s for s, t in org.created.items() if t.date() >= date(2026, 1, 1)]
        assert 0.7 <= truth_auc(org, later) <= 0.92
        with pytest.raises(ValueError, match="converted and unconverted"):
            truth_auc(org, [s for s in later if org.outcome[s] == 1])


class TestDeterminism:
    def test_the_same_arguments_give_the_same_org(self):
        first, second = planted_leads(leads=300), planted_leads(leads=300)
        assert first == second

    def test_another_seed_gives_another_org(self):
        assert planted_leads(leads=300).events != planted_leads(leads=300, seed=8).events


class TestLeak:
    def test_leaking_only_adds_webinars_to_the_same_events(self, leaky):
        plain = planted_leads(leads=1500)
        assert [e for e in leaky.events if not is_webinar(e)] == plain.events
        assert (leaky.truth, leaky.outcome) == (plain.truth, plain.outcome)
        assert not any(is_webinar(e) for e in plain.events)

    def test_each_qualified_lead_gets_one_webinar_one_to_three_days_after(self, leaky):
        for stream, events in by_stream(leaky.events).items():
            webinars = [e for e in events if is_webinar(e)]
            if leaky.outcome[stream] == 0:
                assert webinars == []
                continue
            (webinar,) = webinars
            assert webinar["data"] == {"kind": "webinar", "count": 1, "seconds": 3600}
            (qualified,) = [e for e in events if e["type"] == "lead.qualified"]
            gap = at(webinar) - at(qualified)
            assert timedelta(days=1) <= gap <= timedelta(days=3)
            assert events[-1] is webinar
