"""The CRM connectors' failures, one class each (each renders as RFC 9457 problem+json through
shared/errors.py, with its parent's status, type and title unless it names its own)."""

from __future__ import annotations

from uuid import UUID

from shared.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    field_error,
)

# --------------------------------------------------------------------------- 400


class NotJson(MalformedRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(f"The body is not valid JSON: {reason}.")


class NotASalesforceMessage(MalformedRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Not a Salesforce outbound message: {reason}.")


# --------------------------------------------------------------------------- 401


class BadSignature(Unauthorized):
    """A delivery that its provider's signature (or token) does not verify; the detail says
    why."""

    title = "Webhook not verified"
    slug = "webhook-signature"


class BadBasicAuth(BadSignature):
    """A Pipedrive delivery without the connector's HTTP Basic credentials."""

    challenge = 'Basic realm="salesperf"'


# --------------------------------------------------------------------------- 403


class AdminsOnly(Forbidden):
    def __init__(self) -> None:
        super().__init__("Connectors are managed by the org's admins.")


# --------------------------------------------------------------------------- 404


class UnknownConnector(NotFound):
    title = "No such connector"
    slug = "connector-not-found"


class ConnectorNotFound(UnknownConnector):
    def __init__(self, connector_id: UUID) -> None:
        super().__init__(f"There is no connector {connector_id}.")


class NoConnectorFor(UnknownConnector):
    """A delivery for a provider the org has no connector of."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"The org has no {provider} connector.")


# --------------------------------------------------------------------------- 409


class ConnectorExists(Conflict):
    title = "Connector exists"
    slug = "connector-exists"

    def __init__(self, provider: str) -> None:
        super().__init__(
            f"The org has a {provider} connector already: PATCH it.",
            errors=[field_error("provider", "already configured", "exists")],
        )


# --------------------------------------------------------------------------- 413


class TooManyHubSpotEvents(PayloadTooLarge):
    def __init__(self, most: int) -> None:
        super().__init__(
            f"At most {most} HubSpot events per delivery.",
            errors=[field_error("body", f"more than {most} items", "too_long")],
        )


class TooManyNotifications(PayloadTooLarge):
    def __init__(self, most: int) -> None:
        super().__init__(
            f"At most {most} notifications per message.",
            errors=[field_error("body", "too many notifications", "too_long")],
        )


# --------------------------------------------------------------------------- 415


class JsonOnly(UnsupportedMediaType):
    def __init__(self, media: str) -> None:
        super().__init__(f"Send `application/json`, not {media!r}.")


class XmlOnly(UnsupportedMediaType):
    def __init__(self, media: str) -> None:
        super().__init__(f"Salesforce sends `text/xml`, not {media!r}.")


# --------------------------------------------------------------------------- 422


class SecretRefused(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, errors=[field_error("secret", reason, "value_error")])


class SalesforceOrgIdNotAllowed(InvalidInput):
    def __init__(self) -> None:
        detail = "salesforce_org_id is for Salesforce connectors only"
        super().__init__(detail, errors=[field_error("salesforce_org_id", detail, "value_error")])


class NulInBody(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "A string of the body holds U+0000, which cannot be stored.",
            errors=[field_error("body", "holds U+0000", "string_nul")],
        )


class NotAnArray(InvalidInput):
    """A HubSpot delivery that is not a JSON array."""

    def __init__(self) -> None:
        super().__init__(
            "HubSpot posts a JSON array of events.",
            errors=[field_error("body", "must be an array", "type")],
        )


class EventCountOutOfRange(InvalidInput):
    """A generic delivery with no event, or more than a delivery may carry."""

    def __init__(self, most: int) -> None:
        super().__init__(
            f"Send one event or a list of 1 to {most}.",
            errors=[field_error("body", f"1 to {most} events", "length")],
        )


class NotAnObject(InvalidInput):
    """A Pipedrive delivery that is not a JSON object."""

    def __init__(self) -> None:
        super().__init__(
            "Pipedrive posts one JSON object (webhooks v2).",
            errors=[field_error("body", "must be an object", "type")],
        )


class NotAPipedriveDelivery(InvalidInput):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Not a Pipedrive v2 delivery: {reason}.",
            errors=[field_error("body.meta", reason, "missing")],
        )
