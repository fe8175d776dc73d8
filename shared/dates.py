"""Dates and times as the API takes them: ISO-8601 strings, never numbers.

pydantic reads a number, or a string of one (`"86400"`, `"1.795e9"`), as Unix seconds, even in
strict mode: `"86400"` becomes 2 January 1970 and `from=0` the epoch. Here a date or time must
be a string that starts like one (`YYYY-`); anything else gets a 422 naming the field instead of
an answer for another day.

This module holds the one date range of the whole system. `Day` is a date the services can
compute with: between 1970-01-01 and 2099-12-31 (a week or a quarter around 9999-12-31 has no
end the calendar can represent). A moment — an event's `occurred_at`, an `as_of`, a backtest's
cutoff — is in range when its day is in that range in every time zone an org can have (UTC−12
to UTC+14): from FIRST_MOMENT (1970-01-01T12:00Z) to just before END_MOMENT
(2099-12-31T10:00Z). So an event stored is one whose day any org's KPIs and goals answer for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

_ISO_START = re.compile(r"[0-9]{4}-")

_DATE_HINT = "must be an ISO-8601 date, e.g. 2026-11-01"
_DATETIME_HINT = "must be an ISO-8601 string with an offset, e.g. 2026-11-20T10:30:00+01:00"
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2099, 12, 31)
# The first instant that is on FIRST_DAY or later everywhere, and the first that is after
# LAST_DAY somewhere (time zones run from UTC−12 to UTC+14).
FIRST_MOMENT = datetime.combine(FIRST_DAY, time(), timezone(timedelta(hours=-12)))
END_MOMENT = datetime.combine(LAST_DAY + timedelta(days=1), time(), timezone(timedelta(hours=14)))


def _iso(hint: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, date):  # a datetime is a date too; both came from Python
            return value
        if not isinstance(value, str) or not _ISO_START.match(value):
            raise ValueError(hint)
        return value

    return check


def _in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return day


IsoDate = Annotated[date, BeforeValidator(_iso(_DATE_HINT))]
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso(_DATETIME_HINT))]
Day = Annotated[IsoDate, AfterValidator(_in_range)]


def _moment_in_range(moment: datetime) -> datetime:
    if not FIRST_DAY <= moment.date() <= LAST_DAY:  # its own day first: comparing cannot overflow
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    if not FIRST_MOMENT <= moment < END_MOMENT:
        raise ValueError(
            f"must be on a day between {FIRST_DAY} and {LAST_DAY} in every time zone "
            "(1970-01-01T12:00Z to 2099-12-31T10:00Z)"
        )
    return moment


Moment = Annotated[IsoDatetime, AfterValidator(_moment_in_range)]
