"""Salesforce: Outbound Messaging (SOAP) on Opportunity, checked by path token and org id.

An outbound message is a SOAP envelope of up to 100 notifications, each with the whole record
as the workflow rule or flow selected its fields (not what changed):

    <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" …>
     <soapenv:Body>
      <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
       <OrganizationId>00D5g000004ABCdEAO</OrganizationId>
       <ActionId>04k5g000000AbCdAAK</ActionId>
       <SessionId xsi:nil="true"/>
       <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/60.0/00D5g000004ABCd</EnterpriseUrl>
       <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/60.0/00D5g000004ABCd</PartnerUrl>
       <Notification>
        <Id>04l5g00000AbCdEAAV</Id>
        <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
         <sf:Id>0065g00000XyZabAAB</sf:Id> <sf:AccountId>…</sf:AccountId>
         <sf:Amount>24000.0</sf:Amount> <sf:CurrencyIsoCode>EUR</sf:CurrencyIsoCode>
         <sf:StageName>Proposal/Price Quote</sf:StageName> <sf:OwnerId>0055g00000AbCdEAAV</sf:OwnerId>
         <sf:IsClosed>false</sf:IsClosed> <sf:IsWon>false</sf:IsWon>
         <sf:CloseDate>2026-12-20</sf:CloseDate> <sf:SystemModstamp>2026-12-04T10:00:00.000Z</sf:SystemModstamp>
        </sObject>
       </Notification>
      </notifications>
     </soapenv:Body>
    </soapenv:Envelope>

Nobody signs it: the endpoint URL ends with the connector's secret token (current or previous)
and `OrganizationId` must be the connector's `salesforce_org_id` (15-character prefix compared,
as Salesforce ids are the same in both forms). The XML is parsed with `defusedxml`, DTDs and
entities refused. Salesforce retries until it gets the `Ack` below, which is sent only once the
events are stored.

What changed is found by comparing with what the connector remembered of the opportunity
(`DealFacts`: owner, amount, StageName, SystemModstamp):

- first sight -> `deal.opened` (Amount or 0, CurrencyIsoCode or the default currency, the
  default product line, the mapped stage, account `salesforce-<AccountId>` or
  `salesforce-opp-<Id>`), then `deal.won`/`deal.lost` if it is closed already;
- a different Amount -> `deal.amount_changed` (amounts rounded to the currency's minor units,
  `shared.money`: JPY none, KWD three);
- a different StageName -> `deal.won` if IsWon, `deal.lost` if IsClosed (reason from a
  `Loss_Reason__c` field when it names one of ours, else `other`), else `deal.stage_changed` to
  the mapped stage (a stage mapped to `won`/`lost` closes it too).

A notification older (SystemModstamp or LastModifiedDate) than one already seen is ignored: a
late retry must not move the deal back. The n-th event of a notification has the id
uuid5("salesforce:<OrganizationId>:<Notification Id>:<n>"). A dead letter keeps the
notification and what was known before it, so its replay translates exactly as it would have.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .domain import (
    LOST,
    WON,
    ConnectorConfig,
    DeadLetter,
    DealFacts,
    Owner,
    Translation,
    amount,
    derived_event_id,
    loss_reason,
    parse_time,
    zero,
)

MAX_NOTIFICATIONS = 100
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
    b' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b"<soapenv:Body>"
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack>"
    b"</notificationsResponse>"
    b"</soapenv:Body>"
    b"</soapenv:Envelope>"
)


class SignatureError(Exception):
    """Why a message is refused (401)."""


class MalformedMessage(ValueError):
    """Not an outbound message we can read (400)."""


@dataclass(frozen=True, slots=True)
class Notification:
    id: str
    sobject_type: str  # "Opportunity", from xsi:type="sf:Opportunity"
    fields: dict[str, str | None]  # local name -> text (None: xsi:nil)


@dataclass(frozen=True, slots=True)
class Message:
    organization_id: str
    action_id: str | None
    notifications: list[Notification]


def verify_token(secrets: Sequence[str], token: str) -> None:
    matched = False
    for secret in secrets:  # every secret compared: the time does not tell which one matched
        matched |= hmac.compare_digest(token.encode(), secret.encode())
    if not matched:
        raise SignatureError("The endpoint token does not match.")


def verify_org(expected: str | None, organization_id: str) -> None:
    """Salesforce's 15- and 18-character ids of one org share their first 15 characters."""
    if not expected or not hmac.compare_digest(expected[:15], organization_id[:15]):
        raise SignatureError("The message comes from another Salesforce organization.")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element, name: str) -> Element | None:
    return next((c for c in parent if _local(c.tag) == name), None)


