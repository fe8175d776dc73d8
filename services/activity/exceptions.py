"""The activity service's failures, each with its HTTP status (rendered as problem+json)."""

from __future__ import annotations

from shared.errors import Conflict, InvalidInput


class EventIdConflict(Conflict):
    title = "Event id already used"
    slug = "event-id-conflict"


class StreamVersionConflict(Conflict):
    title = "Stream has moved on"
    slug = "stream-version-conflict"


class AlreadyVoided(Conflict):
    title = "Event already voided"
    slug = "already-voided"


class VoidTargetNotFound(InvalidInput):
    title = "Voided event not found"
    slug = "void-target-not-found"


class CannotVoidAVoid(InvalidInput):
    title = "A void cannot be voided"
    slug = "void-of-void"


class VoidInAnotherStream(InvalidInput):
    title = "Void in another stream"
    slug = "void-stream-mismatch"
