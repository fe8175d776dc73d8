"""The event contract: the envelope and a strict payload model for every v1 event type.

Every service reads events through these models. Money is a decimal *string* with an ISO 4217
currency code; times are ISO-8601 with an offset; ids are short opaque strings. Unknown fields
are rejected, so a typo in a client is an error rather than silently lost data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args
from uuid import UUID, uuid5

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.dates import END_MOMENT, FIRST_MOMENT, IsoDate, IsoDatetime
from shared.money import CURRENCIES, decimals_error

CURRENT_SCHEMA_VERSION: Literal[1] = 1

# ---------------------------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------------------------

_AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$")


def _parse_amount(value: object) -> Decimal:
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError('must be a decimal string such as "1250.00", not a JSON number')
    if text.startswith("-"):
        raise ValueError("must not be negative")
    if not _AMOUNT.match(text):
        raise ValueError("must be a decimal string with at most 15 digits and 4 decimals")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already excludes it
        raise ValueError("is not a decimal number") from exc


Amount = Annotated[
    Decimal,
    PlainValidator(_parse_amount),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": _AMOUNT.pattern, "examples": ["12500.00"]}),
]


def _parse_currency(value: object) -> str:
    if not isinstance(value, str) or value not in CURRENCIES:
        raise ValueError("must be an ISO 4217 currency code such as EUR, USD or CNY")
    return value


Currency = Annotated[
    str,
    PlainValidator(_parse_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]}),
]

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}"
"""Every id (event, rep, team, org, account…), unanchored: `^…$` around it to match it alone."""
Identifier = Annotated[str, StringConstraints(pattern=rf"^{ID_PATTERN}$")]
_NO_NUL = r"^[^\x00]*$"  # PostgreSQL text and jsonb cannot hold U+0000
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_NO_NUL)]
Note = Annotated[str, StringConstraints(max_length=4000, pattern=_NO_NUL)]
Signal = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Stage = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Stream = Annotated[str, StringConstraints(pattern=rf"^(lead|deal|account)-{ID_PATTERN}$")]
Count = Annotated[int, Strict()]  # a JSON integer: not "45", not true
Flag = Annotated[bool, Strict()]  # a JSON boolean: not 1, not "yes"
AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
AttributeValue = Annotated[str, StringConstraints(max_length=500, pattern=_NO_NUL)]


class Payload(BaseModel):
    """Base of every payload: strict about unknown fields, immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Priced(Payload):
    """A payload with an amount in a currency: the amount carries at most the currency's
    minor-unit decimals (`shared.money`: JPY none, EUR 2, KWD 3), or the event is refused with
    the amount's field named."""

    _amount_field: ClassVar[str] = "amount"

    @model_validator(mode="after")
    def _decimals_fit_the_currency(self) -> Priced:
        amount = self.__dict__.get(self._amount_field)
        currency = self.__dict__.get("currency")
        if amount is None or currency is None:
            return self
        problem = decimals_error(amount, currency)
        if problem is not None:
            error = PydanticCustomError("decimal_places", problem)
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=error, loc=(self._amount_field,), input=format(amount, "f")
                    )
                ],
            )
        return self


# ---------------------------------------------------------------------------------------------
# Payloads (the `data` of each event type)
# ---------------------------------------------------------------------------------------------


class Channel(StrEnum):
    REFERRAL = "referral"
    COLD_VISIT = "cold_visit"
    EXHIBITION = "exhibition"
    ONLINE = "online"
    INBOUND = "inbound"
    OTHER = "other"


class CompanySize(StrEnum):
    MICRO = "1-9"
    SMALL = "10-49"
    MEDIUM = "50-249"
    LARGE = "250-999"
    ENTERPRISE = "1000+"


class LeadCreated(Priced):
    _amount_field: ClassVar[str] = "estimated_value"

    name: ShortText = Field(description="Company or person the lead is about.")
    channel: Channel
    account_id: Identifier | None = Field(default=None, description="The account, if known.")
    industry: ShortText | None = None
    company_size: CompanySize | None = None
    estimated_value: Amount | None = None
    currency: Currency | None = None
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        max_length=50,
        description="Anything else the app or CRM knows, as strings: occupation, city, campaign…",
    )

    @field_validator("attributes")
    @classmethod
    def _sorted(cls, attributes: dict[str, str]) -> dict[str, str]:
        return dict(sorted(attributes.items()))  # one canonical order for equal content

    @model_validator(mode="after")
    def _value_has_currency(self) -> LeadCreated:
        if (self.estimated_value is None) != (self.currency is None):
            raise ValueError("estimated_value and currency go together")
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Bäckerei Schmidt GmbH",
                    "channel": "exhibition",
                    "industry": "food retail",
                    "company_size": "10-49",
                    "estimated_value": "18000.00",
                    "currency": "EUR",
                    "attributes": {"city": "Leipzig", "campaign": "fair-2026-spring"},
                }
            ]
        }
    )


