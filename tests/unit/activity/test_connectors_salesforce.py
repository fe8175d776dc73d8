"""Salesforce: outbound messages parsed safely, checked by token and org id, and translated by
comparing each Opportunity with what was known of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.activity.connectors import salesforce
from services.activity.connectors.domain import (
    ConnectorConfig,
    DealFacts,
    Owner,
    Translation,
    derived_event_id,
)

ORG_ID = "00D5g000004ABCdEAO"
TOKEN = "Vq3n1cJ0pZl2m8Yt4Rk6Xw9Hb7Ds5Fa0"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CONFIG = ConnectorConfig(
    org_id="acme",
    provider="salesforce",
    stages={
        "Prospecting": "qualification",
        "Proposal/Price Quote": "proposal",
        "Negotiation/Review": "negotiation",
    },
    owners={"0055g00000AbCdEAAV": Owner("rep-anna", "team-north")},
    default_currency="EUR",
    default_product_line="ovens",
    salesforce_org_id=ORG_ID,
)


def opportunity(**fields: str | None) -> str:
    values = {
        "Id": "0065g00000XyZabAAB",
        "AccountId": "0015g00000QwErTAAB",
        "Amount": "24000.0",
        "CloseDate": "2026-12-20",
        "CurrencyIsoCode": "EUR",
        "IsClosed": "false",
        "IsWon": "false",
        "Name": "Ovens for Kiel",
        "OwnerId": "0055g00000AbCdEAAV",
        "StageName": "Prospecting",
        "SystemModstamp": "2026-12-04T10:00:00.000Z",
        **fields,
    }
    return "".join(
        f'<sf:{k} xsi:nil="true"/>' if v is None else f"<sf:{k}>{v}</sf:{k}>"
        for k, v in values.items()
    )


def notification(
    notification_id: str = "04l5g00000AbCdEAAV", kind: str = "Opportunity", **fields: str | None
) -> str:
    return (
        f"<Notification><Id>{notification_id}</Id>"
        f'<sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"{opportunity(**fields)}</sObject></Notification>"
    )


def envelope(*notifications: str, org_id: str = ORG_ID) -> bytes:
    """As Salesforce sends it (one line here; Salesforce indents)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId>"
        "<ActionId>04k5g000000AbCdAAK</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/60.0/00D5g000004ABCd"
        "</EnterpriseUrl>"
        "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/60.0/00D5g000004ABCd"
        "</PartnerUrl>"
        f"{''.join(notifications)}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


SEEN = DealFacts(
    owner_id="0055g00000AbCdEAAV",
    amount="24000.00",
    stage="Prospecting",
    modified_at="2026-12-04T10:00:00+00:00",
)
OPP = "0065g00000XyZabAAB"


def translate(*notifications: str, known: DealFacts | None = None) -> Translation:
    message = salesforce.parse(envelope(*notifications))
    return salesforce.translate(CONFIG, message, {OPP: known} if known else {}, NOW)


class TestVerification:
    def test_the_token_and_the_previous_one_pass(self) -> None:
        salesforce.verify_token([TOKEN], TOKEN)
        salesforce.verify_token(
            [TOKEN, "old-token-old-token-old-token"], "old-token-old-token-old-token"
        )

    @pytest.mark.parametrize("token", ["", TOKEN[:-1], TOKEN + "x", TOKEN.lower()])
    def test_another_token_fails(self, token: str) -> None:
        with pytest.raises(salesforce.SignatureError):
            salesforce.verify_token([TOKEN], token)

    def test_the_org_id_matches_in_its_15_and_18_character_forms(self) -> None:
        salesforce.verify_org(ORG_ID, ORG_ID)
        salesforce.verify_org(ORG_ID[:15], ORG_ID)
        salesforce.verify_org(ORG_ID, ORG_ID[:15])

    @pytest.mark.parametrize("expected", [None, "00D5g000004ZZZZEAO"])
    def test_another_org_fails(self, expected: str | None) -> None:
        with pytest.raises(salesforce.SignatureError, match="another Salesforce organization"):
            salesforce.verify_org(expected, ORG_ID)


