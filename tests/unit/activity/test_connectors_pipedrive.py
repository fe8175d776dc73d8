"""Pipedrive: HTTP Basic credentials and the translation of webhooks v2 deal deliveries."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from services.activity.connectors import pipedrive
from services.activity.connectors.domain import ConnectorConfig, DealFacts, Owner, derived_event_id

SECRET = "pipedrive-hook:s3cret-passw0rd"
OLD = "pipedrive-hook:old-passw0rd-xyz"
CONFIG = ConnectorConfig(
    org_id="acme",
    provider="pipedrive",
    stages={"1": "qualification", "2": "proposal", "3": "negotiation", "9": "won"},
    owners={"15": Owner("rep-anna", "team-north")},
    default_currency="EUR",
    default_product_line="ovens",
)
DELIVERY_ID = "8c6e2a4e-6b1f-4c55-9f4e-2d2f1d7c9a10"


def basic(credentials: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def deal(**changes: Any) -> dict[str, Any]:
    """A deal as Pipedrive's v2 webhooks send it (most of the fields we do not use kept in)."""
    return {
        "id": 123,
        "title": "Ovens for Kiel",
        "creator_user_id": 15,
        "owner_id": 15,
        "person_id": 501,
        "org_id": 88,
        "stage_id": 1,
        "pipeline_id": 1,
        "value": 24000,
        "currency": "EUR",
        "add_time": "2026-12-01T09:00:00Z",
        "update_time": "2026-12-04T10:00:00Z",
        "stage_change_time": None,
        "is_deleted": False,
        "status": "open",
        "probability": None,
        "lost_reason": None,
        "visible_to": 3,
        "close_time": None,
        "won_time": None,
        "lost_time": None,
        "local_won_date": None,
        "local_lost_date": None,
        "local_close_date": None,
        "expected_close_date": "2026-12-20",
        "label_ids": [],
        "origin": "ManuallyCreated",
        "origin_id": None,
        "channel": None,
        "channel_id": None,
        "acv": None,
        "arr": None,
        "mrr": None,
        "custom_fields": {},
        **changes,
    }


def delivery(
    action: str,
    data: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    delivery_id: str = DELIVERY_ID,
) -> dict[str, Any]:
    entity_id = str((data or previous or {}).get("id", 123))
    return {
        "data": data,
        "previous": previous,
        "meta": {
            "action": action,
            "camera": None,
            "company_id": "7741",
            "correlation_id": "c-1",
            "entity_id": entity_id,
            "entity": "deal",
            "id": delivery_id,
            "is_bulk_edit": False,
            "timestamp": "2026-12-04T10:00:00.000Z",
            "type": "general",
            "user_id": "15",
            "version": "2.0",
            "webhook_id": "4411",
            "webhook_owner_id": "15",
            "attempt": 1,
            "host": "acme.pipedrive.com",
            "change_source": "app",
            "permitted_user_ids": ["15"],
        },
    }


def types(delivery_: dict[str, Any], config: ConnectorConfig = CONFIG) -> list[str]:
    return [e["type"] for e in pipedrive.translate(config, delivery_).events]


class TestVerification:
    def test_the_configured_user_and_password_pass(self) -> None:
        pipedrive.verify([SECRET], basic(SECRET))

    def test_the_previous_credentials_pass_during_a_rotation(self) -> None:
        pipedrive.verify([SECRET, OLD], basic(OLD))

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"authorization": "Bearer abc"},
            {"authorization": "Basic"},
            {"authorization": "Basic not base64!"},
            basic("pipedrive-hook:wrong"),
            basic(SECRET + "x"),
        ],
    )
    def test_missing_or_wrong_credentials_fail(self, headers: dict[str, str]) -> None:
        with pytest.raises(pipedrive.SignatureError):
            pipedrive.verify([SECRET], headers)

    def test_a_dropped_previous_secret_no_longer_verifies(self) -> None:
        with pytest.raises(pipedrive.SignatureError):
            pipedrive.verify([SECRET], basic(OLD))


