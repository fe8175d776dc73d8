"""Opaque cursors: clients pass back what they were given and never build one themselves.

A cursor is sealed with AES-SIV (deterministic authenticated encryption, `cryptography`): its
key is derived (HKDF-SHA256) from the services' shared secret (`SALESPERF_JWT_SECRET`, see
`configure_cursors`) and the org is its associated data. So a cursor reveals nothing (not the
global position of an event, not a sort key) and is refused in any other org, with a 400-class
problem naming the parameter, as a forged or damaged one is. Every replica and every service of
a deployment shares the secret, so a cursor made by one is read by another. The same position in
the same org always seals to the same cursor.

Before opaque cursors, a feed cursor was readable base64 of `v1.<position>`; scoring keeps the
feed cursor it folded up to in its schema. `decode_cursor(…, legacy=True)` still reads that old
form (activity allows it for service tokens only: scoring's stored cursor, which the next page
it reads replaces).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.datastructures import URL

from shared.errors import InvalidInput, field_error

_LEGACY_PREFIX = "v1."
_PREFIX = "c2."
MAX_POSITION = 2**63 - 1  # positions are PostgreSQL bigints
_POSITION_TAG = b"p"


def _derive(secret: bytes) -> AESSIV:
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"salesperf cursors v2")
    return AESSIV(key.derive(secret))


# Until a service configures its secret (its lifespan does), a key of this process alone.
_sealer = _derive(os.urandom(32))


def configure_cursors(secret: str) -> None:
    """Derive the cursor key from the services' shared secret (each service's lifespan)."""
    global _sealer
    _sealer = _derive(secret.encode())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


def _seal(org: str, tag: bytes, body: bytes) -> str:
    return _PREFIX + _b64(_sealer.encrypt(tag + b"." + body, [org.encode()]))


def _open(org: str, tag: bytes, cursor: str) -> bytes:
    """The body sealed for `org` under `tag`; ValueError for anything else."""
    if not cursor.startswith(_PREFIX):
        raise ValueError("not a cursor")
    try:
        plain = _sealer.decrypt(_unb64(cursor[len(_PREFIX) :]), [org.encode()])
    except InvalidTag as exc:
        raise ValueError("not sealed for this org") from exc
    found, _, body = plain.partition(b".")
    if found != tag:
        raise ValueError("a cursor of another kind")
    return body


def encode_cursor(position: int, org: str) -> str:
    """The opaque cursor of a place in `org`'s feed."""
    return _seal(org, _POSITION_TAG, position.to_bytes(8, "big"))


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


def bad_cursor(field: str = "cursor") -> InvalidInput:
    return InvalidInput(
        f"`{field}` is not a cursor this API issued.",
        errors=[field_error(field, "not a cursor issued by this API", "cursor_invalid", "query")],
    )
