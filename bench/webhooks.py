"""HubSpot webhook deliveries: latency of a durable 200 against the target p99 ≤ 100 ms.

The issue: a CRM webhook is answered 2xx only once its events are durably appended, and fast
enough for the CRM not to time out and retry: **p99 ≤ 100 ms for a 100-event HubSpot delivery**.
Everything runs in one go on this machine, against one scratch database (dropped at the end),
with activity as a real uvicorn server in its own process on a loopback port:

1. A HubSpot connector is created as the org's admin (`POST /v1/connectors`): stages of
   HubSpot's default pipeline mapped to ours, owners "101"–"103" mapped to reps and `"*"` to a
   default rep.
2. Deliveries: `POST /v1/webhooks/hubspot/{org}`, a JSON array of `--size` (100) HubSpot
   events each, signed as HubSpot signs v3 (base64 HMAC-SHA256 of the client secret over
   method + full URI + body + `X-HubSpot-Request-Timestamp`), from each of `--senders` (1 and 8)
   concurrent senders for `--seconds` each. A delivery mixes `deal.creation` (10 %), `dealstage`
   changes (35 %: mostly open stages, some `closedwon` of deals whose amount was sent, some
   `closedlost`), `amount` changes (40 %) and `hubspot_owner_id` changes (15 %, ignored by the
   translation but learnt); eventIds are fresh in every delivery, so every event is appended,
   objectIds come from a pool of the `--deals` (5,000) most recent deals, which creations renew. Each answer must
   be 200 with appended + dead_letters + ignored = size and no duplicate; a 5xx is counted
   (column 5xx, and the verdict fails) and the delivery sent again after the phase, untimed,
   as HubSpot retries it. Latency is per delivery, failed ones included; the verdict is p99.
3. Duplicates: deliveries sent already, sent again (re-signed with a fresh timestamp, as
   HubSpot's retries are) by as many senders for as long: each must answer 200 and append
   nothing new. Same target: a retry is a delivery too.
4. Reference, same run, same server: activity's own `POST /v1/events/batch` (admin token) of
   exactly the events an equivalent delivery is translated into (translated here with the
   connector's own pure `hubspot.translate`, fresh ids), as many senders for as long. Its p99
   is the baseline column, so the ratio is the connector's overhead (verification, the deal
   facts it loads and saves, the id lookup before the append, the dead-letter transaction).

Before every phase the events table is vacuumed and analyzed and a checkpoint taken. At the
end the number of events stored for the org must equal what the service reported appended.

The load generator is one Python process (this one, on uvloop). Deliveries go over the lean
HTTP/1.1 keep-alive connections of bench/_http.py, one connection per sender, each request with
its own signature headers; bodies are built and signed before the clock starts for that
request. Each phase also reports the cores the client, the service and PostgreSQL kept busy
(from /proc) and what else ran meanwhile ("other"): the machine has 2 cores for all of them.

    python -m bench.webhooks [--quick] [--seconds S] [--senders 1,8] [--check] …
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import math
import os
import platform
import random
import secrets
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
from rich.table import Table
from sqlalchemy.engine import make_url

from bench._harness import (
    BenchError,
    CpuMeter,
    CpuUse,
    Database,
    ServiceProcess,
    Verdict,
    console,
    env_int,
    fmt_ms,
    fmt_rate,
    interference,
    percentile,
    scratch_database,
    server_facts,
    summary_table,
    uvloop_runner,
    write_json,
)
from bench._http import Headers, HttpClient, _Connection, make_client
from services.activity.connectors import hubspot
from services.activity.connectors.domain import ConnectorConfig, DealFacts, Owner
from shared.auth import issue_token
from shared.db import asyncpg_dsn

P99_TARGET_MS = 100.0
PHASE_TIMEOUT = 600.0  # seconds: a stalled service fails the run instead of hanging it
PORTAL_ID = 62515
SECRET = "bench-hubspot-client-secret-" + "x" * 8
OPEN_STAGES = {
    "appointmentscheduled": "qualification",
    "qualifiedtobuy": "qualification",
    "presentationscheduled": "proposal",
    "decisionmakerboughtin": "proposal",
    "contractsent": "negotiation",
}
STAGES = {**OPEN_STAGES, "closedwon": "won", "closedlost": "lost"}
OWNERS = {
    "101": {"rep_id": "rep-101", "team_id": "team-north"},
    "102": {"rep_id": "rep-102", "team_id": "team-north"},
    "103": {"rep_id": "rep-103", "team_id": "team-south"},
    "*": {"rep_id": "rep-default", "team_id": "team-south"},
}
OWNER_IDS = ("101", "102", "103", "555", "556")  # 555 and 556 fall back to "*"
CURRENCY = "EUR"
MIX = (("deal.creation", 10), ("dealstage", 35), ("amount", 40), ("hubspot_owner_id", 15))


# ---------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Config:
    seconds: float = 20.0
    senders: tuple[int, ...] = (1, 8)
    size: int = 100
    deals: int = 5_000
    warmup: int = 40
    workers: int = 1
    seed: int = 20261204
    quick: bool = False


QUICK = Config(seconds=4.0, warmup=10, quick=True)


def _senders(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a comma-separated list of integers") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("at least one sender count, each ≥ 1")
    return values


def parse_args(argv: Sequence[str] | None) -> tuple[Config, bool]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks",
        description="Latency of signed 100-event HubSpot deliveries to the activity service "
        "(target p99 ≤ 100 ms), their retries, and activity's batch append of the same events. "
        "Every option also reads BENCH_<OPTION> from the environment (e.g. BENCH_SECONDS=10).",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in argv or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    base = QUICK if quick else Config()
    parser.add_argument("--quick", action="store_true", help="short phases: a smoke run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECONDS") or base.seconds),
        help=f"length of each measured phase [{base.seconds:g}]",
    )
    parser.add_argument(
        "--senders",
        type=_senders,
        default=_senders(os.environ.get("BENCH_SENDERS") or ",".join(map(str, base.senders))),
        help="concurrent senders, one phase set each, comma-separated [1,8]",
    )
    options: list[tuple[str, int, str]] = [
        ("size", base.size, "HubSpot events per delivery (HubSpot sends at most 100)"),
        ("deals", base.deals, "deals (objectIds) the events are about"),
        ("warmup", base.warmup, "deliveries and batches sent before measuring"),
        ("workers", base.workers, "uvicorn worker processes"),
        ("seed", base.seed, "seed of the event mix"),
    ]
    for name, default, text in options:
        parser.add_argument(
            f"--{name}",
            type=int,
            default=env_int(name.upper(), default),
            help=f"{text} [{default}]",
        )
    args = parser.parse_args(argv)
    if not 1 <= args.size <= hubspot.MAX_EVENTS:
        parser.error(f"--size must be 1 to {hubspot.MAX_EVENTS}")
    config = Config(
        seconds=args.seconds,
        senders=args.senders,
        size=args.size,
        deals=args.deals,
        warmup=args.warmup,
        workers=args.workers,
        seed=args.seed,
        quick=quick,
    )
    return config, bool(args.check)


# ---------------------------------------------------------------------------------- the events


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature, written here from HubSpot's description (not the service's)."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


class Deliveries:
    """HubSpot deliveries of the mix in MIX, fresh eventIds each, and their translations."""

    def __init__(self, config: Config, org: str, *, block: int = 0) -> None:
        """`block` keeps eventIds and objectIds apart from another generator's."""
        self._size = config.size
        self._pool = config.deals
        self._random = random.Random(config.seed + block)
        self._next_event = (block + 1) * 10**12
        # The portal's deals, all existing already (created before the connector); creations
        # add new ones and the oldest leave the pool.
        self._objects = list(range((block + 1) * 10**8, (block + 1) * 10**8 + config.deals))
        self._next_object = self._objects[-1] + 1
        self._amounted: set[int] = set()  # deals an amount change was sent for
        self.known: dict[str, DealFacts] = {}  # what the translation has learnt (reference)
        self.config = ConnectorConfig(
            org_id=org,
            provider="hubspot",
            stages=dict(STAGES),
            owners={k: Owner(v["rep_id"], v["team_id"]) for k, v in OWNERS.items()},
            default_currency=CURRENCY,
        )
        counts = [(kind, round(self._size * weight / 100)) for kind, weight in MIX]
        kinds = [kind for kind, n in counts for _ in range(n)]
        self._kinds = (kinds + ["amount"] * self._size)[: self._size]

    def _object(self) -> int:
        if not self._objects:
            return self._new_object()
        return self._objects[self._random.randrange(len(self._objects))]

    def _new_object(self) -> int:
        object_id, self._next_object = self._next_object, self._next_object + 1
        self._objects.append(object_id)
        if len(self._objects) > self._pool:
            self._objects.pop(0)
        return object_id

    def _event(self, kind: str, now_ms: int) -> dict[str, Any]:
        event_id, self._next_event = self._next_event, self._next_event + 1
        r = self._random
        event: dict[str, Any] = {
            "eventId": event_id,
            "subscriptionId": 2171,
            "portalId": PORTAL_ID,
            "appId": 54321,
            "occurredAt": now_ms - r.randrange(60_000),
            "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0,
            "changeSource": "CRM",
        }
        if kind == "deal.creation":
            return {
                **event,
                "subscriptionType": kind,
                "objectId": self._new_object(),
                "changeFlag": "NEW",
            }
        object_id = self._object()
        if kind == "amount":
            self._amounted.add(object_id)
            value = str(r.randrange(1_000, 200_000)) + r.choice(("", ".50", ".99"))
        elif kind == "hubspot_owner_id":
            value = r.choice(OWNER_IDS)
        else:
            roll = r.random()
            if roll < 0.10 and object_id in self._amounted:
                value = "closedwon"
            elif roll < 0.15:
                value = "closedlost"
            else:
                value = r.choice(tuple(OPEN_STAGES))
        return {**event, "objectId": object_id, "propertyName": kind, "propertyValue": value}

    def delivery(self) -> list[dict[str, Any]]:
        now_ms = int(time.time() * 1000)
        kinds = list(self._kinds)
        self._random.shuffle(kinds)
        return [self._event(kind, now_ms) for kind in kinds]

    def translated(self) -> list[dict[str, Any]]:
        """Our events for a fresh delivery of the same mix, as the connector translates it."""
        translation = hubspot.translate(self.config, self.delivery(), self.known)
        for object_id, facts in translation.deals.items():
            self.known[object_id] = facts
        if len(self.known) > 4 * self._pool:
            self.known.clear()
        return translation.events