class TestTranslation:
    def test_a_created_deal_is_opened_with_its_value_owner_and_mapped_stage(self) -> None:
        out = pipedrive.translate(CONFIG, delivery("create", deal(), None))
        [event] = out.events
        assert event["type"] == "deal.opened"
        assert event["data"] == {
            "amount": "24000.00",
            "currency": "EUR",
            "product_line": "ovens",
            "account_id": "pipedrive-org-88",
            "stage": "qualification",
        }
        assert (event["rep_id"], event["team_id"]) == ("rep-anna", "team-north")
        assert event["stream"] == "deal-pipedrive-123"
        assert event["occurred_at"] == "2026-12-01T09:00:00+00:00"  # add_time
        assert event["metadata"]["source"] == "crm:pipedrive"
        assert event["event_id"] == str(derived_event_id(f"pipedrive:7741:{DELIVERY_ID}:0"))

    def test_a_created_deal_without_value_currency_or_organisation_takes_the_defaults(
        self,
    ) -> None:
        created = delivery("create", deal(value=None, currency=None, org_id=None), None)
        [event] = pipedrive.translate(CONFIG, created).events
        assert event["data"]["amount"] == "0.00"
        assert event["data"]["currency"] == "EUR"
        assert event["data"]["account_id"] == "pipedrive-deal-123"

    def test_a_deal_created_won_is_opened_then_won(self) -> None:
        created = delivery("create", deal(status="won", won_time="2026-12-04T09:59:00Z"), None)
        out = pipedrive.translate(CONFIG, created)
        assert [e["type"] for e in out.events] == ["deal.opened", "deal.won"]
        assert out.events[1]["event_id"] == str(derived_event_id(f"pipedrive:7741:{DELIVERY_ID}:1"))

    def test_a_stage_change_is_mapped_with_where_it_came_from(self) -> None:
        moved = delivery("change", deal(stage_id=3), {"stage_id": 2})
        [event] = pipedrive.translate(CONFIG, moved).events
        assert event["type"] == "deal.stage_changed"
        assert event["data"] == {"to_stage": "negotiation", "from_stage": "proposal"}
        assert event["occurred_at"] == "2026-12-04T10:00:00+00:00"

    def test_a_value_or_currency_change_is_an_amount_change(self) -> None:
        repriced = delivery("change", deal(value=21500.5), {"value": 24000})
        [event] = pipedrive.translate(CONFIG, repriced).events
        assert (event["type"], event["data"]) == (
            "deal.amount_changed",
            {"amount": "21500.50", "currency": "EUR"},
        )
        recurrenced = delivery("change", deal(currency="USD"), {"currency": "EUR"})
        assert pipedrive.translate(CONFIG, recurrenced).events[0]["data"]["currency"] == "USD"

    def test_won_carries_the_value_and_currency(self) -> None:
        won = delivery(
            "change",
            deal(status="won", won_time="2026-12-04T09:58:00Z"),
            {"status": "open", "won_time": None},
        )
        [event] = pipedrive.translate(CONFIG, won).events
        assert event["type"] == "deal.won"
        assert event["data"] == {"amount": "24000.00", "currency": "EUR"}
        assert event["occurred_at"] == "2026-12-04T09:58:00+00:00"

    @pytest.mark.parametrize(
        ("lost_reason", "data"),
        [
            ("Price", {"reason": "price"}),
            ("no budget", {"reason": "no_budget"}),
            ("Went with OvenCo", {"reason": "other", "note": "Went with OvenCo"}),
            (None, {"reason": "other"}),
        ],
    )
    def test_lost_maps_the_reason_or_says_other(
        self, lost_reason: str | None, data: dict[str, str]
    ) -> None:
        lost = delivery(
            "change",
            deal(status="lost", lost_reason=lost_reason),
            {"status": "open", "lost_reason": None},
        )
        [event] = pipedrive.translate(CONFIG, lost).events
        assert (event["type"], event["data"]) == ("deal.lost", data)

    def test_several_changes_in_one_delivery_become_events_in_a_fixed_order(self) -> None:
        both = delivery(
            "change",
            deal(stage_id=2, value=30000, status="won"),
            {"status": "open", "value": 24000, "stage_id": 1},
        )
        out = pipedrive.translate(CONFIG, both)
        assert [e["type"] for e in out.events] == [
            "deal.stage_changed",
            "deal.amount_changed",
            "deal.won",
        ]
        assert [out.keys[e["event_id"]] for e in out.events] == [
            f"pipedrive:7741:{DELIVERY_ID}:{n}" for n in range(3)
        ]

    def test_a_stage_mapped_to_won_closes_the_deal_once(self) -> None:
        both = delivery("change", deal(stage_id=9, status="won"), {"stage_id": 3, "status": "open"})
        out = pipedrive.translate(CONFIG, both)
        assert [e["type"] for e in out.events] == ["deal.won"]
        assert out.ignored == 1

    def test_a_deleted_deal_is_lost_from_what_previous_holds(self) -> None:
        deleted = delivery("delete", None, deal())
        [event] = pipedrive.translate(CONFIG, deleted).events
        assert event["type"] == "deal.lost"
        assert event["data"] == {"reason": "other", "note": "deleted in Pipedrive"}
        assert event["rep_id"] == "rep-anna"

    def test_changes_of_no_interest_and_other_entities_are_ignored(self) -> None:
        renamed = delivery("change", deal(title="Ovens"), {"title": "Ovens for Kiel"})
        assert pipedrive.translate(CONFIG, renamed).events == []
        assert pipedrive.translate(CONFIG, renamed).ignored == 1
        person = delivery("create", {"id": 501, "name": "Ada"}, None)
        person["meta"]["entity"] = "person"
        assert pipedrive.translate(CONFIG, person).ignored == 1
        reopened = delivery("change", deal(status="open"), {"status": "lost"})
        assert types(reopened) == []

    def test_the_same_delivery_gives_the_same_ids_and_another_delivery_other_ids(self) -> None:
        moved = delivery("change", deal(stage_id=3), {"stage_id": 2})
        first = pipedrive.translate(CONFIG, moved).events
        assert pipedrive.translate(CONFIG, copy.deepcopy(moved)).events == first
        other = delivery("change", deal(stage_id=3), {"stage_id": 2}, delivery_id="other")
        assert pipedrive.translate(CONFIG, other).events[0]["event_id"] != first[0]["event_id"]

    def test_extra_fields_anywhere_are_tolerated(self) -> None:
        moved = delivery("change", deal(stage_id=3, brand_new_field={"x": 1}), {"stage_id": 2})
        moved["meta"]["new_meta_field"] = True
        moved["something_else"] = []
        assert types(moved) == ["deal.stage_changed"]


