"""HubSpot: v3 signatures and the translation of every deal subscription type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from services.activity.connectors import hubspot
from services.activity.connectors.domain import (
    ConnectorConfig,
    DealFacts,
    Owner,
    derived_event_id,
    from_millis,
)

SECRET = "hubspot-client-secret-1234"
OLD = "hubspot-client-secret-0000"
URI = "https://sales.example.com/v1/webhooks/hubspot/acme?x=1"
BODY = b'[{"eventId":1,"portalId":62515}]'


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, ts: str) -> str:
    """As HubSpot documents it, independently of the code under test."""
    source = f"{method}{uri}{body.decode()}{ts}"
    digest = hmac.new(secret.encode(), source.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def headers(secret: str = SECRET, ts_ms: int | None = None, body: bytes = BODY) -> dict[str, str]:
    ts = str(ts_ms if ts_ms is not None else int(time.time() * 1000))
    return {
        "x-hubspot-signature-v3": hubspot_signature(secret, "POST", URI, body, ts),
        "x-hubspot-request-timestamp": ts,
    }


class TestVerification:
    def test_a_good_signature_passes(self) -> None:
        hubspot.verify([SECRET], "POST", URI, BODY, headers())

    def test_a_signature_by_another_secret_fails(self) -> None:
        with pytest.raises(hubspot.SignatureError, match="does not match"):
            hubspot.verify([SECRET], "POST", URI, BODY, headers("someone-else-secret"))

    def test_a_changed_body_fails(self) -> None:
        with pytest.raises(hubspot.SignatureError):
            hubspot.verify([SECRET], "POST", URI, BODY + b" ", headers())

    def test_a_stale_timestamp_fails_even_well_signed(self) -> None:
        stale = int((time.time() - 301) * 1000)
        with pytest.raises(hubspot.SignatureError, match="five minutes"):
            hubspot.verify([SECRET], "POST", URI, BODY, headers(ts_ms=stale))

    def test_missing_headers_fail(self) -> None:
        with pytest.raises(hubspot.SignatureError, match="Missing"):
            hubspot.verify([SECRET], "POST", URI, BODY, {})

    def test_the_previous_secret_still_verifies_during_a_rotation(self) -> None:
        hubspot.verify([SECRET, OLD], "POST", URI, BODY, headers(OLD))

    def test_a_dropped_previous_secret_no_longer_verifies(self) -> None:
        with pytest.raises(hubspot.SignatureError):
            hubspot.verify([SECRET], "POST", URI, BODY, headers(OLD))


CONFIG = ConnectorConfig(
    org_id="acme",
    provider="hubspot",
    stages={
        "appointmentscheduled": "qualification",
        "presentationscheduled": "proposal",
        "closedwon": "won",
        "closedlost": "lost",
    },
    owners={"12345": Owner("rep-anna", "team-north")},
    default_currency="EUR",
)
T0 = 1764584400000  # 2025-12-01T10:20:00Z


def ev(event_id: int, kind: str, object_id: int = 9001, **extra: object) -> dict[str, object]:
    """A HubSpot webhook event, shaped as HubSpot publishes them."""
    return {
        "eventId": event_id,
        "subscriptionId": 2171,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": T0 + event_id * 1000,
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
        **extra,
    }


def change(event_id: int, prop: str, value: str, object_id: int = 9001) -> dict[str, object]:
    return ev(event_id, "deal.propertyChange", object_id, propertyName=prop, propertyValue=value)


OWNED = {"9001": DealFacts(owner_id="12345")}


class TestTranslation:
    def test_a_creation_opens_the_deal_with_zero_amount_and_the_default_currency(self) -> None:
        out = hubspot.translate(CONFIG, [ev(1, "deal.creation", changeFlag="NEW")], OWNED)
        [event] = out.events
        assert event["type"] == "deal.opened"
        assert event["stream"] == "deal-hubspot-9001"
        assert (event["rep_id"], event["team_id"]) == ("rep-anna", "team-north")
        assert event["data"] == {
            "amount": "0.00",
            "currency": "EUR",
            "product_line": "crm",
            "account_id": "hubspot-deal-9001",
        }
        assert event["metadata"]["source"] == "crm:hubspot"
        assert event["event_id"] == str(derived_event_id("hubspot:62515:1"))
        assert event["occurred_at"] == "2025-12-01T10:20:01+00:00"

    def test_the_owner_in_the_same_delivery_counts_even_after_the_creation(self) -> None:
        out = hubspot.translate(
            CONFIG, [ev(1, "deal.creation"), change(2, "hubspot_owner_id", "12345")], {}
        )
        assert [e["type"] for e in out.events] == ["deal.opened"]
        assert out.ignored == 1
        assert out.deals["9001"].owner_id == "12345"

    def test_a_mapped_stage_change_becomes_stage_changed(self) -> None:
        out = hubspot.translate(CONFIG, [change(3, "dealstage", "presentationscheduled")], OWNED)
        assert out.events[0]["type"] == "deal.stage_changed"
        assert out.events[0]["data"] == {"to_stage": "proposal"}

    def test_closed_won_becomes_won_with_the_amount_known(self) -> None:
        out = hubspot.translate(
            CONFIG, [change(4, "amount", "1500.5"), change(5, "dealstage", "closedwon")], OWNED
        )
        assert [e["type"] for e in out.events] == ["deal.amount_changed", "deal.won"]
        assert out.events[0]["data"] == {"amount": "1500.50", "currency": "EUR"}
        assert out.events[1]["data"] == {"amount": "1500.50", "currency": "EUR"}
        assert out.deals["9001"] == DealFacts(
            "12345",
            "1500.50",
            stage="closedwon",
            amount_at=from_millis(T0 + 4 * 1000),
            stage_at=from_millis(T0 + 5 * 1000),
        )

    def test_an_older_amount_change_is_an_event_but_not_the_amount_a_won_carries(self) -> None:
        """Delivered in reverse: the change at second 3 comes after the one at second 4."""
        known = {"9001": DealFacts("12345", "2000.00", amount_at=from_millis(T0 + 4 * 1000))}
        out = hubspot.translate(
            CONFIG, [change(3, "amount", "1000"), change(5, "dealstage", "closedwon")], known
        )
        assert [(e["type"], e["data"]["amount"]) for e in out.events] == [
            ("deal.amount_changed", "1000.00"),
            ("deal.won", "2000.00"),
        ]
        assert out.deals["9001"].amount == "2000.00"
        assert out.deals["9001"].amount_at == from_millis(T0 + 4 * 1000)

    def test_in_one_delivery_too_the_newer_amount_stays(self) -> None:
        out = hubspot.translate(
            CONFIG,
            [
                change(4, "amount", "2000"),
                change(3, "amount", "1000"),
                change(5, "dealstage", "closedwon"),
            ],
            OWNED,
        )
        assert out.events[-1]["data"]["amount"] == "2000.00"

    def test_a_value_kept_without_a_time_is_replaced_by_the_next_change(self) -> None:
        known = {"9001": DealFacts("12345", "2000.00")}  # kept before times were
        out = hubspot.translate(CONFIG, [change(3, "amount", "1000")], known)
        assert (out.deals["9001"].amount, out.deals["9001"].amount_at) == (
            "1000.00",
            from_millis(T0 + 3 * 1000),
        )

    def test_closed_lost_becomes_lost(self) -> None:
        out = hubspot.translate(CONFIG, [change(6, "dealstage", "closedlost")], OWNED)
        assert out.events[0]["type"] == "deal.lost"
        assert out.events[0]["data"] == {"reason": "other"}

    def test_a_deletion_closes_the_deal_as_lost(self) -> None:
        out = hubspot.translate(CONFIG, [ev(7, "deal.deletion", changeFlag="DELETED")], OWNED)
        assert out.events[0]["type"] == "deal.lost"
        assert out.events[0]["data"]["note"] == "deleted in HubSpot"

    def test_other_properties_and_objects_are_ignored(self) -> None:
        out = hubspot.translate(
            CONFIG, [change(8, "dealname", "Ovens"), ev(9, "contact.creation")], OWNED
        )
        assert out.events == []
        assert out.dead_letters == []
        assert out.ignored == 2


class TestDeadLetters:
    def test_an_unmapped_stage_is_a_dead_letter_and_the_rest_still_translates(self) -> None:
        out = hubspot.translate(
            CONFIG, [change(10, "dealstage", "contractsent"), change(11, "amount", "10")], OWNED
        )
        [dead] = out.dead_letters
        assert (dead.reason, dead.event_key) == ("stage_unmapped", "hubspot:62515:10")
        assert dead.payload["propertyValue"] == "contractsent"
        assert [e["type"] for e in out.events] == ["deal.amount_changed"]

    def test_an_unmapped_owner_is_a_dead_letter(self) -> None:
        known = {"9001": DealFacts(owner_id="999")}
        out = hubspot.translate(CONFIG, [ev(12, "deal.creation")], known)
        assert out.dead_letters[0].reason == "owner_unmapped"

    def test_an_unknown_owner_is_a_dead_letter_unless_a_fallback_is_mapped(self) -> None:
        out = hubspot.translate(CONFIG, [ev(13, "deal.creation")], {})
        assert out.dead_letters[0].reason == "owner_unknown"
        fallback = ConnectorConfig(
            org_id="acme", provider="hubspot", owners={"*": Owner("rep-inbox")}
        )
        assert hubspot.translate(fallback, [ev(13, "deal.creation")], {}).events[0]["rep_id"] == (
            "rep-inbox"
        )

    def test_won_without_any_amount_is_a_dead_letter(self) -> None:
        out = hubspot.translate(CONFIG, [change(14, "dealstage", "closedwon")], OWNED)
        assert out.dead_letters[0].reason == "amount_unknown"

    def test_a_malformed_event_is_a_dead_letter(self) -> None:
        out = hubspot.translate(CONFIG, [{"eventId": "x", "portalId": 62515}], OWNED)
        assert out.dead_letters[0].reason == "invalid"
