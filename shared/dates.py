"""Dates and times as the API takes them: ISO-8601 strings, never numbers.

pydantic reads a number, or a string of digits, as Unix seconds, even in strict mode: `"86400"`
becomes 2 January 1970 and `from=0` the epoch. A client that sends a timestamp, or `20261101`
for a day, gets a 422 naming the field instead of an answer for another day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator

_NUMBER = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*")

DATE_HINT = "must be an ISO-8601 date, e.g. 2026-11-01"
DATETIME_HINT = "must be an ISO-8601 string with an offset, e.g. 2026-11-20T10:30:00+01:00"


def _iso(hint: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, date):  # a datetime is a date too; both came from Python
            return value
        if not isinstance(value, str) or _NUMBER.fullmatch(value):
            raise ValueError(hint)
        return value

    return check


IsoDate = Annotated[date, BeforeValidator(_iso(DATE_HINT))]
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso(DATETIME_HINT))]
