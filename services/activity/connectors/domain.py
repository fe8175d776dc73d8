"""What every connector shares: its settings, derived event ids, translations, dead letters.

Pure: no I/O. A provider module turns a delivery into a `Translation`: the events to append (as
client bodies, validated by the same models as `POST /v1/events/batch`), the dead letters (what
did not map, with the reason) and what it learnt of the CRM's deals.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID, uuid5

from shared.dates import END_MOMENT, FIRST_MOMENT
from shared.events import LossReason
from shared.money import minor_units

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
    salesforce_org_id: str | None = None  # Salesforce: the org whose outbound messages we take

    @property
    def source(self) -> str:
        return f"crm:{self.provider}"


@dataclass(frozen=True, slots=True)
class DealFacts:
    """What a connector knows of one CRM deal (from this and earlier deliveries).

    Deliveries come in no promised order, so the amount and the stage keep the provider's time
    of the change they came from (`amount_at`, `stage_at`; None: not known, as for values kept
    before times were): a change older than the value kept is still appended as an event (it
    happened, and scoring reads a deal by `occurred_at`), but does not replace the value that
    later events carry, such as the amount of HubSpot's `deal.won` (see `newer`)."""

    owner_id: str | None = None
    amount: str | None = None
    stage: str | None = None  # the CRM's stage (Salesforce: the StageName last seen)
    modified_at: str | None = None  # Salesforce: the record's SystemModstamp last seen
    amount_at: datetime | None = None
    stage_at: datetime | None = None


def newer(at: datetime, kept_at: datetime | None) -> bool:
    """Whether a value that was true at `at` replaces one kept from `kept_at`: unless it is
    older (a tie goes to the one that came last, as the provider sent them)."""
    return kept_at is None or at >= kept_at


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
    keys: dict[str, str] = field(default_factory=dict)  # our event id -> the provider's key
    # our event id -> the provider's event, as received (kept as its dead letter's payload if
    # our models refuse the translation; else the translation is kept)
    originals: dict[str, Any] = field(default_factory=dict)


def amount(value: object, currency: str) -> str | None:
    """A CRM's amount as our decimal string, rounded to `currency`'s minor units (the system's
    one money rule, `shared.money`: JPY 0 decimals, EUR 2, KWD 3), or None when it is not one.
    CRMs keep amounts with whatever decimals they like; what we store carries what the currency
    has."""
    if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
        return None
    try:
        parsed = Decimal(str(value).strip()).quantize(Decimal(1).scaleb(-minor_units(currency)))
    except InvalidOperation:
        return None
    if not parsed.is_finite() or parsed < 0 or parsed >= Decimal(10) ** 15:
        return None
    return format(parsed, "f")


def zero(currency: str) -> str:
    """No amount yet, in `currency`: "0" JPY, "0.00" EUR, "0.000" KWD."""
    return format(Decimal(0).scaleb(-minor_units(currency)), "f")


_LOSS_REASONS = {r.value for r in LossReason}


def loss_reason(text: object) -> dict[str, str]:
    """`reason` (and `note`) of a `deal.lost` from a CRM's free-text loss reason: ours when it
    names one of ours ("Price", "no budget", "Product-fit"), else `other` with the text as note."""
    if not isinstance(text, str) or not text.strip():
        return {"reason": LossReason.OTHER.value}
    key = "_".join(text.strip().lower().replace("-", " ").split())
    if key in _LOSS_REASONS:
        return {"reason": key}
    return {"reason": LossReason.OTHER.value, "note": text.strip()[:4000]}


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time (`Z` or an offset; none means UTC, as Pipedrive's v1 times), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1970 <= parsed.year < 2100 or not FIRST_MOMENT <= parsed < END_MOMENT:
        return None  # the system's range (shared.dates); the year first, so comparing is safe
    return parsed
