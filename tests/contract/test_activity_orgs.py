"""Org discovery and backlog: what scoring's consumer asks activity besides the feed."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import PLATFORM_ORG, issue_token
from shared.clients.activity import ActivityClient
from shared.errors import Forbidden
from tests.conftest import JWT_SECRET, make_event
from tests.contract.conftest import client_for


def platform_client(app: FastAPI) -> ActivityClient:
    token = issue_token(JWT_SECRET, org=PLATFORM_ORG, role="service", sub="scoring")
    return ActivityClient("http://activity", token, transport=httpx.ASGITransport(app=app))


async def post(app: FastAPI, headers: dict[str, str], events: list[dict]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        return await c.post("/v1/events/batch", json={"events": events}, headers=headers)


class TestOrgList:
    async def test_lists_every_org_with_events_and_its_newest_cursor(
        self, app: FastAPI, auth
    ) -> None:
        first = await post(app, auth(org_id="orgs-a"), [make_event(), make_event()])
        second = await post(app, auth(org_id="orgs-b"), [make_event()])
        async with platform_client(app) as client:
            listed = {o.org_id: o for o in (await client.orgs()).items}
        assert {"orgs-a", "orgs-b"} <= set(listed)
        async with client_for(app, "orgs-a") as a:
            page = await a.page(None)
        assert listed["orgs-a"].head == page.next
        assert first.json()["results"][-1]["position"] == page.items[-1].position
        assert second.status_code == 201

    async def test_an_org_token_may_not_list_orgs(self, app: FastAPI, org: str) -> None:
        async with client_for(app, org) as client:
            with pytest.raises(Forbidden):
                await client.orgs()

    async def test_a_platform_token_cannot_append(self, app: FastAPI) -> None:
        token = issue_token(JWT_SECRET, org=PLATFORM_ORG, role="service", sub="scoring")
        answer = await post(app, {"Authorization": f"Bearer {token}"}, [make_event()])
        assert answer.status_code == 403
        assert "platform" in answer.json()["detail"]


class TestBacklog:
    async def test_counts_the_events_after_a_cursor(self, app: FastAPI, auth, org: str) -> None:
        await post(app, auth(), [make_event() for _ in range(5)])
        async with client_for(app, org) as client:
            whole = await client.backlog(None)
            page = await client.page(None, limit=2)
            rest = await client.backlog(page.next)
            done = await client.backlog(whole.head)
        assert (whole.events, rest.events, done.events) == (5, 3, 0)
        assert rest.head == whole.head == done.head
        assert done.head_recorded_at is not None

    async def test_an_org_with_no_events_has_no_backlog(self, app: FastAPI, org: str) -> None:
        async with client_for(app, org) as client:
            empty = await client.backlog(None)
            again = await client.backlog(empty.head)
        assert (empty.events, empty.head_recorded_at) == (0, None)
        assert (again.events, again.head) == (0, empty.head)

    async def test_counts_past_a_batch_s_refusal(self, app: FastAPI, auth, org: str) -> None:
        """The count is the head's position less the cursor's: no event is ever missing in
        between, a refused batch takes no position."""
        await post(app, auth(), [make_event() for _ in range(3)])
        refused = await post(app, auth(), [make_event(), {"type": "nope"}])
        assert refused.status_code == 422
        await post(app, auth(), [make_event() for _ in range(2)])
        async with client_for(app, org) as client:
            whole = await client.backlog(None)
            first = await client.page(None, limit=1)
            rest = await client.backlog(first.next)
            everything = await client.page(None, limit=100)
        assert [e.position for e in everything.items] == [1, 2, 3, 4, 5]
        assert (whole.events, rest.events) == (5, 4)

    async def test_a_rep_may_not_ask(self, app: FastAPI, auth) -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://a"
        ) as c:
            answer = await c.get("/v1/events/backlog", headers=auth("rep", sub="r", team="t"))
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("application/problem+json")
