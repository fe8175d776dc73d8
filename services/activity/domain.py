"""The rules of appending to the log, as plain functions: no HTTP, no SQL.

`prepare` turns a validated envelope into a `Candidate` (the caller's scope applied, its
content hashed). `plan_request` decides, for one request (a single event or a whole batch),
which events are new, which are replays of events already stored, and whether the request
must be rejected, against a `GroupState` read from the database under the org's append lock.
A rejected request leaves the state untouched, so the other requests of a group commit go on.

Who may append where (issue 11):
- A stream's owner is the rep of its first event (none if that event named no rep), changed only
  by a `stream.reassigned` event, which only a manager (for their team's reps) or an admin logs.
- A rep appends only to streams that are new or that they own; any other stream answers exactly
  as an unknown one does (404), so nothing about it (not even its version) leaks.
- A rep's team is known, not claimed: it is the team of the rep's most recent stored event that
  names a team (until a roster exists). A manager writes only for reps of their own team, or reps
  not placed in any team yet (whom the event then places in the manager's team), and only to
  streams that are new, have no owner, or whose owner is such a rep; anything else is 404.
- Admins and service tokens (CRM connectors write as the org) are bound by neither rule.

Reading: `read_filter`/`can_see` say whose events a reader sees; `parse_about` reads the feed's
`about` filter (the entities whose events to keep) into an `About`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from pydantic import BaseModel, TypeAdapter, ValidationError

from shared.auth import Principal, Role
from shared.errors import FieldError, field_error
from shared.events import EnvelopeBase, EventVoided, Identifier, StreamReassigned

from .exceptions import (
    AboutEntriesInvalid,
    AboutNamesNothing,
    AboutTooLong,
    AlreadyVoided,
    CannotVoidAReassignment,
    CannotVoidAVoid,
    EventIdConflict,
    IdsInvalid,
    IdsNameNothing,
    IdsTooLong,
    ReassignNotAllowed,
    RepNotInTeam,
    RepWritesOwnEvents,
    StreamNotFound,
    StreamVersionConflict,
    TeamNotYours,
    VoidInAnotherStream,
    VoidTargetNotFound,
)

VOIDED = "event.voided"
REASSIGNED = "stream.reassigned"


class Candidate(NamedTuple):
    """An event ready to be stored, as the caller is allowed to write it (a named tuple: an
    import builds thousands a chunk)."""

    event_id: UUID
    type: str
    stream: str
    rep_id: str | None
    team_id: str | None
    occurred_at: datetime
    schema_version: int
    data_json: str
    metadata_json: str
    content_hash: bytes
    expected_version: int | None
    voids: UUID | None
    reassigns_to: str | None = None


@dataclass(slots=True)
class Row:
    """An event in the log, or planned for it in the current group (position still unknown)."""

    event_id: UUID
    type: str
    stream: str
    rep_id: str | None
    team_id: str | None
    content_hash: bytes
    stream_version: int
    position: int | None = None
    recorded_at: datetime | None = None
    candidate: Candidate | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one event of a request: stored as `row`, or a replay of `row`."""

    row: Row
    created: bool