@dataclass
class Sent:
    """A delivery's body and how many of its events are stored, from its last 200 answer
    (appended + duplicates: a retry may append what an earlier attempt dead-lettered, and an
    attempt answered 5xx may have appended before it failed)."""

    body: bytes
    stored: int = 0


class _SignedConnection(_Connection):
    """A lean keep-alive connection whose header block is set per request: `LeanClient` sends
    one fixed block, a HubSpot delivery carries its own signature and timestamp."""

    def __init__(self, host: str, port: int, headers: str) -> None:
        super().__init__(host, port, headers.encode())
        self._fixed = headers

    def set_headers(self, extra: Mapping[str, str]) -> None:
        block = self._fixed + "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        self._header_block = block.encode()


class Sender:
    """One HubSpot sender: one keep-alive connection, each request signed on its own."""

    def __init__(self, base_url: str, org: str) -> None:
        url = urlsplit(base_url)
        assert url.hostname is not None
        assert url.port is not None
        self.target = f"/v1/webhooks/hubspot/{org}"
        self.uri = f"{base_url}{self.target}"  # what the service sees: Host + path
        headers = f"Host: {url.hostname}:{url.port}\r\nContent-Type: application/json\r\n"
        self._conn = _SignedConnection(url.hostname, url.port, headers)

    def sign(self, body: bytes) -> None:
        """Sign `body` for the next request, with the current time as HubSpot does."""
        timestamp = str(int(time.time() * 1000))
        self._conn.set_headers(
            {
                "X-HubSpot-Signature-v3": sign(SECRET, "POST", self.uri, body, timestamp),
                "X-HubSpot-Request-Timestamp": timestamp,
            }
        )

    async def post(self, body: bytes) -> tuple[int, Headers, bytes]:
        return await self._conn.request("POST", self.target, body)

    async def aclose(self) -> None:
        await self._conn.close()


