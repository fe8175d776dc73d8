"""Calendar periods: a day, an ISO week (Monday to Sunday), a month, a quarter, a year.

Scoring buckets its KPIs by them and goals are set for them. Each service publishes the kinds
under its own name and in its own order (scoring's `Period`, finest first, as the enum; goals'
`PeriodKind`, coarsest first): name and order are part of its contract (its OpenAPI and the list
a 422 gives), so a service that lists them otherwise declares it with `Listed`.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


# No docstring: pydantic would publish it as the description of every schema of a period.
class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO: Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def grain(self) -> str:
        """What it is a whole number of: days ("d") for a day or a week, months ("m") else."""
        return "d" if self in (Period.DAY, Period.WEEK) else "m"


_MONTHS = {Period.MONTH: 1, Period.QUARTER: 3, Period.YEAR: 12}


def period_start(period: Period, day: date) -> date:
    """The first day of the period that holds `day`."""
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def period_end(period: Period, start: date) -> date:
    """The last day of the period that begins on `start`."""
    if period is Period.DAY:
        return start
    if period is Period.WEEK:
        return start + timedelta(days=6)
    year, month = divmod(start.month - 1 + _MONTHS[period] - 1, 12)
    last = date(start.year + year, month + 1, 1)
    return last.replace(day=calendar.monthrange(last.year, last.month)[1])


@dataclass(frozen=True, slots=True, init=False)
class Listed:
    """The periods under another name and in another order, for pydantic and OpenAPI:

        PeriodKind = TypeAliasType(
            "PeriodKind", Annotated[Period, Listed("PeriodKind", Period.YEAR, …, Period.DAY)]
        )

    The alias names the schema and keeps FastAPI from also publishing the bare `Period` (it does
    for an `Annotated[Period, …] | None` query parameter); `Listed` gives its title and order.
    """

    name: str
    order: tuple[Period, ...]

    def __init__(self, name: str, *order: Period) -> None:
        if sorted(order) != sorted(Period):
            raise ValueError(f"{name}: list every period once, not {order}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "order", order)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        def titled(schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
            json_schema = handler(schema)
            handler.resolve_ref_schema(json_schema)["title"] = self.name
            return json_schema

        return core_schema.enum_schema(
            Period,
            list(self.order),
            sub_type="str",
            metadata={"pydantic_js_functions": [titled]},
        )