class TestWhatIsRemembered:
    def test_the_deal_s_owner_value_and_stage_are_remembered_as_of_its_update_time(self) -> None:
        out = pipedrive.translate(CONFIG, delivery("change", deal(value=30000), {"value": 24000}))
        at = datetime(2026, 12, 4, 10, tzinfo=UTC)
        assert out.deals == {"123": DealFacts("15", "30000.00", "1", amount_at=at, stage_at=at)}

    def test_without_update_time_the_delivery_s_timestamp_dates_them(self) -> None:
        out = pipedrive.translate(CONFIG, delivery("create", deal(update_time=None), None))
        assert out.deals["123"].stage_at == datetime(2026, 12, 4, 10, tzinfo=UTC)

    def test_a_deletion_and_an_unmapped_owner_remember_what_they_can(self) -> None:
        gone = pipedrive.translate(CONFIG, delivery("delete", None, deal()))
        assert gone.deals == {}
        unmapped = pipedrive.translate(CONFIG, delivery("create", deal(owner_id=77), None))
        assert unmapped.dead_letters
        assert unmapped.deals["123"].owner_id == "77"


class TestDeadLetters:
    def test_an_unmapped_stage_is_a_dead_letter_and_the_rest_of_the_delivery_maps(self) -> None:
        both = delivery("change", deal(stage_id=7, value=30000), {"stage_id": 3, "value": 1})
        out = pipedrive.translate(CONFIG, both)
        assert [e["type"] for e in out.events] == ["deal.amount_changed"]
        [letter] = out.dead_letters
        assert (letter.event_key, letter.reason) == (
            f"pipedrive:7741:{DELIVERY_ID}:0",
            "stage_unmapped",
        )
        assert letter.payload == both

    def test_an_unmapped_owner_makes_every_event_of_the_delivery_a_dead_letter(self) -> None:
        out = pipedrive.translate(CONFIG, delivery("create", deal(owner_id=99, status="won"), None))
        assert out.events == []
        assert [d.reason for d in out.dead_letters] == ["owner_unmapped", "owner_unmapped"]

    def test_a_catch_all_owner_maps_the_rest(self) -> None:
        config = ConnectorConfig(**{**_fields(CONFIG), "owners": {"*": Owner("rep-bo")}})
        assert types(delivery("create", deal(owner_id=99), None), config) == ["deal.opened"]

    def test_replayed_with_a_fixed_mapping_the_ids_are_those_it_would_have_had(self) -> None:
        both = delivery("change", deal(stage_id=7, value=30000), {"stage_id": 3, "value": 1})
        config = ConnectorConfig(**{**_fields(CONFIG), "stages": {**CONFIG.stages, "7": "demo"}})
        out = pipedrive.translate(config, both)
        assert [out.keys[e["event_id"]] for e in out.events] == [
            f"pipedrive:7741:{DELIVERY_ID}:0",
            f"pipedrive:7741:{DELIVERY_ID}:1",
        ]

    def test_a_value_that_is_not_an_amount_is_a_dead_letter(self) -> None:
        out = pipedrive.translate(CONFIG, delivery("change", deal(value="lots"), {"value": 1}))
        assert [d.reason for d in out.dead_letters] == ["invalid"]

    def test_a_delivery_without_its_ids_is_malformed(self) -> None:
        broken = delivery("create", deal(), None)
        del broken["meta"]["id"]
        with pytest.raises(pipedrive.MalformedDelivery):
            pipedrive.translate(CONFIG, broken)
        with pytest.raises(pipedrive.MalformedDelivery):
            pipedrive.translate(CONFIG, {"data": deal()})


def _fields(config: ConnectorConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__slots__}
