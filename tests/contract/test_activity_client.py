"""shared/clients/activity.py against the real activity app (its routes, its database)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import issue_token
from shared.clients.activity import ActivityClient
from shared.errors import InvalidInput, Unauthorized, UpstreamUnavailable
from tests.conftest import JWT_SECRET, make_event
from tests.contract.conftest import client_for


async def append(app: FastAPI, auth, n: int) -> list[str]:
    events = [make_event(stream=f"lead-{i % 9}") for i in range(n)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        for i in range(0, n, 1000):
            r = await c.post(
                "/v1/events/batch", json={"events": events[i : i + 1000]}, headers=auth()
            )
            assert r.status_code == 201
    return [e["event_id"] for e in events]


class TestPaging:
    async def test_a_backlog_is_read_page_by_page_in_order(self, app, auth, org):
        expected = await append(app, auth, 2500)
        seen, pages = [], []
        async with client_for(app, org) as activity:
            cursor = None
            while True:
                page = await activity.page(cursor, limit=1000)
                pages.append(page)
                seen += [str(e.event_id) for e in page.items]
                cursor = page.next
                if not page.has_more:
                    break
        assert seen == expected
        assert [len(p.items) for p in pages] == [1000, 1000, 500]
        assert pages[0].items[0].payload().model_dump()["mode"] == "onsite"  # typed payloads

    async def test_types_filter_and_an_empty_page_keeps_the_cursor(self, app, auth, org):
        await append(app, auth, 3)
        async with client_for(app, org) as activity:
            calls = await activity.page(types=["call.logged"])
            everything = await activity.page()
            after_all = await activity.page(everything.next)
        assert calls.items == []
        assert len(everything.items) == 3
        assert after_all.items == []
        assert after_all.next == everything.next

    async def test_about_keeps_the_events_about_the_entities(self, app, auth, org):
        await append(app, auth, 14)  # streams lead-0 … lead-8, lead-0 … lead-4 again
        async with client_for(app, org) as activity:
            raw = await activity.raw_page(about=["lead:3", "lead:5", "lead:3"], limit=2)
            rest = await activity.raw_page(raw["next"], about=["lead:3", "lead:5"])
            typed = await activity.page(about=["lead:0"], types=["visit.logged"])
            with pytest.raises(InvalidInput):
                await activity.raw_page(about=[])
            with pytest.raises(InvalidInput):
                await activity.raw_page(about=["lead:3", "opportunity:1"])
        streams = [e["stream"] for e in raw["items"] + rest["items"]]
        assert streams == ["lead-3", "lead-5", "lead-3"]
        assert raw["has_more"]
        assert not rest["has_more"]
        assert [e.stream for e in typed.items] == ["lead-0", "lead-0"]


class TestTail:
    async def test_a_consumer_at_the_head_is_woken_by_the_next_append(self, app, auth, org):
        await append(app, auth, 2)
        async with client_for(app, org) as activity:
            pages = activity.tail(wait=10)
            first = await anext(pages)
            assert len(first.items) == 2
            waiting = asyncio.create_task(anext(pages))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            [new] = await append(app, auth, 1)
            page = await asyncio.wait_for(waiting, timeout=5)
        assert [str(e.event_id) for e in page.items] == [new]

    async def test_tail_rides_out_activity_being_unreachable(self, app, auth, org):
        expected = await append(app, auth, 2)
        inner = httpx.ASGITransport(app=app)
        failures = 0

        async def flaky(request: httpx.Request) -> httpx.Response:
            nonlocal failures
            if failures < 2:
                failures += 1
                raise httpx.ConnectError("connection refused", request=request)
            return await inner.handle_async_request(request)

        async with client_for(app, org, transport=httpx.MockTransport(flaky)) as activity:
            page = await asyncio.wait_for(anext(activity.tail(max_backoff=0.1)), timeout=10)
        assert failures == 2
        assert [str(e.event_id) for e in page.items] == expected


class TestErrors:
    async def test_a_bad_token_is_unauthorized(self, app, org):
        transport = httpx.ASGITransport(app=app)
        async with ActivityClient("http://activity", "not-a-jwt", transport=transport) as activity:
            with pytest.raises(Unauthorized):
                await activity.page()

    async def test_a_cursor_activity_never_issued_is_invalid_input(self, app, org):
        async with client_for(app, org) as activity:
            with pytest.raises(InvalidInput, match="cursor"):
                await activity.page("not-a-cursor")

    async def test_nobody_listening_is_upstream_unavailable(self, org):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again when the block ends: nobody listens
        token = issue_token(JWT_SECRET, org=org, role="service", sub="scoring")
        async with ActivityClient(f"http://127.0.0.1:{port}", token, timeout=2) as activity:
            with pytest.raises(UpstreamUnavailable):
                await activity.page()