# ---------------------------------------------------------------------------------- measuring


@dataclass
class Phase:
    """One timed phase: requests, the events they carried and appended, latency, CPU."""

    name: str
    senders: int
    requests: int
    events: int  # events in the request bodies (HubSpot's for deliveries, ours for batches)
    appended: int
    seconds: float
    cpu: CpuUse
    latencies: list[float] = field(repr=False)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def appended_per_s(self) -> float:
        return self.appended / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    @property
    def max(self) -> float:
        return max(self.latencies, default=math.nan)

    def summary(self) -> dict[str, Any]:
        return {
            "senders": self.senders,
            "requests": self.requests,
            "events": self.events,
            "appended": self.appended,
            "seconds": round(self.seconds, 4),
            "requests_per_s": round(self.requests / self.seconds, 1),
            "events_per_s": round(self.events_per_s, 1),
            "appended_per_s": round(self.appended_per_s, 1),
            "latency_p50_ms": _ms(self.p50),
            "latency_p99_ms": _ms(self.p99),
            "latency_max_ms": _ms(self.max),
            "cpu_cores": {k: v if v is None else round(v, 3) for k, v in asdict(self.cpu).items()},
            **self.notes,
        }


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 3)


async def for_seconds(
    seconds: float, senders: int, send: Callable[[int], Awaitable[float]]
) -> list[float]:
    """Each of `senders` workers calls `send(worker)` (which times its own request) until
    `seconds` have passed; the latencies."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            latencies.append(await send(index))

    try:
        async with asyncio.TaskGroup() as group:
            for index in range(senders):
                group.create_task(worker(index))
    except BaseExceptionGroup as errors:
        raise _first_error(errors) from None
    return latencies


def _first_error(errors: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure of a task group, as a BenchError unless it is one (or a cancellation)."""
    error: BaseException = errors
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    if isinstance(error, (BenchError, asyncio.CancelledError, KeyboardInterrupt)):
        return error
    failure = BenchError(f"{type(error).__name__}: {error}")
    failure.__cause__ = error
    return failure