@dataclass(slots=True)
class GroupState:
    """What the planner must know of the log: read once per group under the append lock.

    `owners`: the owning rep (None: no rep) of each existing stream of the group; `teams`: the
    known team (None: none yet) of reps, looked up only when a manager appends in the group;
    `owner_changes`: the streams whose owner the group's new rows set (opened or reassigned),
    with the owner and the row that made them the owner, for the writer to store.
    """

    known: dict[UUID, Row] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    voided: set[UUID] = field(default_factory=set)
    owners: dict[str, str | None] = field(default_factory=dict)
    teams: dict[str, str | None] = field(default_factory=dict)
    owner_changes: dict[str, tuple[str | None, Row]] = field(default_factory=dict)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def microseconds(moment: datetime) -> int:
    """An aware time as microseconds since the epoch (the instant, whatever its offset)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_microseconds(instant: int) -> datetime:
    """The UTC time `microseconds` gave."""
    return _EPOCH + timedelta(microseconds=instant)


def _json_of(model: BaseModel) -> str:
    """A model's JSON, fields in declaration order, None fields left out: equal content gives
    equal text (the one free-form map, lead attributes, is sorted on validation)."""
    return model.__pydantic_serializer__.to_json(model, exclude_none=True).decode()


def content_hash(
    *,
    type: str,
    stream: str,
    rep_id: str | None,
    team_id: str | None,
    occurred_at: datetime,
    schema_version: int,
    data_json: str,
    metadata_json: str,
) -> bytes:
    """A digest of everything that makes an event what it is (not `expected_version`).

    The time counts as an instant (microseconds since the epoch), whatever offset it was sent in.
    """
    instant = microseconds(occurred_at)
    parts = (
        type,
        stream,
        rep_id or "",
        team_id or "",
        str(instant),
        str(schema_version),
        data_json,
        metadata_json,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def apply_scope(
    principal: Principal, rep_id: str | None, team_id: str | None
) -> tuple[str | None, str | None]:
    """Fill in and check `rep_id`/`team_id` for the caller; raises `RepWritesOwnEvents` or
    `TeamNotYours` (both 403) naming the field."""
    if principal.role is Role.REP:
        if rep_id is not None and rep_id != principal.sub:
            raise RepWritesOwnEvents(principal.sub)
        rep_id = principal.sub
    if principal.role in (Role.REP, Role.MANAGER):
        if team_id is not None and team_id != principal.team:
            raise TeamNotYours(principal.team)
        team_id = principal.team
    return rep_id, team_id


def read_filter(principal: Principal) -> tuple[str | None, str | None]:
    """(rep_id, team_id) a reader's queries are restricted to; None means no restriction."""
    if principal.role is Role.REP:
        return principal.sub, None
    if principal.role is Role.MANAGER:
        return None, principal.team
    return None, None


def can_see(principal: Principal, rep_id: str | None, team_id: str | None) -> bool:
    """Reps see their own events, managers their team's, everyone else the whole org."""
    only_rep, only_team = read_filter(principal)
    return (only_rep is None or rep_id == only_rep) and (only_team is None or team_id == only_team)


def may_reassign(principal: Principal) -> bool:
    """Only managers (for their team's reps: checked as any event's rep) and admins reassign."""
    return principal.role in (Role.MANAGER, Role.ADMIN)


def may_append_to(principal: Principal, owner: str | None, owner_team: str | None) -> bool:
    """May the caller append to an existing stream owned by `owner` (whose known team is
    `owner_team`)? Reps: only to their own; managers: unowned streams and those of reps of
    their team or of no team yet; everyone else: any."""
    if principal.role is Role.REP:
        return owner is not None and owner == principal.sub
    if principal.role is Role.MANAGER:
        return owner is None or owner_team is None or owner_team == principal.team
    return True


def may_write_for(principal: Principal, known_team: str | None) -> bool:
    """May the caller log an event for a rep whose known team is `known_team` (None: the rep
    has no team yet)? Managers only for their own team's reps or unplaced ones."""
    if principal.role is not Role.MANAGER:
        return True
    return known_team is None or known_team == principal.team


def prepare(principal: Principal, event: EnvelopeBase) -> Candidate:
    event_type: str = event.type  # type: ignore[attr-defined]
    payload = event.data  # type: ignore[attr-defined]
    reassigns_to = payload.to_rep_id if isinstance(payload, StreamReassigned) else None
    if reassigns_to is not None and not may_reassign(principal):
        raise ReassignNotAllowed()
    rep_id, team_id = apply_scope(principal, event.rep_id, event.team_id)
    data_json = _json_of(payload)
    metadata_json = _json_of(event.metadata)
    digest = content_hash(
        type=event_type,
        stream=event.stream,
        rep_id=rep_id,
        team_id=team_id,
        occurred_at=event.occurred_at,
        schema_version=event.schema_version,
        data_json=data_json,
        metadata_json=metadata_json,
    )
    return Candidate(
        event_id=event.event_id,
        type=event_type,
        stream=event.stream,
        rep_id=rep_id,
        team_id=team_id,
        occurred_at=event.occurred_at,
        schema_version=event.schema_version,
        data_json=data_json,
        metadata_json=metadata_json,
        content_hash=digest,
        expected_version=event.expected_version,
        voids=payload.voided_event_id if isinstance(payload, EventVoided) else None,
        reassigns_to=reassigns_to,
    )


