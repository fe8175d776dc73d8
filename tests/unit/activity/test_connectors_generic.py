"""Standard Webhooks: verification with the `standardwebhooks` library, and translation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from services.activity.connectors import generic
from services.activity.connectors.domain import ConnectorConfig, Owner, derived_event_id

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = b'{"type":"visit.logged"}'


def signed(
    secret: str, body: bytes = BODY, *, at: datetime | None = None, msg_id: str = "msg_1"
) -> dict[str, str]:
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


class TestVerification:
    def test_a_good_signature_gives_the_webhook_id(self) -> None:
        assert generic.verify([SECRET], BODY, signed(SECRET)) == "msg_1"

    def test_a_bad_signature_fails(self) -> None:
        with pytest.raises(generic.SignatureError):
            generic.verify([SECRET], BODY, signed(OLD))

    def test_a_stale_timestamp_fails(self) -> None:
        stale = datetime.now(UTC) - timedelta(minutes=10)
        with pytest.raises(generic.SignatureError, match=r"too old|timestamp"):
            generic.verify([SECRET], BODY, signed(SECRET, at=stale))

    def test_the_previous_secret_still_verifies(self) -> None:
        assert generic.verify([SECRET, OLD], BODY, signed(OLD)) == "msg_1"

    def test_missing_headers_fail(self) -> None:
        with pytest.raises(generic.SignatureError):
            generic.verify([SECRET], BODY, {})


CONFIG = ConnectorConfig(
    org_id="acme",
    provider="generic",
    stages={"demo": "proposal", "signed": "won"},
    owners={"u-7": Owner("rep-anna", "team-north")},
)
VISIT = {
    "type": "visit.logged",
    "stream": "lead-L-1",
    "occurred_at": "2026-11-20T10:30:00+01:00",
    "rep_id": "rep-bo",
    "data": {"mode": "onsite", "effective": True, "duration_minutes": 45},
}


class TestTranslation:
    def test_events_get_ids_from_the_webhook_id_and_index_and_the_crm_source(self) -> None:
        out = generic.translate(CONFIG, "msg_1", [VISIT, VISIT])
        ids = [e["event_id"] for e in out.events]
        assert ids == [str(derived_event_id(f"generic:acme:msg_1:{i}")) for i in (0, 1)]
        assert all(e["metadata"] == {"source": "crm:generic"} for e in out.events)
        assert out.events[0]["rep_id"] == "rep-bo"

    def test_an_owner_is_mapped_to_rep_and_team(self) -> None:
        item = {**VISIT, "owner": "u-7"}
        del item["rep_id"]
        [event] = generic.translate(CONFIG, "m", [item]).events
        assert (event["rep_id"], event["team_id"]) == ("rep-anna", "team-north")

    def test_an_unmapped_owner_is_a_dead_letter(self) -> None:
        out = generic.translate(CONFIG, "m", [{**VISIT, "owner": "u-8"}, VISIT])
        assert [d.reason for d in out.dead_letters] == ["owner_unmapped"]
        assert out.dead_letters[0].event_key == "generic:m:0"
        assert len(out.events) == 1

    def test_stages_are_mapped(self) -> None:
        item = {
            "type": "deal.stage_changed",
            "stream": "deal-D-1",
            "occurred_at": "2026-11-20T10:30:00Z",
            "data": {"to_stage": "demo"},
        }
        [event] = generic.translate(CONFIG, "m", [item]).events
        assert event["data"] == {"to_stage": "proposal"}

    def test_a_stage_that_closes_the_deal_is_a_dead_letter(self) -> None:
        item = {
            "type": "deal.stage_changed",
            "stream": "deal-D-1",
            "occurred_at": "2026-11-20T10:30:00Z",
            "data": {"to_stage": "signed"},
        }
        assert generic.translate(CONFIG, "m", [item]).dead_letters[0].reason == "stage_unmapped"