@dataclass
class Tally:
    """What one phase's answers said."""

    requests: int = 0
    events: int = 0
    appended: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    ignored: int = 0
    group_commits: int | None = None
    events_per_group_commit: float | None = None
    failures: dict[str, int] = field(default_factory=dict)  # 5xx answers, by status and detail

    def notes(self) -> dict[str, Any]:
        return {
            "duplicates": self.duplicates,
            "dead_letters": self.dead_letters,
            "ignored": self.ignored,
            "group_commits": self.group_commits,
            "events_per_group_commit": self.events_per_group_commit,
            "failed": sum(self.failures.values()),
            "failures": self.failures,
        }


class Bench:
    """The phases, sharing one service, its admin client, the senders and one CPU meter."""

    def __init__(
        self,
        config: Config,
        server: ServiceProcess,
        admin: HttpClient,
        db: asyncpg.Connection,
        meter: CpuMeter,
        org: str,
    ) -> None:
        self.config = config
        self.admin = admin
        self.db = db
        self.meter = meter
        self.org = org
        self.deliveries = Deliveries(config, org)
        # The reference's own deals: what it "sends" must not make the deliveries' generator
        # believe the connector has learnt an amount (a `closedwon` would be a dead letter).
        self.reference = Deliveries(config, org, block=1)
        self.senders = [Sender(server.base_url, org) for _ in range(max(config.senders))]
        self.sent: list[Sent] = []
        self.failed: list[Sent] = []  # answered 5xx, to be sent again after the phase
        self.stored = 0  # events the service reported appended

    async def aclose(self) -> None:
        for sender in self.senders:
            await sender.aclose()

    async def create_connector(self) -> dict[str, Any]:
        body = {
            "provider": "hubspot",
            "secret": SECRET,
            "stages": STAGES,
            "owners": OWNERS,
            "default_currency": CURRENCY,
        }
        status, content = await self.admin.request("POST", "/v1/connectors", orjson.dumps(body))
        if status != 201:
            raise BenchError(f"POST /v1/connectors: {status} {content[:500]!r}")
        created: dict[str, Any] = orjson.loads(content)
        return created

    async def settle(self) -> None:
        """Start each phase from the same state: VACUUM ANALYZE, and CHECKPOINT if allowed."""
        for table in ("activity.events", "activity.connector_deals"):
            await self.db.execute(f"VACUUM (ANALYZE) {table}")
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await self.db.execute("CHECKPOINT")

    async def group_commits(self) -> tuple[float, float]:
        """(events, transactions) the service's group committer has written so far."""
        text = (await self.admin.request("GET", "/metrics"))[1].decode()
        values = {"sum": 0.0, "count": 0.0}
        for line in text.splitlines():
            for key in values:
                if line.startswith(f"salesperf_activity_group_commit_events_{key} "):
                    values[key] = float(line.split()[-1])
        return values["sum"], values["count"]

    async def timed(
        self, name: str, senders: int, send: Callable[[Tally], Callable[[int], Awaitable[float]]]
    ) -> Phase:
        await self.settle()
        tally = Tally()
        events_before, groups_before = await self.group_commits()
        before = await self.meter.sample()
        async with asyncio.timeout(PHASE_TIMEOUT):
            latencies = await for_seconds(self.config.seconds, senders, send(tally))
        after = await self.meter.sample()
        events_after, groups_after = await self.group_commits()
        if self.config.workers == 1 and groups_after > groups_before:  # /metrics: per worker
            tally.group_commits = int(groups_after - groups_before)
            tally.events_per_group_commit = round(
                (events_after - events_before) / tally.group_commits, 1
            )
        cpu = CpuMeter.use(before, after)
        return Phase(
            name,
            senders,
            tally.requests,
            tally.events,
            tally.appended,
            cpu.seconds,
            cpu,
            latencies,
            tally.notes(),
        )

    # ---- deliveries

    def _failed(self, tally: Tally, status: int, content: bytes, sent: Sent) -> bool:
        """A 5xx is an answer HubSpot retries: counted, its delivery sent again after the
        phase (untimed); anything else that is not 200 is the benchmark's mistake."""
        if status < 500:
            return False
        title = orjson.loads(content).get("detail", "") if content.startswith(b"{") else ""
        key = f"{status} {str(title)[:60]}".strip()
        tally.failures[key] = tally.failures.get(key, 0) + 1
        tally.requests += 1
        tally.events += self.config.size
        self.failed.append(sent)
        return True

    async def retry_failed(self) -> None:
        """Send the deliveries answered 5xx again, one at a time, as HubSpot retries them."""
        failed, self.failed = self.failed, []
        for sent in failed:
            for attempt in range(5):
                self.senders[0].sign(sent.body)
                status, _, content = await self.senders[0].post(sent.body)
                if status == 200:
                    break
                if status < 500 or attempt == 4:
                    raise BenchError(f"a delivery retried: {status} {content[:500]!r}")
                await asyncio.sleep(0.1)
            answer = self._check(status, content, "a delivery retried")
            self._stored(sent, answer)
            if sent not in self.sent:
                self.sent.append(sent)

    def _stored(self, sent: Sent, answer: dict[str, int]) -> None:
        """After a 200, all of the delivery's appendable events are stored: appended now, or
        duplicates of an earlier attempt (possibly one answered 5xx)."""
        now = answer["appended"] + answer["duplicates"]
        self.stored += now - sent.stored
        sent.stored = now

    def _check(self, status: int, content: bytes, what: str) -> dict[str, int]:
        if status != 200:
            raise BenchError(f"{what}: {status} {content[:500]!r}")
        answer: dict[str, int] = orjson.loads(content)
        total = (
            answer["appended"] + answer["duplicates"] + answer["dead_letters"] + answer["ignored"]
        )
        if total != self.config.size:
            raise BenchError(
                f"{what}: the answer accounts for {total} of {self.config.size} events: {answer}"
            )
        return answer

    def _deliver(self, tally: Tally) -> Callable[[int], Awaitable[float]]:
        async def send(index: int) -> float:
            sender = self.senders[index]
            sent = Sent(orjson.dumps(self.deliveries.delivery()))
            sender.sign(sent.body)
            started = time.perf_counter()
            status, _, content = await sender.post(sent.body)
            latency = time.perf_counter() - started
            if self._failed(tally, status, content, sent):
                return latency
            answer = self._check(status, content, "a delivery")
            if answer["duplicates"]:
                raise BenchError(f"a fresh delivery had duplicates: {answer}")
            self._count(tally, answer)
            self._stored(sent, answer)
            self.sent.append(sent)
            return latency

        return send

    def _redeliver(self, tally: Tally) -> Callable[[int], Awaitable[float]]:
        if not self.sent:
            raise BenchError("no delivery was sent to send again")
        again = itertools.cycle(list(self.sent))

        async def send(index: int) -> float:
            sender = self.senders[index]
            original = next(again)
            sender.sign(original.body)
            started = time.perf_counter()
            status, _, content = await sender.post(original.body)
            latency = time.perf_counter() - started
            if self._failed(tally, status, content, original):
                return latency
            answer = self._check(status, content, "a delivery sent again")
            if answer["duplicates"] < original.stored:
                raise BenchError(
                    f"a delivery sent again found {answer['duplicates']} of its "
                    f"{original.stored} stored events: {answer}"
                )
            self._count(tally, answer)
            self._stored(original, answer)
            return latency

        return send

    def _count(self, tally: Tally, answer: dict[str, int]) -> None:
        tally.requests += 1
        tally.events += self.config.size
        tally.appended += answer["appended"]
        tally.duplicates += answer["duplicates"]
        tally.dead_letters += answer["dead_letters"]
        tally.ignored += answer["ignored"]

    # ---- the reference: activity's own batch append of the translated events

    def _batch(self, tally: Tally) -> Callable[[int], Awaitable[float]]:
        async def send(index: int) -> float:
            events = self.reference.translated()
            body = orjson.dumps({"events": events})
            started = time.perf_counter()
            status, content = await self.admin.request("POST", "/v1/events/batch", body)
            latency = time.perf_counter() - started
            if status != 201:
                raise BenchError(f"POST /v1/events/batch: {status} {content[:500]!r}")
            created = int(orjson.loads(content)["created"])
            if created != len(events):
                raise BenchError(f"a batch created {created} of {len(events)} events")
            tally.requests += 1
            tally.events += len(events)
            tally.appended += created
            self.stored += created
            return latency

        return send

    async def warm_up(self) -> None:
        n = self.config.warmup
        for _ in range(n):  # one sender: each delivery also teaches the next ones amounts
            await self._deliver(Tally())(0)
        for _ in range(n):
            await self._batch(Tally())(0)
        self.sent.clear()

    async def phases(self, senders: int) -> tuple[Phase, Phase, Phase]:
        batch = await self.timed(f"events/batch × {senders}", senders, self._batch)
        first = len(self.sent)
        delivery = await self.timed(f"HubSpot × {senders}", senders, self._deliver)
        await self.retry_failed()
        sent, self.sent = self.sent, self.sent[first:]  # resend this phase's deliveries
        again = await self.timed(f"HubSpot again × {senders}", senders, self._redeliver)
        await self.retry_failed()
        self.sent = sent
        return batch, delivery, again

    async def verify(self) -> int:
        stored = int(
            await self.db.fetchval(
                "SELECT count(*) FROM activity.events WHERE org_id = $1", self.org
            )
        )
        if stored != self.stored:
            raise BenchError(f"the service reported {self.stored} events appended, found {stored}")
        dead = int(await self.db.fetchval("SELECT count(*) FROM activity.connector_dead_letters"))
        return dead


