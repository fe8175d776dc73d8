"""Bearer-token (JWT, HS256) authentication and the caller's scope.

Claims: `org` (tenant), `role` (admin | manager | rep | bi | service), `sub` (the subject,
a rep id for reps), optional `team` (required for managers), `exp`.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from shared.errors import Forbidden, Unauthorized

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 12 * 3600
PLATFORM_ORG = "*"
"""The `org` of a platform token: a service that works across orgs (scoring's consumer lists the
orgs with it). Such a token reads no org's data and can write nothing."""


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"
    BI = "bi"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    org: str
    role: Role
    sub: str
    team: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role is not Role.BI and not self.is_platform

    @property
    def is_platform(self) -> bool:
        return self.org == PLATFORM_ORG


def issue_token(
    secret: str,
    *,
    org: str,
    role: Role | str,
    sub: str,
    team: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "org": org,
        "role": str(Role(role)),
        "sub": sub,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if team:
        claims["team"] = team
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(secret: str, token: str) -> Principal:
    """The caller a token stands for; raises Unauthorized for a bad or expired token."""
    principal, expires = _verified(secret, token)
    if expires <= time.time():
        raise Unauthorized("The token has expired.")
    return principal


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Principal, float]:
    """Signature and claims checked once per token (then only its expiry, above).

    Failures are not cached: an exception leaves the cache untouched.
    """
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The token is not valid: {exc}.") from exc
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise Unauthorized(
            "The token's `role` claim is not one of admin, manager, rep, bi, service."
        ) from exc
    org, sub, team = claims.get("org"), claims.get("sub"), claims.get("team")
    if not isinstance(org, str) or not org or not isinstance(sub, str) or not sub:
        raise Unauthorized("The token lacks an `org` or `sub` claim.")
    if team is not None and not isinstance(team, str):
        raise Unauthorized("The token's `team` claim must be a string.")
    if role is Role.MANAGER and not team:
        raise Unauthorized("A manager's token must carry a `team` claim.")
    return Principal(org=org, role=role, sub=sub, team=team), float(claims["exp"])


class BearerAuth(HTTPBearer):
    """The caller, from `Authorization: Bearer <JWT>`: one dependency, documented in OpenAPI
    as the bearer security scheme."""

    def __init__(self, *, write: bool = False) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="bearer",
            bearerFormat="JWT",
            description="A salesperf JWT (`salesperf token --help`).",
        )
        self.write = write

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send `Authorization: Bearer <token>`.")
        principal = decode_token(request.app.state.jwt_secret, token.strip())
        if self.write and not principal.can_write:
            raise Forbidden(
                "A platform token writes nothing." if principal.is_platform
                else "A bi token reads only."
            )  # fmt: skip
        return principal


CurrentUser = Annotated[Principal, Depends(BearerAuth())]
