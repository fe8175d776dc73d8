"""A synthetic quarter (salesperf.synthetic) posted through the real activity app, and
`salesperf demo`."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from salesperf.cli import app
from salesperf.demo import DemoError, post_events, run_demo
from salesperf.synthetic import generate
from shared.auth import issue_token
from tests.conftest import JWT_SECRET

Event = dict[str, Any]
CLOSED_PORT = "http://127.0.0.1:1"


async def feed(activity, headers: dict[str, str]) -> list[Event]:
    """The org's whole feed, page by page."""
    items: list[Event] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if after is not None:
            params["after"] = after
        r = await activity.get("/v1/events", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        after = page["next"]
        if not page["has_more"]:
            return items


async def post_in_batches(activity, events: list[Event], headers, size: int) -> tuple[int, int]:
    created = duplicates = 0
    for i in range(0, len(events), size):
        r = await activity.post(
            "/v1/events/batch", json={"events": events[i : i + size]}, headers=headers
        )
        assert r.status_code in (200, 201), r.text
        created += r.json()["created"]
        duplicates += r.json()["duplicates"]
    return created, duplicates


class TestSyntheticQuarter:
    async def test_a_small_quarter_is_stored_whole_in_order_and_a_second_post_stores_nothing(
        self, activity, auth
    ):
        events = generate(scale=0.2, teams=1)
        assert 300 < len(events) < 2_000
        assert await post_in_batches(activity, events, auth(), 250) == (len(events), 0)

        stored = await feed(activity, auth())
        assert len(stored) == len(events)
        assert [s["event_id"] for s in stored] == [e["event_id"] for e in events]
        versions: dict[str, int] = defaultdict(int)
        for sent, got in zip(events, stored, strict=True):
            versions[sent["stream"]] += 1
            assert got["stream_version"] == versions[sent["stream"]]
            assert (got["type"], got["stream"], got["rep_id"], got["team_id"]) == (
                sent["type"],
                sent["stream"],
                sent["rep_id"],
                sent["team_id"],
            )

        assert await post_in_batches(activity, events, auth(), 250) == (0, len(events))
        assert len(await feed(activity, auth())) == len(events)

    async def test_batches_of_1000_split_anywhere_are_accepted(self, activity, auth):
        # Voids must find their target in an earlier batch or earlier in their own.
        events = generate(scale=0.5, teams=2, days=40, seed=11)
        assert len(events) > 1_000
        assert any(e["type"] == "event.voided" for e in events)
        created, _ = await post_in_batches(activity, events, auth(), 1000)
        assert created == len(events) == len(await feed(activity, auth()))


class TestDemoCommand:
    async def test_run_demo_posts_the_quarter_and_a_rerun_stores_nothing_new(
        self, activity, auth, org
    ):
        out = io.StringIO()
        kwargs: dict[str, Any] = {
            "org": org,
            "scale": 0.2,
            "days": 30,
            "secret": JWT_SECRET,
            "client": activity,
            "batch_size": 200,
        }
        first = await run_demo(console=Console(file=out, width=100), **kwargs)
        assert first.posted == len(generate(scale=0.2, days=30))
        assert (first.created, first.duplicates) == (first.posted, 0)
        assert first.batches == -(-first.posted // 200)
        assert sum(first.types.values()) == first.posted
        assert "posting" in out.getvalue()
        assert len(await feed(activity, auth())) == first.posted

        again = await run_demo(**kwargs)
        assert (again.posted, again.created, again.duplicates) == (first.posted, 0, first.posted)
        assert len(await feed(activity, auth())) == first.posted

    async def test_the_events_are_the_org_admin_s_as_generated(self, activity, auth, org):
        await run_demo(org=org, scale=0.1, days=10, secret=JWT_SECRET, client=activity)
        sent = generate(scale=0.1, days=10, start=date(2026, 7, 1))
        stored = await feed(activity, auth())
        assert {s["event_id"] for s in stored} == {e["event_id"] for e in sent}
        # An admin's token keeps the reps and teams the events name.
        assert {s["rep_id"] for s in stored} == {e["rep_id"] for e in sent}

    async def test_a_refused_batch_is_reported_with_the_field_at_fault(self, activity, org):
        token = issue_token(JWT_SECRET, org=org, role="admin", sub="demo")
        events = generate(days=3, teams=1, scale=0.3)
        events[1] = {**events[1], "occurred_at": "yesterday"}
        with pytest.raises(DemoError, match=r"events\[1\]\.occurred_at"):
            await post_events(activity, events, token)

    async def test_a_token_of_another_secret_is_reported(self, activity, org):
        token = issue_token("other-secret-" + "z" * 32, org=org, role="admin", sub="demo")
        with pytest.raises(DemoError, match="SALESPERF_JWT_SECRET"):
            await post_events(activity, generate(days=2, teams=1, scale=0.2), token)

    async def test_an_unreachable_service_says_to_start_it(self):
        with pytest.raises(DemoError, match="make run"):
            await run_demo(url=CLOSED_PORT, days=2, scale=0.1, secret=JWT_SECRET)

    def test_the_cli_exits_1_with_a_clear_message_when_activity_is_down(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path
    ):
        monkeypatch.setenv("SALESPERF_JWT_SECRET", JWT_SECRET)
        monkeypatch.setenv("SALESPERF_DATA_DIR", str(tmp_path))
        result = CliRunner().invoke(
            app, ["demo", "--url", CLOSED_PORT, "--days", "2", "--scale", "0.1"]
        )
        assert result.exit_code == 1
        assert "make run" in result.output

    def test_the_cli_refuses_a_bad_start_date(self):
        result = CliRunner().invoke(app, ["demo", "--start", "July"])
        assert result.exit_code == 2
        assert "--start" in result.output
