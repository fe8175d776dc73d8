"""Every query of the connectors (asyncpg, like the rest of activity)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import orjson

from .domain import DeadLetter, DealFacts

_CONNECTOR = """
SELECT id, org_id, provider, secret_current, secret_current_set_at, secret_previous,
       secret_previous_set_at, stages::text AS stages, owners::text AS owners,
       default_currency, default_product_line, created_at, updated_at, salesforce_org_id
FROM activity.connectors AS c
"""


async def insert_connector(
    conn: asyncpg.Connection,
    *,
    id: UUID,
    org_id: str,
    provider: str,
    secret: str,
    stages: str,
    owners: str,
    default_currency: str,
    default_product_line: str,
) -> asyncpg.Record | None:
    """The new connector, or None when the org has one for this provider already."""
    return await conn.fetchrow(
        """
        WITH ins AS (
            INSERT INTO activity.connectors (id, org_id, provider, secret_current,
                secret_current_set_at, stages, owners, default_currency, default_product_line)
            VALUES ($1, $2, $3, $4, now(), $5::jsonb, $6::jsonb, $7, $8)
            ON CONFLICT (org_id, provider) DO NOTHING
            RETURNING id
        )
        SELECT id FROM ins
        """,
        id,
        org_id,
        provider,
        secret,
        stages,
        owners,
        default_currency,
        default_product_line,
    )


async def set_salesforce_org_id(
    conn: asyncpg.Connection, connector_id: UUID, salesforce_org_id: str
) -> None:
    await conn.execute(
        "UPDATE activity.connectors SET salesforce_org_id = $2 WHERE id = $1",
        connector_id,
        salesforce_org_id,
    )


async def list_connectors(conn: asyncpg.Connection, org_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        _CONNECTOR + " WHERE org_id = $1 ORDER BY provider", org_id
    )
    return rows


async def get_connector(
    conn: asyncpg.Connection, org_id: str, connector_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        _CONNECTOR + " WHERE org_id = $1 AND id = $2" + lock, org_id, connector_id
    )


async def get_connector_by_provider(
    conn: asyncpg.Connection, org_id: str, provider: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        _CONNECTOR + " WHERE org_id = $1 AND provider = $2", org_id, provider
    )


async def update_connector(
    conn: asyncpg.Connection,
    connector_id: UUID,
    *,
    secret_current: str,
    secret_current_set_at: datetime,
    secret_previous: str | None,
    secret_previous_set_at: datetime | None,
    stages: str,
    owners: str,
    default_currency: str,
    default_product_line: str,
) -> None:
    await conn.execute(
        """
        UPDATE activity.connectors SET secret_current = $2, secret_current_set_at = $3,
            secret_previous = $4, secret_previous_set_at = $5, stages = $6::jsonb,
            owners = $7::jsonb, default_currency = $8, default_product_line = $9,
            updated_at = now()
        WHERE id = $1
        """,
        connector_id,
        secret_current,
        secret_current_set_at,
        secret_previous,
        secret_previous_set_at,
        stages,
        owners,
        default_currency,
        default_product_line,
    )


async def delete_connector(conn: asyncpg.Connection, org_id: str, connector_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM activity.connectors WHERE org_id = $1 AND id = $2", org_id, connector_id
    )
    return bool(status.endswith(" 1"))


async def load_deals(
    conn: asyncpg.Connection, connector_id: UUID, object_ids: Iterable[str]
) -> dict[str, DealFacts]:
    rows = await conn.fetch(
        "SELECT object_id, owner_id, amount, stage, modified_at, amount_at, stage_at"
        " FROM activity.connector_deals WHERE connector_id = $1 AND object_id = ANY($2::text[])",
        connector_id,
        list(object_ids),
    )
    return {
        r["object_id"]: DealFacts(
            r["owner_id"], r["amount"], r["stage"], r["modified_at"], r["amount_at"], r["stage_at"]
        )
        for r in rows
    }


# A value replaces the one kept unless both have a time and it is the older (domain.newer); in
# SQL, so that two deliveries of one deal stored at once keep the newer value whichever commits
# last.
_NEWER = (
    "EXCLUDED.{v} IS NOT NULL AND (EXCLUDED.{v}_at IS NULL OR d.{v}_at IS NULL"
    " OR EXCLUDED.{v}_at >= d.{v}_at)"
)


async def save_deals(
    conn: asyncpg.Connection, connector_id: UUID, deals: dict[str, DealFacts]
) -> None:
    """Remember what was learnt; a value not learnt now keeps the one stored, and so does one
    older than the stored one (the amount and the stage, by the provider's time of their change:
    deliveries come in no promised order). One statement, rows in object id order: concurrent
    deliveries touching the same deals lock them in the same order, so they wait for each other
    instead of deadlocking."""
    if not deals:
        return
    ordered = sorted(deals.items())
    amount, stage = _NEWER.format(v="amount"), _NEWER.format(v="stage")
    await conn.execute(
        f"""
        INSERT INTO activity.connector_deals AS d (connector_id, object_id, owner_id, amount,
            stage, modified_at, amount_at, stage_at)
        SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                 $7::timestamptz[], $8::timestamptz[])
            AS n(object_id, owner_id, amount, stage, modified_at, amount_at, stage_at)
        ORDER BY object_id
        ON CONFLICT (connector_id, object_id) DO UPDATE SET
            owner_id = COALESCE(EXCLUDED.owner_id, d.owner_id),
            amount = CASE WHEN {amount} THEN EXCLUDED.amount ELSE d.amount END,
            amount_at = CASE WHEN {amount} THEN EXCLUDED.amount_at ELSE d.amount_at END,
            stage = CASE WHEN {stage} THEN EXCLUDED.stage ELSE d.stage END,
            stage_at = CASE WHEN {stage} THEN EXCLUDED.stage_at ELSE d.stage_at END,
            modified_at = COALESCE(EXCLUDED.modified_at, d.modified_at)
        """,
        connector_id,
        [k for k, _ in ordered],
        [v.owner_id for _, v in ordered],
        [v.amount for _, v in ordered],
        [v.stage for _, v in ordered],
        [v.modified_at for _, v in ordered],
        [v.amount_at for _, v in ordered],
        [v.stage_at for _, v in ordered],
    )


async def existing_event_ids(
    conn: asyncpg.Connection, org_id: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT event_id FROM activity.events WHERE org_id = $1 AND event_id = ANY($2::uuid[])",
        org_id,
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def add_dead_letters(
    conn: asyncpg.Connection, connector_id: UUID, letters: Sequence[DeadLetter]
) -> None:
    """One dead letter per provider event: a redelivery adds nothing (and reopens none)."""
    if not letters:
        return
    await conn.executemany(
        """
        INSERT INTO activity.connector_dead_letters
            (connector_id, event_key, reason, detail, payload)
        VALUES ($1, $2, $3, $4, $5::jsonb)
        ON CONFLICT (connector_id, event_key) DO NOTHING
        """,
        [  # in key order, as save_deals: concurrent deliveries never deadlock
            (connector_id, d.event_key, d.reason, d.detail, orjson.dumps(d.payload).decode())
            for d in sorted(letters, key=lambda d: d.event_key)
        ],
    )


async def open_dead_letters(
    conn: asyncpg.Connection, connector_id: UUID, *, limit: int, for_update: bool = False
) -> list[asyncpg.Record]:
    lock = " FOR UPDATE SKIP LOCKED" if for_update else ""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, event_key, reason, detail, payload::text AS payload, received_at"
        " FROM activity.connector_dead_letters"
        " WHERE connector_id = $1 AND replayed_at IS NULL ORDER BY id LIMIT $2" + lock,
        connector_id,
        limit,
    )
    return rows


async def mark_replayed(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE activity.connector_dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[])",
        list(ids),
    )


async def update_reasons(conn: asyncpg.Connection, reasons: Sequence[tuple[int, str, str]]) -> None:
    if reasons:
        await conn.executemany(
            "UPDATE activity.connector_dead_letters SET reason = $2, detail = $3 WHERE id = $1",
            list(reasons),
        )
