"""Laws of lead priority and customer health over random logs (the strategies of
test_fold_laws): a score is a function of the log, the model and the day, whatever the page size
the log was folded in, whether the consumer crashed and restarted from its stored entities, or
whether the org was rebuilt from scratch; and the factors of every score add up exactly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st

from services.scoring.priority import features as feats
from services.scoring.priority.model import AdditiveModel
from services.scoring.priority.scores import (
    ActiveModel,
    PriorityRules,
    default_model,
    health_row,
    scores_for,
)
from services.scoring.projections import health
from services.scoring.projections.codec import decode
from services.scoring.projections.rollup import replay
from tests.unit.scoring.helpers import BERLIN
from tests.unit.scoring.test_fold_laws import ANY_LOG, LAW, consume, pages

DAY = date(2026, 9, 15)
RULES = PriorityRules()
FEATURES = feats.FeatureRules()

# A model that looks at many features, so a difference anywhere in a profile would show.
TABLES: dict[str, dict[str, float]] = {
    "channel": {"referral": 0.9, "online": -0.2, "exhibition": 0.1},
    "stage": {
        "new": 0.0,
        "reached:qualification": -0.3,
        "reached:proposal": 0.4,
        "reached:negotiation": 0.8,
    },
    "visits_14d": {"0": -0.2, "1": 0.1, "2": 0.3, "3+": 0.5},
    "calls_14d": {"0": -0.1, "1": 0.05, "2": 0.1, "3+": 0.2},
    "since_touch": {"0-2": 0.3, "3-7": 0.1, "8-14": 0.0, "15-30": -0.2, "31-60": -0.5, "60+": -0.9},
    "eng:email_clicked": {"<1": 0.1, "1-3": 0.3, "3+": 0.4},
    "eng_seconds": {"0": -0.1, "<1m": 0.0, "1-5m": 0.1, "5-15m": 0.2, "15m+": 0.3},
    "do_not_call": {"yes": -0.7},
    "value": {"<1k": -0.3, "1k-5k": 0.0, "5k-20k": 0.2, "20k-100k": 0.3, "100k+": 0.1},
    "age": {"0-7": 0.2, "8-30": 0.0, "31-90": -0.3, "90+": -0.6},
}
WIDE = AdditiveModel(
    kind="logistic",
    base_log_odds=-0.4,
    tables=TABLES,
    unseen=dict.fromkeys(TABLES, -0.05),
    stats={},
    base_rate=0.4,
)
MODELS = {"lead": ActiveModel("lead", 7, WIDE), "deal": ActiveModel("deal", 3, WIDE)}
PRIOR = {"lead": default_model("lead"), "deal": default_model("deal")}


def scored(prospects: dict[str, object]) -> list[tuple[str, ...]]:
    rows, others = scores_for(prospects, MODELS, DAY, BERLIN, rules=RULES, feature_rules=FEATURES)  # type: ignore[arg-type]
    return sorted((*r,) for r in rows) + sorted((k,) for k in others)


def judged(customers: dict[str, health.Customer]) -> list[tuple[object, ...]]:
    return sorted(
        tuple(health_row(c, DAY, "EUR", BERLIN, rules=health.HealthRules()))
        for c in customers.values()
    )


class TestScoresDoNotDependOnHowTheLogWasFolded:
    @LAW
    @given(data=st.data(), events=ANY_LOG)
    def test_pages_crashes_and_restarts_give_the_scores_of_one_replay(self, data, events):
        paged = data.draw(pages(events))
        crashes = data.draw(st.lists(st.booleans(), min_size=len(paged), max_size=len(paged)))
        _, _, store = consume(paged, crashes, load_all=False)
        whole = replay(events, BERLIN).book
        stored = {k: decode(kind, v) for (kind, k), v in store.items() if kind == "prospects"}
        customers = {k: decode(kind, v) for (kind, k), v in store.items() if kind == "customers"}
        assert scored(stored) == scored(whole.prospects)
        assert judged(customers) == judged(whole.customers)

    def test_an_account_linked_before_the_deal_opens_keeps_the_touches_of_earlier_pages(self):
        """Found by the law above: a `deal.account_linked` waits in its deal until
        `deal.opened`; when the opening comes pages later, the account it names must be read
        before it is written, or the customer's touches from the pages between are lost."""

        def event(position: int, type_: str, stream: str, data: dict[str, object]) -> dict:
            return {
                "event_id": f"00000000-0000-0000-0000-{position:012d}",
                "type": type_,
                "org_id": "org-1",
                "stream": stream,
                "stream_version": position,
                "position": position,
                "rep_id": "rep-anna",
                "team_id": "team-north",
                "occurred_at": "2026-07-01T02:00:00+02:00",
                "recorded_at": f"2026-01-01T00:00:0{position}+00:00",
                "schema_version": 1,
                "data": data,
                "metadata": {"source": "app"},
            }

        visit = {"mode": "onsite", "effective": False, "duration_minutes": 30}
        events = [
            event(1, "deal.account_linked", "deal-D0", {"account_id": "acc-2"}),
            event(2, "lead.created", "lead-L0", {"name": "Lead L0", "channel": "referral"}),
            event(3, "visit.logged", "lead-L0", {**visit, "account_id": "acc-2"}),
            event(
                4,
                "deal.opened",
                "deal-D0",
                {"amount": "0", "currency": "EUR", "product_line": "ovens"},
            ),
        ]
        _, _, store = consume([events[:3], events[3:]], [False, False], load_all=False)
        customers = {k: decode(kind, v) for (kind, k), v in store.items() if kind == "customers"}
        assert len(customers["acc-2"].touches) == 1
        assert judged(customers) == judged(replay(events, BERLIN).book.customers)

    @LAW
    @given(events=ANY_LOG)
    def test_the_same_log_model_and_day_give_the_same_scores(self, events):
        assert scored(replay(events, BERLIN).book.prospects) == scored(
            replay([dict(e) for e in events], BERLIN).book.prospects
        )


class TestFactorsAddUp:
    @LAW
    @given(events=ANY_LOG)
    def test_every_scores_factors_add_up_exactly_to_its_log_odds(self, events):
        prospects = replay(events, BERLIN).book.prospects
        rows = [
            row
            for models in (MODELS, PRIOR)
            for row in scores_for(
                prospects, models, DAY, BERLIN, rules=RULES, feature_rules=FEATURES
            )[0]
        ]
        for row in rows:
            doc = orjson.loads(row.doc)
            total = sum((Decimal(repr(f["contribution"])) for f in doc["factors"]), Decimal(0))
            assert Decimal(repr(doc["log_odds"])) - Decimal(repr(doc["base_log_odds"])) == total
            assert doc["score"] == round(doc["win_probability"] * 100)
            assert doc["tier"] == RULES.tier(doc["win_probability"])


class TestALeadOfTheFuture:
    def test_a_lead_created_after_the_day_is_not_scored_that_day(self) -> None:
        from tests.unit.scoring.helpers import Log

        log = Log()
        log.lead_created("L1", "2026-09-15T20:00:00+02:00")
        log.lead_created("L2", "2026-09-16T00:30:00+02:00")  # tomorrow in Berlin
        prospects = replay(log.events, BERLIN).book.prospects
        rows, others = scores_for(
            prospects, PRIOR, DAY, BERLIN, rules=RULES, feature_rules=FEATURES
        )
        assert [r.key for r in rows] == ["lead-L1"]
        assert others == ["lead-L2"]
