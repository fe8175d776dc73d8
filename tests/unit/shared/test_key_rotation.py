"""The pieces of key rotation on their own: cursor keys (shared/pagination.py) and the tokens
salesperf mints (shared/auth.py). The services rotating together: tests/api/test_key_rotation.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jwt
import pytest
from pydantic import SecretStr, ValidationError

from shared import auth, pagination
from shared.auth import mint_token, service_token, signing_key
from shared.config import CommonSettings
from shared.errors import InvalidInput
from shared.pagination import (
    configure_cursors,
    decode_cursor,
    decode_keyset,
    encode_cursor,
    encode_keyset,
    is_current,
    is_stale,
    readable_cursor,
)

SECRET = "the-jwt-secret-" + "s" * 32
OLD, NEW = "old-cursor-key-" + "o" * 32, "new-cursor-key-" + "n" * 32
KEYS = {"2026-07": "k" * 40, "2026-10": "q" * 40}


@pytest.fixture(autouse=True)
def cursor_keys_restored() -> Iterator[None]:
    kept = pagination._sealer
    yield
    pagination._sealer = kept


def keyed(*keys: str) -> CommonSettings:
    return CommonSettings(jwt_secret=SecretStr(SECRET), cursor_keys=[SecretStr(k) for k in keys])


class TestCursorKeys:
    def test_without_cursor_keys_the_secret_seals_as_before(self) -> None:
        configure_cursors(SECRET, keyed())
        sealed = encode_cursor(42, "acme")
        configure_cursors(SECRET, CommonSettings(jwt_secret=SecretStr(SECRET)))
        assert encode_cursor(42, "acme") == sealed

    def test_the_first_key_seals_and_every_one_opens(self) -> None:
        configure_cursors(SECRET, keyed(OLD))
        old_cursor, old_keyset = encode_cursor(7, "acme"), encode_keyset("g", ["a", "b"], "acme")
        configure_cursors(SECRET, keyed(NEW, OLD))
        assert encode_cursor(7, "acme") != old_cursor  # sealed with the new key
        assert decode_cursor(old_cursor, "acme") == 7
        assert decode_keyset("g", old_keyset, 2, "acme") == ["a", "b"]
        assert not is_current(old_cursor, "acme")
        assert is_current(encode_cursor(7, "acme"), "acme")
        assert is_stale(old_cursor, "acme")
        assert not is_stale(encode_cursor(7, "acme"), "acme")

    def test_a_cursor_of_a_dropped_key_is_refused_like_a_forged_one(self) -> None:
        configure_cursors(SECRET, keyed(OLD))
        old_cursor = encode_cursor(7, "acme")
        configure_cursors(SECRET, keyed(NEW))
        with pytest.raises(InvalidInput):
            decode_cursor(old_cursor, "acme")

    def test_the_secret_listed_as_a_cursor_key_keeps_its_cursors_after_it_changes(self) -> None:
        configure_cursors(SECRET, CommonSettings(jwt_secret=SecretStr(SECRET)))
        before = encode_cursor(9, "acme")
        configure_cursors("a-new-jwt-secret-" + "x" * 32, keyed(NEW, SECRET))
        assert decode_cursor(before, "acme") == 9

    def test_the_readable_form_is_read_only_as_the_stored_cursor_of_a_service(self) -> None:
        cursor = readable_cursor(1234)
        assert decode_cursor(cursor, "acme", legacy=True) == 1234
        assert not is_current(cursor, "acme")
        assert not is_stale(cursor, "acme")
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, "acme")

    def test_without_settings_the_environment_is_read(self, monkeypatch) -> None:
        monkeypatch.setenv("SALESPERF_CURSOR_KEYS", json.dumps([NEW]))
        configure_cursors(SECRET)
        sealed = encode_cursor(5, "acme")
        configure_cursors(SECRET, keyed(NEW))
        assert is_current(sealed, "acme")

    @pytest.mark.parametrize("value", [json.dumps(["short"]), "not json"])
    def test_bad_cursor_keys_are_refused(self, monkeypatch, value) -> None:
        monkeypatch.setenv("SALESPERF_CURSOR_KEYS", value)
        with pytest.raises((ValidationError, ValueError)):
            CommonSettings()


class TestTokensWeMint:
    def test_the_current_key_is_jwt_kids_else_the_secret(self) -> None:
        kid = CommonSettings(
            jwt_secret=SecretStr(SECRET),
            jwt_keys={k: SecretStr(v) for k, v in KEYS.items()},
            jwt_kid="2026-10",
        )
        assert signing_key(kid) == (KEYS["2026-10"], "2026-10")
        assert signing_key(CommonSettings(jwt_secret=SecretStr(SECRET))) == (SECRET, None)
        token = mint_token(kid, org="acme", role="admin", sub="ops")
        assert jwt.get_unverified_header(token)["kid"] == "2026-10"
        assert jwt.decode(token, KEYS["2026-10"], algorithms=["HS256"])["org"] == "acme"
        plain = mint_token(
            CommonSettings(jwt_secret=SecretStr(SECRET)), org="a", role="bi", sub="x"
        )
        assert "kid" not in jwt.get_unverified_header(plain)

    def test_a_service_token_is_kept_then_minted_again_before_it_expires(self, monkeypatch) -> None:
        settings = CommonSettings(jwt_secret=SecretStr(SECRET))
        now = [1_800_000_000.0]
        monkeypatch.setattr(auth, "_service_tokens", {})  # none of these outlive the test
        monkeypatch.setattr(auth.time, "time", lambda: now[0])
        first = service_token(settings, org="acme", sub="goals", ttl_seconds=600)
        claims = jwt.decode(
            first, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
        )
        assert (claims["role"], claims["sub"], claims["exp"] - claims["iat"]) == (
            "service",
            "goals",
            600,
        )
        now[0] += 299
        assert service_token(settings, org="acme", sub="goals", ttl_seconds=600) == first
        now[0] += 2  # past half its life: a new one, valid 600 s from now
        again = service_token(settings, org="acme", sub="goals", ttl_seconds=600)
        assert again != first
        assert (
            jwt.decode(
                again,
                SECRET,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False},
            )["exp"]
            == int(now[0]) + 600
        )

    def test_a_service_token_follows_the_current_key(self) -> None:
        keys = {k: SecretStr(v) for k, v in KEYS.items()}
        old = CommonSettings(jwt_secret=SecretStr(SECRET), jwt_keys=keys, jwt_kid="2026-07")
        new = CommonSettings(jwt_secret=SecretStr(SECRET), jwt_keys=keys, jwt_kid="2026-10")
        assert jwt.get_unverified_header(service_token(old, org="o", sub="s"))["kid"] == "2026-07"
        assert jwt.get_unverified_header(service_token(new, org="o", sub="s"))["kid"] == "2026-10"
