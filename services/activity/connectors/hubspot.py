"""HubSpot: v3 request signatures and the translation of deal webhooks into our events.

HubSpot posts a JSON array of up to 100 events, e.g.

    [{"eventId": 1, "subscriptionId": 2, "portalId": 62515, "appId": 54321,
      "occurredAt": 1764584400000, "subscriptionType": "deal.propertyChange",
      "attemptNumber": 0, "objectId": 9001, "changeSource": "CRM",
      "propertyName": "dealstage", "propertyValue": "closedwon"}]

Each event carries one thing: a creation (`deal.creation`, no properties at all), a deletion, or
ONE property's new value. So the connector remembers, per deal, the owner (`hubspot_owner_id`
changes), the amount (`amount` changes) and the stage it has seen (`DealFacts`), the amount and
the stage with the `occurredAt` of their change: HubSpot delivers in no promised order, so an
older change that comes after a newer one is appended as its event but does not replace the
amount remembered (a later `deal.won` carries the amount of the latest change, by `occurredAt`):

- `deal.creation` -> `deal.opened` with the amount known so far, else 0 (an `amount` change
  follows as `deal.amount_changed`), the connector's default currency and product line, stage
  `qualification`, and account `hubspot-deal-<objectId>` (HubSpot's company association is not
  in the webhook).
- `dealstage` changes -> `deal.stage_changed` to the mapped stage; a stage mapped to `won` ->
  `deal.won` with the amount known so far (unknown: dead letter `amount_unknown`), `lost` ->
  `deal.lost` (reason `other`).
- `amount` changes -> `deal.amount_changed` in the default currency (HubSpot sends none), the
  amount rounded to that currency's minor units (`shared.money`: JPY none, KWD three).
- `deal.deletion` -> `deal.lost` (reason `other`, note "deleted in HubSpot"), so it leaves the
  pipeline; the fold ignores it for a deal already closed.
- `hubspot_owner_id` changes teach the owner (of every event of that deal in the delivery, even
  earlier ones); other properties and object types are ignored (counted in the answer).

Every deal event needs its owner mapped to a rep (`owners`, with `"*"` as an optional fallback):
an unknown or unmapped owner, an unmapped stage or a malformed event is a dead letter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

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
    from_millis,
    newer,
    zero,
)

MAX_EVENTS = 100
MAX_AGE_SECONDS = 300
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"


class SignatureError(Exception):
    """Why a delivery is refused (401)."""


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature: base64(HMAC-SHA256(secret, method + URI + body + timestamp))."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify(
    secrets: Sequence[str],
    method: str,
    uri: str,
    body: bytes,
    headers: dict[str, str],
    *,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless one of `secrets` (current, previous) signed the request
    within the last five minutes. `uri` is the full URI HubSpot called, query included."""
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise SignatureError(f"Missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}.")
    try:
        sent_ms = int(timestamp)
    except ValueError as exc:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a number of milliseconds.") from exc
    age = (time.time() if now is None else now) - sent_ms / 1000
    if abs(age) > MAX_AGE_SECONDS:
        raise SignatureError("The request timestamp is more than five minutes off.")
    # HubSpot signs the URI with its %-escapes decoded (its docs list the characters).
    candidates = {uri, unquote(uri)}
    for secret in secrets:
        for u in candidates:
            if hmac.compare_digest(sign(secret, method.upper(), u, body, timestamp), signature):
                return
    raise SignatureError("The signature does not match.")


def event_key(event: dict[str, Any]) -> str:
    return f"hubspot:{event.get('portalId')}:{event.get('eventId')}"


def _is_deal_event(event: Any) -> bool:
    return isinstance(event, dict) and str(event.get("subscriptionType", "")).startswith("deal.")


def _valid(event: dict[str, Any]) -> bool:
    return (
        isinstance(event.get("eventId"), int)
        and isinstance(event.get("portalId"), int)
        and isinstance(event.get("objectId"), int)
        and isinstance(event.get("occurredAt"), int)
        and 0 <= event["occurredAt"] < 4_102_444_800_000
    )


