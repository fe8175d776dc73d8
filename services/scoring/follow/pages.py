"""Applying a page of an org's feed: fold it with the pure fold (the same `fold_in` and
`finish` a replay folds with: projections/rollup.py) over the entities it touches, then write
the changed entities, the rollup deltas, the wins and the new cursor **in one transaction**, the
cursor by compare-and-set: a page is applied once, whatever crashes or which replica believed
it led.

A page holding voids takes them back out in the same transaction (`corrections.py`): the slice
of the log about the voided event's customer (or lead) is folded with and without it, and the
difference is written with the page, so a correction costs that customer's history, not the
org's; a slice past `correction_events` asks for a rebuild instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import asyncpg

from shared.clients.activity import ActivityClient

from .. import repository
from ..config import ScoringSettings
from ..projections import leads
from ..projections.kpis import Book, Event
from ..projections.rollup import FactSums, Replay, expand, finish, first_currency, fold_in
from . import corrections
from .corrections import Correction
from .entity_cache import EntityCache
from .scorer import Scorer, outcome_change
from .upkeep import Upkeep
from .voids_ahead import VOID


class Applied(NamedTuple):
    folded: int
    skipped: dict[str, int]
    outcomes: int  # leads and deals the page closed
    voided: int = 0  # events its voids took out


@dataclass(slots=True)
class Folded:
    """A page folded, not yet written: what `Pages.write` stores."""

    org: str
    generation: int
    timezone: str
    page: dict[str, Any]
    changed: dict[tuple[str, str], Any]  # the entities it changed, as it left them
    sums: FactSums
    wins: list[Any]
    folded: int
    skipped: dict[str, int]
    currency: str | None
    before: dict[str, Any]  # its prospects as they were before it
    # Prospects and customers its correction deleted.
    removed: tuple[set[str], set[str]] = field(default_factory=lambda: (set(), set()))

    @property
    def prospects(self) -> dict[str, Any]:
        return {key: v for (kind, key), v in self.changed.items() if kind == "prospects"}

    @property
    def customers(self) -> dict[str, Any]:
        return {key: v for (kind, key), v in self.changed.items() if kind == "customers"}


@dataclass(frozen=True, slots=True)
class Gathered:
    """A page's correction slice, read ahead (`events` None: too large, rebuild instead)."""

    events: list[Event] | None


class Fenced(Exception):
    """The org's cursor or generation moved under us: start that org over from the database."""


def has_voids(page: dict[str, Any]) -> bool:
    return any(e["type"] == VOID for e in page["items"])


def _merge(folded: Folded, fix: Correction) -> None:
    """Fold a correction into its page: the slice's entity states replace the page's (they
    are what the log says once its voids are taken out), its sums and counts add up."""
    # What the page did not touch was, before it, as the log had it with the old voids (the
    # page's own entities were loaded before it, or are new).
    for stream, prospect in fix.prior.items():
        if ("prospects", stream) not in folded.changed:
            folded.before.setdefault(stream, prospect)
    for entity in fix.removed:
        folded.changed.pop(entity, None)
    folded.changed.update(fix.entities)
    folded.removed = (fix.prospects_removed(), fix.customers_removed())
    for fact, value in fix.sums.items():
        folded.sums[fact] = folded.sums.get(fact, 0) + value
    folded.folded += fix.folded
    skipped = dict(folded.skipped)
    for kind, change in fix.skipped.items():
        skipped[kind] = skipped.get(kind, 0) + change
    folded.skipped = skipped


def _keys_of(event: dict[str, Any]) -> set[tuple[str, str]]:
    """The entities a fold of `event` may read or write (more are found from those)."""
    keys: set[tuple[str, str]] = set()
    stream: str = event["stream"]
    data = event["data"]
    if stream.startswith("lead-"):
        keys.add(("leads", stream))
    elif stream.startswith("deal-"):
        keys.add(("deals", stream))
    else:
        keys.add(("accounts", stream.removeprefix("account-")))
    if data.get("account_id"):
        keys.add(("accounts", data["account_id"]))
    if data.get("lead_id"):
        keys.add(("leads", f"lead-{data['lead_id']}"))
    if data.get("deal_id"):
        keys.add(("deals", f"deal-{data['deal_id']}"))
    if data.get("invoice_id"):
        keys.add(("invoices", data["invoice_id"]))
    keys |= {("prospects", key) for key in leads.keys_read(event, {})}
    keys |= {("customers", account) for kind, account in keys if kind == "accounts"}
    return keys


