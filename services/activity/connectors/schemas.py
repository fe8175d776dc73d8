"""Request and response bodies of the connector API. Secrets are write-only."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.events import Currency, Identifier, Stage

Provider = Literal["hubspot", "generic", "pipedrive", "salesforce"]
CrmKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
SalesforceOrgId = Annotated[
    str,
    StringConstraints(pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$"),
    Field(
        description="The Salesforce organization (`00D…`, 15 or 18 characters) whose outbound "
        "messages the connector takes; others are refused.",
        examples=["00D5g000004ABCdEAO"],
    ),
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=500, pattern=r"^[\x21-\x7e]+$")]


class OwnerMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rep_id: Identifier
    team_id: Identifier | None = None


Stages = Annotated[
    dict[CrmKey, Stage],
    Field(
        max_length=500,
        description="The CRM's stage ids mapped to ours; `won` and `lost` close the deal.",
        examples=[
            {"appointmentscheduled": "qualification", "closedwon": "won", "closedlost": "lost"}
        ],
    ),
]
Owners = Annotated[
    dict[CrmKey, OwnerMapping],
    Field(
        max_length=10_000,
        description='The CRM\'s owner ids mapped to our reps and teams; `"*"` catches the rest.',
        examples=[{"12345": {"rep_id": "rep-anna", "team_id": "team-north"}}],
    ),
]


def check_secret(provider: str, secret: str) -> None:
    if provider == "pipedrive":
        user, colon, password = secret.partition(":")
        if not colon or not user or not password:
            raise ValueError("a Pipedrive secret is the webhook's `user:password`")
    if provider == "salesforce" and (
        len(secret) < 24
        or secret.strip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    ):
        raise ValueError(
            "a Salesforce path token is at least 24 of A-Z a-z 0-9 - _ "
            "(e.g. secrets.token_urlsafe(32))"
        )
    if provider == "generic":
        if not secret.startswith("whsec_"):
            raise ValueError("a Standard Webhooks secret starts with whsec_")
        try:
            key = base64.b64decode(secret[6:] + "==", validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("whsec_ must be followed by base64") from exc
        if len(key) < 16:
            raise ValueError("the key after whsec_ must be at least 16 bytes")


class ConnectorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    secret: Secret = Field(
        description="HubSpot: the app's client secret; generic: `whsec_…`; Pipedrive: "
        "`user:password` of its Basic auth; Salesforce: the token that ends the outbound "
        "message's endpoint URL (`/v1/webhooks/salesforce/{org}/{token}`). Never shown again."
    )
    stages: Stages = Field(default_factory=dict)
    owners: Owners = Field(default_factory=dict)
    default_currency: Currency = Field(description="When the CRM sends no currency.")
    default_product_line: Identifier = "crm"
    salesforce_org_id: SalesforceOrgId | None = Field(
        default=None, description="Salesforce only, and required for it."
    )

    @field_validator("secret")
    @classmethod
    def _secret_fits(cls, secret: str, info: ValidationInfo) -> str:
        check_secret(str(info.data.get("provider", "")), secret)
        return secret

    @model_validator(mode="after")
    def _salesforce_org_id_fits(self) -> ConnectorCreate:
        if self.provider == "salesforce" and self.salesforce_org_id is None:
            raise ValueError("salesforce_org_id is required for a Salesforce connector")
        if self.provider != "salesforce" and self.salesforce_org_id is not None:
            raise ValueError("salesforce_org_id is for Salesforce connectors only")
        return self


class ConnectorUpdate(BaseModel):
    """Only what is given changes; `stages` and `owners` are replaced whole. A new `secret`
    becomes `current` and the old one `previous` (both verify until `drop_previous_secret`)."""

    model_config = ConfigDict(extra="forbid")

    secret: Secret | None = None
    drop_previous_secret: bool = False
    stages: Stages | None = None
    owners: Owners | None = None
    default_currency: Currency | None = None
    default_product_line: Identifier | None = None
    salesforce_org_id: SalesforceOrgId | None = Field(
        default=None, description="Salesforce connectors only."
    )


class SecretInfo(BaseModel):
    fingerprint: str = Field(description="First 12 hex digits of the secret's SHA-256.")
    last4: str
    set_at: datetime


class Secrets(BaseModel):
    current: SecretInfo
    previous: SecretInfo | None = None


class ConnectorRead(BaseModel):
    id: UUID
    org_id: str
    provider: Provider
    webhook_path: str
    secrets: Secrets
    stages: dict[str, str]
    owners: dict[str, OwnerMapping]
    default_currency: str
    default_product_line: str
    salesforce_org_id: str | None = None
    created_at: datetime
    updated_at: datetime


class ConnectorList(BaseModel):
    items: list[ConnectorRead]


class DeadLetterRead(BaseModel):
    id: int
    event_key: str
    reason: str
    detail: str
    payload: dict[str, Any]
    received_at: datetime


class DeadLetterList(BaseModel):
    items: list[DeadLetterRead]


class ReplayResult(BaseModel):
    replayed: int = Field(description="Dead letters that now map, appended.")
    remaining: int = Field(description="Dead letters that still do not map.")


class DeliveryResult(BaseModel):
    appended: int = Field(description="Events stored by this delivery.")
    duplicates: int = Field(description="Events stored already (a retried delivery).")
    dead_letters: int
    ignored: int
