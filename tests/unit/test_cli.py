"""The `salesperf` command line (the parts that need no server)."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from salesperf.cli import app

SECRET = "cli-secret-" + "y" * 32


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path) -> CliRunner:
    monkeypatch.setenv("SALESPERF_JWT_SECRET", SECRET)
    monkeypatch.setenv("SALESPERF_DATA_DIR", str(tmp_path))
    return CliRunner()


class TestToken:
    def test_a_token_carries_the_claims_asked_for_signed_with_the_configured_secret(self, runner):
        result = runner.invoke(
            app,
            [
                "token",
                "--org",
                "acme",
                "--role",
                "rep",
                "--sub",
                "rep-1",
                "--team",
                "north",
                "--ttl",
                "60",
            ],
        )
        assert result.exit_code == 0, result.output
        claims = jwt.decode(result.output.strip(), SECRET, algorithms=["HS256"])
        assert {k: claims[k] for k in ("org", "role", "sub", "team")} == {
            "org": "acme",
            "role": "rep",
            "sub": "rep-1",
            "team": "north",
        }
        assert claims["exp"] - claims["iat"] == 60

    def test_a_manager_token_needs_a_team(self, runner):
        result = runner.invoke(app, ["token", "--org", "acme", "--role", "manager", "--sub", "m"])
        assert result.exit_code != 0
        assert "--team" in result.output

    def test_an_unknown_role_is_refused(self, runner):
        result = runner.invoke(app, ["token", "--org", "acme", "--role", "king", "--sub", "k"])
        assert result.exit_code != 0

    def test_without_a_configured_secret_one_is_created_once_and_reused(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path
    ):
        monkeypatch.delenv("SALESPERF_JWT_SECRET", raising=False)
        monkeypatch.setenv("SALESPERF_DATA_DIR", str(tmp_path))
        first = CliRunner().invoke(app, ["token", "--org", "o", "--role", "admin", "--sub", "a"])
        second = CliRunner().invoke(app, ["token", "--org", "o", "--role", "admin", "--sub", "a"])
        secret = (tmp_path / "jwt_secret").read_text().strip()
        assert len(secret) >= 32
        assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600
        for result in (first, second):
            assert jwt.decode(result.output.strip(), secret, algorithms=["HS256"])["org"] == "o"