class LeadQualified(Priced):
    _amount_field: ClassVar[str] = "estimated_value"

    estimated_value: Amount | None = None
    currency: Currency | None = None
    note: Note | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"estimated_value": "24000.00", "currency": "EUR", "note": "Budget confirmed"}
            ]
        }
    )


class DisqualifyReason(StrEnum):
    NO_BUDGET = "no_budget"
    NO_NEED = "no_need"
    NOT_REACHABLE = "not_reachable"
    COMPETITOR = "competitor"
    DUPLICATE = "duplicate"
    OTHER = "other"


class LeadDisqualified(Payload):
    reason: DisqualifyReason
    note: Note | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "no_budget"}]})


class VisitMode(StrEnum):
    ONSITE = "onsite"
    ONLINE = "online"


class VisitLogged(Payload):
    mode: VisitMode
    effective: Flag = Field(description="Did the visit move the opportunity forward?")
    duration_minutes: Count = Field(ge=0, le=24 * 60)
    account_id: Identifier | None = None
    buying_signals: list[Signal] = Field(default_factory=list, max_length=20)
    note: Note | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "onsite",
                    "effective": True,
                    "duration_minutes": 45,
                    "account_id": "acc-1042",
                    "buying_signals": ["asked_for_price", "met_decision_maker"],
                }
            ]
        }
    )


class CallDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class CallLogged(Payload):
    connected: Flag
    duration_seconds: Count = Field(ge=0, le=24 * 3600)
    direction: CallDirection = CallDirection.OUTBOUND
    account_id: Identifier | None = None
    buying_signals: list[Signal] = Field(default_factory=list, max_length=20)
    note: Note | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "connected": True,
                    "duration_seconds": 340,
                    "direction": "outbound",
                    "buying_signals": ["requested_demo"],
                }
            ]
        }
    )


class DealOpened(Priced):
    amount: Amount
    currency: Currency
    product_line: Identifier
    account_id: Identifier | None = Field(
        default=None,
        description="The account (customer) it is for; left out for a prospect that is not an "
        "account yet, which a later `deal.account_linked` ties to one.",
    )
    stage: Stage = "qualification"
    lead_id: Identifier | None = Field(default=None, description="The lead it came from, if any.")
    expected_close: IsoDate | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": "24000.00",
                    "currency": "EUR",
                    "product_line": "ovens",
                    "account_id": "acc-1042",
                    "stage": "qualification",
                    "lead_id": "L-2026-0117",
                    "expected_close": "2026-12-15",
                }
            ]
        }
    )


class DealAccountLinked(Payload):
    """A deal opened without an account (a prospect not yet a customer) now belongs to one:
    account-based metrics count the deal for that account from this event on (a deal won before
    it counts as the account's win at the link). Linking it to the account it already has
    changes nothing; a deal's first account is kept (a link naming another one is stored and
    ignored by the projections: void the wrong event and log the right one instead)."""

    account_id: Identifier = Field(description="The account the deal belongs to from now on.")
    reason: ShortText | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"account_id": "acc-1042", "reason": "prospect signed up as a customer"}]
        }
    )


class DealStageChanged(Payload):
    to_stage: Stage
    from_stage: Stage | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"from_stage": "qualification", "to_stage": "proposal"}]}
    )


class DealAmountChanged(Priced):
    amount: Amount
    currency: Currency
    reason: ShortText | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"amount": "21500.00", "currency": "EUR", "reason": "volume discount"}]
        }
    )


class DealWon(Priced):
    amount: Amount
    currency: Currency
    renewal_date: IsoDate | None = Field(
        default=None,
        description="When the contract comes up for renewal, if it does (customer health "
        "warns when it is near and nobody has been in touch).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"amount": "21500.00", "currency": "EUR", "renewal_date": "2027-11-30"}]
        }
    )


class LossReason(StrEnum):
    PRICE = "price"
    COMPETITOR = "competitor"
    NO_BUDGET = "no_budget"
    NO_DECISION = "no_decision"
    TIMING = "timing"
    PRODUCT_FIT = "product_fit"
    OTHER = "other"


