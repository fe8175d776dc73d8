"""An org's timezone: an IANA name (`Europe/Berlin`), checked where it is set."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import InvalidInput, field_error


class UnknownTimezone(InvalidInput):
    """A timezone name that is not in the IANA database: a 422 naming the field."""

    def __init__(self, name: str, field: str = "timezone") -> None:
        super().__init__(
            f"`{field}` {name!r} is not an IANA timezone.",
            errors=[
                field_error(field, "must be an IANA timezone such as Europe/Berlin", "timezone")
            ],
        )


def parse_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    """The zone named `name`; `UnknownTimezone` (naming `field`) when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimezone(name, field) from exc
