"""Dates and times as the API takes them: ISO-8601 strings, never numbers.

pydantic reads a number, or a string of one (`"86400"`, `"1.795e9"`), as Unix seconds, even in
strict mode: `"86400"` becomes 2 January 1970 and `from=0` the epoch. Here a date or time must
be a string that starts like one (`YYYY-`); anything else gets a 422 naming the field instead of
an answer for another day.

`Day` is a date the services can compute with: between 1970-01-01 and 2099-12-31, as events
are (a week or a quarter around 9999-12-31 has no end the calendar can represent); `Moment` is a
time in the same range (an `as_of` or a backtest's cutoff: a day after 9999-12-31 cannot be
computed, nor one before year 1 in another offset).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

_ISO_START = re.compile(r"[0-9]{4}-")

_DATE_HINT = "must be an ISO-8601 date, e.g. 2026-11-01"
_DATETIME_HINT = "must be an ISO-8601 string with an offset, e.g. 2026-11-20T10:30:00+01:00"
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2099, 12, 31)


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
    if not FIRST_DAY <= moment.date() <= LAST_DAY:  # its own day: no conversion can overflow
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return moment


Moment = Annotated[IsoDatetime, AfterValidator(_moment_in_range)]
