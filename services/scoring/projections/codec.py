"""The fold's remembered entities to and from JSON, for the consumer to keep them in Postgres."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from . import health, leads
from .kpis import Account, Deal, Invoice, Lead

KINDS: dict[str, type[Any]] = {
    "leads": Lead,
    "deals": Deal,
    "accounts": Account,
    "invoices": Invoice,
    "prospects": leads.Prospect,
    "customers": health.Customer,
}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def encode(value: Any) -> str:
    if isinstance(value, leads.Prospect):
        return leads.encode(value)
    if isinstance(value, health.Customer):
        return health.encode(value)
    return orjson.dumps({k: _plain(v) for k, v in value._asdict().items()}).decode()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def decode(kind: str, text: str | bytes) -> Any:
    if kind == "prospects":
        return leads.decode(text)
    if kind == "customers":
        return health.decode(text)
    raw: dict[str, Any] = orjson.loads(text)
    if kind == "leads":
        return Lead(**{
            **raw, "created_at": _time(raw["created_at"]),
            "qualified_at": _time(raw["qualified_at"]), "qualified_by": tuple(raw["qualified_by"]),
            "disqualified_at": _time(raw["disqualified_at"]),
            "disqualified_by": tuple(raw["disqualified_by"]),
        })  # fmt: skip
    if kind == "deals":
        return Deal(**{**raw, "opened_at": datetime.fromisoformat(raw["opened_at"]),
                       "amount": Decimal(raw["amount"]), "stages": tuple(raw["stages"]),
                       "pipeline_at": _time(raw.get("pipeline_at"))})  # fmt: skip
    if kind == "accounts":
        return Account(
            tier=raw["tier"],
            first_won_at=_time(raw["first_won_at"]),
            first_won_by=tuple(raw["first_won_by"]),
            first_won_dims=tuple(raw["first_won_dims"]),
            followed_up=raw["followed_up"],
            touches=tuple(datetime.fromisoformat(t) for t in raw["touches"]),
        )
    return Invoice(**raw)
