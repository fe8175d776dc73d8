"""Whose numbers: one rep (`rep:ID`), one team (`team:ID`) or the whole org (`org`).

Scoring reports and goals are both kept per owner and both take it as this text, in a query
(`?owner=team:team-north`) or in a body (`"owner": "rep:rep-anna"`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

from shared.auth import Principal, Role
from shared.errors import InvalidInput, field_error
from shared.events import ID_PATTERN

OWNER_PATTERN = rf"^(org|(rep|team):{ID_PATTERN})$"
OwnerText = Annotated[str, StringConstraints(pattern=OWNER_PATTERN)]


class InvalidOwner(InvalidInput):
    def __init__(self, field: str, location: str) -> None:
        super().__init__(
            f"`{field}` must be `rep:ID`, `team:ID` or `org`.",
            errors=[field_error(field, "must be rep:ID, team:ID or org", "owner", location)],
        )


class OwnerKind(StrEnum):
    REP = "rep"
    TEAM = "team"
    ORG = "org"


@dataclass(frozen=True, slots=True, init=False)
class Owner:
    kind: OwnerKind
    id: str = ""  # empty for the org

    def __init__(self, kind: OwnerKind | str, id: str = "") -> None:
        """`kind` may be the stored text (`"rep"`) as well as the enum."""
        object.__setattr__(self, "kind", OwnerKind(kind))
        object.__setattr__(self, "id", id)

    def __str__(self) -> str:
        return self.kind.value if self.kind is OwnerKind.ORG else f"{self.kind.value}:{self.id}"


def parse_owner(text: str, field: str = "owner", location: str = "query") -> Owner:
    """`rep:ID`, `team:ID` or `org`; anything else is a 422 naming `field` in `location`."""
    kind, _, ident = text.partition(":")
    if kind == "org" and not ident:
        return Owner(OwnerKind.ORG)
    if kind in ("rep", "team") and ident:
        return Owner(OwnerKind(kind), ident)
    raise InvalidOwner(field, location)


def default_owner(principal: Principal) -> Owner:
    """Whose numbers a caller means when they name no owner: a rep their own, a manager their
    team's, everyone else the org's."""
    if principal.role is Role.REP:
        return Owner(OwnerKind.REP, principal.sub)
    if principal.role is Role.MANAGER and principal.team:
        return Owner(OwnerKind.TEAM, principal.team)
    return Owner(OwnerKind.ORG)