class DealLost(Payload):
    reason: LossReason
    competitor: ShortText | None = None
    note: Note | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "competitor", "competitor": "OvenCo"}]}
    )


class InvoiceIssued(Priced):
    invoice_id: Identifier
    account_id: Identifier
    amount: Amount
    currency: Currency
    deal_id: Identifier | None = None
    due_date: IsoDate | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invoice_id": "INV-2026-0311",
                    "account_id": "acc-1042",
                    "deal_id": "D-88",
                    "amount": "21500.00",
                    "currency": "EUR",
                    "due_date": "2027-01-14",
                }
            ]
        }
    )


class PaymentReceived(Priced):
    invoice_id: Identifier
    account_id: Identifier
    amount: Amount
    currency: Currency

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "invoice_id": "INV-2026-0311",
                    "account_id": "acc-1042",
                    "amount": "10750.00",
                    "currency": "EUR",
                }
            ]
        }
    )


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class AccountTierChanged(Payload):
    tier: Tier
    previous_tier: Tier | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"tier": "A", "previous_tier": "B"}]})


class ContactLeft(Payload):
    contact_id: Identifier
    name: ShortText | None = None
    role: ShortText | None = None
    key_contact: Flag = False

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contact_id": "c-77",
                    "name": "Jana Novak",
                    "role": "Head of purchasing",
                    "key_contact": True,
                }
            ]
        }
    )


class EventVoided(Payload):
    voided_event_id: UUID = Field(description="The event this one cancels (same org and stream).")
    reason: ShortText

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "voided_event_id": "0b8f5a52-9a1c-4c1e-8a57-2f1d1c1b7a10",
                    "reason": "logged on the wrong account",
                }
            ]
        }
    )


class EngagementKind(StrEnum):
    EMAIL_SENT = "email_sent"
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    PAGE_VIEWED = "page_viewed"
    FORM_SUBMITTED = "form_submitted"
    CHAT = "chat"
    SMS = "sms"
    WEBINAR = "webinar"
    OTHER = "other"


class EngagementTracked(Payload):
    """A digital touch a CRM or marketing tool saw: an e-mail opened, a page read, a form sent."""

    kind: EngagementKind
    count: Count = Field(default=1, ge=1, le=10_000, description="How many (e.g. 3 opens).")
    seconds: Count = Field(
        default=0, ge=0, le=7 * 24 * 3600, description="Time spent (on the page, in the chat)."
    )
    url: (
        Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=_NO_NUL)] | None
    ) = None
    campaign: ShortText | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "page_viewed",
                    "count": 1,
                    "seconds": 840,
                    "url": "https://example.com/pricing",
                    "campaign": "web-2026-q4",
                }
            ]
        }
    )


class LeadConsentChanged(Payload):
    """The prospect asked not to be e-mailed or called (or allowed it again); a flag left out
    is unchanged."""

    do_not_email: Flag | None = None
    do_not_call: Flag | None = None

    @model_validator(mode="after")
    def _says_something(self) -> LeadConsentChanged:
        if self.do_not_email is None and self.do_not_call is None:
            raise ValueError("give do_not_email, do_not_call or both")
        return self

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"do_not_email": True, "do_not_call": False}]}
    )


class StreamReassigned(Payload):
    """A lead, deal or account handed to another rep: from this event on, `to_rep_id` owns the
    stream (only the owner, among reps, may append to it). Logged by an admin, or by a manager
    for a rep of their own team; the envelope's `rep_id` is the new owner (filled in when left
    out) and its `team_id` their team."""

    to_rep_id: Identifier = Field(description="The rep who owns the stream from now on.")
    reason: ShortText | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"to_rep_id": "rep-ben", "reason": "territory change"}]}
    )


# ---------------------------------------------------------------------------------------------
# The envelope
# ---------------------------------------------------------------------------------------------


class EventMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Annotated[
        str, StringConstraints(pattern=r"^(app|import|api|crm:[a-z0-9_-]{1,32})$")
    ] = "app"
    correlation_id: Identifier | None = None
    causation_id: Identifier | None = None


