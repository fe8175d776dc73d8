"""`salesperf demo`: post a synthetic sales quarter (salesperf.synthetic) through the activity API.

The events go to `POST /v1/events/batch` in batches of 1,000, one batch at a time and in order
(a void must find its target stored, a stream's events arrive in causal order). Appends are
idempotent by `event_id`, and the quarter is deterministic, so a second run stores nothing new.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from salesperf.synthetic import generate
from shared.auth import Role, issue_token, mint_token
from shared.config import CommonSettings

DEFAULT_URL = "http://127.0.0.1:8002"
"""Where activity answers with its default settings; `activity_url()` follows the settings."""


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a service listening on `host:port` (a
    wildcard address is reached on the loopback)."""
    if host in {"", "0.0.0.0", "::", "[::]"}:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def activity_url() -> str:
    """Where activity answers, from its settings (`ACTIVITY_HOST`, `ACTIVITY_PORT`)."""
    from services.activity.config import ActivitySettings

    settings = ActivitySettings()
    return local_url(settings.host, settings.port)


BATCH_SIZE = 1000  # the most POST /v1/events/batch takes
RETRIES = 4  # for 503: the org's append lock is busy elsewhere, or the database is away
TIMEOUT = httpx.Timeout(60.0, connect=5.0)

Event = dict[str, Any]


class DemoError(Exception):
    """Something the user must fix; the message says what."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What a run posted and what activity made of it."""

    posted: int
    created: int
    duplicates: int
    batches: int
    seconds: float
    types: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Events posted per second."""
        return self.posted / self.seconds if self.seconds > 0 else 0.0


def chunks(events: Sequence[Event], size: int = BATCH_SIZE) -> Iterator[Sequence[Event]]:
    for i in range(0, len(events), size):
        yield events[i : i + size]


def _problem(response: httpx.Response) -> str:
    """A one-line account of a refused batch, from its problem+json body when there is one."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    text = f"HTTP {response.status_code} {body.get('title', '')}: {body.get('detail', '')}".strip()
    errors = body.get("errors") or []
    if errors and isinstance(errors[0], dict):
        text += f" ({errors[0].get('field')}: {errors[0].get('message')})"
    if response.status_code == 401:
        text += (
            "\nThe token was refused: this shell and the server must share the signing key "
            "(SALESPERF_JWT_KEYS and SALESPERF_JWT_KID, or SALESPERF_JWT_SECRET, or the same "
            "SALESPERF_DATA_DIR)."
        )
    elif response.status_code == 409:
        text += (
            "\nThe org already holds other events under these ids (another version of the "
            "demo data?): use another --org."
        )
    return text


async def post_events(
    client: httpx.AsyncClient,
    events: Sequence[Event],
    token: str,
    *,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> DemoResult:
    """POST `events` to `{client.base_url}/v1/events/batch` in order, `batch_size` at a time.

    Raises DemoError when activity cannot be reached or refuses a batch (nothing of that batch
    is stored; the batches before it are).
    """
    if not 1 <= batch_size <= BATCH_SIZE:
        raise ValueError(f"batch_size must be 1–{BATCH_SIZE}")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    created = duplicates = batches = 0
    started = time.perf_counter()
    for batch in chunks(events, batch_size):
        body = orjson.dumps({"events": list(batch)})
        for attempt in range(RETRIES + 1):
            try:
                response = await client.post("/v1/events/batch", content=body, headers=headers)
            except httpx.ConnectError as exc:
                raise DemoError(
                    f"Cannot reach activity at {client.base_url} ({exc}). Is `make run` running?"
                ) from exc
            except httpx.TransportError as exc:
                raise DemoError(
                    f"Activity at {client.base_url} did not answer batch {batches + 1} "
                    f"({type(exc).__name__}: {exc}). Running the demo again is safe: "
                    "what is stored already is not stored twice."
                ) from exc
            if response.status_code != 503 or attempt == RETRIES:
                break
            await asyncio.sleep(0.25 * 2**attempt)  # the same event_ids: a retry is safe
        if response.status_code not in (200, 201):
            raise DemoError(f"Batch {batches + 1} was refused: {_problem(response)}")
        answer = response.json()
        created += int(answer["created"])
        duplicates += int(answer["duplicates"])
        batches += 1
        if on_batch is not None:
            on_batch(len(batch))
    return DemoResult(
        posted=len(events),
        created=created,
        duplicates=duplicates,
        batches=batches,
        seconds=time.perf_counter() - started,
        types=dict(Counter(e["type"] for e in events).most_common()),
    )


async def run_demo(
    *,
    url: str | None = None,
    org: str = "demo",
    seed: int = 7,
    scale: float = 1.0,
    start: date = date(2026, 7, 1),
    days: int = 92,
    secret: str | None = None,
    batch_size: int = BATCH_SIZE,
    client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    console: Console | None = None,
) -> DemoResult:
    """Generate the quarter and post it to activity as an admin of `org`.

    The token is signed with the configured current key (`SALESPERF_JWT_KID`'s, else the secret:
    `shared.auth.mint_token`), or with `secret` when given. Pass `client` (its base_url
    is used, not `url`) or `transport` to talk to an in-process app; `console` shows a progress
    bar on it.
    """
    events = generate(seed=seed, start=start, days=days, scale=scale)
    if secret is None:
        token = mint_token(CommonSettings(), org=org, role=Role.ADMIN, sub="demo")
    else:
        token = issue_token(secret, org=org, role=Role.ADMIN, sub="demo")

    async def post(http: httpx.AsyncClient) -> DemoResult:
        if console is None:
            return await post_events(http, events, token, batch_size=batch_size)
        with Progress(
            TextColumn("[bold]posting[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("posting", total=len(events))
            return await post_events(
                http,
                events,
                token,
                batch_size=batch_size,
                on_batch=lambda n: progress.advance(task, n),
            )

    if client is not None:
        return await post(client)
    url = url or activity_url()
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=TIMEOUT) as own:
        return await post(own)