# ---------------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    environment: dict[str, Any]
    phases: list[Phase]
    verdicts: list[Verdict]


def _latency_verdict(ours: Phase, baseline: Phase, what: str) -> Verdict:
    p99 = ours.p99 * 1000
    failed = ours.notes["failed"]
    note = f"p50 {fmt_ms(ours.p50)} · max {fmt_ms(ours.max)} · {ours.requests:,} deliveries"
    if failed:
        note += f", {failed:,} answered 5xx: " + "; ".join(
            f"{n} × {what}" for what, n in ours.notes["failures"].items()
        )
    return Verdict(
        benchmark=f"{what}, {ours.senders} sender" + ("s" if ours.senders > 1 else "") + ", p99",
        unit="ms",
        ours=p99,
        baseline=baseline.p99 * 1000,
        baseline_label="POST /v1/events/batch of the translated events, p99, same senders",
        target=f"p99 ≤ {P99_TARGET_MS:.0f} ms, all 2xx",
        passed=p99 <= P99_TARGET_MS and not failed,
        ours_note=note,
    )


def _throughput_verdict(ours: Phase, baseline: Phase) -> Verdict:
    return Verdict(
        benchmark=f"events appended by deliveries, {ours.senders} sender"
        + ("s" if ours.senders > 1 else ""),
        unit="ev/s",
        ours=ours.appended_per_s,
        baseline=baseline.appended_per_s,
        baseline_label="batch append of the same events (reference only)",
        target="—",
        passed=None,
        ours_note=f"{fmt_rate(ours.events_per_s, ' HubSpot ev/s')} received",
    )


