"""shared/clients/scoring.py against the real scoring app (its routes, its projection, its
database), with scoring's consumer following the real activity app over httpx's ASGI transport.

The apps are this module's own (the session apps of tests/api are not visible here). Another
scoring app of the same test session may hold the consumer leadership; it folds the same
database, so the events posted here show up either way: the module waits (up to 20 s) until
scoring has folded them. Failures outside scoring (nobody listening, a proxy answering 503) are
made with a closed port and httpx.MockTransport.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.activity.main import create_app as create_activity
from services.scoring.main import create_app as create_scoring
from shared.auth import issue_token
from shared.clients.scoring import ScoringClient
from shared.contracts.scoring import KpiReport
from shared.errors import Forbidden, InvalidInput, NotFound, Unauthorized, UpstreamUnavailable
from tests.api.activity.conftest import activity_settings
from tests.api.scoring.conftest import scoring_settings
from tests.conftest import JWT_SECRET, make_event

JULY = (date(2026, 7, 1), date(2026, 7, 31))
SUMMER = (date(2026, 6, 1), date(2026, 8, 31))


# ------------------------------------------------------------------------------ the apps


@pytest.fixture(scope="module")
async def activity_app(database_url: str) -> AsyncIterator[FastAPI]:
    app = create_activity(activity_settings(), database_url=database_url)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def scoring_app(activity_app: FastAPI, database_url: str) -> AsyncIterator[FastAPI]:
    app = create_scoring(
        scoring_settings(),
        database_url=database_url,
        activity_transport=httpx.ASGITransport(app=activity_app),
    )
    async with app.router.lifespan_context(app):
        yield app


def token(org: str, role: str = "service", sub: str = "goals", team: str | None = None) -> str:
    return issue_token(JWT_SECRET, org=org, role=role, sub=sub, team=team)


def client(
    scoring_app: FastAPI, tokens: Callable[[str], str] | None = None, **kwargs: Any
) -> ScoringClient:
    """The client as goals builds it: a service token per org, minted by `tokens(org)`."""
    transport = kwargs.pop("transport", None) or httpx.ASGITransport(app=scoring_app)
    return ScoringClient("http://scoring", tokens or token, transport=transport, **kwargs)


# ------------------------------------------------------------------------------ the events


def ev(event_type: str, stream: str, day: str, rep: str, data: dict[str, Any]) -> dict[str, Any]:
    return make_event(
        event_type,
        stream=stream,
        occurred_at=f"{day}T10:00:00+00:00",
        rep_id=rep,
        team_id="team-north",
        data=data,
    )


def opened(
    deal: str,
    day: str,
    rep: str,
    amount: str,
    currency: str,
    line: str,
    account: str,
    lead: str | None = None,
) -> dict[str, Any]:
    data = {
        "amount": amount,
        "currency": currency,
        "product_line": line,
        "account_id": account,
        "stage": "qualification",
    }
    if lead:
        data["lead_id"] = lead
    return ev("deal.opened", f"deal-{deal}", day, rep, data)


def won(deal: str, day: str, rep: str, amount: str, currency: str = "EUR") -> dict[str, Any]:
    return ev("deal.won", f"deal-{deal}", day, rep, {"amount": amount, "currency": currency})


def visit(day: str, rep: str) -> dict[str, Any]:
    return ev(
        "visit.logged",
        "account-acc-1",
        day,
        rep,
        {"mode": "onsite", "effective": True, "duration_minutes": 30},
    )


def call(day: str, rep: str, connected: bool) -> dict[str, Any]:
    return ev(
        "call.logged", "account-acc-2", day, rep, {"connected": connected, "duration_seconds": 120}
    )


def events() -> list[dict[str, Any]]:
    """Summer 2026 of two reps of team-north, in UTC (the org keeps scoring's default timezone).

    July: revenue 12,500.00 EUR (D-1, ovens, lead from a referral, tier-A account, rep-anna) +
    2,000.00 EUR (D-5, mixers, rep-ben) + 5,000.00 USD (D-3, ovens, rep-ben); D-2 lost; 2 visits,
    2 calls (1 connected). August: 3,000.00 EUR (D-4, mixers, rep-ben), 1 visit. June: nothing.
    """
    return [
        ev(
            "lead.created",
            "lead-L-1",
            "2026-07-01",
            "rep-anna",
            {
                "name": "Bäckerei Schmidt GmbH",
                "channel": "referral",
                "estimated_value": "10000.00",
                "currency": "EUR",
            },
        ),
        ev("account.tier_changed", "account-acc-1", "2026-07-01", "rep-anna", {"tier": "A"}),
        opened("D-1", "2026-07-03", "rep-anna", "10000.00", "EUR", "ovens", "acc-1", lead="L-1"),
        opened("D-2", "2026-07-05", "rep-ben", "8000.00", "EUR", "mixers", "acc-2"),
        opened("D-3", "2026-07-06", "rep-ben", "5000.00", "USD", "ovens", "acc-3"),
        opened("D-5", "2026-07-07", "rep-ben", "2000.00", "EUR", "mixers", "acc-5"),
        visit("2026-07-01", "rep-anna"),
        call("2026-07-02", "rep-anna", True),
        call("2026-07-02", "rep-ben", False),
        won("D-1", "2026-07-10", "rep-anna", "12500.00"),
        visit("2026-07-10", "rep-anna"),
        won("D-5", "2026-07-15", "rep-ben", "2000.00"),
        ev("deal.lost", "deal-D-2", "2026-07-20", "rep-ben", {"reason": "price"}),
        won("D-3", "2026-07-21", "rep-ben", "5000.00", "USD"),
        visit("2026-08-02", "rep-ben"),
        opened("D-4", "2026-08-03", "rep-ben", "3000.00", "EUR", "mixers", "acc-4"),
        won("D-4", "2026-08-04", "rep-ben", "3000.00"),
    ]


@dataclass
class Posted:
    org: str
    last: int
    before: datetime  # a moment before anything was posted
    after: datetime  # a moment after everything was recorded
    tokens_asked: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
async def posted(activity_app: FastAPI, scoring_app: FastAPI) -> Posted:
    org = f"org-sc-{uuid.uuid4().hex[:10]}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    transport = httpx.ASGITransport(app=activity_app)
    headers = {"Authorization": f"Bearer {token(org, 'admin', 'admin-1')}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://activity") as http:
        answer = await http.post("/v1/events/batch", json={"events": events()}, headers=headers)
    assert answer.status_code == 201, answer.text
    last = max(r["position"] for r in answer.json()["results"])
    await asyncio.sleep(0.01)
    after = datetime.now(UTC)
    # Wait until scoring (this module's replica or another one leading) has folded them.
    deadline = asyncio.get_running_loop().time() + 20
    async with client(scoring_app) as scoring:
        while True:
            report = await scoring.kpis(
                org,
                owner="org",
                period="year",
                first=date(2026, 1, 1),
                last=date(2026, 12, 31),
                metrics=["visits"],
            )
            if report.up_to.position >= last:
                break
            assert asyncio.get_running_loop().time() < deadline, (
                f"scoring did not fold position {last} within 20 s: {report.up_to}"
            )
            await asyncio.sleep(0.05)
    return Posted(org, last, before, after)


def values(report: KpiReport, metric: str) -> list[Any]:
    return [b.metrics[metric].value for b in report.buckets]


def money(report: KpiReport, metric: str = "revenue_won") -> list[Decimal]:
    """A money metric's values: decimal strings (scoring writes zero as "0"), compared exactly."""
    out = []
    for bucket in report.buckets:
        value = bucket.metrics[metric]
        assert isinstance(value.value, str), value
        assert value.currency == report.currency, value
        out.append(Decimal(value.value))
    return out


# ------------------------------------------------------------------------------ the answers


class TestKpis:
    async def test_months_parse_into_a_kpi_report_with_the_posted_values(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        async with client(scoring_app) as scoring:
            report = await scoring.kpis(
                posted.org,
                owner="org",
                period="month",
                first=SUMMER[0],
                last=SUMMER[1],
                metrics=[
                    "revenue_won",
                    "deals_won",
                    "deals_lost",
                    "visits",
                    "calls",
                    "connected_calls",
                    "win_rate",
                    "deals_opened",
                ],
            )
        assert isinstance(report, KpiReport)
        assert (report.owner, report.period, report.from_, report.to) == ("org", "month", *SUMMER)
        assert (report.timezone, report.currency, report.as_of) == ("UTC", "EUR", None)
        assert report.up_to.position >= posted.last
        assert report.up_to.recorded_at is not None
        assert [(b.start, b.end) for b in report.buckets] == [
            (date(2026, 6, 1), date(2026, 6, 30)),
            JULY,
            (date(2026, 8, 1), date(2026, 8, 31)),
        ]
        june, july, august = (b.metrics for b in report.buckets)
        assert set(july) == {
            "revenue_won",
            "deals_won",
            "deals_lost",
            "visits",
            "calls",
            "connected_calls",
            "win_rate",
            "deals_opened",
        }
        # Money: a decimal string in the reporting currency (the USD win is not in EUR).
        assert (july["revenue_won"].value, july["revenue_won"].currency) == ("14500.00", "EUR")
        assert money(report) == [Decimal(0), Decimal("14500.00"), Decimal("3000.00")]
        assert august["win_rate"].value == pytest.approx(1.0)
        # Counts: JSON integers.
        assert values(report, "deals_won") == [0, 3, 1]
        assert values(report, "deals_lost") == [0, 1, 0]
        assert values(report, "deals_opened") == [0, 4, 1]
        assert values(report, "visits") == [0, 2, 1]
        assert (july["calls"].value, july["connected_calls"].value) == (2, 1)
        # Rates: value with the numerator and denominator it came from; null over nothing.
        rate = july["win_rate"]
        assert (rate.numerator, rate.denominator) == (3, 4)
        assert rate.value == pytest.approx(0.75)
        assert (june["win_rate"].value, june["win_rate"].denominator) == (None, 0)

    async def test_days_of_one_rep(self, scoring_app: FastAPI, posted: Posted) -> None:
        async with client(scoring_app) as scoring:
            report = await scoring.kpis(
                posted.org,
                owner="rep:rep-anna",
                period="day",
                first=date(2026, 7, 9),
                last=date(2026, 7, 11),
                metrics=["revenue_won", "visits"],
            )
        assert report.owner == "rep:rep-anna"
        assert [b.start for b in report.buckets] == [date(2026, 7, d) for d in (9, 10, 11)]
        assert [b.start == b.end for b in report.buckets] == [True] * 3
        assert money(report) == [Decimal("0.00"), Decimal("12500.00"), Decimal("0.00")]
        assert values(report, "visits") == [0, 1, 0]

    async def test_a_team_adds_up_its_reps(self, scoring_app: FastAPI, posted: Posted) -> None:
        async with client(scoring_app) as scoring:
            team, anna, ben = [
                await scoring.kpis(
                    posted.org,
                    owner=owner,
                    period="month",
                    first=JULY[0],
                    last=JULY[1],
                    metrics=["revenue_won"],
                )
                for owner in ("team:team-north", "rep:rep-anna", "rep:rep-ben")
            ]
        assert money(team) == [Decimal("14500.00")]
        assert money(anna) == [Decimal("12500.00")]
        assert money(ben) == [Decimal("2000.00")]


class TestPassThrough:
    async def july(self, scoring_app: FastAPI, org: str, **kwargs: Any) -> KpiReport:
        async with client(scoring_app) as scoring:
            return await scoring.kpis(
                org,
                owner="org",
                period="month",
                first=JULY[0],
                last=JULY[1],
                metrics=["revenue_won", "deals_won"],
                **kwargs,
            )

    async def test_product_line(self, scoring_app: FastAPI, posted: Posted) -> None:
        ovens = await self.july(scoring_app, posted.org, product_line="ovens")
        mixers = await self.july(scoring_app, posted.org, product_line="mixers")
        assert ovens.filters.product_line == "ovens"
        assert ovens.filters.tier is None
        assert money(ovens) == [Decimal("12500.00")]
        assert values(ovens, "deals_won") == [2]  # D-1, and D-3 (in USD)
        assert money(mixers) == [Decimal("2000.00")]

    async def test_tier_and_channel(self, scoring_app: FastAPI, posted: Posted) -> None:
        tier_a = await self.july(scoring_app, posted.org, tier="A")
        tier_b = await self.july(scoring_app, posted.org, tier="B")
        referral = await self.july(scoring_app, posted.org, channel="referral")
        online = await self.july(scoring_app, posted.org, channel="online")
        assert (tier_a.filters.tier, referral.filters.channel) == ("A", "referral")
        assert money(tier_a) == money(referral) == [Decimal("12500.00")]
        assert money(tier_b) == money(online) == [Decimal(0)]

    async def test_currency(self, scoring_app: FastAPI, posted: Posted) -> None:
        usd = await self.july(scoring_app, posted.org, currency="USD")
        assert usd.currency == "USD"
        assert (
            usd.buckets[0].metrics["revenue_won"].value,
            usd.buckets[0].metrics["revenue_won"].currency,
        ) == ("5000.00", "USD")

    async def test_as_of_with_an_offset(self, scoring_app: FastAPI, posted: Posted) -> None:
        """An offset's `+` must reach scoring as a `+`, not as a space."""
        berlin = timezone(timedelta(hours=2))
        later = await self.july(scoring_app, posted.org, as_of=posted.after.astimezone(berlin))
        assert later.as_of == posted.after
        assert money(later) == [Decimal("14500.00")]
        # Before the org's first recorded event: refused (scoring's 422 naming `as_of`), where
        # it once answered zeros.
        with pytest.raises(InvalidInput, match="before anything the org recorded"):
            await self.july(scoring_app, posted.org, as_of=posted.before.astimezone(berlin))

    async def test_the_request_carries_the_orgs_token_and_only_the_cuts_given(
        self, posted: Posted
    ) -> None:
        seen: list[httpx.Request] = []
        asked: list[str] = []

        def tokens(org: str) -> str:
            asked.append(org)
            return f"token-of-{org}"

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(503, json={"title": "down"})

        async with ScoringClient(
            "http://scoring", tokens, transport=httpx.MockTransport(answer)
        ) as scoring:
            with pytest.raises(UpstreamUnavailable):
                await scoring.kpis(
                    "acme",
                    owner="team:north",
                    period="day",
                    first=JULY[0],
                    last=JULY[1],
                    metrics=["revenue_won", "weighted_pipeline"],
                    tier="A",
                )
        (request,) = seen
        assert asked == ["acme"]
        assert request.headers["authorization"] == "Bearer token-of-acme"
        assert (request.method, request.url.path) == ("GET", "/v1/kpis")
        assert dict(request.url.params) == {
            "owner": "team:north",
            "period": "day",
            "from": "2026-07-01",
            "to": "2026-07-31",
            "metrics": "revenue_won,weighted_pipeline",
            "tier": "A",
        }


class TestScopedToTheToken:
    async def test_a_token_of_another_org_sees_zeros(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        other = f"org-other-{uuid.uuid4().hex[:8]}"
        async with client(scoring_app, tokens=lambda _org: token(other)) as scoring:
            report = await scoring.kpis(
                posted.org,
                owner="org",
                period="month",
                first=JULY[0],
                last=JULY[1],
                metrics=["revenue_won", "visits"],
            )
        assert money(report) == [Decimal("0.00")]
        assert values(report, "visits") == [0]

    async def test_a_manager_token_sees_its_team(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        mine = lambda org: token(org, "manager", "mgr-1", "team-north")  # noqa: E731
        async with client(scoring_app, tokens=mine) as scoring:
            report = await scoring.kpis(
                posted.org,
                owner="team:team-north",
                period="month",
                first=JULY[0],
                last=JULY[1],
                metrics=["revenue_won"],
            )
        assert money(report) == [Decimal("14500.00")]


class TestErrors:
    async def kpis(self, scoring: ScoringClient, org: str, **overrides: Any) -> KpiReport:
        params: dict[str, Any] = {
            "owner": "org",
            "period": "month",
            "first": JULY[0],
            "last": JULY[1],
            "metrics": ["revenue_won"],
        }
        return await scoring.kpis(org, **{**params, **overrides})

    @pytest.mark.parametrize(
        "overrides",
        [
            {"owner": "garbage"},
            {"owner": "rep:"},
            {"metrics": ["no_such_metric"]},
            {"period": "fortnight"},
            {"currency": "EURO"},
        ],
        ids=[
            "owner-garbage",
            "owner-without-id",
            "unknown-metric",
            "unknown-period",
            "bad-currency",
        ],
    )
    async def test_a_4xx_is_invalid_input(
        self, scoring_app: FastAPI, posted: Posted, overrides: dict[str, Any]
    ) -> None:
        async with client(scoring_app) as scoring:
            with pytest.raises(InvalidInput) as caught:
                await self.kpis(scoring, posted.org, **overrides)
        assert type(caught.value) is InvalidInput
        assert caught.value.detail.startswith("scoring: ")

    async def test_a_junk_token_is_unauthorized(self, scoring_app: FastAPI, posted: Posted) -> None:
        async with client(scoring_app, tokens=lambda _org: "junk") as scoring:
            with pytest.raises(Unauthorized):
                await self.kpis(scoring, posted.org)

    async def test_a_token_signed_with_another_secret_is_unauthorized(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        forged = issue_token(
            "another-secret-" + "y" * 32, org=posted.org, role="service", sub="goals"
        )
        async with client(scoring_app, tokens=lambda _org: forged) as scoring:
            with pytest.raises(Unauthorized):
                await self.kpis(scoring, posted.org)

    async def test_an_expired_token_is_unauthorized(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        expired = issue_token(
            JWT_SECRET, org=posted.org, role="service", sub="goals", ttl_seconds=-120
        )
        async with client(scoring_app, tokens=lambda _org: expired) as scoring:
            with pytest.raises(Unauthorized):
                await self.kpis(scoring, posted.org)

    async def test_a_rep_asking_for_the_org_is_forbidden(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        rep = lambda org: token(org, "rep", "rep-anna", "team-north")  # noqa: E731
        async with client(scoring_app, tokens=rep) as scoring:
            with pytest.raises(Forbidden):
                await self.kpis(scoring, posted.org, owner="org")
            with pytest.raises(Forbidden):
                await self.kpis(scoring, posted.org, owner="rep:rep-ben")
            own = await self.kpis(scoring, posted.org, owner="rep:rep-anna")
        assert money(own) == [Decimal("12500.00")]

    async def test_a_manager_asking_for_another_team_is_forbidden(
        self, scoring_app: FastAPI, posted: Posted
    ) -> None:
        manager = lambda org: token(org, "manager", "mgr-2", "team-south")  # noqa: E731
        async with client(scoring_app, tokens=manager) as scoring:
            with pytest.raises(Forbidden):
                await self.kpis(scoring, posted.org, owner="team:team-north")

    async def test_a_404_is_not_found(self, scoring_app: FastAPI, posted: Posted) -> None:
        transport = httpx.ASGITransport(app=scoring_app)
        async with ScoringClient("http://scoring/nowhere", token, transport=transport) as scoring:
            with pytest.raises(NotFound):
                await self.kpis(scoring, posted.org)


class TestUpstreamUnavailable:
    async def test_nobody_listening(self) -> None:
        async with ScoringClient("http://127.0.0.1:9", token, timeout=2) as scoring:
            with pytest.raises(UpstreamUnavailable, match="unreachable"):
                await TestErrors().kpis(scoring, "acme")

    async def test_a_port_just_closed(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again when the block ends: nobody listens
        async with ScoringClient(f"http://127.0.0.1:{port}", token, timeout=2) as scoring:
            with pytest.raises(UpstreamUnavailable):
                await TestErrors().kpis(scoring, "acme")

    @pytest.mark.parametrize(
        ("status", "body", "shown"),
        [
            (
                503,
                {
                    "type": "urn:salesperf:problem:unavailable",
                    "title": "Service unavailable",
                    "status": 503,
                    "detail": "the database is down",
                },
                "the database is down",
            ),
            (500, {"title": "Internal Server Error", "status": 500}, "Internal Server Error"),
            (502, "<html><body>Bad Gateway</body></html>", "Bad Gateway"),
            (504, "", "504"),
        ],
        ids=["503-problem", "500-problem-without-detail", "502-html", "504-empty"],
    )
    async def test_a_5xx(self, status: int, body: Any, shown: str) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            if isinstance(body, dict):
                return httpx.Response(
                    status, json=body, headers={"content-type": "application/problem+json"}
                )
            return httpx.Response(status, text=body, headers={"content-type": "text/html"})

        async with ScoringClient(
            "http://scoring", token, transport=httpx.MockTransport(answer)
        ) as scoring:
            with pytest.raises(UpstreamUnavailable) as caught:
                await TestErrors().kpis(scoring, "acme")
        assert str(status) in caught.value.detail
        assert shown in caught.value.detail

    async def test_a_5xx_whose_json_body_is_not_an_object(self) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(503, json="Service Unavailable")

        async with ScoringClient(
            "http://scoring", token, transport=httpx.MockTransport(answer)
        ) as scoring:
            with pytest.raises(UpstreamUnavailable):
                await TestErrors().kpis(scoring, "acme")

    async def test_a_timeout(self) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("scoring took too long", request=request)

        async with ScoringClient(
            "http://scoring", token, transport=httpx.MockTransport(answer)
        ) as scoring:
            with pytest.raises(UpstreamUnavailable):
                await TestErrors().kpis(scoring, "acme")

    async def test_a_scoring_that_accepts_but_never_answers_times_out(self) -> None:
        """A real socket that takes the request and says nothing: the client's timeout."""
        connected = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connected.set()
            await reader.read(65536)
            await asyncio.sleep(10)
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with ScoringClient(f"http://127.0.0.1:{port}", token, timeout=0.3) as scoring:
                with pytest.raises(UpstreamUnavailable, match="Timeout"):
                    await asyncio.wait_for(TestErrors().kpis(scoring, "acme"), timeout=5)
            assert connected.is_set()
        finally:
            server.close()
