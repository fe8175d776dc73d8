"""The goals service's own failures, one class per failure (each renders as problem+json
through shared/errors.py), and `InvalidField`, the one error its pure rules raise."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    field_error,
)


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
            f"The roster (or, where it does not know them, their history) places {named} in "
            "another team: a manager sees, plans and sets the goals of their own team's reps "
            "only (and of reps with no history yet).",
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


# --------------------------------------------------------------------------- the roster


class RosterForAdmins(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin changes the roster.")


class RepNotFound(NotFound):
    """A rep the roster does not know, or one the caller may not see (the same answer)."""

    title = "Rep not found"

    def __init__(self, rep_id: str) -> None:
        super().__init__(f"The roster has no rep {rep_id} that you may see.")


class TeamNotFound(NotFound):
    """A team the roster does not know, or one the caller may not see (the same answer)."""

    title = "Team not found"

    def __init__(self, team_id: str) -> None:
        super().__init__(f"The roster has no team {team_id} that you may see.")


class TeamClosed(InvalidInput):
    """A rep put (active) in a team that the roster has closed on the entry's day."""

    def __init__(self, team_id: str, day: date, field: str = "team_id") -> None:
        super().__init__(
            f"Team {team_id} is closed on {day}: a rep cannot join it.",
            errors=[field_error(field, f"team {team_id} is closed on {day}", "team_closed")],
        )


class TeamNotEmpty(Conflict):
    """A team closed on a day some rep is still an active member of it."""

    title = "The team still has members"

    def __init__(self, team_id: str, day: date, reps: Sequence[str]) -> None:
        named = ", ".join(reps)
        super().__init__(
            f"Team {team_id} still has active members on {day} ({named}): move them first.",
            errors=[field_error("status", f"active members on {day}: {named}", "not_empty")],
        )


class RosterFileRefused(InvalidInput):
    """A roster CSV with bad rows (or a bad header): every one named, nothing stored."""

    title = "The roster file is refused"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        at_fault = len({e.field.split(".", 1)[0] for e in errors})
        super().__init__(
            f"Nothing was stored: {at_fault} part{'s' if at_fault > 1 else ''} of the file "
            "(rows, its header or its encoding) at fault, each named in `errors`.",
            errors=errors,
        )


class RosterTooLong(PayloadTooLarge):
    def __init__(self, max_rows: int) -> None:
        super().__init__(
            f"The file has more than {max_rows} rows; split it.",
            errors=[field_error("rows", f"more than {max_rows} rows", "too_many_rows")],
        )


class RosterNotCsv(UnsupportedMediaType):
    def __init__(self, got: str) -> None:
        super().__init__(
            f"Send the roster with `Content-Type: text/csv` (got {got or 'none'!r}).",
            errors=[field_error("content-type", "must be text/csv", "media_type", "header")],
        )


class PeriodsForOrgReaders(Forbidden):
    def __init__(self) -> None:
        super().__init__("The whole roster's periods are read by admin, bi and service tokens.")


# --------------------------------------------------------------------------- channel ROI


class CostsForAdmins(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin records what the channels cost.")


class CostsForOrgReaders(Forbidden):
    def __init__(self) -> None:
        super().__init__("Channel costs are read by admins, bi, managers and service tokens.")


class ChannelsOfAnother(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "You may see the channels of yourself (rep) or your team and its reps (manager)."
        )


class ChannelCostsRefused(InvalidInput):
    """A costs body the rules refuse (a channel and month given twice, a range reversed):
    every field at fault named, nothing stored."""

    title = "The costs are refused"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(
            "Nothing was stored: "
            + "; ".join(f"`{e.field}` {e.message}" for e in errors[:5])
            + ".",
            errors=errors,
        )


class RangeReversed(InvalidInput):
    def __init__(self, first: str, last: str) -> None:
        super().__init__(
            f"`to` ({last}) is before `from` ({first}).",
            errors=[field_error("to", "must not be before `from`", "range_reversed", "query")],
        )


class UnknownCurrency(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"Unknown currency {value!r}.",
            errors=[field_error("currency", "not an ISO 4217 currency", "currency", "query")],
        )


class NotAMonth(InvalidInput):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"`{field}` {message}.", errors=[field_error(field, message, "month", "query")]
        )


# --------------------------------------------------------------------------- Reviews


class ReviewOfAnother(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "You may see the reviews of yourself (rep) or your team and its reps (manager)."
        )


class ReviewOwnerMissing(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "Name whose review this is: `owner` is `rep:ID`, `team:ID` or `org`.",
            errors=[field_error("owner", "required for this role", "missing", "query")],
        )


class NotAWeek(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__(
            f"`week` {message}.", errors=[field_error("week", message, "week", "query")]
        )


class NotAReviewMonth(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__(
            f"`month` {message}.", errors=[field_error("month", message, "month", "query")]
        )


# --------------------------------------------------------------------------- Incentive plans


class PlansForAdmins(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin makes or changes incentive plans.")


class PlanNotFound(NotFound):
    """A plan the org does not have, or one the caller may not read (the same answer)."""

    title = "Plan not found"

    def __init__(self, plan_id: object) -> None:
        super().__init__(f"There is no incentive plan {plan_id} that you may see.")


class PlanVersionNotFound(NotFound):
    title = "Plan version not found"

    def __init__(self, plan_id: object, version: int, latest: int) -> None:
        super().__init__(
            f"Plan {plan_id} has versions 1 to {latest}, not {version}.",
            errors=[field_error("version", f"at most {latest}", "no_such_version", "query")],
        )


class PlanVersionConflict(Conflict):
    title = "The plan has changed"

    def __init__(self, version: int, expected: int) -> None:
        super().__init__(
            f"The plan is at version {version}, not {expected}: reload it.",
            errors=[field_error("expected_version", f"the plan is at version {version}", "moved")],
        )


class PlanRefused(InvalidInput):
    """A new version the plan's rules refuse: every field at fault named, nothing stored."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        names = ", ".join(dict.fromkeys(e.field for e in errors))
        super().__init__(f"Nothing was stored; invalid: {names}.", errors=errors)


# --------------------------------------------------------------------------- Incentive statements


class StatementOfAnother(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "You may read your own statement (rep) or those of the reps the roster places in "
            "your team (manager)."
        )


class NotAStatementOwner(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "A statement is a rep's: `owner` is `rep:ID`.",
            errors=[field_error("owner", "must be rep:ID", "owner", "query")],
        )


class NotAStatementPeriod(InvalidInput):
    def __init__(self, message: str, location: str = "query") -> None:
        super().__init__(
            f"`period` {message}.", errors=[field_error("period", message, "period", location)]
        )


class PayoutsForAdmins(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin runs payouts.")


class PayoutsReadForAdmins(Forbidden):
    def __init__(self) -> None:
        super().__init__("Payouts are read by admins, bi and service tokens.")


class PayoutPeriodNotEnded(InvalidInput):
    """A payout run of a period whose last day has not come (by `as_of`, or today): what it
    stores is never changed, so only an ended period is paid."""

    def __init__(self, period: str, last: date, field: str) -> None:
        message = f"{period} ends on {last}: a payout run pays it from that day on"
        super().__init__(
            f"`{field}`: {message}.", errors=[field_error(field, message, "not_ended")]
        )
