"""GET /v1/events?about=…: the feed kept to the events about some accounts, deals, leads and
invoices (their streams, and the `account_id`, `deal_id`, `lead_id`, `invoice_id` of the data)."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.events import EXAMPLES
from tests.conftest import make_event
from tests.problems import assert_problem


def event(event_type: str, stream: str, **data: Any) -> dict[str, Any]:
    """An event of `event_type` on `stream` whose data is the example's with `data` over it
    (a None leaves the field out)."""
    merged = {**EXAMPLES[event_type]["data"], **data}
    return make_event(
        event_type, stream=stream, data={k: v for k, v in merged.items() if v is not None}
    )


def visit(stream: str, account: str | None, **envelope: Any) -> dict[str, Any]:
    return {**event("visit.logged", stream, account_id=account), **envelope}


def issued(invoice: str, *, account: str, deal: str) -> dict[str, Any]:
    """An invoice for `deal`, on its account's stream."""
    return event(
        "invoice.issued", f"account-{account}", invoice_id=invoice, account_id=account, deal_id=deal
    )


async def append(activity, headers, events: list[dict[str, Any]]) -> list[str]:
    r = await activity.post("/v1/events/batch", json={"events": events}, headers=headers)
    assert r.status_code == 201, r.text
    return [e["event_id"] for e in events]


