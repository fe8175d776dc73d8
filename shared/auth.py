"""Bearer-token (JWT) authentication and the caller's scope.

Our own tokens are HS256, without `iss`. Claims: `org` (tenant), `role` (admin | manager | rep |
bi | service), `sub` (the subject, a rep id for reps), optional `team` (required for managers),
`exp`. A `kid` in the header names one of the rotatable keys (`SALESPERF_JWT_KEYS`); a token
without one is verified with the service's single secret (`SALESPERF_JWT_SECRET`).

Every token salesperf mints itself (the services' tokens to each other, the CLIs', the
development admin token of `salesperf run`) is signed with the *current* key, `signing_key`:
`SALESPERF_JWT_KID`'s key with its `kid` in the header, else the secret without one (`mint_token`).
So once every service signs with a kid and the kid-less tokens handed out before have expired,
the secret verifies nothing anyone still holds and can be changed or retired.
Tokens one service sends another are short-lived and re-minted before they expire
(`service_token`).

Tokens whose `iss` is a configured OpenID Connect issuer are verified against that issuer's keys
(shared/oidc.py). The route is chosen by `iss` and nothing else, and each route accepts exactly
one kind of key: HS256 with our secrets for tokens without `iss`, the issuer's asymmetric keys for
its tokens; any other `iss` is refused. So neither `alg: none`, nor an HS256 token "signed" with an
issuer's public key, nor a token of an unconfigured issuer gets through.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from shared.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from starlette.datastructures import State

    from shared.config import CommonSettings
    from shared.oidc import OidcVerifier

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 12 * 3600
SERVICE_TOKEN_TTL = 3600
"""Lifetime of the tokens one service mints to call another (re-minted at half of it)."""
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
    kid: str | None = None,
) -> str:
    """A token signed with `secret`; `kid` names the key in the header (a rotatable key of
    `SALESPERF_JWT_KEYS`), none for the single secret."""
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
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid} if kid else None)


def signing_key(settings: CommonSettings, secret: str | None = None) -> tuple[str, str | None]:
    """The key new tokens are signed with, and the `kid` to name in their header: the key of
    `SALESPERF_JWT_KEYS` that `SALESPERF_JWT_KID` names, else the secret (`secret` when the caller
    has resolved it already) and no `kid`."""
    if settings.jwt_kid is not None:
        return settings.jwt_keys[settings.jwt_kid].get_secret_value(), settings.jwt_kid
    return (settings.resolved_jwt_secret() if secret is None else secret), None


def mint_token(
    settings: CommonSettings,
    *,
    org: str,
    role: Role | str,
    sub: str,
    team: str | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    secret: str | None = None,
) -> str:
    """A token signed with the current key (`signing_key`): what every token salesperf mints
    for itself or an operator is made with."""
    key, kid = signing_key(settings, secret)
    return issue_token(
        key, org=org, role=role, sub=sub, team=team, ttl_seconds=ttl_seconds, kid=kid
    )


_service_tokens: dict[tuple[str, str | None, str, str, int], tuple[str, float]] = {}
_SERVICE_TOKENS_KEPT = 10_000


def service_token(
    settings: CommonSettings,
    *,
    org: str,
    sub: str,
    ttl_seconds: int = SERVICE_TOKEN_TTL,
    secret: str | None = None,
) -> str:
    """A service token of `org` (the platform's: `PLATFORM_ORG`) for one of our services to call
    another, signed with the current key. Minted once and handed out again until half its life
    is gone, then minted anew: a caller that asks for it at each request never sends an expired
    one, and the verifying side checks each token's signature once (`TokenVerifier` keeps it)."""
    key, kid = signing_key(settings, secret)
    cached = (key, kid, org, sub, ttl_seconds)
    now = time.time()
    hit = _service_tokens.get(cached)
    if hit is not None and hit[1] > now:
        return hit[0]
    token = issue_token(key, org=org, role=Role.SERVICE, sub=sub, ttl_seconds=ttl_seconds, kid=kid)
    if len(_service_tokens) >= _SERVICE_TOKENS_KEPT:
        _service_tokens.clear()
    _service_tokens[cached] = (token, now + ttl_seconds / 2)
    return token


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


class TokenVerifier:
    """Routes a token to our HS256 keys or to its OpenID Connect issuer, and remembers each
    verified token until it expires (never a failure)."""

    def __init__(
        self,
        secret: str,
        *,
        keys: Mapping[str, str] | None = None,
        oidc: OidcVerifier | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.secret = secret
        self.keys = dict(keys or {})
        self.oidc = oidc
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    @classmethod
    def from_settings(cls, secret: str, settings: CommonSettings) -> TokenVerifier:
        from shared.oidc import OidcVerifier  # shared.oidc imports this module

        return cls(
            secret,
            keys={kid: key.get_secret_value() for kid, key in settings.jwt_keys.items()},
            oidc=OidcVerifier(settings.oidc_issuers) if settings.oidc_issuers else None,
        )

    async def verify(self, token: str) -> Principal:
        """The caller a token stands for; raises Unauthorized for a bad or expired token."""
        hit = self._cache.get(token)
        if hit is not None:
            principal, expires = hit
            if expires > time.time():
                self._cache.move_to_end(token)
                return principal
            del self._cache[token]
            raise Unauthorized("The token has expired.")
        principal, expires = await self._verify(token)
        if expires <= time.time():
            raise Unauthorized("The token has expired.")
        self._cache[token] = (principal, expires)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from exc
        issuer = unverified.get("iss")
        if issuer is None:  # ours: HS256 only, with the key its `kid` names
            if header.get("alg") != ALGORITHM:
                raise Unauthorized(f"The token is not valid: our tokens are {ALGORITHM}.")
            kid = header.get("kid")
            if kid is None:
                return _verified(self.secret, token)
            secret = self.keys.get(kid) if isinstance(kid, str) else None
            if secret is None:
                raise Unauthorized(f"The token's key {kid!r} is not one of ours.")
            return _verified(secret, token)
        if self.oidc is None or not self.oidc.trusts(issuer):
            raise Unauthorized(f"The token's issuer {issuer!r} is not trusted.")
        return await self.oidc.verify(token, header, issuer)


def verifier_for(state: State) -> TokenVerifier:
    """The app's verifier, built on first use from `state.jwt_secret` and the app's settings
    (`state.settings`, else the environment's), and kept on the app's state."""
    secret: str = state.jwt_secret
    verifier: TokenVerifier | None = getattr(state, "token_verifier", None)
    if verifier is None or verifier.secret != secret:
        from shared.config import CommonSettings  # imports shared.oidc, which imports this module

        settings = getattr(state, "settings", None)
        if not isinstance(settings, CommonSettings):
            settings = CommonSettings()
        verifier = state.token_verifier = TokenVerifier.from_settings(secret, settings)
    return verifier


class BearerAuth(HTTPBearer):
    """The caller, from `Authorization: Bearer <JWT>`: one dependency, documented in OpenAPI
    as the bearer security scheme."""

    def __init__(self, *, write: bool = False) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="bearer",
            bearerFormat="JWT",
            description="A salesperf JWT (`salesperf token --help`) or a token of the org's "
            "OpenID Connect issuer.",
        )
        self.write = write

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send `Authorization: Bearer <token>`.")
        principal = await verifier_for(request.app.state).verify(token.strip())
        if self.write and not principal.can_write:
            raise Forbidden(
                "A platform token writes nothing."
                if principal.is_platform
                else "A bi token reads only."
            )
        return principal


CurrentUser = Annotated[Principal, Depends(BearerAuth())]
