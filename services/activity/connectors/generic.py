"""Any sender that follows Standard Webhooks (https://www.standardwebhooks.com/).

Headers `webhook-id`, `webhook-timestamp` (seconds; more than five minutes off is refused) and
`webhook-signature` (`v1,<base64 HMAC-SHA256>`, space-separated when several), checked with the
`standardwebhooks` library against the connector's `whsec_…` secrets (current, then previous).

The body is one event, or a list of up to 1,000, close to our own envelope:

    {"type": "visit.logged", "stream": "lead-L-17", "occurred_at": "2026-11-20T10:30:00+01:00",
     "rep_id": "rep-anna", "team_id": "team-north",
     "data": {"mode": "onsite", "effective": true, "duration_minutes": 45}}

Instead of `rep_id`/`team_id` a sender may give `owner`, its own user id, mapped through the
connector's `owners` (unmapped: a dead letter). A `deal.stage_changed` whose `to_stage` (or
`from_stage`) is a key of `stages` is mapped; a stage mapped to `won`/`lost` is refused as a
dead letter (send `deal.won`/`deal.lost`, which carry the amount or the reason), and so is a
stage neither mapped nor one of ours (`stage_unmapped`, replayed once `stages` maps it). An
event our models refuse is a dead letter too (`invalid`, checked by the service): as for every
connector, one event that cannot be stored does not hold back the rest of its delivery, and
nothing is dropped. The event id is derived from `webhook-id` and the event's index, so a
redelivery is stored once; the dead letter keeps the sender's event as it came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from shared.events import Stage

from .domain import LOST, WON, ConnectorConfig, DeadLetter, Translation, derived_event_id

MAX_EVENTS = 1000
_FIELDS = ("type", "stream", "occurred_at", "rep_id", "team_id", "data")
_OUR_STAGE: TypeAdapter[str] = TypeAdapter(Stage)


def _ours(stage: str) -> bool:
    try:
        _OUR_STAGE.validate_python(stage)
    except ValidationError:
        return False
    return True


class SignatureError(Exception):
    """Why a delivery is refused (401)."""


def verify(secrets: Sequence[str], body: bytes, headers: dict[str, str]) -> str:
    """The `webhook-id` of a delivery one of `secrets` signed; raises SignatureError."""
    reason = "no secret"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            reason = str(exc)
            continue
        except Exception as exc:  # a malformed stored secret: treat as not matching
            reason = f"unusable secret ({type(exc).__name__})"
            continue
        return headers["webhook-id"]
    raise SignatureError(f"Standard Webhooks verification failed: {reason}.")


def event_key(webhook_id: str, index: int) -> str:
    return f"generic:{webhook_id}:{index}"


def translate(
    config: ConnectorConfig, webhook_id: str, items: Sequence[Any], *, first_index: int = 0
) -> Translation:
    """Our event bodies (validated by the service: one our models refuse is a dead letter);
    unmapped owners and stages are dead letters."""
    out = Translation()
    for i, item in enumerate(items, start=first_index):
        key = event_key(webhook_id, i)
        if not isinstance(item, dict):
            out.dead_letters.append(DeadLetter(key, "invalid", "not a JSON object", {"item": item}))
            continue
        event = {k: item[k] for k in _FIELDS if k in item}
        extra = sorted(set(item) - set(_FIELDS) - {"owner"})
        if extra:  # let the append's validation name them: keep them in
            event.update({k: item[k] for k in extra})
        if "owner" in item:
            owner = config.owners.get(str(item["owner"])) or config.owners.get("*")
            if owner is None:
                out.dead_letters.append(
                    DeadLetter(
                        key, "owner_unmapped", f"owner {item['owner']!r} is not mapped", item
                    )
                )
                continue
            event["rep_id"], event["team_id"] = owner.rep_id, owner.team_id
        data = event.get("data")
        if event.get("type") == "deal.stage_changed" and isinstance(data, dict):
            data = dict(data)
            for name in ("to_stage", "from_stage"):
                if isinstance(data.get(name), str) and data[name] in config.stages:
                    data[name] = config.stages[data[name]]
            if data.get("to_stage") in (WON, LOST):
                out.dead_letters.append(
                    DeadLetter(
                        key,
                        "stage_unmapped",
                        f"stage {item['data']['to_stage']!r} closes the deal: send deal.won or "
                        "deal.lost",
                        item,
                    )
                )
                continue
            unmapped = [
                data[n]
                for n in ("to_stage", "from_stage")
                if isinstance(data.get(n), str) and not _ours(data[n])
            ]
            if unmapped:
                out.dead_letters.append(
                    DeadLetter(key, "stage_unmapped", f"stage {unmapped[0]!r} is not mapped", item)
                )
                continue
            event["data"] = data
        event_id = str(derived_event_id(f"generic:{config.org_id}:{webhook_id}:{i}"))
        event["event_id"] = event_id
        event["metadata"] = {"source": config.source}
        out.events.append(event)
        out.keys[event_id] = key
        out.originals[event_id] = item
    return out
