"""Tokens from an org's OpenID Connect identity provider: RS256/ES256 (or another asymmetric
algorithm the issuer is configured for) verified against the issuer's JWKS.

Each trusted issuer is configured in `SALESPERF_OIDC_ISSUERS` (a JSON list of `OidcIssuer`):

    [{"issuer": "https://login.acme.example", "audience": "salesperf",
      "org": "acme",                                   # or "org_claim": "tenant"
      "claims": {"role": "groups", "team": "department", "sub": "employee_id"},
      "roles": {"sales-admins": "admin", "sales-managers": "manager", "sales": "rep"}}]

The JWKS is fetched over HTTP (from `jwks_uri`, or discovered from the issuer's
`/.well-known/openid-configuration`), kept, refreshed when it is older than
`jwks_max_age_seconds` or when a token names a key it does not hold, and never fetched twice
within `jwks_refresh_seconds`: a flood of tokens with made-up `kid`s costs the issuer at most one
request per interval.

A token is verified only with a key of the type its issuer is configured for, under the one
algorithm its header names, which must be among the issuer's `algorithms` (asymmetric only): an
HS256 token "signed" with the issuer's public key, or `alg: none`, never verifies here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from ipaddress import ip_address
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt
import structlog
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.auth import PLATFORM_ORG, Principal, Role
from shared.errors import Unauthorized, UpstreamUnavailable

log = structlog.get_logger(__name__)

Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


def _secure_url(url: str) -> str:
    """https, or http on the loopback (a local issuer in development and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        if parts.hostname == "localhost":
            return url
        try:
            if ip_address(parts.hostname).is_loopback:
                return url
        except ValueError:
            pass
    raise ValueError(f"{url!r} must be an https URL (http only on the loopback)")


def _default_algorithms() -> list[Algorithm]:
    return ["RS256", "ES256"]


class ClaimNames(BaseModel):
    """Which of the issuer's claims hold our role, team and subject."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str = "role"
    team: str = "team"
    sub: str = "sub"


class OidcIssuer(BaseModel):
    """One trusted identity provider, and how its tokens map to our principals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(description="Exactly the tokens' `iss`.")
    jwks_uri: str | None = Field(
        default=None, description="Unset: discovered from issuer/.well-known/openid-configuration."
    )
    audience: str | list[str] = Field(description="The `aud` (one of) a token must carry.")
    org: str | None = Field(default=None, description="The org every token of this issuer is of.")
    org_claim: str | None = Field(default=None, description="Or the claim that names the org.")
    claims: ClaimNames = ClaimNames()
    roles: dict[str, Role] = Field(
        default_factory=dict,
        description="The issuer's role values → ours; empty: the values must be ours already.",
    )
    algorithms: list[Algorithm] = Field(default_factory=_default_algorithms, min_length=1)
    max_lifetime_seconds: int | None = Field(
        default=24 * 3600,
        ge=1,
        description="Refuse tokens valid longer than this (`null`: no cap).",
    )
    jwks_refresh_seconds: float = Field(
        default=30.0, ge=0, description="Least time between two fetches of the JWKS."
    )
    jwks_max_age_seconds: float = Field(
        default=3600.0, gt=0, description="Fetch the JWKS again once it is this old."
    )

    @field_validator("issuer", "jwks_uri")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return None if value is None else _secure_url(value)

    @model_validator(mode="after")
    def _one_org_source(self) -> OidcIssuer:
        if (self.org is None) == (self.org_claim is None):
            raise ValueError("set exactly one of `org` (a fixed org id) and `org_claim`")
        if self.org is not None and (not self.org or self.org == PLATFORM_ORG):
            raise ValueError("`org` must name one org")
        return self

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """Our principal for a verified token's claims; Unauthorized when they do not map."""
        if self.org is not None:
            org: object = self.org
        else:
            org = claims.get(self.org_claim or "")
        if not isinstance(org, str) or not org or org == PLATFORM_ORG:
            raise Unauthorized(f"The token's `{self.org_claim}` claim does not name an org.")
        sub = claims.get(self.claims.sub)
        if isinstance(sub, int) and not isinstance(sub, bool):
            sub = str(sub)
        if not isinstance(sub, str) or not sub:
            raise Unauthorized(f"The token lacks its subject claim `{self.claims.sub}`.")
        team = claims.get(self.claims.team)
        if team is not None and (not isinstance(team, str) or not team):
            raise Unauthorized(f"The token's `{self.claims.team}` claim must be a string.")
        role = self._role(claims.get(self.claims.role))
        if role is Role.MANAGER and not team:
            raise Unauthorized(f"A manager's token must carry a `{self.claims.team}` claim.")
        return Principal(org=org, role=role, sub=sub, team=team)

    def _role(self, value: object) -> Role:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values:
            raise Unauthorized(f"The token lacks its role claim `{self.claims.role}`.")
        found: set[Role] = set()
        for item in values:
            if not isinstance(item, str):
                continue
            if self.roles:
                if item in self.roles:
                    found.add(self.roles[item])
            elif item in Role._value2member_map_:
                found.add(Role(item))
        if len(found) != 1:
            raise Unauthorized(
                f"The token's `{self.claims.role}` claim maps to "
                + ("no role of ours." if not found else "more than one role of ours.")
            )
        return found.pop()


def _fits(jwk: Mapping[str, Any], alg: str) -> bool:
    """Whether a JWK may verify a token of `alg`: the key type (and curve) the algorithm needs."""
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
        return False
    if jwk.get("kty") != _KEY_TYPE[alg[:2]]:
        return False
    return jwk.get("kty") != "EC" or jwk.get("crv") == _CURVE.get(alg)


class JwksCache:
    """One issuer's signing keys, fetched over HTTP and refreshed with a floor between fetches."""

    def __init__(
        self,
        config: OidcIssuer,
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 5.0,
    ) -> None:
        self.config = config
        self.fetches = 0
        self._clock = clock
        self._timeout = timeout
        self._jwks_uri = config.jwks_uri
        self._keys: list[tuple[dict[str, Any], Any]] = []  # (JWK, public key)
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: object, alg: str) -> Any:
        """The public key to verify a token of `alg` whose header names `kid`."""
        if kid is not None and not isinstance(kid, str):
            raise Unauthorized("The token's `kid` must be a string.")
        stale = (
            self._fetched_at is None
            or self._clock() - self._fetched_at >= self.config.jwks_max_age_seconds
        )
        key = None if stale else self._find(kid, alg)
        if key is None:
            await self._refresh()
            key = self._find(kid, alg)
        if key is None:
            if not self._keys and self._fetched_at is None:
                raise UpstreamUnavailable(
                    f"The keys of the identity provider {self.config.issuer} could not be fetched."
                )
            raise Unauthorized(
                f"The token's key ({'kid ' + repr(kid) if kid else 'no kid'}, {alg}) is not "
                f"among the {self.config.issuer} signing keys."
            )
        return key

    def _find(self, kid: str | None, alg: str) -> Any:
        fitting = [(jwk, key) for jwk, key in self._keys if _fits(jwk, alg)]
        if kid is None:  # without a kid, only an unambiguous key will do
            return fitting[0][1] if len(fitting) == 1 else None
        return next((key for jwk, key in fitting if jwk.get("kid") == kid), None)

    async def _refresh(self) -> None:
        async with self._lock:
            now = self._clock()
            if (
                self._attempted_at is not None
                and now - self._attempted_at < self.config.jwks_refresh_seconds
            ):
                return  # fetched (or tried) moments ago, perhaps by a concurrent request
            self._attempted_at = now
            self.fetches += 1
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, TypeError) as exc:
                log.warning("jwks_fetch_failed", issuer=self.config.issuer, error=str(exc))
                return  # keep the keys we had
            self._keys, self._fetched_at = keys, now

    async def _fetch(self) -> list[tuple[dict[str, Any], Any]]:
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
            if self._jwks_uri is None:
                url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
                response = await client.get(url)
                response.raise_for_status()
                doc = response.json()
                if not isinstance(doc, dict) or doc.get("issuer") != self.config.issuer:
                    raise ValueError(f"{url} names another issuer")
                self._jwks_uri = _secure_url(str(doc.get("jwks_uri")))
            response = await client.get(self._jwks_uri)
            response.raise_for_status()
            body = response.json()
        entries = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise ValueError("the JWKS has no `keys` list")
        keys: list[tuple[dict[str, Any], Any]] = []
        for entry in entries:
            if not isinstance(entry, dict) or "d" in entry or entry.get("kty") not in ("RSA", "EC"):
                continue  # only public signature keys (never an HMAC secret, never a private key)
            try:
                keys.append((entry, jwt.PyJWK(entry).key))
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
                log.warning("jwks_key_skipped", issuer=self.config.issuer, kid=entry.get("kid"))
        log.info("jwks_fetched", issuer=self.config.issuer, keys=len(keys))
        return keys


