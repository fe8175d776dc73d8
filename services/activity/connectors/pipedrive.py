"""Pipedrive: webhooks v2 with HTTP Basic auth, and the translation of deal deliveries.

Pipedrive does not sign its webhooks: each webhook is created with an HTTP auth user and
password, which it sends as `Authorization: Basic …`. The connector's secret is that
`user:password` (compared in constant time; current or previous during a rotation).

A delivery is one JSON object (v2, `meta.version` "2.0"), e.g.

    {"meta": {"action": "change", "entity": "deal", "entity_id": "123", "id": "<uuid>",
              "timestamp": "2026-12-04T10:00:00.000Z", "company_id": "7741", "user_id": "15",
              "version": "2.0", "webhook_id": "…", "attempt": 1, "change_source": "app", …},
     "data": {"id": 123, "title": "Ovens for Kiel", "value": 24000, "currency": "EUR",
              "status": "open", "stage_id": 3, "owner_id": 15, "org_id": 88,
              "lost_reason": null, "add_time": "…", "update_time": "…", "won_time": null, …},
     "previous": {"stage_id": 2}}

`previous` holds only the fields that changed, with their old values (null on create). A
`delete` sends the deal as it was (in `previous`; `data` may be null). Extra fields are ignored;
the ones used are checked. Non-deal entities are ignored.

- `create` -> `deal.opened` (value or 0, currency or the connector's default, the default
  product line, the mapped stage, account `pipedrive-org-<org_id>` or `pipedrive-deal-<id>`),
  then `deal.won`/`deal.lost` if it was created closed.
- `change` -> in this order: `stage_id` changed -> `deal.stage_changed` (mapped; a stage mapped to
  `won`/`lost` closes the deal), `value`/`currency` changed -> `deal.amount_changed`, `status`
  changed to `won` -> `deal.won` (value, currency), to `lost` -> `deal.lost` (`lost_reason`
  mapped to our reasons, else `other` with the text as note). A reopened deal is ignored.
- `delete` -> `deal.lost` (reason `other`, note "deleted in Pipedrive").

Values are rounded to their currency's minor units (`shared.money`: JPY none, KWD three).

Deliveries come in no promised order (a retry may come after later changes). Each event keeps
the time Pipedrive gives for it (`update_time`, `add_time`, `won_time`/`lost_time`, else
`meta.timestamp`), and scoring reads a deal by those times; the connector remembers each deal's
owner, value and stage with its `update_time` (`DealFacts`), and a delivery older than the one
remembered leaves them as they are.

Every event needs the deal's `owner_id` mapped (`owners`, keyed by the id as a string, `"*"`
catches the rest). The n-th event derived from a delivery has the id
uuid5("pipedrive:<company_id>:<meta.id>:<n>"), n fixed by what changed (not by the mapping), so
a dead letter replayed later gets the same id as if it had mapped at once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import Any

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

AUTH_HEADER = "authorization"


class SignatureError(Exception):
    """Why a delivery is refused (401)."""


class MalformedDelivery(ValueError):
    """A delivery without what its events' ids derive from (meta.id, company_id)."""