class EnvelopeBase(BaseModel):
    """Fields every event carries, as a client sends them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Which stream kinds an event type may belong to.
    streams: ClassVar[tuple[str, ...]] = ("lead", "deal", "account")

    event_id: UUID = Field(description="Client-chosen idempotency key.")
    stream: Stream = Field(
        description="The entity it belongs to: `lead-…`, `deal-…` or `account-…`."
    )
    rep_id: Identifier | None = Field(
        default=None, description="Who did it (a rep's token sets it)."
    )
    team_id: Identifier | None = Field(default=None, description="The rep's team.")
    # The range (shared.dates: a day from 1970-01-01 to 2099-12-31 in every time zone, so any
    # org's KPIs can answer for it) is checked by pydantic-core (a Python validator comparing
    # aware datetimes cost ~3 µs an event appended).
    occurred_at: IsoDatetime = Field(
        ge=FIRST_MOMENT,
        lt=END_MOMENT,
        description="Business time, an ISO-8601 string with a UTC offset, on a day between "
        "1970-01-01 and 2099-12-31 in every time zone (1970-01-01T12:00Z to 2099-12-31T10:00Z).",
    )
    metadata: EventMetadata = Field(default_factory=EventMetadata)
    schema_version: Literal[1] = CURRENT_SCHEMA_VERSION
    expected_version: Count | None = Field(
        default=None,
        ge=0,
        description="Optimistic concurrency: the stream's current version (0: the stream must be new). "
        "Not stored.",
    )

    @field_validator("stream")
    @classmethod
    def _stream_fits_type(cls, stream: str) -> str:
        if stream.split("-", 1)[0] not in cls.streams:
            allowed = " or ".join(f"{s}-…" for s in cls.streams)
            raise ValueError(f"this event type belongs to a {allowed} stream")
        return stream


class LeadCreatedEvent(EnvelopeBase):
    streams = ("lead",)
    type: Literal["lead.created"]
    data: LeadCreated


class LeadQualifiedEvent(EnvelopeBase):
    streams = ("lead",)
    type: Literal["lead.qualified"]
    data: LeadQualified


class LeadDisqualifiedEvent(EnvelopeBase):
    streams = ("lead",)
    type: Literal["lead.disqualified"]
    data: LeadDisqualified


class VisitLoggedEvent(EnvelopeBase):
    type: Literal["visit.logged"]
    data: VisitLogged


class CallLoggedEvent(EnvelopeBase):
    type: Literal["call.logged"]
    data: CallLogged


class DealOpenedEvent(EnvelopeBase):
    streams = ("deal",)
    type: Literal["deal.opened"]
    data: DealOpened


class DealAccountLinkedEvent(EnvelopeBase):
    streams = ("deal",)
    type: Literal["deal.account_linked"]
    data: DealAccountLinked


class DealStageChangedEvent(EnvelopeBase):
    streams = ("deal",)
    type: Literal["deal.stage_changed"]
    data: DealStageChanged


class DealAmountChangedEvent(EnvelopeBase):
    streams = ("deal",)
    type: Literal["deal.amount_changed"]
    data: DealAmountChanged


class DealWonEvent(EnvelopeBase):
    streams = ("deal",)
    type: Literal["deal.won"]
    data: DealWon


class DealLostEvent(EnvelopeBase):
    streams = ("deal",)
    type: Literal["deal.lost"]
    data: DealLost


class InvoiceIssuedEvent(EnvelopeBase):
    streams = ("account", "deal")
    type: Literal["invoice.issued"]
    data: InvoiceIssued


class PaymentReceivedEvent(EnvelopeBase):
    streams = ("account", "deal")
    type: Literal["payment.received"]
    data: PaymentReceived


class AccountTierChangedEvent(EnvelopeBase):
    streams = ("account",)
    type: Literal["account.tier_changed"]
    data: AccountTierChanged


class ContactLeftEvent(EnvelopeBase):
    streams = ("account",)
    type: Literal["contact.left"]
    data: ContactLeft


class EngagementTrackedEvent(EnvelopeBase):
    type: Literal["engagement.tracked"]
    data: EngagementTracked


class LeadConsentChangedEvent(EnvelopeBase):
    streams = ("lead",)
    type: Literal["lead.consent_changed"]
    data: LeadConsentChanged


class StreamReassignedEvent(EnvelopeBase):
    type: Literal["stream.reassigned"]
    data: StreamReassigned

    @model_validator(mode="before")
    @classmethod
    def _rep_is_the_new_owner(cls, value: Any) -> Any:
        """The envelope's `rep_id`, when left out, is the new owner."""
        if isinstance(value, dict) and value.get("rep_id") is None:
            data = value.get("data")
            if isinstance(data, dict) and isinstance(data.get("to_rep_id"), str):
                return {**value, "rep_id": data["to_rep_id"]}
        return value

    @model_validator(mode="after")
    def _rep_matches(self) -> StreamReassignedEvent:
        if self.rep_id != self.data.to_rep_id:
            raise ValueError("rep_id must be data.to_rep_id (the new owner) or be left out")
        return self