async def measure(config: Config, database: Database) -> Outcome:
    jwt_secret = secrets.token_urlsafe(32)
    org = f"bench-{uuid.uuid4().hex[:8]}"
    dsn = asyncpg_dsn(database.url)
    server = ServiceProcess(
        "bench._activity_app:app",
        {"BENCH_DATABASE_URL": database.url, "BENCH_JWT_SECRET": jwt_secret},
        workers=config.workers,
    )
    async with contextlib.AsyncExitStack() as stack:
        db = await asyncpg.connect(dsn)
        stack.push_async_callback(db.close)
        meter_conn = await asyncpg.connect(dsn)
        stack.push_async_callback(meter_conn.close)
        await stack.enter_async_context(server.running())
        token = issue_token(jwt_secret, org=org, role="admin", sub="bench")
        admin = make_client(
            "lean",
            server.base_url,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            connections=max(config.senders),
        )
        stack.push_async_callback(admin.aclose)
        bench = Bench(config, server, admin, db, CpuMeter(server.pid, meter_conn), org)
        stack.push_async_callback(bench.aclose)
        environment = await describe(config, database, server, meter_conn)
        connector = await bench.create_connector()
        environment["connector"] = {k: connector[k] for k in ("webhook_path", "stages", "owners")}
        await bench.warm_up()
        phases: list[Phase] = []
        verdicts: list[Verdict] = []
        for senders in config.senders:
            batch, delivery, again = await bench.phases(senders)
            phases += [batch, delivery, again]
            verdicts += [
                _latency_verdict(delivery, batch, f"HubSpot delivery of {config.size}"),
                _latency_verdict(again, batch, "same delivery again (duplicates)"),
                _throughput_verdict(delivery, batch),
            ]
        environment["dead_letters_stored"] = await bench.verify()
    return Outcome(environment, phases, verdicts)


