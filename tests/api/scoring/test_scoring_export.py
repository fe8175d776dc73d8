"""GET /v1/export/kpis: the stored day rows in CSV, NDJSON and Parquet, with the same stable
columns and rows in each, paged by an opaque cursor.

The columns are those the route documents: org_id, day, rep_id, team_id, product_line, tier,
channel, currency, metric, value (one row per rep, team, day, cut, currency and stored metric;
rep_id "" for events logged without a rep; a team is the sum of its rows, the org of all).

The tests here only read, so the module posts its events once into an org of its own.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from tests.api.scoring.helpers import SharedOrg, at, opened, seed, visit, won
from tests.conftest import make_event

COLUMNS = [
    "org_id",
    "day",
    "rep_id",
    "team_id",
    "product_line",
    "tier",
    "channel",
    "currency",
    "metric",
    "value",
]
MEDIA_TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}

VISITS = [
    visit("r1", "t1", "acc-A", at("2026-07-01", "09:00:00")),
    visit("r1", "t1", "acc-A", at("2026-07-01", "15:00:00"), effective=False),
    visit("r1", "t1", "acc-A", at("2026-07-02")),
    visit("r2", "t1", "acc-B", at("2026-07-02")),
    visit("r3", "t2", "acc-C", at("2026-07-03"), effective=False),
    visit("r3", "t2", "acc-C", at("2026-08-04")),
    # Logged without a rep or a team (an import, say): its rows have rep_id "" and team_id "".
    make_event(
        "visit.logged",
        stream="account-acc-D",
        rep_id=None,
        team_id=None,
        occurred_at=at("2026-07-05"),
        data={"mode": "online", "effective": True, "duration_minutes": 10},
    ),
]
DEALS = [
    opened("r1", "t1", "D1", "1000.00", "EUR", "ovens", "acc-A", at("2026-07-06")),
    won("r1", "t1", "D1", "1250.50", "EUR", at("2026-07-16")),
    opened("r3", "t2", "D2", "300.00", "USD", "mixers", "acc-C", at("2026-07-07")),
]


@pytest.fixture(scope="module")
async def shop(activity_app: FastAPI, scoring: httpx.AsyncClient) -> SharedOrg:
    return await seed(activity_app, scoring, [*VISITS, *DEALS])


def parse(fmt: str, content: bytes) -> list[dict[str, Any]]:
    """Rows of an export page as dicts of strings (value as a Decimal)."""
    if fmt == "csv":
        reader = csv.reader(io.StringIO(content.decode("utf-8")))
        header = next(reader)
        assert header == COLUMNS
        rows = [dict(zip(header, line, strict=True)) for line in reader]
    elif fmt == "ndjson":
        rows = [orjson.loads(line) for line in content.splitlines() if line]
        for row in rows:
            assert list(row) == COLUMNS
    else:
        table = pq.read_table(io.BytesIO(content))
        assert table.schema.names == COLUMNS
        assert table.schema.field("day").type == pa.date32()
        assert pa.types.is_decimal(table.schema.field("value").type)
        rows = [{**r, "day": r["day"].isoformat()} for r in table.to_pylist()]
    return [{**r, "value": Decimal(r["value"])} for r in rows]


async def export(
    scoring: httpx.AsyncClient, shop: SharedOrg, role: str = "admin", **params: Any
) -> httpx.Response:
    answer = await scoring.get("/v1/export/kpis", params=params, headers=shop.headers(role))
    assert answer.status_code == 200, answer.text
    return answer


async def all_rows(scoring: httpx.AsyncClient, shop: SharedOrg, **params: Any) -> list[dict]:
    answer = await export(scoring, shop, format="ndjson", limit=100_000, **params)
    assert "x-next-cursor" not in answer.headers
    return parse("ndjson", answer.content)


def total(rows: list[dict[str, Any]], metric: str, **where: str) -> Decimal:
    return sum(
        (
            r["value"]
            for r in rows
            if r["metric"] == metric and all(r[k] == v for k, v in where.items())
        ),
        Decimal(0),
    )


class TestEveryFormatCarriesTheSameRows:
    @pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
    async def test_the_media_type_names_the_format(self, scoring, shop, fmt) -> None:
        answer = await export(scoring, shop, format=fmt)
        assert answer.headers["content-type"].startswith(MEDIA_TYPES[fmt])

    async def test_ndjson_is_the_default(self, scoring, shop) -> None:
        answer = await export(scoring, shop)
        assert answer.headers["content-type"].startswith("application/x-ndjson")

    async def test_csv_ndjson_and_parquet_give_the_same_rows_in_the_same_order(
        self, scoring, shop
    ) -> None:
        pages = {
            fmt: parse(fmt, (await export(scoring, shop, format=fmt)).content)
            for fmt in ("csv", "ndjson", "parquet")
        }
        assert pages["ndjson"], "the export is empty"
        assert pages["csv"] == pages["ndjson"] == pages["parquet"]

    async def test_rows_have_the_documented_columns_and_values(self, scoring, shop) -> None:
        rows = await all_rows(scoring, shop)
        assert {r["org_id"] for r in rows} == {shop.org}
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["day"]) for r in rows)
        visits_of_r1 = [r for r in rows if r["metric"] == "visits" and r["rep_id"] == "r1"]
        assert [
            {k: r[k] for k in ("day", "team_id", "product_line", "tier", "channel", "currency")}
            | {"value": r["value"]}
            for r in visits_of_r1
        ] == [
            {
                "day": "2026-07-01",
                "team_id": "t1",
                "product_line": "",
                "tier": "",
                "channel": "",
                "currency": "",
                "value": Decimal(2),
            },
            {
                "day": "2026-07-02",
                "team_id": "t1",
                "product_line": "",
                "tier": "",
                "channel": "",
                "currency": "",
                "value": Decimal(1),
            },
        ]
        revenue = [r for r in rows if r["metric"] == "revenue_won"]
        assert [
            (r["day"], r["rep_id"], r["team_id"], r["product_line"], r["currency"], r["value"])
            for r in revenue
        ] == [
            ("2026-07-16", "r1", "t1", "ovens", "EUR", Decimal("1250.50")),
        ]

    async def test_an_event_without_a_rep_has_rows_with_an_empty_rep_id(
        self, scoring, shop
    ) -> None:
        rows = await all_rows(scoring, shop)
        anonymous = [r for r in rows if r["rep_id"] == ""]
        assert sorted((r["day"], r["team_id"], r["metric"], r["value"]) for r in anonymous) == [
            ("2026-07-05", "", "effective_visits", Decimal(1)),
            ("2026-07-05", "", "visits", Decimal(1)),
        ]


class TestTheRowsAddUpToWhatWasPosted:
    async def test_the_visits_of_all_rows_are_the_visits_posted(self, scoring, shop) -> None:
        rows = await all_rows(scoring, shop)
        assert total(rows, "visits") == len(VISITS)
        assert total(rows, "effective_visits") == 5

    async def test_a_team_is_the_sum_of_its_rows_and_agrees_with_the_kpis(
        self, scoring, shop
    ) -> None:
        rows = await all_rows(scoring, shop)
        assert total(rows, "visits", team_id="t1") == 4
        assert total(rows, "visits", team_id="t2") == 2
        kpis = await scoring.get(
            "/v1/kpis",
            params={
                "owner": "team:t1",
                "period": "month",
                "metrics": "visits",
                "from": "2026-07-01",
            },
            headers=shop.headers(),
        )
        assert kpis.json()["buckets"][0]["metrics"]["visits"] == {"value": 4}

    async def test_money_is_per_currency(self, scoring, shop) -> None:
        rows = await all_rows(scoring, shop)
        assert total(rows, "revenue_won", currency="EUR") == Decimal("1250.50")
        assert total(rows, "pipeline:qualification", currency="USD") == Decimal("300.00")
        assert total(rows, "pipeline:qualification", currency="EUR") == Decimal(0)

    async def test_owner_narrows_the_export_to_a_rep_or_a_team(self, scoring, shop) -> None:
        everything = await all_rows(scoring, shop)
        of_r1 = await all_rows(scoring, shop, owner="rep:r1")
        assert of_r1 == [r for r in everything if r["rep_id"] == "r1"]
        of_t2 = await all_rows(scoring, shop, owner="team:t2")
        assert of_t2 == [r for r in everything if r["team_id"] == "t2"]
        assert await all_rows(scoring, shop, owner="org") == everything

    @pytest.mark.parametrize("role", ["bi", "service"])
    async def test_bi_and_service_tokens_export_the_same_rows(self, scoring, shop, role) -> None:
        answer = await export(scoring, shop, role, limit=100_000)
        assert parse("ndjson", answer.content) == await all_rows(scoring, shop)


class TestPaging:
    async def test_a_page_holds_limit_rows_and_says_how_to_go_on(self, scoring, shop) -> None:
        everything = await all_rows(scoring, shop)
        assert len(everything) > 5
        answer = await export(scoring, shop, format="csv", limit=5)
        assert parse("csv", answer.content) == everything[:5]
        cursor = answer.headers["x-next-cursor"]
        assert cursor
        link = re.fullmatch(r'<([^>]+)>; rel="next"', answer.headers["link"])
        assert link is not None, answer.headers["link"]
        query = parse_qs(urlsplit(link.group(1)).query)
        assert query == {"format": ["csv"], "limit": ["5"], "cursor": [cursor]}
        assert urlsplit(link.group(1)).path == "/v1/export/kpis"

    async def test_the_last_page_has_no_cursor_and_no_link(self, scoring, shop) -> None:
        everything = await all_rows(scoring, shop)
        answer = await export(scoring, shop, limit=len(everything))
        assert "x-next-cursor" not in answer.headers
        assert "link" not in answer.headers
        assert parse("ndjson", answer.content) == everything

    @pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
    async def test_following_x_next_cursor_visits_every_row_exactly_once(
        self, scoring, shop, fmt
    ) -> None:
        everything = await all_rows(scoring, shop)
        seen: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):
            params: dict[str, Any] = {"format": fmt, "limit": 3}
            if cursor:
                params["cursor"] = cursor
            answer = await export(scoring, shop, **params)
            seen += parse(fmt, answer.content)
            cursor = answer.headers.get("x-next-cursor")
            if not cursor:
                break
        assert seen == everything
        keys = Counter(tuple((k, str(v)) for k, v in r.items()) for r in seen)
        assert max(keys.values()) == 1

    async def test_a_cursor_is_opaque_and_refused_in_another_org(self, scoring, shop) -> None:
        from tests.api.scoring.helpers import SharedOrg

        cursor = (await export(scoring, shop, limit=1)).headers["x-next-cursor"]
        import base64

        assert b"2026-" not in base64.urlsafe_b64decode(cursor.removeprefix("c2.") + "==")
        other = SharedOrg()
        answer = await scoring.get(
            "/v1/export/kpis", params={"cursor": cursor}, headers=other.headers()
        )
        assert answer.status_code == 422, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == ["cursor"]

    async def test_following_the_link_header_visits_every_row_exactly_once(
        self, scoring, shop
    ) -> None:
        everything = await all_rows(scoring, shop, owner="team:t1")
        seen: list[dict[str, Any]] = []
        url: str | None = "/v1/export/kpis?owner=team%3At1&limit=2"
        while url:
            answer = await scoring.get(url, headers=shop.headers())
            assert answer.status_code == 200, answer.text
            seen += parse("ndjson", answer.content)
            link = answer.headers.get("link")
            url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
            assert len(seen) <= len(everything)
        assert seen == everything