class OidcVerifier:
    """Verifies tokens of the configured issuers, each against its own JWKS."""

    def __init__(
        self,
        issuers: Sequence[OidcIssuer],
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 5.0,
    ) -> None:
        self.jwks = {i.issuer: JwksCache(i, clock=clock, timeout=timeout) for i in issuers}

    def trusts(self, issuer: object) -> bool:
        return isinstance(issuer, str) and issuer in self.jwks

    async def verify(
        self, token: str, header: Mapping[str, Any], issuer: str
    ) -> tuple[Principal, float]:
        """The principal and expiry (epoch seconds) of a token whose unverified `iss` is
        `issuer` (one `trusts` accepts)."""
        jwks = self.jwks[issuer]
        config = jwks.config
        alg = header.get("alg")
        if alg not in config.algorithms:
            raise Unauthorized(
                f"Tokens of {issuer} are signed with {', '.join(config.algorithms)}, not {alg}."
            )
        key = await jwks.key_for(header.get("kid"), alg)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=config.audience,
                issuer=config.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"The token is not valid: {exc}.") from exc
        expires = float(claims["exp"])
        if config.max_lifetime_seconds is not None:
            iat = claims.get("iat")
            issued = float(iat) if isinstance(iat, int | float) else time.time()
            if expires - issued > config.max_lifetime_seconds:
                raise Unauthorized(
                    f"The token is valid for longer than {config.max_lifetime_seconds} s."
                )
        return config.principal(claims), expires
