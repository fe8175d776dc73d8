"""Tokens of an OpenID Connect issuer, against a real issuer on loopback: discovery and JWKS over
HTTP, RSA and EC keys made here, key rotation, the refetch floor, forgeries, and the whole path
through the activity service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.activity.main import create_app
from shared.auth import Principal, Role, TokenVerifier
from shared.errors import Unauthorized, UpstreamUnavailable
from shared.oidc import OidcIssuer, OidcVerifier
from tests.api.activity.conftest import activity_settings
from tests.conftest import JWT_SECRET, running

AUDIENCE = "salesperf"


class Issuer:
    """A tiny identity provider: discovery and JWKS on 127.0.0.1, keys it can rotate, and a
    count of the requests it answered."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.hits: Counter[str] = Counter()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.hits[self.path] += 1
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path == "/jwks":
                    body = {"keys": [issuer.jwk(kid) for kid in list(issuer.keys)]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def jwks_fetches(self) -> int:
        return self.hits["/jwks"]

    def add_rsa(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def add_ec(self, kid: str) -> None:
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk["alg"] = "RS256"
        else:
            jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
            jwk["alg"] = "ES256"
        return {**jwk, "kid": kid, "use": "sig"}

    def public_pem(self, kid: str) -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def token(
        self, kid: str | None, *, key_of: str | None = None, ttl: int = 600, **claims: Any
    ) -> str:
        key = self.keys[key_of or kid or next(iter(self.keys))]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + ttl,
            "sub": "u-1",
            "groups": ["staff", "sales-reps"],
            "dept": "north",
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid} if kid else None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[Issuer]:
    issuer = Issuer()
    issuer.add_rsa("rsa-1")
    issuer.add_ec("ec-1")
    yield issuer
    issuer.close()


def config(idp: Issuer, **overrides: Any) -> OidcIssuer:
    return OidcIssuer.model_validate(
        {
            "issuer": idp.url,  # the JWKS is discovered
            "audience": AUDIENCE,
            "org": "acme",
            "claims": {"role": "groups", "team": "dept", "sub": "sub"},
            "roles": {"sales-reps": "rep", "sales-managers": "manager", "it": "admin"},
            **overrides,
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(idp: Issuer, clock: Clock) -> TokenVerifier:
    return TokenVerifier(JWT_SECRET, oidc=OidcVerifier([config(idp)], clock=clock))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_by_hand(claims: dict[str, Any], secret: bytes, **header: Any) -> str:
    """An HS256 token with any secret (PyJWT refuses to sign with a PEM public key)."""
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


class TestIssuerTokensAreAccepted:
    async def test_an_rs256_token_maps_to_the_configured_org_role_team_and_subject(
        self, idp, verifier
    ):
        token = idp.token("rsa-1", sub="emp-7", groups=["staff", "sales-managers"])
        assert await verifier.verify(token) == Principal(
            org="acme", role=Role.MANAGER, sub="emp-7", team="north"
        )
        assert idp.hits["/.well-known/openid-configuration"] == 1
        assert idp.jwks_fetches == 1

    async def test_an_es256_token_is_accepted_too(self, idp, verifier):
        token = idp.token("ec-1", groups="it", dept=None)
        assert await verifier.verify(token) == Principal(org="acme", role=Role.ADMIN, sub="u-1")

    async def test_the_org_may_come_from_a_claim_and_the_jwks_uri_be_given(self, idp, clock):
        issuer = config(idp, org=None, org_claim="tenant", jwks_uri=f"{idp.url}/jwks")
        v = TokenVerifier(JWT_SECRET, oidc=OidcVerifier([issuer], clock=clock))
        principal = await v.verify(idp.token("rsa-1", tenant="globex"))
        assert principal == Principal(org="globex", role=Role.REP, sub="u-1", team="north")
        assert idp.hits["/.well-known/openid-configuration"] == 0

    async def test_keys_are_fetched_once_for_many_tokens(self, idp, verifier):
        for i in range(5):
            await verifier.verify(idp.token("rsa-1", sub=f"u-{i}"))
            await verifier.verify(idp.token("ec-1", sub=f"u-{i}"))
        assert idp.jwks_fetches == 1

    async def test_a_token_without_kid_is_accepted_when_one_key_fits_its_algorithm(
        self, idp, verifier
    ):
        assert (await verifier.verify(idp.token(None, key_of="ec-1"))).sub == "u-1"

    async def test_a_verified_token_is_remembered_until_it_expires(
        self, idp, verifier, monkeypatch
    ):
        token = idp.token("rsa-1", ttl=60)
        await verifier.verify(token)
        idp.close()  # no issuer needed for a token verified before
        await verifier.verify(token)
        later = time.time() + 61
        monkeypatch.setattr("shared.auth.time.time", lambda: later)
        with pytest.raises(Unauthorized, match="expired"):
            await verifier.verify(token)


class TestKeyRotation:
    async def test_an_unknown_kid_fetches_the_keys_again_once_and_then_verifies(
        self, idp, verifier, clock
    ):
        await verifier.verify(idp.token("rsa-1"))
        clock.now += 60  # past the refetch floor
        idp.keys.pop("rsa-1")
        idp.add_rsa("rsa-2")  # the issuer rotated its key
        assert (await verifier.verify(idp.token("rsa-2", sub="after"))).sub == "after"
        assert idp.jwks_fetches == 2
        await verifier.verify(idp.token("rsa-2", sub="again"))
        assert idp.jwks_fetches == 2

    async def test_a_kid_that_stays_unknown_is_refused_without_a_fetch_per_request(
        self, idp, verifier, clock
    ):
        await verifier.verify(idp.token("rsa-1"))
        idp.add_rsa("rogue")
        rogue = idp.token("rogue")
        idp.keys.pop("rogue")  # signed with a key the issuer does not publish
        for _ in range(20):
            with pytest.raises(Unauthorized, match="not among"):
                await verifier.verify(rogue)
        assert idp.jwks_fetches == 1  # within the floor: no refetch at all
        clock.now += 31
        for _ in range(20):
            with pytest.raises(Unauthorized, match="not among"):
                await verifier.verify(rogue)
        assert idp.jwks_fetches == 2  # one per interval, however many tokens

    async def test_keys_older_than_their_max_age_are_fetched_again(self, idp, verifier, clock):
        await verifier.verify(idp.token("rsa-1"))
        clock.now += 3601
        await verifier.verify(idp.token("rsa-1", sub="later"))
        assert idp.jwks_fetches == 2

    async def test_an_issuer_whose_keys_cannot_be_fetched_answers_unavailable(self, idp, clock):
        issuer = config(idp, jwks_uri="http://127.0.0.1:9/jwks")  # nothing listens on port 9
        v = TokenVerifier(JWT_SECRET, oidc=OidcVerifier([issuer], clock=clock, timeout=2))
        with pytest.raises(UpstreamUnavailable):
            await v.verify(idp.token("rsa-1"))


class TestForgeriesAreRefused:
    async def test_an_expired_token(self, idp, verifier):
        with pytest.raises(Unauthorized, match="expired"):
            await verifier.verify(idp.token("rsa-1", iat=int(time.time()) - 120, ttl=-60))

    async def test_a_token_without_exp(self, idp, verifier):
        with pytest.raises(Unauthorized, match="exp"):
            await verifier.verify(idp.token("rsa-1", exp=None))

    async def test_a_token_valid_for_longer_than_the_cap(self, idp, verifier):
        with pytest.raises(Unauthorized, match="longer than"):
            await verifier.verify(idp.token("rsa-1", ttl=2 * 24 * 3600))

    async def test_a_token_for_another_audience(self, idp, verifier):
        with pytest.raises(Unauthorized, match="not valid"):
            await verifier.verify(idp.token("rsa-1", aud="another-app"))

    async def test_a_token_of_an_unconfigured_issuer_even_with_a_published_key(self, idp, verifier):
        with pytest.raises(Unauthorized, match="not trusted"):
            await verifier.verify(idp.token("rsa-1", iss="https://evil.example"))
        assert idp.jwks_fetches == 0

    async def test_a_token_signed_with_another_key_under_a_published_kid(self, idp, verifier):
        idp.add_rsa("other")
        forged = idp.token("rsa-1", key_of="other")
        with pytest.raises(Unauthorized, match="not valid"):
            await verifier.verify(forged)

    async def test_alg_none(self, idp, verifier):
        claims = {"iss": idp.url, "aud": AUDIENCE, "sub": "a", "groups": "it", "exp": 2**33}
        unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})
        with pytest.raises(Unauthorized, match="not none"):
            await verifier.verify(unsigned)
        without_iss = {k: v for k, v in claims.items() if k != "iss"} | {"org": "acme"}
        with pytest.raises(Unauthorized):
            await verifier.verify(jwt.encode(without_iss, None, algorithm="none"))

    @pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
    async def test_hs256_with_the_issuers_public_key_as_the_secret(self, idp, verifier, kid):
        now = int(time.time())
        claims = {"iss": idp.url, "aud": AUDIENCE, "sub": "a", "groups": "it"}
        claims |= {"iat": now, "exp": now + 600}
        forged = hs256_by_hand(claims, idp.public_pem(kid), kid=kid)
        with pytest.raises(Unauthorized, match="not HS256"):
            await verifier.verify(forged)
        # The same trick without `iss` lands on our own keys, where the PEM is no secret of ours.
        claims = {k: v for k, v in claims.items() if k != "iss"} | {"org": "acme", "role": "admin"}
        with pytest.raises(Unauthorized, match="not valid"):
            await verifier.verify(hs256_by_hand(claims, idp.public_pem(kid)))

    async def test_an_es256_token_under_an_rsa_kid(self, idp, verifier):
        forged = idp.token("rsa-1", key_of="ec-1")
        with pytest.raises(Unauthorized, match="not among"):
            await verifier.verify(forged)

    async def test_a_role_the_mapping_does_not_know(self, idp, verifier):
        with pytest.raises(Unauthorized, match="no role"):
            await verifier.verify(idp.token("rsa-1", groups=["admin"]))


@pytest.fixture
async def activity_with_idp(
    idp: Issuer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SALESPERF_OIDC_ISSUERS", json.dumps([config(idp).model_dump()]))
    app = create_app(activity_settings(), database_url=database_url)
    async with running(app, "activity-oidc") as client:
        yield client


class TestThroughTheActivityService:
    async def test_an_issuer_token_reads_the_feed_and_a_bad_one_gets_a_401_problem(
        self, idp, activity_with_idp
    ):
        client = activity_with_idp
        good = idp.token("rsa-1", groups="it")
        r = await client.get("/v1/events", headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 200, r.text

        bad = idp.token("rsa-1", groups="it", aud="another-app")
        r = await client.get("/v1/events", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"] == "urn:salesperf:problem:unauthorized"

    async def test_our_own_tokens_still_work_beside_the_issuer(self, activity_with_idp):
        from shared.auth import issue_token

        token = issue_token(JWT_SECRET, org="acme", role="admin", sub="a", ttl_seconds=60)
        r = await activity_with_idp.get("/v1/events", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