def _text(element: Element | None) -> str | None:
    if element is None or element.get(f"{{{XSI}}}nil") == "true":
        return None
    return (element.text or "").strip()


def parse(body: bytes) -> Message:
    """The outbound message in `body`; raises MalformedMessage (DTDs and entities included)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise MalformedMessage(f"not readable XML ({type(exc).__name__})") from exc
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise MalformedMessage("not a SOAP 1.1 envelope")
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    notifications = (
        soap_body.find(f"{{{OUTBOUND}}}notifications") if soap_body is not None else None
    )
    if notifications is None:
        raise MalformedMessage("no outbound-messaging <notifications> in the body")
    organization_id = _text(_child(notifications, "OrganizationId"))
    if not organization_id:
        raise MalformedMessage("no OrganizationId")
    out: list[Notification] = []
    for n in notifications.findall(f"{{{OUTBOUND}}}Notification"):
        notification_id = _text(_child(n, "Id"))
        sobject = _child(n, "sObject")
        if not notification_id or sobject is None:
            raise MalformedMessage("a Notification without its Id or sObject")
        kind = (sobject.get(f"{{{XSI}}}type") or "").rsplit(":", 1)[-1]
        fields = {_local(c.tag): _text(c) for c in sobject}
        out.append(Notification(notification_id, kind, fields))
    return Message(organization_id, _text(_child(notifications, "ActionId")), out)


def event_key(organization_id: str, notification_id: str, index: int) -> str:
    return f"salesforce:{organization_id}:{notification_id}:{index}"


def _owner(config: ConnectorConfig, owner_id: str | None) -> Owner | tuple[str, str]:
    if owner_id is not None and owner_id in config.owners:
        return config.owners[owner_id]
    if "*" in config.owners:
        return config.owners["*"]
    if owner_id is None:
        return (
            "owner_unknown",
            'no OwnerId of this opportunity was received (select it, or map "*")',
        )
    return "owner_unmapped", f"Salesforce owner {owner_id!r} is not mapped"


def _true(value: str | None) -> bool:
    return value == "true"


def _intents(fields: dict[str, str | None], facts: DealFacts | None, currency: str) -> list[str]:
    """What changed, in a fixed order (their index is part of the event id)."""
    closed = WON if _true(fields.get("IsWon")) else LOST if _true(fields.get("IsClosed")) else None
    if facts is None:
        return ["opened", *([closed] if closed else [])]
    out = []
    new = amount(fields["Amount"], currency) if "Amount" in fields else None
    if new is not None and (facts.amount is None or Decimal(new) != Decimal(facts.amount)):
        out.append("amount")  # by value: "24000" JPY is the "24000.00" seen before
    stage = fields.get("StageName")
    if stage and stage != facts.stage:
        out.append(closed or "stage")
    return out


def translate_one(
    config: ConnectorConfig,
    organization_id: str,
    notification: Notification,
    facts: DealFacts | None,
    received_at: datetime,
) -> tuple[Translation, DealFacts | None]:
    """One notification against what was known before it; and what is known after it."""
    out = Translation()
    f = notification.fields
    opportunity = f.get("Id")
    if notification.sobject_type != "Opportunity":
        out.ignored += 1
        return out, facts
    payload = {
        "organization_id": organization_id,
        "notification_id": notification.id,
        "sobject_type": notification.sobject_type,
        "fields": f,
        "known": asdict(facts) if facts else None,
        "received_at": received_at.isoformat(),
    }

    def dead(index: int, reason: str, detail: str) -> None:
        key = event_key(organization_id, notification.id, index)
        out.dead_letters.append(DeadLetter(key, reason, detail, payload))

    if not opportunity:
        dead(0, "invalid", "the sObject has no Id")
        return out, facts
    modified_text = f.get("SystemModstamp") or f.get("LastModifiedDate")
    modified = parse_time(modified_text)
    seen = parse_time(facts.modified_at) if facts else None
    if modified is not None and seen is not None and modified < seen:
        out.ignored += 1  # a late retry of an older state
        return out, facts

    currency = f.get("CurrencyIsoCode") or config.default_currency
    value = amount(f["Amount"], currency) if f.get("Amount") else None
    learnt = DealFacts(
        owner_id=f.get("OwnerId") or (facts.owner_id if facts else None),
        amount=value or (facts.amount if facts else None),
        stage=f.get("StageName") or (facts.stage if facts else None),
        modified_at=modified.isoformat() if modified else (facts.modified_at if facts else None),
    )
    intents = _intents(f, facts, currency)
    if not intents:
        out.ignored += 1
        return out, learnt
    owner = _owner(config, learnt.owner_id)
    if isinstance(owner, tuple):
        for i, _ in enumerate(intents):
            dead(i, *owner)
        return out, learnt
    if f.get("Amount") and value is None:
        for i, _ in enumerate(intents):
            dead(i, "invalid", f"Amount {f['Amount']!r} is not an amount")
        return out, learnt

    current = amount(learnt.amount, currency) if learnt.amount else zero(currency)
    crm_stage = f.get("StageName")
    stage = config.stages.get(crm_stage) if crm_stage else None
    closes_by_stage = "stage" in intents and stage in (WON, LOST)
    closed = _true(f.get("IsClosed")) or _true(f.get("IsWon"))  # opened closed: no stage needed
    at = (modified or received_at).isoformat()
    for i, intent in enumerate(intents):
        key = event_key(organization_id, notification.id, i)
        event_id = str(derived_event_id(key))
        base: dict[str, Any] = {
            "event_id": event_id,
            "stream": f"deal-salesforce-{opportunity}",
            "rep_id": owner.rep_id,
            "team_id": owner.team_id,
            "occurred_at": at,
            "metadata": {
                "source": config.source,
                "correlation_id": f"salesforce-{notification.id}",
            },
        }
        if intent == "stage" and closes_by_stage:
            intent = str(stage)
        if stage is None and (intent == "stage" or (intent == "opened" and not closed)):
            dead(i, "stage_unmapped", f"Salesforce stage {crm_stage!r} is not mapped")
            continue
        event: dict[str, Any]
        if intent == "opened":
            account = f.get("AccountId")
            data: dict[str, Any] = {
                "amount": current,
                "currency": currency,
                "product_line": config.default_product_line,
                "account_id": f"salesforce-{account}"
                if account
                else f"salesforce-opp-{opportunity}",
            }
            if stage is not None and stage not in (WON, LOST):
                data["stage"] = stage
            event = {**base, "type": "deal.opened", "data": data}
        elif intent == "amount":
            event = {
                **base,
                "type": "deal.amount_changed",
                "data": {"amount": current, "currency": currency},
            }
        elif intent == WON:
            event = {**base, "type": "deal.won", "data": {"amount": current, "currency": currency}}
        elif intent == LOST:
            event = {**base, "type": "deal.lost", "data": loss_reason(f.get("Loss_Reason__c"))}
        else:  # stage
            data = {"to_stage": stage}
            before = config.stages.get(facts.stage) if facts and facts.stage else None
            if before is not None and before not in (WON, LOST):
                data["from_stage"] = before
            event = {**base, "type": "deal.stage_changed", "data": data}
        out.events.append(event)
        out.keys[event_id] = key
    return out, learnt


def translate(
    config: ConnectorConfig, message: Message, known: dict[str, DealFacts], received_at: datetime
) -> Translation:
    """Our events for an outbound message, notification by notification (one opportunity may
    come several times in one message: each is compared with the one before)."""
    out = Translation()
    for notification in message.notifications:
        opportunity = notification.fields.get("Id") or ""
        facts = out.deals.get(opportunity) or known.get(opportunity)
        one, learnt = translate_one(
            config, message.organization_id, notification, facts, received_at
        )
        out.events += one.events
        out.dead_letters += one.dead_letters
        out.ignored += one.ignored
        out.keys.update(one.keys)
        if learnt is not None and opportunity:
            out.deals[opportunity] = learnt
    return out


def retranslate(config: ConnectorConfig, payload: dict[str, Any]) -> Translation:
    """A dead letter's notification translated again, against what was known before it."""
    known = payload.get("known")
    notification = Notification(
        str(payload["notification_id"]), str(payload["sobject_type"]), dict(payload["fields"])
    )
    received_at = parse_time(payload.get("received_at"))
    assert received_at is not None
    one, _ = translate_one(
        config,
        str(payload["organization_id"]),
        notification,
        DealFacts(**known) if isinstance(known, dict) else None,
        received_at,
    )
    return one