class TestParsing:
    def test_the_message_its_notifications_and_their_fields_are_read(self) -> None:
        message = salesforce.parse(envelope(notification(), notification("04l2", Amount=None)))
        assert message.organization_id == ORG_ID
        assert message.action_id == "04k5g000000AbCdAAK"
        assert [n.id for n in message.notifications] == ["04l5g00000AbCdEAAV", "04l2"]
        first, second = message.notifications
        assert first.sobject_type == "Opportunity"
        assert first.fields["StageName"] == "Prospecting"
        assert first.fields["Amount"] == "24000.0"
        assert second.fields["Amount"] is None  # xsi:nil

    @pytest.mark.parametrize(
        "body",
        [
            b"not xml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<x>&e;</x>",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
            b'<Envelope xmlns="urn:other"/>',
            envelope().replace(b"<OrganizationId>" + ORG_ID.encode() + b"</OrganizationId>", b""),
            envelope("<Notification><Id>04l1</Id></Notification>"),
        ],
        ids=["not xml", "external entity", "entity expansion", "not soap", "no org", "no sobject"],
    )
    def test_what_is_not_an_outbound_message_is_refused_and_no_entity_is_resolved(
        self, body: bytes
    ) -> None:
        with pytest.raises(salesforce.MalformedMessage):
            salesforce.parse(body)

    def test_the_ack_is_what_salesforce_expects(self) -> None:
        ack = salesforce.ACK.decode()
        assert '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">' in ack
        assert "<Ack>true</Ack>" in ack


class TestTranslation:
    def test_first_sight_opens_the_deal(self) -> None:
        out = translate(notification())
        [event] = out.events
        assert event["type"] == "deal.opened"
        assert event["data"] == {
            "amount": "24000.00",
            "currency": "EUR",
            "product_line": "ovens",
            "account_id": "salesforce-0015g00000QwErTAAB",
            "stage": "qualification",
        }
        assert event["stream"] == f"deal-salesforce-{OPP}"
        assert (event["rep_id"], event["team_id"]) == ("rep-anna", "team-north")
        assert event["occurred_at"] == "2026-12-04T10:00:00+00:00"
        assert event["event_id"] == str(
            derived_event_id(f"salesforce:{ORG_ID}:04l5g00000AbCdEAAV:0")
        )
        assert out.deals[OPP] == SEEN

    def test_first_sight_of_a_won_opportunity_opens_then_wins_it(self) -> None:
        out = translate(notification(StageName="Closed Won", IsClosed="true", IsWon="true"))
        assert [e["type"] for e in out.events] == ["deal.opened", "deal.won"]
        assert "stage" not in out.events[0]["data"]  # Closed Won needs no mapping

    def test_another_stage_name_is_a_mapped_stage_change(self) -> None:
        out = translate(notification(StageName="Negotiation/Review"), known=SEEN)
        [event] = out.events
        assert (event["type"], event["data"]) == (
            "deal.stage_changed",
            {"to_stage": "negotiation", "from_stage": "qualification"},
        )
        assert out.deals[OPP].stage == "Negotiation/Review"

    def test_the_same_record_again_changes_nothing(self) -> None:
        out = translate(notification(), known=SEEN)
        assert out.events == []
        assert out.dead_letters == []
        assert out.ignored == 1

    def test_a_closed_won_stage_is_won_with_the_amount_and_currency(self) -> None:
        won = notification(
            StageName="Closed Won", IsClosed="true", IsWon="true", CurrencyIsoCode="USD"
        )
        [event] = translate(won, known=SEEN).events
        assert (event["type"], event["data"]) == (
            "deal.won",
            {"amount": "24000.00", "currency": "USD"},
        )

    def test_a_closed_lost_stage_is_lost_with_the_reason_when_ours(self) -> None:
        lost = notification(StageName="Closed Lost", IsClosed="true", Loss_Reason__c="Price")
        [event] = translate(lost, known=SEEN).events
        assert (event["type"], event["data"]) == ("deal.lost", {"reason": "price"})
        bare = notification(StageName="Closed Lost", IsClosed="true")
        assert translate(bare, known=SEEN).events[0]["data"] == {"reason": "other"}

    def test_another_amount_is_an_amount_change_before_the_close(self) -> None:
        out = translate(
            notification(Amount="30000", StageName="Closed Won", IsClosed="true", IsWon="true"),
            known=SEEN,
        )
        assert [e["type"] for e in out.events] == ["deal.amount_changed", "deal.won"]
        assert out.events[1]["data"]["amount"] == "30000.00"
        assert out.deals[OPP].amount == "30000.00"

    @pytest.mark.parametrize(
        ("currency", "sent", "stored"),
        [
            ("KWD", "1234.5678", "1234.568"),
            ("JPY", "24000.7", "24001"),
            ("OMR", "12", "12.000"),
        ],
    )
    def test_an_amount_is_rounded_to_its_currency_s_minor_units(
        self, currency: str, sent: str, stored: str
    ) -> None:
        out = translate(
            notification(
                Amount=sent,
                CurrencyIsoCode=currency,
                StageName="Closed Won",
                IsClosed="true",
                IsWon="true",
            )
        )
        assert [e["data"]["amount"] for e in out.events] == [stored, stored]
        assert out.deals[OPP].amount == stored
        bare = translate(notification(Amount=None, CurrencyIsoCode=currency))
        assert bare.events[0]["data"]["amount"] == {"KWD": "0.000", "JPY": "0"}.get(
            currency, "0.000"
        )

    def test_an_amount_equal_in_value_to_the_one_seen_is_no_change(self) -> None:
        out = translate(notification(CurrencyIsoCode="JPY"), known=SEEN)  # seen: "24000.00"
        assert out.events == []
        assert out.ignored == 1

    def test_one_opportunity_twice_in_a_message_is_compared_with_the_one_before(self) -> None:
        out = translate(
            notification("04l1"),
            notification(
                "04l2", StageName="Proposal/Price Quote", SystemModstamp="2026-12-04T11:00:00.000Z"
            ),
        )
        assert [e["type"] for e in out.events] == ["deal.opened", "deal.stage_changed"]

    def test_an_older_notification_than_one_seen_is_ignored(self) -> None:
        late = notification(
            StageName="Proposal/Price Quote", SystemModstamp="2026-12-04T09:00:00.000Z"
        )
        out = translate(late, known=SEEN)
        assert out.events == []
        assert out.ignored == 1
        assert out.deals.get(OPP, SEEN) == SEEN  # what was known stays

    def test_other_sobjects_are_ignored(self) -> None:
        assert translate(notification(kind="Lead")).ignored == 1


