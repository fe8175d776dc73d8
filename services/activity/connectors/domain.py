"""What every connector shares: its settings, derived event ids, translations, dead letters.

Pure: no I/O. A provider module turns a delivery into a `Translation`: the events to append (as
client bodies, validated by the same models as `POST /v1/events/batch`), the dead letters (what
did not map, with the reason) and what it learnt of the CRM's deals.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

CONNECTOR_NAMESPACE = UUID("3c0a7f5e-2b1d-4e8a-9c6f-5d4e3b2a1f00")
"""Fixed for ever: event ids derived from provider ids must come out the same on every retry."""

PROVIDERS = ("hubspot", "generic", "pipedrive", "salesforce")
WON, LOST = "won", "lost"  # stage-mapping targets that close the deal


def derived_event_id(key: str) -> UUID:
    """Our `event_id` for a provider's event, e.g. `hubspot:<portalId>:<eventId>`."""
    return uuid5(CONNECTOR_NAMESPACE, key)


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def from_millis(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Owner:
    rep_id: str
    team_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """A connector as translation needs it (secrets are the verifier's business)."""

    org_id: str
    provider: str
    stages: dict[str, str] = field(default_factory=dict)  # CRM stage -> ours, or won/lost
    owners: dict[str, Owner] = field(default_factory=dict)  # CRM owner id -> rep and team
    default_currency: str = "EUR"
    default_product_line: str = "crm"

    @property
    def source(self) -> str:
        return f"crm:{self.provider}"


@dataclass(frozen=True, slots=True)
class DealFacts:
    """What a connector knows of one CRM deal (from this and earlier deliveries)."""

    owner_id: str | None = None
    amount: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    event_key: str  # the provider's id of the event: one dead letter per event, retries or not
    reason: str  # stage_unmapped, owner_unmapped, owner_unknown, amount_unknown, invalid
    detail: str
    payload: dict[str, Any]


@dataclass(slots=True)
class Translation:
    events: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    ignored: int = 0  # events of no interest to us (another property changed…)
    deals: dict[str, DealFacts] = field(default_factory=dict)  # learnt, by CRM object id
