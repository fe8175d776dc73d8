"""The org's working calendar: read, set (admin), and what the other use cases count with."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.timezones import parse_timezone

from . import repository
from .calendar import Calendar
from .exceptions import CalendarForAdmins
from .models import Calendar as CalendarRow
from .schemas import CalendarIO


def _calendar(row: CalendarRow | None) -> tuple[Calendar, ZoneInfo]:
    if row is None:
        return Calendar(), ZoneInfo("UTC")
    calendar = Calendar(
        weekend=frozenset(row.weekend),
        holidays=frozenset(row.holidays),
        workdays=frozenset(row.workdays),
    )
    return calendar, ZoneInfo(row.timezone)


async def org_calendar(session: AsyncSession, org: str) -> tuple[Calendar, ZoneInfo]:
    """The org's working days and timezone (the standard week in UTC until it sets its own)."""
    return _calendar(await repository.get_calendar(session, org))


def today(tz: ZoneInfo) -> date:
    return datetime.now(UTC).astimezone(tz).date()


async def org_day(session: AsyncSession, org: str, on: date | None) -> date:
    """`on`, or else today in the org's timezone."""
    if on is not None:
        return on
    _, tz = await org_calendar(session, org)
    return today(tz)


def _out(row: CalendarRow | None) -> CalendarIO:
    if row is None:
        return CalendarIO()
    return CalendarIO(
        timezone=row.timezone,
        weekend=sorted(row.weekend),
        holidays=sorted(row.holidays),
        workdays=sorted(row.workdays),
    )


async def get_calendar(session: AsyncSession, user: Principal) -> CalendarIO:
    return _out(await repository.get_calendar(session, user.org))


async def put_calendar(session: AsyncSession, user: Principal, data: CalendarIO) -> CalendarIO:
    if user.role is not Role.ADMIN:
        raise CalendarForAdmins()
    parse_timezone(data.timezone)
    row = CalendarRow(
        org_id=user.org,
        timezone=data.timezone,
        weekend=sorted(set(data.weekend)),
        holidays=sorted(set(data.holidays)),
        workdays=sorted(set(data.workdays)),
    )
    return _out(await repository.put_calendar(session, row))