class EventVoidedEvent(EnvelopeBase):
    type: Literal["event.voided"]
    data: EventVoided


EVENT_CLASSES: tuple[type[EnvelopeBase], ...] = (
    LeadCreatedEvent,
    LeadQualifiedEvent,
    LeadDisqualifiedEvent,
    VisitLoggedEvent,
    CallLoggedEvent,
    DealOpenedEvent,
    DealAccountLinkedEvent,
    DealStageChangedEvent,
    DealAmountChangedEvent,
    DealWonEvent,
    DealLostEvent,
    InvoiceIssuedEvent,
    PaymentReceivedEvent,
    AccountTierChangedEvent,
    ContactLeftEvent,
    EngagementTrackedEvent,
    LeadConsentChangedEvent,
    StreamReassignedEvent,
    EventVoidedEvent,
)


def _type_name(cls: type[EnvelopeBase]) -> str:
    (name,) = get_args(cls.model_fields["type"].annotation)
    return str(name)


EVENT_CLASS: dict[str, type[EnvelopeBase]] = {_type_name(cls): cls for cls in EVENT_CLASSES}
PAYLOADS: dict[str, type[Payload]] = {
    name: cls.model_fields["data"].annotation  # type: ignore[misc]
    for name, cls in EVENT_CLASS.items()
}
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)

NewEvent = Annotated[
    LeadCreatedEvent
    | LeadQualifiedEvent
    | LeadDisqualifiedEvent
    | VisitLoggedEvent
    | CallLoggedEvent
    | DealOpenedEvent
    | DealAccountLinkedEvent
    | DealStageChangedEvent
    | DealAmountChangedEvent
    | DealWonEvent
    | DealLostEvent
    | InvoiceIssuedEvent
    | PaymentReceivedEvent
    | AccountTierChangedEvent
    | ContactLeftEvent
    | EngagementTrackedEvent
    | LeadConsentChangedEvent
    | StreamReassignedEvent
    | EventVoidedEvent,
    Field(discriminator="type"),
]
"""An event as a client appends it; `type` picks the payload model."""

new_event_adapter: TypeAdapter[NewEvent] = TypeAdapter(NewEvent)


_EXAMPLE_NAMESPACE = UUID("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
_STREAM_OF_EXAMPLE = {
    "lead": "lead-L-2026-0117",
    "deal": "deal-D-88",
    "account": "account-acc-1042",
}


def example_event(event_type: str) -> dict[str, Any]:
    """A realistic, valid envelope of `event_type`, as a front end would post it."""
    cls = EVENT_CLASS[event_type]
    extra = PAYLOADS[event_type].model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    data = examples[0] if isinstance(examples, list) and examples else {}
    assert isinstance(data, dict)
    return {
        "event_id": str(uuid5(_EXAMPLE_NAMESPACE, event_type)),
        "type": event_type,
        "stream": _STREAM_OF_EXAMPLE[cls.streams[0]],
        "rep_id": data.get("to_rep_id", "rep-anna"),  # a reassignment names its new owner
        "team_id": "team-north",
        "occurred_at": "2026-11-20T10:30:00+01:00",
        "data": data,
        "metadata": {"source": "app"},
    }


EXAMPLES: dict[str, dict[str, Any]] = {t: example_event(t) for t in EVENT_TYPES}


# ---------------------------------------------------------------------------------------------
# Stored events, as the feed serves them
# ---------------------------------------------------------------------------------------------


class StoredEvent(BaseModel):
    """An event as activity stores and serves it."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    type: str
    org_id: str
    stream: str
    stream_version: int
    position: int
    rep_id: str | None
    team_id: str | None
    occurred_at: datetime
    recorded_at: datetime
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]

    def payload(self) -> Payload:
        """The typed payload; raises KeyError for a type this code does not know."""
        return PAYLOADS[self.type].model_validate(self.data)


# Upcasters turn an old payload shape into the current one on read; stored rows never change.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcast(
    event_type: str, schema_version: int, data: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Apply upcasters from `schema_version` up to the current version of `event_type`."""
    while (event_type, schema_version) in UPCASTERS:
        data = UPCASTERS[(event_type, schema_version)](data)
        schema_version += 1
    return schema_version, data
