"""The activity service's failures, each with its HTTP status (rendered as problem+json)."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound


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


class StreamNotFound(NotFound):
    """A stream that does not exist, or that the caller may not append to or read: the two
    answer alike (same title, type and detail), so nothing about someone else's stream leaks."""


class RepNotInTeam(NotFound):
    title = "Rep not in your team"
    slug = "rep-not-in-team"


class ReassignNotAllowed(Forbidden):
    title = "Reassignment not allowed"
    slug = "reassign-forbidden"


class CannotVoidAReassignment(InvalidInput):
    title = "A reassignment cannot be voided"
    slug = "void-of-reassignment"