async def read_all(activity, headers, *, limit: int = 100, **params: Any) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        q = {"limit": limit, **params, **({"after": cursor} if cursor else {})}
        r = await activity.get("/v1/events", params=q, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next"]
        if not page["has_more"]:
            return items


async def about_ids(activity, headers, about: str, **params: Any) -> list[str]:
    return [i["event_id"] for i in await read_all(activity, headers, about=about, **params)]


class Customer:
    """Two customers' histories, interleaved: `ids[name]` is the event_id of each event."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids

    def __call__(self, *names: str) -> list[str]:
        """The event ids of `names`, in the order they were appended (= position order)."""
        order = list(self.ids)
        return [self.ids[n] for n in sorted(names, key=order.index)]


async def seed(activity, headers) -> Customer:
    events = {
        "lead1.created": event("lead.created", "lead-L-1"),
        "lead2.created": event("lead.created", "lead-L-2"),
        "lead1.visit": visit("lead-L-1", "acc-1"),
        "lead1.call": event("call.logged", "lead-L-1"),
        "lead2.visit": visit("lead-L-2", "acc-2"),
        "deal1.opened": event("deal.opened", "deal-D-1", account_id="acc-1", lead_id="L-1"),
        "deal2.opened": event("deal.opened", "deal-D-2", account_id="acc-2", lead_id="L-2"),
        "deal1.stage": event("deal.stage_changed", "deal-D-1"),
        "acc1.tier": event("account.tier_changed", "account-acc-1"),
        "inv1.issued": issued("INV-1", account="acc-1", deal="D-1"),
        "inv2.issued": issued("INV-2", account="acc-2", deal="D-2"),
        "inv1.paid": event(
            "payment.received", "account-acc-1", invoice_id="INV-1", account_id="acc-1"
        ),
        # A visit to acc-1 logged on the other lead's stream: about acc-1 and about L-2.
        "lead2.visit_acc1": visit("lead-L-2", "acc-1"),
    }
    ids = await append(activity, headers, list(events.values()))
    return Customer(dict(zip(events, ids, strict=True)))


class TestAboutFindsTheEventsThatNameAnEntity:
    async def test_an_account_s_events_through_its_stream_and_its_id_in_other_streams(
        self, activity, auth
    ):
        c = await seed(activity, auth())
        assert await about_ids(activity, auth(), "account:acc-1") == c(
            "lead1.visit",
            "deal1.opened",
            "acc1.tier",
            "inv1.issued",
            "inv1.paid",
            "lead2.visit_acc1",
        )

    async def test_a_deal_s_events_and_the_invoices_that_name_it(self, activity, auth):
        c = await seed(activity, auth())
        assert await about_ids(activity, auth(), "deal:D-1") == c(
            "deal1.opened", "deal1.stage", "inv1.issued"
        )

    async def test_an_invoice_s_issue_and_its_payment(self, activity, auth):
        c = await seed(activity, auth())
        assert await about_ids(activity, auth(), "invoice:INV-1") == c("inv1.issued", "inv1.paid")

    async def test_a_lead_s_stream_and_the_deal_opened_from_it(self, activity, auth):
        c = await seed(activity, auth())
        assert await about_ids(activity, auth(), "lead:L-1") == c(
            "lead1.created", "lead1.visit", "lead1.call", "deal1.opened"
        )

    async def test_several_entities_give_each_event_once_in_position_order(self, activity, auth):
        c = await seed(activity, auth())
        items = await read_all(
            activity, auth(), about="invoice:INV-2,lead:L-1,account:acc-1,lead:L-1"
        )
        assert [i["event_id"] for i in items] == c(
            "lead1.created",
            "lead1.visit",
            "lead1.call",
            "deal1.opened",
            "acc1.tier",
            "inv1.issued",
            "inv2.issued",
            "inv1.paid",
            "lead2.visit_acc1",
        )
        assert [i["position"] for i in items] == sorted(i["position"] for i in items)

    async def test_an_entity_nothing_names_gives_an_empty_page(self, activity, auth):
        await seed(activity, auth())
        page = await activity.get("/v1/events", params={"about": "deal:D-9"}, headers=auth())
        assert page.status_code == 200
        assert page.json()["items"] == []
        assert page.json()["has_more"] is False

    async def test_another_org_s_events_are_not_about_anything_here(self, activity, auth, org):
        await seed(activity, auth(org_id=f"{org}-other"))
        assert await about_ids(activity, auth(), "account:acc-1,lead:L-1") == []

    async def test_types_and_about_must_both_hold(self, activity, auth):
        c = await seed(activity, auth())
        found = await about_ids(
            activity, auth(), "account:acc-1", types="invoice.issued,payment.received"
        )
        assert found == c("inv1.issued", "inv1.paid")
        assert await about_ids(activity, auth(), "lead:L-1", types="invoice.issued") == []


class TestAboutPagesLikeTheFeed:
    async def test_small_pages_miss_nothing_and_repeat_nothing(self, activity, auth):
        wanted: list[str] = []
        for round_ in range(6):  # matching events interleaved with others, across batches
            batch = [
                visit("lead-L-7", "acc-7"),
                visit("lead-L-8", "acc-8"),
                event("deal.opened", f"deal-D-{round_}", account_id="acc-8", lead_id="L-7"),
                event("call.logged", "lead-L-8"),
                event("payment.received", "account-acc-8", invoice_id=f"INV-{round_}"),
            ]
            ids = await append(activity, auth(), batch)
            wanted += [ids[0], ids[2]]
        for limit in (1, 2, 5, 12, 13):
            assert await about_ids(activity, auth(), "account:acc-7,lead:L-7", limit=limit) == (
                wanted
            )

    async def test_the_cursor_and_link_carry_on_and_the_last_page_keeps_the_cursor(
        self, activity, auth
    ):
        ids = await append(activity, auth(), [visit("lead-L-1", "acc-1") for _ in range(5)])
        first = await activity.get(
            "/v1/events", params={"about": "account:acc-1", "limit": 3}, headers=auth()
        )
        assert first.json()["has_more"] is True
        assert first.headers["x-next-cursor"] == first.json()["next"]
        link = first.links["next"]["url"]
        assert "about=account" in link
        rest = await activity.get(link, headers=auth())
        assert [i["event_id"] for i in first.json()["items"] + rest.json()["items"]] == ids
        assert rest.json()["has_more"] is False
        assert "link" not in rest.headers
        # Later events, some about it: from the kept cursor, exactly the new ones about it.
        later = await append(
            activity, auth(), [visit("lead-L-1", "acc-2"), visit("lead-L-2", "acc-1")]
        )
        again = await activity.get(
            "/v1/events",
            params={"about": "account:acc-1", "after": rest.json()["next"]},
            headers=auth(),
        )
        assert [i["event_id"] for i in again.json()["items"]] == later[1:]
        empty = await activity.get(
            "/v1/events",
            params={"about": "account:acc-1", "after": again.json()["next"]},
            headers=auth(),
        )
        assert empty.json() == {"items": [], "next": again.json()["next"], "has_more": False}

    async def test_a_long_poll_answers_only_with_an_event_about_the_entities(self, activity, auth):
        head = (await activity.get("/v1/events", headers=auth())).json()["next"]
        poll = asyncio.create_task(
            activity.get(
                "/v1/events",
                params={"about": "deal:D-5", "after": head, "wait": 10},
                headers=auth(),
            )
        )
        await asyncio.sleep(0.3)
        await append(activity, auth(), [visit("lead-L-1", "acc-1")])  # wakes it: not about D-5
        await asyncio.sleep(0.3)
        assert not poll.done()
        [opened] = await append(
            activity, auth(), [event("deal.opened", "deal-D-5", account_id="acc-1")]
        )
        page = (await asyncio.wait_for(poll, 5)).json()
        assert [i["event_id"] for i in page["items"]] == [opened]

    async def test_with_an_upcaster_registered_it_serves_the_upcast_shape(self, activity, auth):
        from shared.events import UPCASTERS

        c = await seed(activity, auth())
        UPCASTERS[("visit.logged", 1)] = lambda data: {**data, "upcast": True}
        try:
            items = await read_all(activity, auth(), limit=2, about="account:acc-1")
        finally:
            del UPCASTERS[("visit.logged", 1)]
        assert [i["event_id"] for i in items] == c(
            "lead1.visit",
            "deal1.opened",
            "acc1.tier",
            "inv1.issued",
            "inv1.paid",
            "lead2.visit_acc1",
        )
        visits = [i for i in items if i["type"] == "visit.logged"]
        assert len(visits) == 2
        assert all(i["data"]["upcast"] is True for i in visits)
        assert all("upcast" not in i["data"] for i in items if i["type"] != "visit.logged")


class TestAboutKeepsTheReadersScope:
    async def test_a_rep_sees_only_their_events_and_a_manager_their_team_s(self, activity, auth):
        mine = await append(
            activity, auth(), [visit("lead-R1", "acc-1", rep_id="rep-1", team_id="north")]
        )
        teammate = await append(
            activity, auth(), [visit("lead-R2", "acc-1", rep_id="rep-2", team_id="north")]
        )
        other_team = await append(
            activity, auth(), [visit("lead-R3", "acc-1", rep_id="rep-3", team_id="south")]
        )
        rep = auth("rep", sub="rep-1", team="north")
        manager = auth("manager", sub="m-1", team="north")
        assert await about_ids(activity, rep, "account:acc-1") == mine
        assert await about_ids(activity, rep, "lead:R2,lead:R3") == []
        assert await about_ids(activity, manager, "account:acc-1") == mine + teammate
        assert await about_ids(activity, auth("service", sub="scoring"), "account:acc-1") == (
            mine + teammate + other_team
        )


class TestAboutIsValidated:
    async def bad(self, activity, auth, about: str) -> dict[str, Any]:
        r = await activity.get("/v1/events", params={"about": about}, headers=auth())
        body = assert_problem(r, 422, "about", location="query")
        assert {e["field"] for e in body["errors"]} == {"about"}
        return body

    async def test_an_unknown_kind(self, activity, auth):
        body = await self.bad(activity, auth, "account:acc-1,customer:C-1")
        assert [e["code"] for e in body["errors"]] == ["unknown_kind"]
        assert "customer:C-1" in body["errors"][0]["message"]

    async def test_an_entry_without_a_kind(self, activity, auth):
        body = await self.bad(activity, auth, "acc-1")
        assert [e["code"] for e in body["errors"]] == ["unknown_kind"]

    async def test_an_empty_id(self, activity, auth):
        body = await self.bad(activity, auth, "deal:,lead")
        assert [e["code"] for e in body["errors"]] == ["missing", "missing"]

    async def test_an_id_that_is_no_identifier(self, activity, auth):
        body = await self.bad(activity, auth, "deal:-D-1,lead:L 1,invoice:" + "x" * 129)
        assert [e["code"] for e in body["errors"]] == ["string_pattern_mismatch"] * 3

    async def test_more_than_500_entries(self, activity, auth):
        body = await self.bad(activity, auth, ",".join(f"lead:L{i}" for i in range(501)))
        assert [e["code"] for e in body["errors"]] == ["too_long"]

    async def test_an_empty_list(self, activity, auth):
        await self.bad(activity, auth, " , ")

    async def test_500_entries_and_duplicates_are_fine(self, activity, auth):
        [one] = await append(activity, auth(), [visit("lead-L1", None)])
        about = ",".join(["lead:L1"] * 2 + [f"lead:L{i}" for i in range(2, 500)])
        assert await about_ids(activity, auth(), about) == [one]
