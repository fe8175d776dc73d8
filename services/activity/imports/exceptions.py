"""The bulk imports' failures, one class each (each renders as RFC 9457 problem+json through
shared/errors.py, with its parent's status, type and title: answers are as before)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from shared.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    field_error,
)

# --------------------------------------------------------------------------- 403


class ImportNotAllowed(Forbidden):
    def __init__(self) -> None:
        super().__init__("Only an admin or a service token of the org imports events.")


class ImportsHidden(Forbidden):
    """Reading imports (their jobs or rejected rows) takes an admin or a service token."""

    def __init__(self) -> None:
        super().__init__("Only an admin or a service token reads imports.")


# --------------------------------------------------------------------------- 404


class ImportNotFound(NotFound):
    def __init__(self, import_id: UUID) -> None:
        super().__init__(f"No import {import_id} in this org.")


# --------------------------------------------------------------------------- 413


class FileTooLarge(PayloadTooLarge):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The file is larger than {max_bytes} bytes; split it.",
            errors=[field_error("body", f"larger than {max_bytes} bytes", "too_large")],
        )


# --------------------------------------------------------------------------- 415


class UnknownFileType(UnsupportedMediaType):
    """A file whose format neither its Content-Type nor `?format=` names."""

    def __init__(self, media: str, media_types: Collection[str]) -> None:
        formats = ", ".join(f"`{t}`" for t in media_types)
        super().__init__(
            f"Send the file with its Content-Type ({formats}) or `?format=` "
            f"(got {media or 'none'!r}).",
            errors=[
                field_error(
                    "content-type", f"one of {', '.join(media_types)}", "media_type", "header"
                )
            ],
        )


# --------------------------------------------------------------------------- 422


class UnreadableFileRefused(InvalidInput):
    """A file that cannot be read as a whole in its format (checked before the job queues)."""

    def __init__(self, fmt: str, reason: str) -> None:
        super().__init__(
            f"The file cannot be read as {fmt}: {reason}",
            errors=[field_error("body", reason, "unreadable_file")],
        )


class EmptyFile(InvalidInput):
    def __init__(self) -> None:
        super().__init__("The file is empty.", errors=[field_error("body", "empty", "missing")])
