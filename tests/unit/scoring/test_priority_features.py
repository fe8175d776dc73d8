"""Features of a lead or deal profile at a moment (priority/features.py): every feature and bucket
edge on hand-made profiles seen at a fixed moment, the sentences a rep reads, and the training
and backtest sets (snapshots, weights, no leakage of the outcome)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.scoring.priority.features import (
    Example,
    FeatureRules,
    backtest_examples,
    features,
    last_touch,
    recency_weights,
    sentence,
    stage_counts,
    training_examples,
)
from services.scoring.projections.leads import Item, Prospect, track
from tests.unit.scoring.helpers import ANNA, NORTH, Event, Log

AT = datetime(2026, 7, 1, 12, tzinfo=UTC)
T = int(AT.timestamp())
DAY = 86_400
ALWAYS = {"visits_14d": "0", "visits_plain_14d": "0", "calls_14d": "0", "eng_seconds": "0"}


def ago(days: float) -> int:
    return T - round(days * DAY)


def lead(*items: Item, created_days: float = 10, **fields: Any) -> Prospect:
    """A lead created `created_days` before AT, with these items (recorded when they occurred)."""
    created = ago(created_days)
    base = Prospect("lead", "lead-L1", ANNA, NORTH, created, created)
    return base._replace(items=tuple(sorted(items, key=lambda i: (i.at, i.recorded))), **fields)


def deal(*items: Item, created_days: float = 10, **fields: Any) -> Prospect:
    opened = Item(ago(created_days), ago(created_days), "stage", "qualification")
    return lead(opened, *items, created_days=created_days, kind="deal", key="deal-D1", **fields)


def visit(days: float, effective: bool = True, recorded: int | None = None) -> Item:
    at = ago(days)
    return Item(at, at if recorded is None else recorded, "visit", "", int(effective), 1800)


def call(days: float, connected: bool = True) -> Item:
    return Item(ago(days), ago(days), "call", "", int(connected), 60)


def eng(days: float, kind: str = "email_opened", count: int = 1, seconds: int = 0) -> Item:
    return Item(ago(days), ago(days), "eng", kind, count, seconds)


def signal(days: float, name: str) -> Item:
    return Item(ago(days), ago(days), "signal", name)


def consent(days: float, flag: str, on: bool) -> Item:
    return Item(ago(days), ago(days), "consent", flag, int(on))


def stage(days: float, name: str) -> Item:
    return Item(ago(days), ago(days), "stage", name)


def row_of(p: Prospect, **kwargs: Any) -> dict[str, str]:
    return features(p, AT, **kwargs)


def without_always(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k not in (*ALWAYS, "since_touch", "touched", "age")}


# --------------------------------------------------------------------------- features


class TestStaticFeatures:
    def test_are_taken_from_the_profile_and_left_out_when_unknown(self) -> None:
        p = deal(static={"channel": "referral", "industry": "  Food Retail ", "tier": "A",
                         "product_line": "ovens", "company_size": "10-49", "currency": "EUR",
                         "value": "1000.00"})  # fmt: skip
        assert without_always(row_of(p)) == {
            "channel": "referral",
            "industry": "food retail",
            "tier": "A",
            "product_line": "ovens",
            "company_size": "10-49",
            "value": "1k-5k",
            "stage": "reached:qualification",
        }
        assert without_always(row_of(lead())) == {"stage": "new"}

    def test_industry_is_cut_to_40_characters(self) -> None:
        row = row_of(lead(static={"industry": "Manufacture of " + "x" * 50}))
        assert row["industry"] == ("manufacture of " + "x" * 50)[:40]

    @pytest.mark.parametrize(
        ("value", "bucket"),
        [
            ("0", "<1k"),
            ("999.99", "<1k"),
            ("1000", "1k-5k"),
            ("4999.99", "1k-5k"),
            ("5000", "5k-20k"),
            ("19999.9999", "5k-20k"),
            ("20000", "20k-100k"),
            ("99999.99", "20k-100k"),
            ("100000", "100k+"),
            ("123456789012345", "100k+"),
        ],
    )
    def test_value_buckets(self, value: str, bucket: str) -> None:
        assert row_of(lead(static={"value": value}))["value"] == bucket

    def test_a_deals_value_follows_its_latest_amount_change_before_the_moment(self) -> None:
        changed = Item(ago(3), ago(3), "amount", "25000.00 EUR")
        later = Item(T, T, "amount", "150000.00 EUR")
        p = deal(changed, later, static={"value": "900.00", "currency": "EUR"})
        assert row_of(p)["value"] == "20k-100k"
        assert features(p, AT - timedelta(days=4))["value"] == "<1k"

    @pytest.mark.parametrize(
        ("raw", "value"),
        [
            ("Leipzig", "leipzig"), ("  Two Words  ", "two words"),
            ("A" * 50, "a" * 40), ("-3", "<0"), ("-0.5", "<0"), ("0", "0"), ("0.00", "0"),
            ("0.5", "1-9"), ("9", "1-9"), ("9.99", "1-9"), ("10", "10-99"), ("99", "10-99"),
            ("100", "100-999"), ("999.9", "100-999"), ("1000", "1k-9.9k"), ("9999", "1k-9.9k"),
            ("10000", "10k+"), ("04109", "1k-9.9k"), ("+12", "10-99"), ("1e5", "1e5"),
            ("12 employees", "12 employees"),
        ],
    )  # fmt: skip
    def test_attributes_are_cleaned_text_or_a_power_of_ten(self, raw: str, value: str) -> None:
        assert row_of(lead(static={"attr:city": raw}))["attr:city"] == value

    @pytest.mark.parametrize("raw", ["", "   "])
    def test_an_empty_attribute_is_left_out(self, raw: str) -> None:
        assert "attr:note" not in row_of(lead(static={"attr:note": raw}))


class TestStage:
    def test_a_lead_is_always_new(self) -> None:
        assert row_of(lead(visit(1)))["stage"] == "new"

    def test_a_deal_is_at_the_stage_it_entered_last_before_the_moment(self) -> None:
        p = deal(
            stage(5, "proposal"),
            stage(2, "negotiation"),
            stage(1, "proposal"),
            Item(T, T, "stage", "closing"),
        )
        assert row_of(p)["stage"] == "reached:proposal"
        assert features(p, AT - timedelta(days=3))["stage"] == "reached:proposal"
        assert features(p, AT - timedelta(days=1, seconds=1))["stage"] == "reached:negotiation"
        assert features(p, AT + timedelta(seconds=1))["stage"] == "reached:closing"

    def test_a_deal_without_a_stage_yet_has_none(self) -> None:
        assert "stage" not in row_of(Prospect("deal", "deal-D1"))


class TestTouches:
    @pytest.mark.parametrize(("n", "bucket"), [(0, "0"), (1, "1"), (2, "2"), (3, "3+"), (5, "3+")])
    def test_effective_visits_and_connected_calls_in_14_days(self, n: int, bucket: str) -> None:
        p = lead(*(visit(1 + i) for i in range(n)), *(call(2 + i) for i in range(n)))
        row = row_of(p)
        assert (row["visits_14d"], row["calls_14d"]) == (bucket, bucket)

    @pytest.mark.parametrize(("n", "bucket"), [(0, "0"), (1, "1"), (2, "2+"), (4, "2+")])
    def test_visits_without_progress(self, n: int, bucket: str) -> None:
        p = lead(*(visit(1 + i, effective=False) for i in range(n)), call(1, connected=False))
        row = row_of(p)
        assert (row["visits_plain_14d"], row["visits_14d"], row["calls_14d"]) == (bucket, "0", "0")

    def test_the_window_is_the_14_days_before_the_moment(self) -> None:
        edge = Item(T - 14 * DAY, T - 14 * DAY, "visit", "", 1, 0)
        older = Item(T - 14 * DAY - 1, T - 14 * DAY - 1, "visit", "", 1, 0)
        now = Item(T, T, "visit", "", 1, 0)
        assert row_of(lead(edge, older, now, created_days=30))["visits_14d"] == "1"

    def test_the_window_follows_the_rules(self) -> None:
        p = lead(visit(20), visit(1), created_days=30)
        assert row_of(p, rules=FeatureRules(visit_window_days=30))["visits_14d"] == "2"

    @pytest.mark.parametrize(
        ("days", "bucket"),
        [
            (0.01, "0-2"),
            (2.99, "0-2"),
            (3, "3-7"),
            (7.5, "3-7"),
            (8, "8-14"),
            (14.9, "8-14"),
            (15, "15-30"),
            (30, "15-30"),
            (31, "31-60"),
            (60.9, "31-60"),
            (61, "60+"),
            (400, "60+"),
        ],
    )
    def test_since_touch_buckets(self, days: float, bucket: str) -> None:
        row = row_of(lead(call(days, connected=False), eng(0.5), created_days=500))
        assert row["since_touch"] == bucket
        assert "touched" not in row

    def test_without_a_touch_it_counts_from_the_creation(self) -> None:
        row = row_of(lead(eng(1), created_days=20))
        assert (row["since_touch"], row["touched"]) == ("15-30", "never")

    def test_last_touch_is_the_last_visit_or_call_before_the_moment(self) -> None:
        p = lead(visit(3), call(2, connected=False), eng(1), Item(T, T, "call", "", 1, 0))
        assert last_touch(p, AT) == AT - timedelta(days=2)
        assert last_touch(lead(eng(1)), AT) is None


class TestEngagement:
    @pytest.mark.parametrize(
        ("count", "days", "bucket"),
        [
            (1, 35, "0"),  # 1/32
            (1, 28, "<1"),  # 1/16
            (1, 7, "<1"),  # 1/2
            (2, 7, "1-3"),  # exactly 1
            (5, 7, "1-3"),  # 2.5
            (6, 7, "3+"),  # exactly 3
        ],
    )
    def test_counts_decay_with_the_kinds_half_life(
        self, count: int, days: int, bucket: str
    ) -> None:
        assert row_of(lead(eng(days, count=count), created_days=60))["eng:email_opened"] == bucket

    def test_only_kinds_seen_are_features(self) -> None:
        row = row_of(lead(eng(3, "webinar"), eng(1, "page_viewed", 3)))
        assert {k: v for k, v in row.items() if k.startswith("eng:")} == {
            "eng:webinar": "<1",
            "eng:page_viewed": "1-3",
        }

    def test_half_lives_come_from_the_rules_with_defaults_for_the_others(self) -> None:
        p = lead(eng(14, count=2), eng(30, "form_submitted", count=2), created_days=60)
        row = row_of(p, rules=FeatureRules(half_lives={"email_opened": 14}))
        assert (row["eng:email_opened"], row["eng:form_submitted"]) == ("1-3", "1-3")
        assert row_of(p)["eng:email_opened"] == "<1"

    @pytest.mark.parametrize(
        ("seconds", "bucket"),
        [
            (0, "0"),
            (1, "0"),
            (2, "<1m"),
            (118, "<1m"),
            (120, "1-5m"),
            (598, "1-5m"),
            (600, "5-15m"),
            (1798, "5-15m"),
            (1800, "15m+"),
        ],
    )
    def test_seconds_decay_and_are_bucketed(self, seconds: int, bucket: str) -> None:
        row = row_of(lead(eng(7, seconds=seconds), created_days=60))  # halved: one half-life
        assert row["eng_seconds"] == bucket

    def test_seconds_add_up_over_kinds(self) -> None:
        p = lead(eng(7, seconds=100), eng(30, "webinar", seconds=40), created_days=60)
        assert row_of(p)["eng_seconds"] == "1-5m"  # 50 + 20


class TestSignalsAndConsent:
    def test_a_signal_seen_before_the_moment_is_yes(self) -> None:
        p = lead(
            signal(40, "asked_for_price"), Item(T, T, "signal", "requested_demo"), created_days=50
        )
        row = row_of(p)
        assert row["signal:asked_for_price"] == "yes"
        assert "signal:requested_demo" not in row

    def test_the_latest_consent_change_before_the_moment_counts(self) -> None:
        lifted_later = Item(T, T, "consent", "do_not_call", 0)
        p = lead(
            consent(5, "do_not_email", True),
            consent(2, "do_not_email", False),
            consent(3, "do_not_call", True),
            lifted_later,
        )
        row = row_of(p)
        assert "do_not_email" not in row
        assert row["do_not_call"] == "yes"
        assert features(p, AT - timedelta(days=4))["do_not_email"] == "yes"


class TestAge:
    @pytest.mark.parametrize(
        ("days", "bucket"),
        [
            (0, "0-7"),
            (7.9, "0-7"),
            (8, "8-30"),
            (30, "8-30"),
            (31, "31-90"),
            (90.5, "31-90"),
            (91, "90+"),
        ],
    )
    def test_age_buckets(self, days: float, bucket: str) -> None:
        assert row_of(lead(created_days=days))["age"] == bucket

    def test_a_placeholder_has_no_age_nor_since_touch(self) -> None:
        row = row_of(Prospect("lead", "lead-L1", items=(eng(1),)))
        assert "age" not in row
        assert "since_touch" not in row
        assert row["touched"] == "never"


class TestWhatFeaturesSee:
    def test_items_at_or_after_the_moment_are_ignored(self) -> None:
        before = [visit(1), call(2), eng(3, seconds=400), signal(1, "asked_for_price")]
        after = [
            Item(T, T, "visit", "", 1, 0),
            Item(T + 5, T + 5, "eng", "webinar", 9, 900),
            Item(T, T, "signal", "requested_demo"),
            Item(T, T, "consent", "do_not_call", 1),
        ]
        assert row_of(lead(*before, *after)) == row_of(lead(*before))

    def test_known_before_leaves_out_items_recorded_later(self) -> None:
        late = visit(2, recorded=T + DAY)  # occurred two days ago, logged tomorrow
        p = lead(visit(3), late)
        assert row_of(p)["visits_14d"] == "2"
        assert row_of(p, known_before=AT)["visits_14d"] == "1"
        assert row_of(p, known_before=AT + timedelta(days=2))["visits_14d"] == "2"

    def test_never_anything_at_or_after_a_known_outcome(self) -> None:
        p = lead(visit(5), visit(2), outcome=1, outcome_at=ago(3), outcome_recorded=ago(3))
        assert row_of(p)["visits_14d"] == "1"
        assert "outcome" not in row_of(p)

    def test_the_full_row_of_a_lead(self) -> None:
        p = lead(
            visit(1),
            visit(2, effective=False),
            call(3),
            signal(1, "asked_for_price"),
            eng(0.5, count=4, seconds=600),
            consent(4, "do_not_call", True),
            created_days=45,
            static={"channel": "referral", "attr:city": "Leipzig", "value": "18000"},
        )
        assert row_of(p) == {
            "channel": "referral",
            "value": "5k-20k",
            "attr:city": "leipzig",
            "stage": "new",
            "visits_14d": "1",
            "visits_plain_14d": "1",
            "calls_14d": "1",
            "eng:email_opened": "3+",
            "eng_seconds": "5-15m",
            "signal:asked_for_price": "yes",
            "do_not_call": "yes",
            "since_touch": "0-2",
            "age": "31-90",
        }


# --------------------------------------------------------------------------- sentences


def say(name: str, p: Prospect, **kwargs: Any) -> str:
    return sentence(name, row_of(p).get(name, ""), p, AT, **kwargs)


class TestSentences:
    def test_effective_visits(self) -> None:
        four = lead(visit(1), visit(2), visit(3), visit(4), visit(20), created_days=30)
        assert say("visits_14d", four) == "4 effective visits in the last 14 days"
        assert say("visits_14d", lead(visit(1))) == "1 effective visit in the last 14 days"
        assert say("visits_14d", lead()) == "no effective visit in the last 14 days"

    def test_other_touches(self) -> None:
        p = lead(visit(1, effective=False), visit(2, effective=False), call(1))
        assert say("visits_plain_14d", p) == "2 visits without progress in the last 14 days"
        assert say("calls_14d", p) == "1 connected call in the last 14 days"

    def test_a_signal_in_words(self) -> None:
        assert say("signal:asked_for_price", lead(signal(1, "asked_for_price"))) == (
            "asked for price"
        )

    def test_no_touch_for_the_exact_number_of_days(self) -> None:
        p = lead(visit(19.2), visit(40), created_days=60)
        assert row_of(p)["since_touch"] == "15-30"
        assert say("since_touch", p) == "no touch for 19 days"
        assert say("since_touch", lead(call(1.5))) == "no touch for 1 day"
        assert say("since_touch", lead(call(0.5))) == "touched today"
        assert say("touched", lead(created_days=12)) == "never visited or called in 12 days"

    def test_the_channel_with_how_often_it_closes(self) -> None:
        p = lead(static={"channel": "referral"})
        plain = "came through referral"
        assert say("channel", p) == plain
        assert say("channel", p, stats=(21.0, 30.0), base_rate=1 / 3) == (
            "came through referral: referrals close 2.1× as often here"
        )
        assert say("channel", p, stats=(6.0, 9.0), base_rate=1 / 3) == plain
        assert say("channel", p, stats=(21.0, 30.0)) == plain

    def test_other_features_say_how_often_such_prospects_close(self) -> None:
        p = deal(stage(2, "proposal"))
        assert say("stage", p, stats=(6.0, 12.0), base_rate=0.25) == (
            "at stage proposal: deals like this close 2.0× as often here"
        )

    def test_engagement(self) -> None:
        p = lead(eng(1, count=3), eng(10, count=1), eng(60, count=5), created_days=90)
        assert say("eng:email_opened", p) == (
            "opened e-mails recently (4 in the last weeks, weighted to recent)"
        )
        assert say("eng:webinar", lead(eng(200, "webinar"), created_days=300)) == (
            "no webinars attended recently"
        )
        assert say("eng_seconds", lead(eng(7, seconds=1440))) == (
            "12 minutes on e-mails, pages or chats recently (weighted to recent)"
        )
        assert say("eng_seconds", lead()) == "no time spent on e-mails, pages or chats recently"

    def test_the_profile(self) -> None:
        p = lead(
            static={
                "industry": "bakery",
                "company_size": "10-49",
                "attr:city": "Leipzig",
                "tier": "A",
            },
            created_days=45.5,
        )
        assert say("industry", p) == "industry: bakery"
        assert say("company_size", p) == "company size 10-49"
        assert say("attr:city", p) == "city: Leipzig"
        assert say("tier", p) == "account tier A"
        assert say("age", p) == "lead is 45 days old"
        assert say("stage", p) == "not qualified yet"
        d = deal(stage(2, "proposal"), static={"value": "12000.00"})
        assert say("value", d) == "deal of 5k-20k"
        assert say("stage", d) == "at stage proposal"
        assert say("value", lead(static={"value": "12000.00"})) == "lead worth 5k-20k"

    def test_consent(self) -> None:
        p = lead(consent(1, "do_not_call", True), consent(1, "do_not_email", True))
        assert say("do_not_call", p) == "asked not to be called"
        assert say("do_not_email", p) == "asked not to be e-mailed"


# --------------------------------------------------------------------------- example sets


def closed(
    kind: str = "lead",
    *,
    key: str = "lead-L1",
    created: int,
    outcome_at: int,
    outcome: int = 1,
    recorded: int | None = None,
    items: tuple[Item, ...] = (),
) -> Prospect:
    known = outcome_at if recorded is None else recorded
    return Prospect(
        kind,
        key,
        ANNA,
        NORTH,
        created,
        created,
        {"channel": "referral"},
        "",
        outcome,
        outcome_at,
        known,
        items,
    )


class TestTrainingExamples:
    def test_snapshots_at_each_age_while_open_and_just_before_the_outcome(self) -> None:
        c = T - 100 * DAY
        examples = training_examples([closed(created=c, outcome_at=c + 20 * DAY)], kind="lead")
        assert [int(e.at.timestamp()) - c for e in examples] == [
            1,
            3 * DAY,
            7 * DAY,
            14 * DAY,
            20 * DAY - 1,
        ]
        assert [e.row["age"] for e in examples] == ["0-7", "0-7", "0-7", "8-30", "8-30"]
        assert all(e.weight == 1 / 5 and e.label == 1 and e.key == "lead-L1" for e in examples)
        assert all(e.outcome_at == datetime.fromtimestamp(c + 20 * DAY, UTC) for e in examples)

    def test_no_snapshot_at_or_after_the_outcome(self) -> None:
        c = T - 100 * DAY
        examples = training_examples([closed(created=c, outcome_at=c + 14 * DAY)], kind="lead")
        assert [int(e.at.timestamp()) - c for e in examples] == [1, 3 * DAY, 7 * DAY, 14 * DAY - 1]
        quick = training_examples([closed(created=c, outcome_at=c + 1)], kind="lead")
        assert [int(e.at.timestamp()) - c for e in quick] == [0]
        assert training_examples([closed(created=c, outcome_at=c)], kind="lead") == []

    def test_weights_sum_to_one_per_prospect(self) -> None:
        c = T - 400 * DAY
        ps = [
            closed(key=f"lead-L{i}", created=c, outcome_at=c + d * DAY, outcome=i % 2)
            for i, d in enumerate((1, 5, 31, 200))
        ]
        sums: dict[str, float] = defaultdict(float)
        for e in training_examples(ps, kind="lead"):
            sums[e.key] += e.weight
            assert e.at < e.outcome_at
        assert sums.keys() == {p.key for p in ps}
        assert all(math.isclose(total, 1.0) for total in sums.values())

    def test_only_closed_prospects_of_the_kind(self) -> None:
        c = T - 100 * DAY
        ps = [
            closed(created=c, outcome_at=c + DAY),
            closed("deal", key="deal-D1", created=c, outcome_at=c + DAY),
            lead(),  # open
            Prospect("lead", "lead-L9", outcome=1, outcome_at=c),  # never created
        ]
        assert {e.key for e in training_examples(ps, kind="lead")} == {"lead-L1"}
        assert {e.key for e in training_examples(ps, kind="deal")} == {"deal-D1"}

    def test_known_before_keeps_outcomes_recorded_before_it_and_what_was_known(self) -> None:
        c = T - 100 * DAY
        late = Item(c + DAY, T + DAY, "visit", "", 1, 0)  # logged after the cutoff
        ps = [
            closed(created=c, outcome_at=c + 5 * DAY, items=(late,)),
            closed(key="lead-L2", created=c, outcome_at=c + 5 * DAY, recorded=T + 1),
        ]
        examples = training_examples(ps, kind="lead", known_before=AT)
        assert {e.key for e in examples} == {"lead-L1"}
        assert all(e.row["visits_14d"] == "0" for e in examples)
        everything = training_examples(ps, kind="lead")
        assert [e.row["visits_14d"] for e in everything if e.key == "lead-L1"][-1] == "1"


def fold(events: list[Event]) -> list[Prospect]:
    prospects: dict[str, Prospect] = {}
    for event in events:
        track(prospects, event, datetime.fromisoformat(event["occurred_at"]), tier_of=lambda a: "")
    return list(prospects.values())


class TestBacktestExamples:
    def test_prospects_created_on_or_after_the_cutoff_seen_at_the_horizon(self) -> None:
        cutoff = datetime(2026, 6, 1, tzinfo=UTC)
        log = Log()
        log.lead_created("L0", cutoff - timedelta(seconds=1))
        log.lead_qualified("L0", cutoff + timedelta(days=3))
        log.lead_created("L1", cutoff)
        log.visit("lead-L1", cutoff + timedelta(days=3), effective=True)
        log.visit("lead-L1", cutoff + timedelta(days=20), effective=True)
        log.add(
            "visit.logged",
            "lead-L1",
            cutoff + timedelta(days=21),
            {
                "mode": "onsite",
                "effective": False,
                "duration_minutes": 5,
                "buying_signals": ["asked_for_price"],
            },
        )
        log.lead_disqualified("L1", cutoff + timedelta(days=40))
        log.lead_created("L2", cutoff + timedelta(days=1))
        log.lead_qualified("L2", cutoff + timedelta(days=6))
        log.lead_created("L3", cutoff + timedelta(days=2))  # still open
        examples = backtest_examples(fold(log.events), kind="lead", cutoff=cutoff, horizon_days=14)
        by_key = {e.key: e for e in examples}
        assert by_key.keys() == {"lead-L1", "lead-L2"}
        l1, l2 = by_key["lead-L1"], by_key["lead-L2"]
        assert l1.at == cutoff + timedelta(days=14)
        assert l1.label == 0
        assert l1.weight == 1.0
        assert l1.row["visits_14d"] == "1"
        assert l1.row["since_touch"] == "8-14"
        assert "signal:asked_for_price" not in l1.row
        assert l2.at == cutoff + timedelta(days=6, seconds=-1)
        assert l2.label == 1

    def test_nothing_after_the_outcome_leaks_into_a_row(self) -> None:
        cutoff = datetime(2026, 6, 1, tzinfo=UTC)
        log = Log()
        log.lead_created("L1", cutoff + timedelta(days=1))
        log.deal_opened("D1", cutoff + timedelta(days=2), lead="L1")
        log.call("deal-D1", cutoff + timedelta(days=4), connected=True)
        log.deal_won("D1", cutoff + timedelta(days=10))
        log.engagement("deal-D1", cutoff + timedelta(days=10), "webinar", seconds=3600)
        log.engagement("deal-D1", cutoff + timedelta(days=11), "webinar", seconds=3600)
        log.stage_changed("D1", cutoff + timedelta(days=12), "onboarding")
        prospects = fold(log.events)
        (example,) = backtest_examples(prospects, kind="deal", cutoff=cutoff, horizon_days=365)
        assert example.at == cutoff + timedelta(days=10, seconds=-1)
        assert example.row["calls_14d"] == "1"
        assert example.row["stage"] == "reached:qualification"
        assert "eng:webinar" not in example.row
        assert example.row["eng_seconds"] == "0"
        (won,) = [p for p in prospects if p.key == "deal-D1"]
        later = features(won, cutoff + timedelta(days=30))
        assert "eng:webinar" not in later
        assert later["stage"] == "reached:qualification"
        assert all("eng:webinar" not in e.row for e in training_examples(prospects, kind="deal"))


class TestBaselines:
    def example(
        self, outcome_at: datetime, *, weight: float = 1.0, stage: str = "new", label: int = 1
    ) -> Example:
        return Example("lead-L1", {"stage": stage}, label, weight, outcome_at, outcome_at)

    def test_recency_weights_halve_at_one_half_life(self) -> None:
        examples = [
            self.example(AT, weight=0.5),
            self.example(AT - timedelta(days=180), weight=0.5),
            self.example(AT - timedelta(days=360)),
            self.example(AT + timedelta(days=5)),
            self.example(AT - timedelta(days=30)),
        ]
        weights = recency_weights(examples, now=AT)
        assert weights[:4] == [0.5, 0.25, 0.25, 1.0]
        assert math.isclose(recency_weights(examples, now=AT, half_life_days=30)[4], 0.5)

    def test_stage_counts_add_weighted_positives_and_counts(self) -> None:
        examples = [
            self.example(AT, weight=0.5, stage="reached:proposal"),
            self.example(AT, weight=0.25, stage="reached:proposal", label=0),
            self.example(AT, stage="reached:qualification", label=0),
            Example("deal-D9", {}, 1, 2.0, AT, AT),
        ]
        assert stage_counts(examples) == {
            "reached:proposal": (0.5, 0.75),
            "reached:qualification": (0.0, 1.0),
            "": (2.0, 2.0),
        }


class TestAFactorOfSomethingMissing:
    """A factor whose value is "" (the lead lacks it) says what its absence means."""

    def test_a_missing_buying_signal_or_tier_reads_as_missing(self) -> None:
        from services.scoring.priority.features import sentence
        from services.scoring.projections.leads import Prospect

        p = Prospect("lead", "lead-L1", created_at=1_780_000_000)
        at = datetime(2026, 6, 1, tzinfo=UTC)
        assert sentence("signal:requested_quote", "", p, at) == "has not requested quote yet"
        assert sentence("tier", "", p, at) == "no account tier"
        assert sentence("attr:city", "", p, at) == "city not known"
        assert sentence("do_not_call", "", p, at) == "may be called"
