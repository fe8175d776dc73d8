"""The activity service's failures, each with its HTTP status (rendered as problem+json)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    UpstreamUnavailable,
    field_error,
)

# Appends: `field` is the path of the field at fault, as the client wrote it (`event_id`, or
# `events[3].event_id` in a batch).


class EventIdConflict(Conflict):
    title = "Event id already used"
    slug = "event-id-conflict"

    def __init__(self, event_id: UUID, field: str = "event_id") -> None:
        super().__init__(
            f"event_id {event_id} was already used for an event with different content.",
            errors=[field_error(field, "already used for different content", "event_id_reused")],
        )


class StreamVersionConflict(Conflict):
    title = "Stream has moved on"
    slug = "stream-version-conflict"

    def __init__(
        self, stream: str, current: int, expected: int, field: str = "expected_version"
    ) -> None:
        super().__init__(
            f"Stream {stream} is at version {current}, not {expected}.",
            errors=[
                field_error(field, f"the stream is at version {current}", "stream_version_conflict")
            ],
        )


class AlreadyVoided(Conflict):
    title = "Event already voided"
    slug = "already-voided"

    def __init__(self, event_id: UUID, field: str = "data.voided_event_id") -> None:
        super().__init__(
            f"Event {event_id} is already voided.",
            errors=[field_error(field, "already voided", "already_voided")],
        )


class VoidTargetNotFound(InvalidInput):
    title = "Voided event not found"
    slug = "void-target-not-found"

    def __init__(self, event_id: UUID, field: str = "data.voided_event_id") -> None:
        super().__init__(
            f"There is no event {event_id} to void.",
            errors=[field_error(field, "no such event", "not_found")],
        )


class CannotVoidAVoid(InvalidInput):
    title = "A void cannot be voided"
    slug = "void-of-void"

    def __init__(self, field: str = "data.voided_event_id") -> None:
        super().__init__(
            "A void cannot be voided; append the corrected event again instead.",
            errors=[field_error(field, "names an event.voided", "void_of_void")],
        )


class VoidInAnotherStream(InvalidInput):
    title = "Void in another stream"
    slug = "void-stream-mismatch"

    def __init__(self, stream: str, field: str = "stream") -> None:
        """`stream`: the stream of the voided event, where the void belongs."""
        super().__init__(
            f"A void belongs to the stream of the event it voids ({stream}).",
            errors=[field_error(field, f"must be {stream!r}", "stream_mismatch")],
        )


class StreamNotFound(NotFound):
    """A stream that does not exist, or that the caller may not append to or read: the two
    answer alike (same title, type and detail), so nothing about someone else's stream leaks.
    `field` (the `stream` at fault) is named only in a batch."""

    def __init__(self, stream: str, field: str | None = None) -> None:
        super().__init__(
            f"There is no stream {stream!r}.",
            errors=[field_error(field, "no such stream", "not_found")] if field else None,
        )


class RepNotInTeam(NotFound):
    title = "Rep not in your team"
    slug = "rep-not-in-team"

    def __init__(self, rep_id: str, team: str | None, field: str = "rep_id") -> None:
        super().__init__(
            f"There is no rep {rep_id!r} in team {team!r}.",
            errors=[field_error(field, "not a rep of your team", "not_found")],
        )


class ReassignNotAllowed(Forbidden):
    title = "Reassignment not allowed"
    slug = "reassign-forbidden"

    def __init__(self) -> None:
        super().__init__(
            "Only a manager (for a rep of their team) or an admin may reassign a stream.",
            errors=[field_error("type", "needs a manager or admin token", "role")],
        )


class CannotVoidAReassignment(InvalidInput):
    title = "A reassignment cannot be voided"
    slug = "void-of-reassignment"

    def __init__(self, field: str = "data.voided_event_id") -> None:
        super().__init__(
            "A reassignment cannot be voided; reassign the stream again instead.",
            errors=[field_error(field, "names a stream.reassigned", "void_of_reassign")],
        )


# Reading, scope and the rest.


class RepWritesOwnEvents(Forbidden):
    """A rep's event that names another rep."""

    def __init__(self, subject: str) -> None:
        super().__init__(
            "A rep may append only their own events.",
            errors=[field_error("rep_id", f"must be {subject!r} (the token's subject)", "scope")],
        )


class TeamNotYours(Forbidden):
    """An event of a rep or a manager that names another team than the token's (`team`; None:
    the token names no team)."""

    def __init__(self, team: str | None) -> None:
        expected = (
            f"must be {team!r} (the token's team)"
            if team
            else "must be left out: the token names no team"
        )
        super().__init__(
            "Events may be appended only for the caller's own team.",
            errors=[field_error("team_id", expected, "scope")],
        )


class OrgListNotAllowed(Forbidden):
    def __init__(self) -> None:
        super().__init__("Listing orgs takes a platform service token (org `*`, role service).")


class BacklogNotAllowed(Forbidden):
    def __init__(self) -> None:
        super().__init__("The backlog is for service and admin tokens.")


class EventNotFound(NotFound):
    """An event that does not exist or that the caller may not see: the two answer alike."""

    def __init__(self, event_id: UUID) -> None:
        super().__init__(f"There is no event {event_id}.")


class UnknownEventType(InvalidInput):
    def __init__(self, unknown: Sequence[str]) -> None:
        super().__init__(
            f"Unknown event type(s): {', '.join(unknown)}.",
            errors=[
                field_error("types", f"unknown type {t!r}", "unknown_type", "query")
                for t in unknown
            ],
        )


class AboutNamesNothing(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "`about` names no entity.",
            errors=[field_error("about", "must name at least one kind:id", "missing", "query")],
        )


class AboutTooLong(InvalidInput):
    def __init__(self, count: int, most: int) -> None:
        super().__init__(
            f"`about` names {count} entities; at most {most} per request.",
            errors=[field_error("about", f"at most {most} entries", "too_long", "query")],
        )


class AboutEntriesInvalid(InvalidInput):
    """`about` entries of an unknown kind, with an empty id or an id that is no `Identifier`:
    `errors` names each."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        many = f"{len(errors)} invalid entries" if len(errors) > 1 else "an invalid entry"
        super().__init__(f"`about` has {many}.", errors=errors)


class IdsNameNothing(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "`ids` names no event.",
            errors=[field_error("ids", "must name at least one event id", "missing", "query")],
        )


class IdsTooLong(InvalidInput):
    def __init__(self, count: int, most: int) -> None:
        super().__init__(
            f"`ids` names {count} events; at most {most} per request.",
            errors=[field_error("ids", f"at most {most} entries", "too_long", "query")],
        )


class IdsInvalid(InvalidInput):
    """`ids` entries that are no UUID: `errors` names each."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        many = f"{len(errors)} invalid entries" if len(errors) > 1 else "an invalid entry"
        super().__init__(f"`ids` has {many}.", errors=errors)


class ShuttingDown(UpstreamUnavailable):
    def __init__(self) -> None:
        super().__init__("The service is shutting down.")


class AppendQueueFull(UpstreamUnavailable):
    def __init__(self) -> None:
        super().__init__("Too many appends are waiting; retry shortly.")


class EventStoreUnavailable(UpstreamUnavailable):
    """The event store failed a group commit (connection lost, lock or pool timeout): every
    request of the group may be retried as it is."""

    def __init__(self) -> None:
        super().__init__("The event store is unavailable or busy; retry with the same event_id.")
