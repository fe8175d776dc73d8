"""The connector use cases: manage connectors, receive deliveries, list and replay dead letters.

A delivery is verified, translated (pure, per provider) and appended through activity's own
batch append (`services.activity.service.append_batch`: all or nothing, idempotent by event id)
before it is answered; dead letters and what was learnt of the CRM's deals are written after
the append, in one transaction. A failure anywhere answers 4xx/5xx, the provider retries, and
the retry stores nothing twice (event ids and dead-letter keys derive from the provider's ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from pydantic import ValidationError

from shared.auth import Principal, Role
from shared.events import EnvelopeBase, new_event_adapter

from .. import service as activity
from ..dependencies import Runtime
from . import generic, hubspot, pipedrive, salesforce
from . import repository as repo
from .domain import (
    ConnectorConfig,
    DeadLetter,
    Owner,
    Translation,
    derived_event_id,
    fingerprint,
)
from .exceptions import (
    AdminsOnly,
    BadBasicAuth,
    BadSignature,
    ConnectorExists,
    ConnectorNotFound,
    EventCountOutOfRange,
    JsonOnly,
    NoConnectorFor,
    NotAnArray,
    NotAnObject,
    NotAPipedriveDelivery,
    NotASalesforceMessage,
    NotJson,
    NulInBody,
    SalesforceOrgIdNotAllowed,
    SecretRefused,
    TooManyHubSpotEvents,
    TooManyNotifications,
    XmlOnly,
)
from .schemas import ConnectorCreate, ConnectorUpdate, check_secret


def _require_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN or principal.is_platform:
        raise AdminsOnly()


def _secret_info(secret: str | None, set_at: datetime | None) -> dict[str, Any] | None:
    if secret is None or set_at is None:
        return None
    return {"fingerprint": fingerprint(secret), "last4": secret[-4:], "set_at": set_at}


def _read(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "org_id": row["org_id"],
        "provider": row["provider"],
        "webhook_path": f"/v1/webhooks/{row['provider']}/{row['org_id']}"
        + ("/{secret}" if row["provider"] == "salesforce" else ""),
        "secrets": {
            "current": _secret_info(row["secret_current"], row["secret_current_set_at"]),
            "previous": _secret_info(row["secret_previous"], row["secret_previous_set_at"]),
        },
        "stages": orjson.loads(row["stages"]),
        "owners": orjson.loads(row["owners"]),
        "default_currency": row["default_currency"],
        "default_product_line": row["default_product_line"],
        "salesforce_org_id": row["salesforce_org_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _config(row: asyncpg.Record) -> ConnectorConfig:
    owners = {
        k: Owner(v["rep_id"], v.get("team_id")) for k, v in orjson.loads(row["owners"]).items()
    }
    return ConnectorConfig(
        org_id=row["org_id"],
        provider=row["provider"],
        stages=orjson.loads(row["stages"]),
        owners=owners,
        default_currency=row["default_currency"],
        default_product_line=row["default_product_line"],
        salesforce_org_id=row["salesforce_org_id"],
    )


def _secrets(row: asyncpg.Record) -> list[str]:
    return [s for s in (row["secret_current"], row["secret_previous"]) if s]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# --------------------------------------------------------------------------- management


async def create_connector(
    pool: asyncpg.Pool, principal: Principal, body: ConnectorCreate
) -> dict[str, Any]:
    _require_admin(principal)
    async with pool.acquire() as conn, conn.transaction():
        created = await repo.insert_connector(
            conn,
            id=uuid4(),
            org_id=principal.org,
            provider=body.provider,
            secret=body.secret,
            stages=_dumps(body.stages),
            owners=_dumps({k: v.model_dump() for k, v in body.owners.items()}),
            default_currency=body.default_currency,
            default_product_line=body.default_product_line,
        )
        if created is None:
            raise ConnectorExists(body.provider)
        if body.salesforce_org_id is not None:
            await repo.set_salesforce_org_id(conn, created["id"], body.salesforce_org_id)
        row = await repo.get_connector(conn, principal.org, created["id"])
    assert row is not None
    return _read(row)


async def list_connectors(pool: asyncpg.Pool, principal: Principal) -> dict[str, Any]:
    _require_admin(principal)
    async with pool.acquire() as conn:
        rows = await repo.list_connectors(conn, principal.org)
    return {"items": [_read(r) for r in rows]}


async def _load(
    conn: asyncpg.Connection, principal: Principal, connector_id: UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await repo.get_connector(conn, principal.org, connector_id, for_update=for_update)
    if row is None:
        raise ConnectorNotFound(connector_id)
    return row


async def get_connector(
    pool: asyncpg.Pool, principal: Principal, connector_id: UUID
) -> dict[str, Any]:
    _require_admin(principal)
    async with pool.acquire() as conn:
        return _read(await _load(conn, principal, connector_id))


async def update_connector(
    pool: asyncpg.Pool, principal: Principal, connector_id: UUID, body: ConnectorUpdate
) -> dict[str, Any]:
    _require_admin(principal)
    async with pool.acquire() as conn, conn.transaction():
        row = await _load(conn, principal, connector_id, for_update=True)
        if body.secret is not None:
            try:
                check_secret(row["provider"], body.secret)
            except ValueError as exc:
                raise SecretRefused(str(exc)) from exc
        if body.salesforce_org_id is not None:
            if row["provider"] != "salesforce":
                raise SalesforceOrgIdNotAllowed()
            await repo.set_salesforce_org_id(conn, connector_id, body.salesforce_org_id)
        now = datetime.now(UTC)
        current, current_at = row["secret_current"], row["secret_current_set_at"]
        previous, previous_at = row["secret_previous"], row["secret_previous_set_at"]
        if body.secret is not None and body.secret != current:
            previous, previous_at = current, current_at
            current, current_at = body.secret, now
        if body.drop_previous_secret:
            previous = previous_at = None
        owners = (
            _dumps({k: v.model_dump() for k, v in body.owners.items()})
            if body.owners is not None
            else row["owners"]
        )
        await repo.update_connector(
            conn,
            connector_id,
            secret_current=current,
            secret_current_set_at=current_at,
            secret_previous=previous,
            secret_previous_set_at=previous_at,
            stages=_dumps(body.stages) if body.stages is not None else row["stages"],
            owners=owners,
            default_currency=body.default_currency or row["default_currency"],
            default_product_line=body.default_product_line or row["default_product_line"],
        )
        updated = await _load(conn, principal, connector_id)
    return _read(updated)


async def delete_connector(pool: asyncpg.Pool, principal: Principal, connector_id: UUID) -> None:
    _require_admin(principal)
    async with pool.acquire() as conn:
        if not await repo.delete_connector(conn, principal.org, connector_id):
            raise ConnectorNotFound(connector_id)


# --------------------------------------------------------------------------- deliveries


def _webhook_principal(org: str, provider: str) -> Principal:
    """Who appends a delivery: the org's connector (a service; it sets rep and team itself)."""
    return Principal(org=org, role=Role.SERVICE, sub=f"crm:{provider}")