def translate(
    config: ConnectorConfig, events: Sequence[Any], known: dict[str, DealFacts]
) -> Translation:
    """Our events for a HubSpot delivery, in the order HubSpot sent them."""
    out = Translation()
    # The owner first, from anywhere in the delivery: HubSpot sends the creation and the owner
    # as two events, in no promised order.
    owners: dict[str, str] = {}
    for e in events:
        if (
            _is_deal_event(e)
            and e.get("propertyName") == "hubspot_owner_id"
            and e.get("propertyValue")
        ):
            owners[str(e.get("objectId"))] = str(e["propertyValue"])
    for object_id, owner_id in owners.items():
        out.deals[object_id] = replace(known.get(object_id, DealFacts()), owner_id=owner_id)

    for e in events:
        if not isinstance(e, dict):
            out.dead_letters.append(
                DeadLetter(f"hubspot:item:{e!r}"[:200], "invalid", "not a JSON object", {"item": e})
            )
            continue
        key = event_key(e)
        if not _valid(e):
            out.dead_letters.append(
                DeadLetter(
                    key,
                    "invalid",
                    "eventId, portalId, objectId or occurredAt missing or not an integer",
                    e,
                )
            )
            continue
        if not _is_deal_event(e):
            out.ignored += 1
            continue
        object_id = str(e["objectId"])
        facts = out.deals.get(object_id) or known.get(object_id) or DealFacts()
        kind = e["subscriptionType"]
        prop = e.get("propertyName")
        if kind == "deal.propertyChange" and prop not in ("dealstage", "amount"):
            out.ignored += 1
            continue

        owner = _owner(config, facts.owner_id)
        if isinstance(owner, DeadLetter):
            out.dead_letters.append(DeadLetter(key, owner.reason, owner.detail, e))
            continue
        base: dict[str, Any] = {
            "event_id": str(derived_event_id(key)),
            "stream": f"deal-hubspot-{object_id}",
            "rep_id": owner.rep_id,
            "team_id": owner.team_id,
            "occurred_at": from_millis(e["occurredAt"]).isoformat(),
            "metadata": {"source": config.source, "correlation_id": f"hubspot-{e['eventId']}"},
        }
        currency = config.default_currency

        if kind == "deal.creation":
            data = {
                "amount": amount(facts.amount, currency) if facts.amount else zero(currency),
                "currency": currency,
                "product_line": config.default_product_line,
                "account_id": f"hubspot-deal-{object_id}",
            }
            out.events.append({**base, "type": "deal.opened", "data": data})
        elif kind == "deal.deletion":
            data = {"reason": "other", "note": "deleted in HubSpot"}
            out.events.append({**base, "type": "deal.lost", "data": data})
        elif kind == "deal.propertyChange" and prop == "amount":
            value = amount(e.get("propertyValue"), currency)
            if value is None:
                out.dead_letters.append(
                    DeadLetter(
                        key, "invalid", f"amount {e.get('propertyValue')!r} is not an amount", e
                    )
                )
                continue
            at = from_millis(e["occurredAt"])
            if newer(at, facts.amount_at):  # an older change is an event, not the amount now
                out.deals[object_id] = replace(facts, amount=value, amount_at=at)
            data = {"amount": value, "currency": currency}
            out.events.append({**base, "type": "deal.amount_changed", "data": data})
        elif kind == "deal.propertyChange":  # dealstage
            crm_stage = str(e.get("propertyValue"))
            at = from_millis(e["occurredAt"])
            if newer(at, facts.stage_at):
                out.deals[object_id] = replace(facts, stage=crm_stage, stage_at=at)
            ours = config.stages.get(crm_stage)
            if ours is None:
                out.dead_letters.append(
                    DeadLetter(
                        key, "stage_unmapped", f"HubSpot stage {crm_stage!r} is not mapped", e
                    )
                )
                continue
            if ours == WON:
                if facts.amount is None:
                    out.dead_letters.append(
                        DeadLetter(
                            key, "amount_unknown", "won, but no amount of this deal was received", e
                        )
                    )
                    continue
                data = {"amount": amount(facts.amount, currency), "currency": currency}
                out.events.append({**base, "type": "deal.won", "data": data})
            elif ours == LOST:
                out.events.append({**base, "type": "deal.lost", "data": {"reason": "other"}})
            else:
                out.events.append(
                    {**base, "type": "deal.stage_changed", "data": {"to_stage": ours}}
                )
        else:
            out.ignored += 1
    return out


def _owner(config: ConnectorConfig, owner_id: str | None) -> Owner | DeadLetter:
    if owner_id is not None and owner_id in config.owners:
        return config.owners[owner_id]
    if "*" in config.owners:
        return config.owners["*"]
    if owner_id is None:
        return DeadLetter(
            "",
            "owner_unknown",
            "no hubspot_owner_id of this deal was received "
            '(subscribe to its property changes, or map "*")',
            {},
        )
    return DeadLetter("", "owner_unmapped", f"HubSpot owner {owner_id!r} is not mapped", {})