def _at(index: int | None, name: str) -> str:
    """A field's path as the client wrote it: `name`, or `events[i].name` in a batch."""
    return name if index is None else f"events[{index}].{name}"


def plan_request(
    state: GroupState, principal: Principal, candidates: Sequence[Candidate], *, batch: bool
) -> list[Decision]:
    """Decide every event of one request, all or nothing; on success record it in `state`."""
    staged_known: dict[UUID, Row] = {}
    staged_versions: dict[str, int] = {}
    staged_voided: set[UUID] = set()
    staged_owners: dict[str, tuple[str | None, Row]] = {}
    staged_teams: dict[str, str] = {}
    # Staged first, then the state (a ChainMap would do, at several times the cost per lookup).
    known_before, versions_before = state.known.get, state.versions.get
    bound = principal.role in (Role.REP, Role.MANAGER)  # by the ownership and team rules
    decisions: list[Decision] = []

    def team_of(rep: str | None) -> str | None:
        if rep is None:
            return None
        staged = staged_teams.get(rep)
        return staged if staged is not None else state.teams.get(rep)

    for i, cand in enumerate(candidates):
        index = i if batch else None
        seen = staged_known.get(cand.event_id) or known_before(cand.event_id)
        if seen is not None:
            if seen.content_hash != cand.content_hash:
                raise EventIdConflict(cand.event_id, _at(index, "event_id"))
            decisions.append(Decision(seen, created=False))
            continue

        current = staged_versions.get(cand.stream)
        if current is None:
            current = versions_before(cand.stream, 0)
        if bound:  # before anything that could tell about the stream (its version, its events)
            if current:
                staged_owner = staged_owners.get(cand.stream)
                owner = staged_owner[0] if staged_owner else state.owners.get(cand.stream)
                if not may_append_to(principal, owner, team_of(owner)):
                    raise StreamNotFound(cand.stream, _at(index, "stream") if batch else None)
            if cand.rep_id is not None and not may_write_for(principal, team_of(cand.rep_id)):
                raise RepNotInTeam(cand.rep_id, principal.team, _at(index, "rep_id"))
        if cand.expected_version is not None and cand.expected_version != current:
            raise StreamVersionConflict(
                cand.stream, current, cand.expected_version, _at(index, "expected_version")
            )

        if cand.voids is not None:
            target = staged_known.get(cand.voids) or known_before(cand.voids)
            if target is None or not can_see(principal, target.rep_id, target.team_id):
                raise VoidTargetNotFound(cand.voids, _at(index, "data.voided_event_id"))
            if target.type == REASSIGNED:
                raise CannotVoidAReassignment(_at(index, "data.voided_event_id"))
            if target.type == VOIDED:
                raise CannotVoidAVoid(_at(index, "data.voided_event_id"))
            if target.stream != cand.stream:
                raise VoidInAnotherStream(target.stream, _at(index, "stream"))
            if cand.voids in state.voided or cand.voids in staged_voided:
                raise AlreadyVoided(cand.voids, _at(index, "data.voided_event_id"))
            staged_voided.add(cand.voids)

        row = Row(
            event_id=cand.event_id,
            type=cand.type,
            stream=cand.stream,
            rep_id=cand.rep_id,
            team_id=cand.team_id,
            content_hash=cand.content_hash,
            stream_version=current + 1,
            candidate=cand,
        )
        staged_known[cand.event_id] = row
        staged_versions[cand.stream] = current + 1
        if not current:  # the stream's first event: its rep opened it
            staged_owners[cand.stream] = (cand.rep_id, row)
        if cand.reassigns_to is not None:
            staged_owners[cand.stream] = (cand.reassigns_to, row)
        if cand.rep_id is not None and cand.team_id is not None:
            staged_teams[cand.rep_id] = cand.team_id  # the rep's most recent event places them
        decisions.append(Decision(row, created=True))

    state.known.update(staged_known)
    state.versions.update(staged_versions)
    state.voided |= staged_voided
    state.owners.update((stream, owner) for stream, (owner, _) in staged_owners.items())
    state.teams.update(staged_teams)
    state.owner_changes.update(staged_owners)
    return decisions


