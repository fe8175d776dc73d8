"""`salesperf demo` and `salesperf scoring rebuild`/`backtest` call the services where their
settings put them (ACTIVITY_PORT, SCORING_PORT), as `salesperf run` serves them."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from salesperf.cli import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port  # nobody listens there once closed


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path) -> CliRunner:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SALESPERF_JWT_SECRET", "cli-secret-" + "y" * 32)
    monkeypatch.setenv("SALESPERF_DATA_DIR", str(tmp_path))
    return CliRunner()


class TestDefaultUrlsFollowThePortSettings:
    def test_demo_posts_to_activity_port(
        self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        port = free_port()
        monkeypatch.setenv("ACTIVITY_PORT", str(port))
        result = runner.invoke(app, ["demo", "--days", "1", "--scale", "0.1"])
        assert result.exit_code != 0
        assert f"127.0.0.1:{port}" in result.output.replace("\n", "")

    @pytest.mark.parametrize(
        "command", [["scoring", "rebuild"], ["scoring", "backtest", "--cutoff", "2026-01-01"]]
    )
    def test_scoring_commands_call_scoring_port(
        self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, command: list[str]
    ) -> None:
        port = free_port()
        monkeypatch.setenv("SCORING_PORT", str(port))
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        assert f"127.0.0.1:{port}" in result.output.replace("\n", "")

    def test_an_explicit_url_still_wins(
        self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SCORING_PORT", str(free_port()))
        port = free_port()
        result = runner.invoke(app, ["scoring", "rebuild", "--url", f"http://127.0.0.1:{port}"])
        assert result.exit_code == 1
        assert f"127.0.0.1:{port}" in result.output.replace("\n", "")
