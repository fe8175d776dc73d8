"""Opaque cursors: clients pass back what they were given and never build one themselves.

A cursor is sealed with AES-SIV (deterministic authenticated encryption, `cryptography`) and the
org is its associated data. So a cursor reveals nothing (not the position of an event, not
a sort key) and is refused in any other org, with a 400-class problem naming the parameter, as a
forged or damaged one is. Every replica and every service of a deployment shares the cursor keys,
so a cursor made by one is read by another. The same position in the same org always seals to the
same cursor (under the same key).

The keys (`configure_cursors`) are their own setting, `SALESPERF_CURSOR_KEYS`, so that rotating
the tokens' keys never touches a cursor: the first key seals, every one listed opens (each is
stretched with HKDF-SHA256). Unset, the one key is the JWT secret (`SALESPERF_JWT_SECRET`), as
before the setting existed; listing that secret's value as a cursor key keeps the cursors made
with it readable after the secret itself is changed. A cursor whose key was dropped is refused
like a forged one: a client starts its listing again, and scoring, which stores the feed cursor
it folded up to, resumes from the position stored beside it (`readable_cursor`, below).

Positions are per org (an org's events are numbered 1, 2, 3…), so even the position a cursor
stands for would tell nothing of another org; feed cursors sealed while positions were global
are refused (`_POSITION_TAG`).

Before opaque cursors, a feed cursor was readable base64 of `v1.<position>`.
`decode_cursor(…, legacy=True)` still reads that form (activity allows it for service tokens
only): scoring's stored cursor from that time, and the position scoring resumes from when no key
opens its stored cursor any more. The next page's cursor replaces it.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from shared.config import CommonSettings
from shared.errors import InvalidInput, field_error

_LEGACY_PREFIX = "v1."
_PREFIX = "c2."
MAX_POSITION = 2**63 - 1  # positions are PostgreSQL bigints
# A place in an org's feed. Positions were global (tag "p") until 20261215_activity_org_positions
# numbered each org's log 1, 2, 3…: a feed cursor sealed before then holds a number of the old
# numbering, and is refused like a forged one (the client starts its listing again, or scoring
# resumes from its stored position) rather than read as a place in the new one.
_POSITION_TAG = b"p2"


def _derive(secret: bytes) -> AESSIV:
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"salesperf cursors v2")
    return AESSIV(key.derive(secret))


class _Keys:
    """The cursor keys: the first seals, every one opens."""

    def __init__(self, secrets: Sequence[bytes]) -> None:
        if not secrets:
            raise ValueError("cursors need a key")
        self.keys = tuple(_derive(secret) for secret in secrets)

    def seal(self, plain: bytes, org: bytes) -> bytes:
        return self.keys[0].encrypt(plain, [org])

    def open(self, sealed: bytes, org: bytes, *, current: bool = False) -> bytes:
        """The plain text; InvalidTag when no key (`current`: not the sealing key) opens it."""
        for key in self.keys[:1] if current else self.keys:
            try:
                return key.decrypt(sealed, [org])
            except InvalidTag:
                continue
        raise InvalidTag


# Until a service configures its keys (its lifespan does), a key of this process alone.
_sealer = _Keys([os.urandom(32)])


def configure_cursors(secret: str, settings: CommonSettings | None = None) -> None:
    """Key the cursors (each service's lifespan): `SALESPERF_CURSOR_KEYS` of `settings` (without
    them, of the environment, where a service's settings come from) when set, else the services'
    shared secret `secret`."""
    global _sealer
    if settings is None:
        settings = CommonSettings()
    keys = [key.get_secret_value() for key in settings.cursor_keys] or [secret]
    _sealer = _Keys([key.encode() for key in keys])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _seal(org: str, tag: bytes, body: bytes) -> str:
    return _PREFIX + _b64(_sealer.seal(tag + b"." + body, org.encode()))


def _open(org: str, tag: bytes, cursor: str, *, current: bool = False) -> bytes:
    """The body sealed for `org` under `tag` (`current`: with the key that seals now); ValueError
    for anything else."""
    if not cursor.startswith(_PREFIX):
        raise ValueError("not a cursor")
    try:
        plain = _sealer.open(_unb64(cursor[len(_PREFIX) :]), org.encode(), current=current)
    except InvalidTag as exc:
        raise ValueError("not sealed for this org") from exc
    found, _, body = plain.partition(b".")
    if found != tag:
        raise ValueError("a cursor of another kind")
    return body


def encode_cursor(position: int, org: str) -> str:
    """The opaque cursor of a place in `org`'s feed."""
    return _seal(org, _POSITION_TAG, position.to_bytes(8, "big"))


def is_current(cursor: str, org: str) -> bool:
    """Whether `cursor` is a feed cursor of `org` sealed with the key that seals now (not one
    only an older key opens, nor the readable form, nor anything else)."""
    try:
        return len(_open(org, _POSITION_TAG, cursor, current=True)) == 8
    except (ValueError, binascii.Error, UnicodeError):
        return False


def is_stale(cursor: str, org: str) -> bool:
    """Whether `cursor` is a sealed cursor that the key sealing now did not seal for `org`: one
    an older key sealed, or one no key opens any more (not the readable form)."""
    return cursor.startswith(_PREFIX) and not is_current(cursor, org)


def readable_cursor(position: int) -> str:
    """The readable form of a place in the feed (`v1.<position>`), which activity takes from
    service tokens only (`decode_cursor(…, legacy=True)`): what scoring resumes from when its
    stored cursor is sealed with a key that no longer opens it."""
    return _b64(f"{_LEGACY_PREFIX}{position}".encode("ascii"))


def _legacy_position(cursor: str) -> int:
    text = _unb64(cursor).decode("ascii")
    if not text.startswith(_LEGACY_PREFIX):
        raise ValueError(text)
    return int(text.removeprefix(_LEGACY_PREFIX))


def decode_cursor(
    cursor: str | None, org: str, *, field: str = "after", legacy: bool = False
) -> int:
    """The position a cursor stands for; 0 (the start) when there is none. A cursor of another
    org, forged or damaged is an InvalidInput naming `field`; the old readable form is read only
    with `legacy`."""
    if cursor is None or cursor == "":
        return 0
    try:
        if legacy and not cursor.startswith(_PREFIX):
            position = _legacy_position(cursor)
        else:
            body = _open(org, _POSITION_TAG, cursor)
            if len(body) != 8:
                raise ValueError(cursor)
            position = int.from_bytes(body, "big")
        if not 0 <= position <= MAX_POSITION:
            raise ValueError(cursor)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise bad_cursor(field) from exc
    return position


def encode_keyset(tag: str, values: Sequence[str], org: str) -> str:
    """An opaque cursor for a keyset (the sort key of the last row handed out) in `org`."""
    return _seal(org, tag.encode(), orjson.dumps(list(values)))


def decode_keyset(
    tag: str, cursor: str, size: int, org: str, *, field: str = "cursor"
) -> list[str]:
    """The keyset `encode_keyset(tag, …, org)` made: `size` strings; InvalidInput naming
    `field` for anything else (the caller checks the values' own shapes and raises ValueError)."""
    try:
        values = orjson.loads(_open(org, tag.encode(), cursor))
        if (
            not isinstance(values, list)
            or len(values) != size
            or not all(isinstance(v, str) and "\x00" not in v for v in values)
        ):
            raise ValueError(cursor)
        return values
    except (ValueError, binascii.Error, UnicodeError, orjson.JSONDecodeError) as exc:
        raise bad_cursor(field) from exc


def next_link(url: URL, param: str, cursor: str) -> str:
    """An RFC 8288 `Link` header to the next page: this request's URL with `param` moved on."""
    return f'<{url.include_query_params(**{param: cursor})}>; rel="next"'


def page_response(what: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a 200 page whose `next` cursor is also in `Link` and
    `X-Next-Cursor` while there is more (`announce_next`)."""
    return {
        200: {
            "description": f"A page of {what}",
            "headers": {
                "Link": {
                    "description": 'While there is more: `<URL of the next page>; rel="next"`.',
                    "schema": {"type": "string"},
                },
                "X-Next-Cursor": {
                    "description": "The page's `next` cursor, while there is more.",
                    "schema": {"type": "string"},
                },
            },
        }
    }


def announce_next(request: Request, response: Response, cursor: str | None) -> None:
    """While there is a next page: its `Link` (rel=next, `cursor` moved on) and its cursor in
    `X-Next-Cursor`, on the response a route returns."""
    if cursor:
        response.headers["Link"] = next_link(request.url, "cursor", cursor)
        response.headers["X-Next-Cursor"] = cursor


def bad_cursor(field: str = "cursor") -> InvalidInput:
    return InvalidInput(
        f"`{field}` is not a cursor this API issued.",
        errors=[field_error(field, "not a cursor issued by this API", "cursor_invalid", "query")],
    )