# --------------------------------------------------------------------------- reading about

ABOUT_KINDS = ("account", "deal", "lead", "invoice")
MAX_ABOUT = 500  # entities one feed request may name
_identifier: TypeAdapter[str] = TypeAdapter(Identifier)


@dataclass(frozen=True, slots=True)
class About:
    """The entities a feed request asks about (`about=account:acc-1042,deal:D-88`), each kind's
    ids once, in the order first named. An event is about one of them when its stream is the
    entity's (`account-X`, `deal-D`, `lead-L`; invoices have no stream) or its data names it
    (`account_id`, `deal_id`, `lead_id`, `invoice_id`)."""

    accounts: tuple[str, ...] = ()
    deals: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    invoices: tuple[str, ...] = ()

    def streams(self) -> list[str]:
        return [
            *(f"account-{a}" for a in self.accounts),
            *(f"deal-{d}" for d in self.deals),
            *(f"lead-{lead}" for lead in self.leads),
        ]


def _not_identifier(value: str) -> str | None:
    """Why `value` is no `Identifier` (pydantic's message, as for an id in a payload), or None."""
    try:
        _identifier.validate_python(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return None


def _about_error(message: str, code: str) -> FieldError:
    return field_error("about", message, code, "query")


def parse_about(about: str | None) -> About | None:
    """`kind:id` entries, comma-separated (blank entries skipped, duplicates kept once); None
    when not given. Raises (422, naming `about`) `AboutNamesNothing` for an empty list,
    `AboutTooLong` for more than `MAX_ABOUT` entries, `AboutEntriesInvalid` for an unknown
    kind, an empty id or an id that is no `Identifier`."""
    if about is None:
        return None
    entries = [e.strip() for e in about.split(",") if e.strip()]
    if not entries:
        raise AboutNamesNothing()
    if len(entries) > MAX_ABOUT:
        raise AboutTooLong(len(entries), MAX_ABOUT)
    ids: dict[str, dict[str, None]] = {kind: {} for kind in ABOUT_KINDS}
    errors: list[FieldError] = []
    for entry in entries:
        kind, _, key = entry.partition(":")
        if kind not in ids:
            errors.append(
                _about_error(
                    f"{entry!r}: the kind must be account, deal, lead or invoice (kind:id)",
                    "unknown_kind",
                )
            )
        elif not key:
            errors.append(_about_error(f"{entry!r}: the id is empty", "missing"))
        elif (why := _not_identifier(key)) is not None:
            errors.append(_about_error(f"{entry!r}: {why}", "string_pattern_mismatch"))
        else:
            ids[kind][key] = None
    if errors:
        raise AboutEntriesInvalid(errors)
    return About(
        accounts=tuple(ids["account"]),
        deals=tuple(ids["deal"]),
        leads=tuple(ids["lead"]),
        invoices=tuple(ids["invoice"]),
    )


MAX_IDS = 200  # event ids one feed request may name (each ~39 bytes of the 8 KB query string)


def parse_ids(ids: str | None) -> tuple[UUID, ...] | None:
    """Event ids, comma-separated (blank entries skipped, duplicates kept once); None when not
    given. Raises (422, naming `ids`) `IdsNameNothing` for an empty list, `IdsTooLong` for more
    than `MAX_IDS` entries, `IdsInvalid` for an entry that is no UUID."""
    if ids is None:
        return None
    entries = [e.strip() for e in ids.split(",") if e.strip()]
    if not entries:
        raise IdsNameNothing()
    parsed: dict[UUID, None] = {}
    errors: list[FieldError] = []
    for entry in entries:
        try:
            parsed[UUID(entry)] = None
        except ValueError:
            errors.append(field_error("ids", f"{entry!r} is no UUID", "uuid_parsing", "query"))
    if errors:
        raise IdsInvalid(errors)
    if len(parsed) > MAX_IDS:
        raise IdsTooLong(len(parsed), MAX_IDS)
    return tuple(parsed)