def verify(secrets: Sequence[str], headers: dict[str, str]) -> None:
    """Raise SignatureError unless `Authorization: Basic` carries one of `secrets`."""
    header = headers.get(AUTH_HEADER, "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise SignatureError("Missing HTTP Basic credentials.")
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("The Basic credentials are not base64.") from exc
    matched = False
    for secret in secrets:  # every secret compared: the time does not tell which one matched
        matched |= hmac.compare_digest(given, secret.encode())
    if not matched:
        raise SignatureError("The Basic credentials do not match.")


def _id(value: object) -> str | None:
    """Pipedrive ids: integers in `data`, strings in `meta` (v2); an object with `id` in v1."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        return str(value).strip()
    return None


def delivery_key(delivery: dict[str, Any]) -> str:
    """`pipedrive:<company_id>:<meta.id>`; raises MalformedDelivery without them."""
    meta = delivery.get("meta")
    if not isinstance(meta, dict):
        raise MalformedDelivery("`meta` is missing or not an object")
    company, delivery_id = _id(meta.get("company_id")), _id(meta.get("id"))
    if company is None or delivery_id is None:
        raise MalformedDelivery("`meta.id` or `meta.company_id` is missing")
    return f"pipedrive:{company}:{delivery_id}"


def event_key(delivery: dict[str, Any], index: int) -> str:
    return f"{delivery_key(delivery)}:{index}"


def _owner(config: ConnectorConfig, owner_id: str | None) -> Owner | tuple[str, str]:
    if owner_id is not None and owner_id in config.owners:
        return config.owners[owner_id]
    if "*" in config.owners:
        return config.owners["*"]
    if owner_id is None:
        return "owner_unknown", 'the deal has no owner_id (map "*")'
    return "owner_unmapped", f"Pipedrive owner {owner_id!r} is not mapped"


def _intents(action: str, deal: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """What one delivery says happened, in a fixed order (their index is part of the id)."""
    status = deal.get("status")
    closed = [status] if status in (WON, LOST) else []
    if action == "create":
        return ["opened", *closed]
    if action == "delete":
        return ["deleted"]
    if action != "change":
        return []
    out = []
    if "stage_id" in previous:
        out.append("stage")
    if "value" in previous or "currency" in previous:
        out.append("amount")
    if "status" in previous and previous.get("status") != status:
        out += closed
    return out


def _learnt(deal: dict[str, Any], changed_at: datetime, currency: str) -> DealFacts:
    """What the connector remembers of the deal: its owner, value and stage as of `changed_at`
    (`update_time`, else `meta.timestamp`), so a delivery older than one seen before does not
    replace them (`repository.save_deals`); each delivery carries the whole deal, so its own
    events never need them."""
    value = amount(deal.get("value"), currency) if deal.get("value") is not None else None
    return DealFacts(
        owner_id=_id(deal.get("owner_id")),
        amount=value,
        stage=_id(deal.get("stage_id")),
        amount_at=changed_at if value is not None else None,
        stage_at=changed_at,
    )


def translate(config: ConnectorConfig, delivery: dict[str, Any]) -> Translation:
    """Our events for one Pipedrive v2 delivery (raises MalformedDelivery without ids)."""
    out = Translation()
    base_key = delivery_key(delivery)
    meta: dict[str, Any] = delivery["meta"]
    if meta.get("entity") != "deal":
        out.ignored += 1
        return out
    action = str(meta.get("action", ""))
    data, previous = delivery.get("data"), delivery.get("previous")
    deal = data if isinstance(data, dict) else {}
    changed = previous if isinstance(previous, dict) else {}
    if action == "delete" and not deal:
        deal = changed  # v2 sends the deleted deal as `previous`
    intents = _intents(action, deal, changed)
    if not intents:
        out.ignored += 1
        return out

    def dead(index: int, reason: str, detail: str) -> None:
        out.dead_letters.append(DeadLetter(f"{base_key}:{index}", reason, detail, delivery))

    deal_id = _id(deal.get("id")) or _id(meta.get("entity_id"))
    at = parse_time(meta.get("timestamp"))
    if deal_id is None or at is None:
        for i, _ in enumerate(intents):
            dead(i, "invalid", "the deal id or meta.timestamp is missing or malformed")
        return out
    currency = deal.get("currency") or config.default_currency  # checked by our models
    if action != "delete":
        out.deals[deal_id] = _learnt(deal, parse_time(deal.get("update_time")) or at, str(currency))
    owner = _owner(config, _id(deal.get("owner_id")))
    if isinstance(owner, tuple):
        for i, _ in enumerate(intents):
            dead(i, *owner)
        return out

    raw = deal.get("value")
    value = zero(str(currency)) if raw is None else amount(raw, str(currency))
    stage_id = _id(deal.get("stage_id"))
    stage = config.stages.get(stage_id) if stage_id is not None else None

    def when(field: str) -> datetime:
        return parse_time(deal.get(field)) or at

    closes_by_stage = "stage" in intents and stage in (WON, LOST)
    for i, intent in enumerate(intents):
        key = f"{base_key}:{i}"
        event: dict[str, Any]
        data_out: dict[str, Any]
        event_id = str(derived_event_id(key))
        base: dict[str, Any] = {
            "event_id": event_id,
            "stream": f"deal-pipedrive-{deal_id}",
            "rep_id": owner.rep_id,
            "team_id": owner.team_id,
            "occurred_at": when("update_time").isoformat(),
            "metadata": {"source": config.source, "correlation_id": f"pipedrive-{meta['id']}"},
        }
        if intent in ("opened", "amount", WON) and value is None:
            dead(i, "invalid", f"value {deal.get('value')!r} is not an amount")
            continue
        if intent in ("opened", "stage") and stage is None:
            dead(i, "stage_unmapped", f"Pipedrive stage {stage_id!r} is not mapped")
            continue
        if intent in (WON, LOST) and closes_by_stage:
            out.ignored += 1  # the stage change closed it already
            continue
        if intent == "opened":
            data_out = {
                "amount": value,
                "currency": currency,
                "product_line": config.default_product_line,
                "account_id": f"pipedrive-org-{org}"
                if (org := _id(deal.get("org_id")))
                else f"pipedrive-deal-{deal_id}",
            }
            if stage not in (WON, LOST):
                data_out["stage"] = stage
            event = {
                **base,
                "occurred_at": when("add_time").isoformat(),
                "type": "deal.opened",
                "data": data_out,
            }
        elif intent == "stage" and stage == WON:
            event = {**base, "type": "deal.won", "data": {"amount": value, "currency": currency}}
        elif intent == "stage" and stage == LOST:
            event = {**base, "type": "deal.lost", "data": loss_reason(deal.get("lost_reason"))}
        elif intent == "stage":
            from_id = _id(changed.get("stage_id"))
            from_stage = config.stages.get(from_id) if from_id is not None else None
            data_out = {"to_stage": stage}
            if from_stage is not None and from_stage not in (WON, LOST):
                data_out["from_stage"] = from_stage
            event = {**base, "type": "deal.stage_changed", "data": data_out}
        elif intent == "amount":
            event = {
                **base,
                "type": "deal.amount_changed",
                "data": {"amount": value, "currency": currency},
            }
        elif intent == WON:
            event = {
                **base,
                "occurred_at": when("won_time").isoformat(),
                "type": "deal.won",
                "data": {"amount": value, "currency": currency},
            }
        elif intent == LOST:
            event = {
                **base,
                "occurred_at": when("lost_time").isoformat(),
                "type": "deal.lost",
                "data": loss_reason(deal.get("lost_reason")),
            }
        else:  # deleted
            event = {
                **base,
                "occurred_at": at.isoformat(),
                "type": "deal.lost",
                "data": {"reason": "other", "note": "deleted in Pipedrive"},
            }
        out.events.append(event)
        out.keys[event_id] = key
    return out
