"""When the consumer rescores an org and when it trains its models (scorer.Scorer's rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from services.scoring.config import ScoringSettings
from services.scoring.follow.scorer import Scorer, today, versions

SETTINGS = ScoringSettings(
    jwt_secret=SecretStr("x" * 40), train_after_outcomes=25, train_seconds=3600
)


def org(**overrides: Any) -> dict[str, Any]:
    row = {
        "timezone": "Europe/Berlin",
        "lead_model": 3,
        "deal_model": 1,
        "outcomes": 100,
        "trained_outcomes": 100,
        "scored_models": "3,1,EUR",
        "currency": "EUR",
        "scored_on": today(ZoneInfo("Europe/Berlin")),
        "position": 90,
        "scored_position": 90,
    }
    return {**row, **overrides}


class TestRescoring:
    def test_scores_of_today_with_the_active_models_stand(self) -> None:
        assert Scorer(SETTINGS).due(org()) is False

    def test_a_new_day_in_the_orgs_timezone_rescores(self) -> None:
        yesterday = today(ZoneInfo("Europe/Berlin")) - timedelta(days=1)
        assert Scorer(SETTINGS).due(org(scored_on=yesterday)) is True

    def test_a_new_active_model_rescores(self) -> None:
        assert versions(org(lead_model=4)) == "4,1"
        assert Scorer(SETTINGS).due(org(lead_model=4)) is True

    def test_money_in_another_currency_rescores(self) -> None:
        assert Scorer(SETTINGS).due(org(currency="USD")) is True
        assert Scorer(SETTINGS).due(org(currency=None)) is False  # the default: EUR

    def test_an_org_never_scored_is_scored(self) -> None:
        assert Scorer(SETTINGS).due(org(scored_on=None, scored_models=None)) is True

    def test_pages_folded_without_scoring_that_a_restart_forgot_rescore(self) -> None:
        assert Scorer(SETTINGS).due(org(scored_position=70)) is True


class TestTraining:
    def test_an_org_never_trained_trains_at_once(self) -> None:
        assert Scorer(SETTINGS).training_due(org(trained_outcomes=-1, outcomes=0), None)

    def test_enough_new_outcomes_retrain(self) -> None:
        scorer = Scorer(SETTINGS)
        assert not scorer.training_due(org(outcomes=124), datetime.now(UTC))
        assert scorer.training_due(org(outcomes=125), datetime.now(UTC))

    def test_a_few_new_outcomes_retrain_on_the_schedule_only(self) -> None:
        scorer = Scorer(SETTINGS)
        recent = datetime.now(UTC) - timedelta(minutes=30)
        old = datetime.now(UTC) - timedelta(hours=2)
        assert not scorer.training_due(org(outcomes=101), recent)
        assert scorer.training_due(org(outcomes=101), old)

    def test_no_new_outcome_never_retrains(self) -> None:
        old = datetime.now(UTC) - timedelta(days=30)
        assert not Scorer(SETTINGS).training_due(org(), old)
