"""shared/auth.py: tokens, their expiry (also once verified and cached), forgeries, our key
rotation, routing by issuer; shared/oidc.py: the claims mapping (the JWKS path is in
tests/integration/test_oidc.py)."""

from __future__ import annotations

import json

import jwt
import pytest
from pydantic import ValidationError

from shared import auth
from shared.auth import Principal, Role, TokenVerifier, decode_token, issue_token
from shared.config import CommonSettings
from shared.errors import Unauthorized
from shared.oidc import OidcIssuer

SECRET = "auth-secret-" + "z" * 32


def test_a_token_decodes_to_its_principal():
    token = issue_token(SECRET, org="o", role="manager", sub="m", team="north")
    assert decode_token(SECRET, token) == Principal(
        org="o", role=Role.MANAGER, sub="m", team="north"
    )


def test_a_token_verified_before_is_still_refused_once_it_expires(monkeypatch):
    token = issue_token(SECRET, org="o", role="rep", sub="r", ttl_seconds=60)
    now = auth.time.time()
    assert decode_token(SECRET, token).sub == "r"  # verified and cached
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)
    with pytest.raises(Unauthorized, match="expired"):
        decode_token(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused_even_after_a_good_one_was_cached():
    good = issue_token(SECRET, org="o", role="admin", sub="a")
    decode_token(SECRET, good)
    forged = issue_token("another-secret-" + "q" * 32, org="o", role="admin", sub="a")
    with pytest.raises(Unauthorized, match="not valid"):
        decode_token(SECRET, forged)
    with pytest.raises(Unauthorized):
        decode_token("another-secret-but-not-the-service-s" + "q" * 8, good)


KEYS = {"2026-07": "key-july-" + "k" * 32, "2026-10": "key-october-" + "k" * 32}


def verifier() -> TokenVerifier:
    return TokenVerifier(SECRET, keys=KEYS)


class TestOurKeysRotateByKid:
    async def test_a_token_of_the_new_kid_and_one_of_the_old_kid_are_both_accepted(self):
        v = verifier()
        for kid in KEYS:
            token = issue_token(KEYS[kid], org="o", role="rep", sub=f"r-{kid}", kid=kid)
            assert jwt.get_unverified_header(token)["kid"] == kid
            assert (await v.verify(token)).sub == f"r-{kid}"

    async def test_a_token_without_kid_is_verified_with_the_single_secret(self):
        assert (
            await verifier().verify(issue_token(SECRET, org="o", role="bi", sub="b"))
        ).org == "o"

    async def test_an_unknown_kid_is_refused(self):
        token = issue_token(SECRET, org="o", role="admin", sub="a", kid="2025-01")
        with pytest.raises(Unauthorized, match="not one of ours"):
            await verifier().verify(token)

    async def test_a_kid_does_not_lend_its_key_to_a_token_signed_with_another(self):
        forged = issue_token(KEYS["2026-07"], org="o", role="admin", sub="a", kid="2026-10")
        with pytest.raises(Unauthorized, match="not valid"):
            await verifier().verify(forged)

    async def test_a_kid_token_is_refused_by_a_service_without_keys(self):
        token = issue_token(KEYS["2026-07"], org="o", role="admin", sub="a", kid="2026-07")
        with pytest.raises(Unauthorized):
            await TokenVerifier(SECRET).verify(token)


class TestTheVerifierCache:
    async def test_a_cached_token_is_refused_once_it_expires(self, monkeypatch):
        v = verifier()
        token = issue_token(SECRET, org="o", role="rep", sub="r", ttl_seconds=60)
        now = auth.time.time()
        assert (await v.verify(token)).sub == "r"
        monkeypatch.setattr(auth.time, "time", lambda: now + 61)
        with pytest.raises(Unauthorized, match="expired"):
            await v.verify(token)

    async def test_a_failure_is_not_cached(self):
        token = issue_token(KEYS["2026-07"], org="o", role="rep", sub="r", kid="2026-07")
        v = TokenVerifier(SECRET)
        with pytest.raises(Unauthorized):
            await v.verify(token)
        v.keys = dict(KEYS)  # the same verifier, now holding the key: verified, not a stale no
        assert (await v.verify(token)).sub == "r"

    async def test_the_cache_is_bounded(self):
        v = TokenVerifier(SECRET, cache_size=3)
        for i in range(5):
            await v.verify(issue_token(SECRET, org="o", role="rep", sub=f"r{i}"))
        assert len(v._cache) == 3


class TestRouting:
    async def test_alg_none_is_refused(self):
        token = jwt.encode(
            {"org": "o", "role": "admin", "sub": "a", "exp": 2**40}, None, algorithm="none"
        )
        with pytest.raises(Unauthorized):
            await verifier().verify(token)

    async def test_a_token_of_an_unconfigured_issuer_is_refused(self):
        token = jwt.encode(
            {"iss": "https://idp.example", "org": "o", "role": "admin", "sub": "a", "exp": 2**40},
            SECRET,
            algorithm="HS256",
        )
        with pytest.raises(Unauthorized, match="not trusted"):
            await verifier().verify(token)

    async def test_garbage_is_refused(self):
        with pytest.raises(Unauthorized, match="not valid"):
            await verifier().verify("not.a.jwt")


ISSUER = {"issuer": "https://idp.example", "audience": "salesperf", "org": "acme"}


class TestIssuerClaimsMapping:
    def test_the_configured_claim_names_and_role_mapping_make_the_principal(self):
        issuer = OidcIssuer.model_validate(
            {
                **ISSUER,
                "claims": {"role": "groups", "team": "dept", "sub": "employee_id"},
                "roles": {"sales-managers": "manager", "sales": "rep"},
            }
        )
        claims = {"groups": ["everyone", "sales-managers"], "dept": "north", "employee_id": 42}
        assert issuer.principal(claims) == Principal(
            org="acme", role=Role.MANAGER, sub="42", team="north"
        )

    def test_the_org_may_come_from_a_claim_but_never_the_platform_org(self):
        issuer = OidcIssuer.model_validate({**ISSUER, "org": None, "org_claim": "tenant"})
        assert issuer.principal({"tenant": "t1", "role": "admin", "sub": "a"}).org == "t1"
        with pytest.raises(Unauthorized):
            issuer.principal({"tenant": "*", "role": "admin", "sub": "a"})
        with pytest.raises(Unauthorized):
            issuer.principal({"role": "admin", "sub": "a"})

    def test_a_role_that_maps_to_none_or_to_two_of_ours_is_refused(self):
        issuer = OidcIssuer.model_validate({**ISSUER, "roles": {"a": "admin", "r": "rep"}})
        for value in ("admin", ["x"], ["a", "r"], None):
            with pytest.raises(Unauthorized, match="role"):
                issuer.principal({"role": value, "sub": "s"})

    def test_a_manager_needs_a_team(self):
        issuer = OidcIssuer.model_validate(ISSUER)
        with pytest.raises(Unauthorized, match="team"):
            issuer.principal({"role": "manager", "sub": "m"})

    @pytest.mark.parametrize(
        "change",
        [
            {"org": None},  # neither org nor org_claim
            {"org_claim": "tenant"},  # both
            {"org": "*"},
            {"issuer": "http://idp.example"},  # plain http off the loopback
            {"algorithms": ["HS256"]},
            {"algorithms": ["none"]},
        ],
    )
    def test_a_bad_issuer_configuration_is_refused(self, change):
        with pytest.raises(ValidationError):
            OidcIssuer.model_validate({**ISSUER, **change})


class TestSettings:
    def test_keys_kid_and_issuers_are_read_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("SALESPERF_JWT_KEYS", json.dumps(KEYS))
        monkeypatch.setenv("SALESPERF_JWT_KID", "2026-10")
        monkeypatch.setenv("SALESPERF_OIDC_ISSUERS", json.dumps([ISSUER]))
        settings = CommonSettings()
        assert settings.jwt_keys["2026-10"].get_secret_value() == KEYS["2026-10"]
        assert settings.jwt_kid == "2026-10"
        assert settings.oidc_issuers[0].org == "acme"
        assert TokenVerifier.from_settings(SECRET, settings).oidc is not None

    @pytest.mark.parametrize(
        "env",
        [
            {"SALESPERF_JWT_KID": "nope"},
            {"SALESPERF_JWT_KEYS": json.dumps({"k": "short"})},
            {"SALESPERF_OIDC_ISSUERS": json.dumps([ISSUER, ISSUER])},
        ],
    )
    def test_inconsistent_settings_are_refused(self, monkeypatch, env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            CommonSettings()

    def test_salesperf_token_signs_with_the_key_jwt_kid_names(self, monkeypatch, tmp_path):
        from typer.testing import CliRunner

        from salesperf.cli import app

        monkeypatch.setenv("SALESPERF_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SALESPERF_JWT_KEYS", json.dumps(KEYS))
        monkeypatch.setenv("SALESPERF_JWT_KID", "2026-10")
        result = CliRunner().invoke(app, ["token", "--org", "o", "--role", "rep", "--sub", "r"])
        assert result.exit_code == 0, result.output
        token = result.output.strip()
        assert jwt.get_unverified_header(token)["kid"] == "2026-10"
        assert jwt.decode(token, KEYS["2026-10"], algorithms=["HS256"])["sub"] == "r"
