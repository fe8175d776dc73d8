"""The goals service's own failures, one class per failure (each renders as problem+json
through shared/errors.py), and `InvalidField`, the one error its pure rules raise."""

from __future__ import annotations

from datetime import date

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, field_error


class InvalidField(ValueError):
    """A pure rule (decomposition, plans) refused an input; names it: str(error) is
    "<field>: <detail>". The use cases answer it as `RefusedField`."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class GoalNotFound(NotFound):
    title = "Goal not found"


class RevisionConflict(Conflict):
    title = "The goal has changed"


class AlreadyDecomposed(Conflict):
    title = "Already decomposed"


class NotDecomposable(InvalidInput):
    title = "Cannot be decomposed"

    def __init__(self, metric: str) -> None:
        super().__init__(
            f"`{metric}` does not add up over periods or owners; set each part's own goal.",
            errors=[field_error("by", "the goal's metric is a rate or an average", "not_additive")],
        )


class RepOfAnotherTeam(Forbidden):
    title = "The rep works in another team"

    def __init__(self, field: str, reps: list[str]) -> None:
        named = ", ".join(reps)
        super().__init__(
            f"The history of {named} places {'them' if len(reps) > 1 else 'the rep'} in another "
            "team: a manager sees, plans and sets the goals of their own team's reps only (and "
            "of reps with no history yet).",
            errors=[field_error(field, f"works in another team: {named}", "other_team")],
        )


class RefusedField(InvalidInput):
    """A decomposition or a plan the rules refuse, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"`{field}`: {message}.", errors=[field_error(field, message, "decompose")]
        )


class PeriodMisaligned(InvalidInput):
    def __init__(self, kind: str, start: date) -> None:
        super().__init__(
            f"`start` {start} does not begin a {kind}.",
            errors=[field_error("start", f"must be the first day of a {kind}", "period_start")],
        )


class PeriodOutOfRange(InvalidInput):
    def __init__(self, kind: str, start: date, last: date) -> None:
        super().__init__(
            f"The {kind} starting {start} ends after {last}.",
            errors=[field_error("start", f"the period must end by {last}", "out_of_range")],
        )


class CurrencyMissing(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "A money goal needs its `currency`.",
            errors=[field_error("currency", "required for a money metric", "missing")],
        )


class CurrencyNotAllowed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "Only money goals carry a currency.",
            errors=[field_error("currency", "only for money metrics", "extra")],
        )


class UnknownMetric(InvalidInput):
    def __init__(self, metric: str, served: list[str], location: str = "body") -> None:
        super().__init__(
            f"Unknown metric {metric!r}; scoring serves: {', '.join(served)}.",
            errors=[
                field_error("metric", "not a metric scoring serves", "unknown_metric", location)
            ],
        )


class InvalidValue(InvalidInput):
    """A target, floor, stretch or percentage the metric cannot take."""

    def __init__(self, field: str, message: str, code: str) -> None:
        super().__init__(f"`{field}` {message}.", errors=[field_error(field, message, code)])


class BoundsGivenTwice(InvalidInput):
    def __init__(self, fields: list[str]) -> None:
        super().__init__(
            "Give the floor and stretch one way: explicitly, as `buffer_pct`, or as "
            "`base_pct`/`challenge_pct`.",
            errors=[
                field_error(f, "only one way of setting floor and stretch", "exclusive")
                for f in fields
            ],
        )


class CalendarForAdmins(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin sets the org's calendar.")


class NotYourTeamsGoal(Forbidden):
    def __init__(self) -> None:
        super().__init__("A manager sets the goals of their own team and its reps.")


class GoalsForManagers(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only a manager (their team) or an admin (the org) sets goals.")


class PlanOfAnother(Forbidden):
    def __init__(self) -> None:
        super().__init__("You may plan for yourself (rep) or your team (manager).")


class AlertsOfAnother(Forbidden):
    def __init__(self) -> None:
        super().__init__("You may see the alerts of yourself (rep) or your team (manager).")