async def _connector_for(pool: asyncpg.Pool, org: str, provider: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await repo.get_connector_by_provider(conn, org, provider)
    if row is None:
        raise NoConnectorFor(provider)
    return row


def _parse_json(body: bytes, headers: dict[str, str]) -> Any:
    """A verified delivery's JSON body (checked after the signature: unverified is 401 first)."""
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise JsonOnly(media)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotJson(str(exc)) from exc
    if b"\\u0000" in body and _holds_nul(parsed):  # JSON escapes it; PostgreSQL stores no NUL
        raise NulInBody()
    return parsed


def _holds_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds U+0000 in a string or a key (text and jsonb refuse it:
    neither an event nor a dead letter could keep it). Iterative: bodies nest deep."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return False


def _checked_or_dead(
    translation: Translation, keys: dict[str, str]
) -> tuple[list[EnvelopeBase], list[DeadLetter]]:
    """A translated CRM event our models refuse (the CRM's value out of our range) is a dead
    letter, not a refused delivery: the provider cannot fix it by retrying."""
    parsed: list[EnvelopeBase] = []
    dead: list[DeadLetter] = []
    for event in translation.events:
        try:
            parsed.append(new_event_adapter.validate_python(event))
        except ValidationError as exc:
            key = keys.get(event["event_id"], event["event_id"])
            payload = translation.originals.get(event["event_id"], event)
            dead.append(DeadLetter(key, "invalid", _why(exc), payload))
    return parsed, dead


def _why(exc: ValidationError) -> str:
    """The first of a model's complaints, naming the field (as a 422 would), briefly."""
    errors = exc.errors(include_url=False)
    if not errors:
        return str(exc).splitlines()[0][:500]
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"[:500]


async def _append(
    runtime: Runtime, org: str, provider: str, events: Sequence[EnvelopeBase]
) -> tuple[int, int]:
    """Append what is not stored yet (a retry translated with what was learnt since may differ
    from the first translation: it must not conflict). Returns (appended, duplicates)."""
    if not events:
        return 0, 0
    async with runtime.pool.acquire() as conn:
        stored = await repo.existing_event_ids(conn, org, [e.event_id for e in events])
    new = [e for e in events if e.event_id not in stored]
    if not new:
        return 0, len(events)
    result, _ = await activity.append_batch(
        runtime.committer, _webhook_principal(org, provider), new
    )
    return result["created"], len(events) - result["created"]


async def _finish(
    runtime: Runtime, connector_id: UUID, translation: Translation, dead: Sequence[DeadLetter]
) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await repo.save_deals(conn, connector_id, translation.deals)
        await repo.add_dead_letters(conn, connector_id, dead)


def _result(appended: int, duplicates: int, dead: int, ignored: int) -> dict[str, Any]:
    return {
        "appended": appended,
        "duplicates": duplicates,
        "dead_letters": dead,
        "ignored": ignored,
    }


async def receive_hubspot(
    runtime: Runtime, org: str, *, method: str, uri: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    row = await _connector_for(runtime.pool, org, "hubspot")
    try:
        hubspot.verify(_secrets(row), method, uri, body, headers)
    except hubspot.SignatureError as exc:
        raise BadSignature(str(exc)) from exc
    items = _parse_json(body, headers)
    if not isinstance(items, list):
        raise NotAnArray()
    if len(items) > hubspot.MAX_EVENTS:
        raise TooManyHubSpotEvents(hubspot.MAX_EVENTS)
    config = _config(row)
    object_ids = {str(e.get("objectId")) for e in items if isinstance(e, dict)}
    async with runtime.pool.acquire() as conn:
        known = await repo.load_deals(conn, row["id"], object_ids)
    translation = hubspot.translate(config, items, known)
    keys = {
        str(derived_event_id(hubspot.event_key(e))): hubspot.event_key(e)
        for e in items
        if isinstance(e, dict)
    }
    events, invalid = _checked_or_dead(translation, keys)
    dead = [*translation.dead_letters, *invalid]
    appended, duplicates = await _append(runtime, org, "hubspot", events)
    await _finish(runtime, row["id"], translation, dead)
    return _result(appended, duplicates, len(dead), translation.ignored)


async def receive_generic(
    runtime: Runtime, org: str, *, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    row = await _connector_for(runtime.pool, org, "generic")
    try:
        webhook_id = generic.verify(_secrets(row), body, headers)
    except generic.SignatureError as exc:
        raise BadSignature(str(exc)) from exc
    payload = _parse_json(body, headers)
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > generic.MAX_EVENTS:
        raise EventCountOutOfRange(generic.MAX_EVENTS)
    translation = generic.translate(_config(row), webhook_id, items)
    events, invalid = _checked_or_dead(translation, translation.keys)
    dead = [*translation.dead_letters, *invalid]
    appended, duplicates = await _append(runtime, org, "generic", events)
    await _finish(runtime, row["id"], translation, dead)
    return _result(appended, duplicates, len(dead), translation.ignored)


async def receive_pipedrive(
    runtime: Runtime, org: str, *, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    row = await _connector_for(runtime.pool, org, "pipedrive")
    try:
        pipedrive.verify(_secrets(row), headers)
    except pipedrive.SignatureError as exc:
        raise BadBasicAuth(str(exc)) from exc
    delivery = _parse_json(body, headers)
    if not isinstance(delivery, dict):
        raise NotAnObject()
    try:
        translation = pipedrive.translate(_config(row), delivery)
    except pipedrive.MalformedDelivery as exc:
        raise NotAPipedriveDelivery(str(exc)) from exc
    events, invalid = _checked_or_dead(translation, translation.keys)
    dead = [*translation.dead_letters, *invalid]
    appended, duplicates = await _append(runtime, org, "pipedrive", events)
    await _finish(runtime, row["id"], translation, dead)
    return _result(appended, duplicates, len(dead), translation.ignored)


_XML_MEDIA = ("text/xml", "application/xml", "application/soap+xml")


async def receive_salesforce(
    runtime: Runtime, org: str, token: str, *, headers: dict[str, str], body: bytes
) -> bytes:
    """The SOAP `Ack`, once the message's events and dead letters are stored."""
    row = await _connector_for(runtime.pool, org, "salesforce")
    try:
        salesforce.verify_token(_secrets(row), token)
    except salesforce.SignatureError as exc:
        raise BadSignature(str(exc)) from exc
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media and media not in _XML_MEDIA:
        raise XmlOnly(media)
    try:
        message = salesforce.parse(body)
    except salesforce.MalformedMessage as exc:
        raise NotASalesforceMessage(str(exc)) from exc
    try:
        salesforce.verify_org(row["salesforce_org_id"], message.organization_id)
    except salesforce.SignatureError as exc:
        raise BadSignature(str(exc)) from exc
    if len(message.notifications) > salesforce.MAX_NOTIFICATIONS:
        raise TooManyNotifications(salesforce.MAX_NOTIFICATIONS)
    opportunity_ids = {n.fields.get("Id") or "" for n in message.notifications}
    async with runtime.pool.acquire() as conn:
        known = await repo.load_deals(conn, row["id"], opportunity_ids - {""})
    translation = salesforce.translate(_config(row), message, known, datetime.now(UTC))
    events, invalid = _checked_or_dead(translation, translation.keys)
    dead = [*translation.dead_letters, *invalid]
    await _append(runtime, org, "salesforce", events)
    await _finish(runtime, row["id"], translation, dead)
    return salesforce.ACK


# --------------------------------------------------------------------------- dead letters


async def list_dead_letters(
    pool: asyncpg.Pool, principal: Principal, connector_id: UUID, limit: int
) -> dict[str, Any]:
    _require_admin(principal)
    async with pool.acquire() as conn:
        await _load(conn, principal, connector_id)
        rows = await repo.open_dead_letters(conn, connector_id, limit=limit)
    return {"items": [{**dict(r), "payload": orjson.loads(r["payload"])} for r in rows]}


def _retranslate(
    config: ConnectorConfig, letters: Sequence[asyncpg.Record], known: dict[str, Any]
) -> tuple[Translation, dict[str, str]]:
    """The letters translated again with the current mapping; and event id -> letter key."""
    out = Translation()
    ids: dict[str, str] = {}
    if config.provider == "hubspot":
        payloads = [orjson.loads(r["payload"]) for r in letters]
        out = hubspot.translate(config, payloads, known)
        ids = {
            str(derived_event_id(hubspot.event_key(p))): hubspot.event_key(p)
            for p in payloads
            if isinstance(p, dict)
        }
    elif config.provider == "generic":
        for r in letters:
            _, rest = r["event_key"].split(":", 1)
            webhook_id, index = rest.rsplit(":", 1)
            one = generic.translate(
                config, webhook_id, [orjson.loads(r["payload"])], first_index=int(index)
            )
            out.events += one.events
            out.dead_letters += one.dead_letters
            ids.update({e["event_id"]: r["event_key"] for e in one.events})
    elif config.provider == "pipedrive":
        for r in letters:  # the whole delivery: keep the one event this letter stands for
            one = pipedrive.translate(config, orjson.loads(r["payload"]))
            _keep(out, ids, one, r["event_key"])
    elif config.provider == "salesforce":
        for r in letters:  # the notification, against what was known before it
            one = salesforce.retranslate(config, orjson.loads(r["payload"]))
            _keep(out, ids, one, r["event_key"])
    return out, ids


def _keep(out: Translation, ids: dict[str, str], one: Translation, key: str) -> None:
    out.events += [e for e in one.events if one.keys.get(e["event_id"]) == key]
    out.dead_letters += [d for d in one.dead_letters if d.event_key == key]
    ids.update({k: v for k, v in one.keys.items() if v == key})


async def replay_dead_letters(
    runtime: Runtime, principal: Principal, connector_id: UUID
) -> dict[str, Any]:
    """Translate the open dead letters again with the current mapping and append what maps.
    Idempotent: the event ids derive from the provider's ids, so a replay that dies half-way is
    simply run again."""
    _require_admin(principal)
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _load(conn, principal, connector_id)
        letters = await repo.open_dead_letters(conn, connector_id, limit=1000, for_update=True)
        if not letters:
            return {"replayed": 0, "remaining": 0}
        config = _config(row)
        known: dict[str, Any] = {}
        if config.provider == "hubspot":
            object_ids = {str(orjson.loads(r["payload"]).get("objectId")) for r in letters}
            known = await repo.load_deals(conn, connector_id, object_ids)
        translation, keys = _retranslate(config, letters, known)
        events, invalid = _checked_or_dead(translation, keys)
        await _append(runtime, principal.org, config.provider, events)
        appended_keys = {keys[str(e.event_id)] for e in events}
        still = {d.event_key: d for d in (*translation.dead_letters, *invalid)}
        await repo.mark_replayed(
            conn, [r["id"] for r in letters if r["event_key"] in appended_keys]
        )
        await repo.update_reasons(
            conn,
            [
                (r["id"], still[r["event_key"]].reason, still[r["event_key"]].detail)
                for r in letters
                if r["event_key"] in still
            ],
        )
    return {"replayed": len(appended_keys), "remaining": len(letters) - len(appended_keys)}
