"""The scoring service's own failures, one class each (each renders as RFC 9457 problem+json
through shared/errors.py, with its parent's status, type and title: answers are as before)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from shared.errors import Forbidden, InvalidInput, NotFound, field_error

# --------------------------------------------------------------------------- 403


class AdminOnly(Forbidden):
    def __init__(self, what: str) -> None:
        super().__init__(f"Only an admin {what}.")


class RepSeesOwnNumbers(Forbidden):
    def __init__(self) -> None:
        super().__init__("A rep sees only their own numbers (`owner=rep:<you>`).")


class ManagerSeesOwnTeam(Forbidden):
    def __init__(self) -> None:
        super().__init__("A manager sees their own team and its reps.")


class LeaderboardForManagers(Forbidden):
    def __init__(self) -> None:
        super().__init__("A rep sees only their own numbers; the leaderboard is for managers.")


class ExportNotAllowed(Forbidden):
    def __init__(self) -> None:
        super().__init__("Bulk export is for admin, bi and service tokens.")


class ModelsNotAllowed(Forbidden):
    def __init__(self) -> None:
        super().__init__("The models are for managers, admins and BI tools.")


class BacktestNotAllowed(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin or a BI token runs a backtest.")


# --------------------------------------------------------------------------- 404


class RepNotFound(NotFound):
    title = "Rep not found"
    slug = "rep-not-found"  # goals tells this 404 from a missing route by it

    def __init__(self, rep_id: str) -> None:
        super().__init__(f"No rep {rep_id!r} of yours has any activity.")


class ProspectNotFound(NotFound):
    def __init__(self, key: str, as_of: datetime | None = None) -> None:
        at = f" at {as_of.isoformat()}" if as_of is not None else ""
        super().__init__(f"No open lead or deal {key!r} of yours{at}.")


class AccountNotFound(NotFound):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"No account {account_id!r} of yours.")


class NothingFolded(NotFound):
    def __init__(self) -> None:
        super().__init__("Nothing of this org has been folded yet: no outcomes to learn from.")


# --------------------------------------------------------------------------- 422


class UnknownCurrency(InvalidInput):
    def __init__(self, value: str, location: str = "body") -> None:
        super().__init__(
            f"`currency` {value!r} is not an ISO 4217 code.",
            errors=[
                field_error(
                    "currency", "must be an ISO 4217 code such as EUR", "currency", location
                )
            ],
        )


class AsOfBeforeFirstEvent(InvalidInput):
    """`as_of` is by recorded time: before the org's first event was recorded, nothing was
    known, and zeros would pass for an answer."""

    def __init__(self, as_of: datetime, first: datetime) -> None:
        super().__init__(
            f"`as_of` {as_of.isoformat()} is before anything the org recorded: its first event "
            f"was recorded at {first.isoformat()}.",
            errors=[
                field_error(
                    "as_of",
                    "is before the org's first recorded event",
                    "before_first_event",
                    "query",
                )
            ],
        )


class NotRankable(InvalidInput):
    def __init__(self, metric: str) -> None:
        super().__init__(
            f"`{metric}` cannot rank reps; pick a count, amount, rate or average.",
            errors=[field_error("metric", "not a metric reps can be ranked by", "metric", "query")],
        )


class ScopeNotTeamOrOrg(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "`scope` must be `team:ID` or `org`.",
            errors=[field_error("scope", "must be team:ID or org", "scope", "query")],
        )


class ForeignCursor(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "`cursor` is not one this endpoint gave.",
            errors=[field_error("cursor", "not a cursor of this list", "cursor", "query")],
        )


class UnknownLifecycle(InvalidInput):
    def __init__(self, lifecycles: tuple[str, ...]) -> None:
        super().__init__(
            f"`stage` must be one of {', '.join(lifecycles)}.",
            errors=[field_error("stage", "unknown lifecycle stage", "enum", "query")],
        )


class RangeReversed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "`to` is before `from`.",
            errors=[field_error("to", "must not be before `from`", "range", "query")],
        )


class TooEarlyToCompare(InvalidInput):
    """The periods an alert compares with would start before year 1."""

    def __init__(self) -> None:
        super().__init__(
            "The periods compared with would start before year 1.",
            errors=[field_error("from", "too early to compare with", "range", "query")],
        )


class HistoryBeforeFirstDay(InvalidInput):
    """The periods an alert compares with would start before the first day scoring answers."""

    def __init__(self, history: int, first_day: date) -> None:
        super().__init__(
            f"The {history} periods before `from` would start before {first_day}.",
            errors=[
                field_error(
                    "from", f"the earlier periods start before {first_day}", "range", "query"
                )
            ],
        )


class TooManyBuckets(InvalidInput):
    def __init__(self, most: int, period: str) -> None:
        super().__init__(
            f"The range spans more than {most} {period}s; narrow it or pick a longer period.",
            errors=[field_error("to", f"more than {most} buckets", "range", "query")],
        )


class UnknownMetric(InvalidInput):
    def __init__(self, unknown: list[str], known: Iterable[str], name: str = "metrics") -> None:
        super().__init__(
            f"Unknown metric(s): {', '.join(unknown) or '(none given)'}. Known: "
            f"{', '.join(known)}.",
            errors=[
                field_error(name, f"unknown metric {m!r}", "unknown_metric", "query")
                for m in unknown or [""]
            ],
        )


class ManagerReplaced(Forbidden):
    def __init__(self, team: str) -> None:
        super().__init__(
            f"The roster names another manager of team '{team}' today: a manager reads only a "
            "team they lead."
        )