async def describe(
    config: Config, database: Database, server: ServiceProcess, conn: asyncpg.Connection
) -> dict[str, Any]:
    url = make_url(database.url)
    where = "embedded pgserver (unix socket)" if database.embedded else f"{url.host}:{url.port}"
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "postgres": {"where": where, **await server_facts(conn)},
        "service": server.describe(),
        "load_generator": "1 process (this one, uvloop): lean asyncio HTTP/1.1 client "
        "(bench/_http.py), one keep-alive connection per sender; each body built and signed "
        "before its request's clock starts",
    }


# ---------------------------------------------------------------------------------- output


def phase_table(phases: Sequence[Phase]) -> Table:
    table = Table(
        title="phases — CPU columns: average cores kept busy (the machine has "
        f"{os.cpu_count()}); client = this process, other = the rest of the machine; ev/req: "
        "events a request carries (HubSpot's for deliveries, ours for batches); app/s: events "
        "appended per second",
        title_justify="left",
    )
    table.add_column("phase", no_wrap=True)
    for name in ("req", "5xx", "ev/req", "req/s", "app/s", "p50", "p99", "max"):
        table.add_column(name, justify="right", no_wrap=True)
    for name in ("client", "service", "pg", "other"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("commits × ev", no_wrap=True)
    for p in phases:
        groups = ""
        if p.notes.get("group_commits"):
            groups = f"{p.notes['group_commits']:,} × {p.notes['events_per_group_commit']:,.1f}"
        table.add_row(
            p.name,
            f"{p.requests:,}",
            f"{p.notes.get('failed', 0):,}",
            f"{p.events / max(p.requests, 1):,.0f}",
            f"{p.requests / p.seconds:,.1f}",
            fmt_rate(p.appended_per_s, ""),
            fmt_ms(p.p50),
            fmt_ms(p.p99),
            fmt_ms(p.max),
            f"{p.cpu.client:.2f}",
            f"{p.cpu.service:.2f}",
            "n/a" if p.cpu.postgres is None else f"{p.cpu.postgres:.2f}",
            "n/a" if p.cpu.other is None else f"{p.cpu.other:.2f}",
            groups,
        )
    return table


def setup_table(environment: Mapping[str, Any], config: Config) -> Table:
    table = Table(title="setup", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    pg = environment["postgres"]
    table.add_row("machine", environment["machine"])
    table.add_row("load at start", " ".join(map(str, environment["load_average_at_start"])))
    table.add_row(
        "PostgreSQL",
        f"{pg['server_version']} at {pg['where']}; fsync={pg['fsync']}, "
        f"synchronous_commit={pg['synchronous_commit']}, shared_buffers={pg['shared_buffers']}",
    )
    table.add_row("service", environment["service"])
    table.add_row("load generator", environment["load_generator"])
    mix = ", ".join(f"{kind} {weight} %" for kind, weight in MIX)
    table.add_row(
        "deliveries",
        f"{config.size} HubSpot events each ({mix}); {config.deals:,} deals; "
        f"{config.seconds:g} s per phase at {', '.join(map(str, config.senders))} senders "
        f"after {config.warmup} warm-up deliveries" + (" (--quick)" if config.quick else ""),
    )
    table.add_row("dead letters stored", f"{environment['dead_letters_stored']:,}")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    config, check = parse_args(argv)
    out = console()
    out.rule("[bold]bench.webhooks[/bold]: HubSpot deliveries vs activity's batch append")

    async def run() -> Outcome:
        async with scratch_database() as database:
            return await measure(config, database)

    started = time.monotonic()
    phases = len(config.senders) * 3
    with (
        out.status(f"measuring ({phases} phases of {config.seconds:g} s)…"),
        uvloop_runner() as runner,
    ):
        try:
            outcome = runner.run(run())
        except BenchError as exc:
            out.print(f"[bold red]benchmark failed:[/bold red] {exc}")
            return 1
    out.print(setup_table(outcome.environment, config))
    out.print(phase_table(outcome.phases))
    out.print(summary_table("bench.webhooks", outcome.verdicts))
    if (warning := interference(p.cpu for p in outcome.phases)) is not None:
        out.print(f"[yellow]warning:[/yellow] {warning}")
    path = write_json(
        "webhooks",
        {
            "benchmark": "webhooks",
            "finished_at": datetime.now(UTC).isoformat(),
            "wall_seconds": round(time.monotonic() - started, 1),
            "config": asdict(config),
            "environment": outcome.environment,
            "phases": {p.name: p.summary() for p in outcome.phases},
            "warning": interference(p.cpu for p in outcome.phases),
            "verdicts": [
                {**asdict(v), "ratio": None if v.ratio is None else round(v.ratio, 3)}
                for v in outcome.verdicts
            ],
        },
    )
    out.print(f"results written to {path}")
    if check and any(v.passed is False for v in outcome.verdicts):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