class TestDeadLetters:
    def test_an_unmapped_stage_is_a_dead_letter_and_the_amount_change_maps(self) -> None:
        out = translate(notification(StageName="Id. Decision Makers", Amount="1"), known=SEEN)
        assert [e["type"] for e in out.events] == ["deal.amount_changed"]
        [letter] = out.dead_letters
        assert letter.reason == "stage_unmapped"
        assert letter.event_key == f"salesforce:{ORG_ID}:04l5g00000AbCdEAAV:1"
        assert letter.payload["known"]["stage"] == "Prospecting"
        assert out.deals[OPP].stage == "Id. Decision Makers"  # remembered all the same

    def test_an_unmapped_owner_is_a_dead_letter(self) -> None:
        out = translate(notification(OwnerId="005OTHER"))
        assert [d.reason for d in out.dead_letters] == ["owner_unmapped"]

    def test_a_replay_translates_as_it_would_have_with_the_fixed_mapping(self) -> None:
        out = translate(notification(StageName="Id. Decision Makers"), known=SEEN)
        [letter] = out.dead_letters
        fixed = replace(CONFIG, stages={**CONFIG.stages, "Id. Decision Makers": "demo"})
        again = salesforce.retranslate(fixed, letter.payload)
        [event] = again.events
        assert event["data"] == {"to_stage": "demo", "from_stage": "qualification"}
        assert again.keys[event["event_id"]] == letter.event_key
        assert salesforce.retranslate(CONFIG, letter.payload).dead_letters[0].event_key == (
            letter.event_key
        )