def _derived_keys(entities: dict[tuple[str, str], Any]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for (kind, _), value in entities.items():
        if kind in ("leads", "deals") and value.account_id:
            keys.add(("accounts", value.account_id))
            keys.add(("customers", value.account_id))
        if kind == "deals":
            # A deal not opened yet keeps its events until the opening folds them: the account
            # a pending `deal.account_linked` names is written then, so it is read now.
            for pending in value.pending:
                if account := pending.data.get("account_id"):
                    keys.add(("accounts", account))
                    keys.add(("customers", account))
        if kind == "invoices" and value.deal:
            keys.add(("deals", value.deal))
        if kind == "prospects" and value.lead:
            keys.add(("prospects", value.lead))
    return keys


class Pages:
    """Folds and writes pages of the orgs this replica follows (and of a rebuild catching up)."""

    def __init__(
        self, settings: ScoringSettings, pool: asyncpg.Pool, scorer: Scorer, upkeep: Upkeep
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._scorer = scorer
        self._upkeep = upkeep

    async def apply(
        self,
        org: str,
        page: dict[str, Any],
        *,
        expected: str | None,
        generation: int | None = None,
        defer_scores: bool = False,
        client: ActivityClient | None = None,
        gathered: Gathered | None = None,
        cache: EntityCache | None = None,
    ) -> Applied:
        """Fold one page and write its effects and the new cursor in one transaction.

        Without `generation`, into the live generation (moving `cursor`); with it, into a
        rebuild's generation catching up (moving `next_cursor`). A page holding voids is
        folded as usual (a void has no facts of its own), then corrected in the same
        transaction (`corrections.py`: the slice of the log about the voided events, read
        from activity with `client` before the transaction, unless `gathered` already); without
        either, or when the slice is too large, it flags the org for a rebuild instead, which
        takes them out. With `cache` (a follower that is behind), the fold reads and leaves
        its entities there.
        `defer_scores` (live only): leave the changed leads, deals and accounts unscored, kept
        in `Upkeep.unscored` for `Upkeep.score_left`; the scored position stays where it is."""
        live = generation is None
        if gathered is None and client is not None and has_voids(page):
            gathered = Gathered(await self.slice(client, page))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await repository.lock_org(conn, org)
            assert row is not None
            await repository.plan_for_this_page(conn)
            target: int = row["generation"] if generation is None else generation
            folded = await self.fold(conn, org, target, row["timezone"], page, cache=cache)
            fix = None
            if gathered is not None and gathered.events is not None:
                since = page["items"][0]["position"]
                fix = corrections.correct(gathered.events, ZoneInfo(row["timezone"]), since=since)
                if cache is not None:  # committed before the next page is folded
                    cache.put(fix.entities)
                    cache.drop(fix.removed)
            applied = await self.write(
                conn,
                row,
                folded,
                expected=expected,
                live=live,
                defer=defer_scores and live,
                fix=fix,
            )
        if cache is not None:
            cache.trim(in_flight=())
        if defer_scores and live:
            self._left_unscored(folded)
        return applied

    async def slice(self, client: ActivityClient, page: dict[str, Any]) -> list[Event] | None:
        """The slice of the log the page's voids are about, up to the page's end (None: more
        than `correction_events` events; the org is rebuilt instead)."""

        def fetch(about: list[str]) -> AsyncIterator[dict[str, Any]]:
            async def events() -> AsyncIterator[dict[str, Any]]:
                cursor = None
                while True:
                    found = await client.raw_page(
                        cursor, limit=self._settings.page_size, about=about
                    )
                    for event in found["items"]:
                        yield event
                    if not found["has_more"]:
                        return
                    cursor = found["next"]

            return events()

        items = page["items"]
        return await corrections.gather(
            fetch,
            corrections.seeds(e for e in items if e["type"] == VOID),
            until=items[-1]["position"],
            cap=self._settings.correction_events,
        )

    async def apply_ahead(
        self,
        org: str,
        page: dict[str, Any],
        *,
        expected: str | None,
        defer_scores: bool,
        cache: EntityCache,
        writing: asyncio.Task[Applied] | None,
    ) -> asyncio.Task[Applied]:
        """While behind: fold `page` (into the live generation) while the page before it is
        still being written (`writing`), then write it in a task of its own, so that the
        next page is fetched and folded while PostgreSQL writes this one. The fold sees the
        entities as the page in flight left them (`cache`); pages commit in order (this one's
        write starts once that one's has committed), each with the cursor by compare-and-set:
        if one fails, the ones after it are never written, and the follower starts over."""
        async with self._pool.acquire() as conn:
            row = await repository.get_org(conn, org)
            assert row is not None
            async with conn.transaction(readonly=True):
                await repository.plan_for_this_page(conn)
                folded = await self.fold(
                    conn, org, row["generation"], row["timezone"], page, cache=cache
                )
        if writing is not None:
            await writing  # raises what failed it: nothing after it is written
        cache.trim(in_flight=folded.changed.keys())

        async def write() -> Applied:
            async with self._pool.acquire() as conn, conn.transaction():
                now = await repository.lock_org(conn, org)
                assert now is not None
                if (now["generation"], now["timezone"]) != (folded.generation, folded.timezone):
                    raise Fenced(org)  # swapped or re-zoned since: fold it again
                await repository.plan_for_this_page(conn)
                applied = await self.write(
                    conn, now, folded, expected=expected, live=True, defer=defer_scores
                )
            if defer_scores:
                self._left_unscored(folded)
            return applied

        return asyncio.create_task(write(), name=f"write-{org}")

    async def fold(
        self,
        conn: asyncpg.Connection,
        org: str,
        generation: int,
        timezone: str,
        page: dict[str, Any],
        *,
        cache: EntityCache | None = None,
    ) -> Folded:
        """Fold a page over the entities it touches (from `cache`, else the database)."""
        items: list[dict[str, Any]] = page["items"]
        book = Book(ZoneInfo(timezone))
        entities = await self._load(conn, org, generation, items, cache)
        for (kind, key), value in entities.items():
            getattr(book, kind)[key] = value
        result = Replay(book)
        fold_in(result, items)
        changed = {(k, key): getattr(book, k)[key] for k, key in book.changed}
        finish(result)
        if cache is not None:
            cache.put(changed)
        return Folded(
            org=org,
            generation=generation,
            timezone=timezone,
            page=page,
            changed=changed,
            sums=result.sums,
            wins=result.wins,
            folded=result.folded,
            skipped=dict(result.skipped),
            currency=first_currency(result.sums),
            before={key: v for (k, key), v in entities.items() if k == "prospects"},
        )

    async def write(
        self,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        folded: Folded,
        *,
        expected: str | None,
        live: bool,
        defer: bool,
        fix: Correction | None = None,
    ) -> Applied:
        """Write a folded page's effects, and its voids' correction, and move the cursor (the
        caller's transaction). A page with voids but no correction asks for a rebuild."""
        org, target, items = folded.org, folded.generation, folded.page["items"]
        voids = fix is None and has_voids(folded.page)
        if fix is not None:
            _merge(folded, fix)
        prospects = folded.prospects
        judged = None
        if not defer:  # scored in a thread while the page's other effects are written
            judged = await self._scorer.judge_page(
                conn, org, row, prospects, folded.customers.values()
            )
        try:
            await repository.save_entities(conn, org, target, folded.changed)
            await repository.add_rollups(conn, org, target, expand(folded.sums))
            await repository.add_wins(conn, org, target, folded.wins)
            if fix is not None:
                await _write_correction(conn, org, target, fix)
        except BaseException:
            if judged is not None:
                judged.cancel()  # nobody will read it
            raise
        if judged is not None:
            await self._scorer.save_page(conn, org, target, judged, prospects)
        outcomes = outcome_change(prospects, folded.before, removed=folded.removed[0])
        if live:  # a rebuild counts its own, and sets them when it swaps
            await repository.add_outcomes(conn, org, outcomes)
            moved = await repository.advance(
                conn,
                org,
                generation=target,
                expected_cursor=expected,
                cursor=folded.page["next"],
                position=items[-1]["position"],
                last_recorded_at=datetime.fromisoformat(items[-1]["recorded_at"]),
                folded=folded.folded,
                skipped=folded.skipped,
                currency=folded.currency,
                voids=voids,
                scored=not defer,
                voided=fix.voided if fix else 0,
            )
        else:
            moved = await repository.advance_next(
                conn,
                org,
                generation=target,
                expected_cursor=expected,
                cursor=folded.page["next"],
                voids=voids,
            )
        if not moved:  # another writer moved the cursor: nothing of this page is kept
            raise Fenced(org)
        return Applied(folded.folded, folded.skipped, outcomes, fix.voided if fix else 0)

    def _left_unscored(self, folded: Folded) -> None:
        self._upkeep.leave(
            folded.org, folded.generation, folded.prospects, folded.customers, folded.removed
        )

    async def _load(
        self,
        conn: asyncpg.Connection,
        org: str,
        generation: int,
        items: Iterable[dict[str, Any]],
        cache: EntityCache | None = None,
    ) -> dict[tuple[str, str], Any]:
        wanted: set[tuple[str, str]] = set()
        for event in items:
            wanted |= _keys_of(event)
        entities: dict[tuple[str, str], Any] = {}
        for _ in range(3):  # invoices → deals → accounts
            missing = wanted - entities.keys()
            if not missing:
                break
            if cache is not None:
                entities |= cache.take(generation, missing)
                missing -= entities.keys()
            if missing:
                entities |= await repository.load_entities(conn, org, generation, missing)
            wanted |= _derived_keys(entities)
        return entities


async def _write_correction(
    conn: asyncpg.Connection, org: str, generation: int, fix: Correction
) -> None:
    """What a correction changes beyond the page's own writes (its sums and entity states
    went with the page's): entities left with nothing, rollup rows it brought to zero,
    the wins of its deals, and the scores and health of what is gone."""
    await repository.delete_entities(conn, org, generation, fix.removed)
    await repository.drop_zero_rollups(conn, org, generation, expand(fix.sums).keys())
    await repository.replace_wins(conn, org, generation, fix.deals, fix.wins)
    await repository.save_scores(conn, org, generation, [], fix.prospects_removed())
    await repository.delete_health(conn, org, generation, fix.customers_removed())
