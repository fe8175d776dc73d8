"""shared/auth.py: tokens, their expiry (also once verified and cached), and forgeries."""

from __future__ import annotations

import pytest

from shared import auth
from shared.auth import Principal, Role, decode_token, issue_token
from shared.errors import Unauthorized

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
