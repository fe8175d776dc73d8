"""The goals service's own failures (each renders as problem+json through shared/errors.py)."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound


class GoalNotFound(NotFound):
    title = "Goal not found"


class RevisionConflict(Conflict):
    title = "The goal has changed"


class AlreadyDecomposed(Conflict):
    title = "Already decomposed"


class NotDecomposable(InvalidInput):
    title = "Cannot be decomposed"


class RepOfAnotherTeam(Forbidden):
    title = "The rep works in another team"
