"""Scoring's use cases: check who may ask, pick the source (stored or replayed), build the
report. Routers call one function here."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from shared.auth import Principal, Role
from shared.contracts.scoring import FunnelReading
from shared.money import CURRENCIES
from shared.pagination import bad_cursor, decode_keyset, encode_keyset
from shared.timezones import parse_timezone

from .. import repository
from ..dependencies import Runtime
from ..domain import (
    CATALOGUE,
    Kind,
    Owner,
    OwnerKind,
    Period,
    buckets,
    default_owner,
    derive,
    parse_owner,
    period_end,
    period_start,
    stored_parts,
    team_filter,
)
from ..exceptions import (
    AdminOnly,
    AsOfBeforeFirstEvent,
    ExportNotAllowed,
    LeaderboardForManagers,
    NotRankable,
    RangeReversed,
    ScopeNotTeamOrOrg,
    UnknownCurrency,
)
from ..follow.replayer import Replayed, replay_org
from . import reports
from .sources import Cuts, MemorySource, Scope, Source


@dataclass(frozen=True, slots=True)
class OrgView:
    """What a read needs to know of the org: the live generation and how to present it."""

    generation: int
    timezone: ZoneInfo
    currency: str
    position: int
    last_recorded_at: datetime | None
    scored: tuple[Any, ...] = ()  # the day, models and position its scores and health are for
    # How far its lead scores and customer health go (behind `position` while a follower that
    # is behind the feed leaves scoring until it has caught up: follow/follower.py).
    scored_position: int = 0
    scored_recorded_at: datetime | None = None
    roster_version: int = 0  # of the copy of goals' roster (0: none; rosters.py)


async def org_view(runtime: Runtime, org: str) -> OrgView:
    row = await runtime.org_rows.get(org)
    settings = runtime.settings
    if row is None:
        return OrgView(1, ZoneInfo(settings.default_timezone), settings.default_currency, 0, None)
    return OrgView(
        row["generation"],
        ZoneInfo(row["timezone"]),
        row["currency"] or settings.default_currency,
        row["position"],
        row["last_recorded_at"],
        (row["scored_on"], row["scored_models"], row["scored_position"]),
        row["scored_position"],
        row["scored_recorded_at"],
        row["roster_version"],
    )


def _standing(org: OrgView) -> tuple[Any, ...]:
    """Everything besides the question that an answer from the stored projection depends on:
    where the org stands, how it presents itself, and its today (for default ranges). Not the
    day and models its scores were made for: a rescore moves no KPI (see `_at`)."""
    return (
        org.generation,
        org.position,
        org.timezone.key,
        org.currency,
        _today(org),
        org.roster_version,
    )


async def standing(runtime: Runtime, org_id: str) -> tuple[Any, ...]:
    return _standing(await org_view(runtime, org_id))


def _at(
    org_id: str, org: OrgView, question: tuple[Any, ...], *, scores: bool = False
) -> tuple[Any, ...]:
    """The key of a stored-projection answer: the question, and where the org stands (with
    `scores`, also the day and models its stored scores were made for)."""
    return (org_id, *_standing(org), *((org.scored,) if scores else ()), *question)


def _currency(value: str | None, org: OrgView) -> str:
    if value is None:
        return org.currency
    if value not in CURRENCIES:
        raise UnknownCurrency(value, "query")
    return value


def _today(org: OrgView) -> date:
    return datetime.now(UTC).astimezone(org.timezone).date()


def _range(
    period: Period, first: date | None, last: date | None, org: OrgView
) -> tuple[date, date]:
    if first is None and last is None:
        start = period_start(period, _today(org))
        return start, period_end(period, start)
    if first is None:
        assert last is not None
        return period_start(period, last), last
    if last is None:
        return first, period_end(period, period_start(period, first))
    return first, last


async def replayed_as_of(
    runtime: Runtime, principal: Principal, org: OrgView, as_of: datetime
) -> Replayed:
    """The org's log as recorded up to `as_of` ("what did we know then"), replayed; refused,
    naming `as_of`, when the org had recorded nothing by then but has since (zeros would pass
    for an answer). An org with no events at all answers as it would without `as_of`."""

    async def replay() -> Replayed:
        with runtime.feed(principal.org) as client:
            return await replay_org(client, org.timezone, until=as_of)

    key = (principal.org, str(org.timezone), as_of)
    replayed = await runtime.replays.get(key, replay)
    if replayed.cursor is None:
        with runtime.feed(principal.org) as client:
            first = (await client.page(limit=1)).items
        if first:
            raise AsOfBeforeFirstEvent(as_of, first[0].recorded_at)
    return replayed


def _stored(runtime: Runtime, principal: Principal, org: OrgView) -> repository.SqlSource:
    """The stored projection of the org's live generation (teams by its roster, if any)."""
    return repository.SqlSource(
        runtime.pool, principal.org, org.generation, roster=org.roster_version > 0
    )


async def _source(
    runtime: Runtime, principal: Principal, org: OrgView, as_of: datetime | None
) -> tuple[Source, dict[str, Any]]:
    """The stored projection, or for `as_of` a replay of the log as it stood then."""
    if as_of is None:
        freshness = {
            "position": org.position,
            "recorded_at": org.last_recorded_at.isoformat() if org.last_recorded_at else None,
        }
        return _stored(runtime, principal, org), freshness
    replayed = await replayed_as_of(runtime, principal, org, as_of)
    result = replayed.replay
    freshness = {
        "position": replayed.position,
        "recorded_at": replayed.last_recorded_at.isoformat() if replayed.last_recorded_at else None,
    }
    return MemorySource(replayed.rollups(), result.wins), freshness


async def kpis(
    runtime: Runtime,
    principal: Principal,
    *,
    owner: str | None,
    period: Period | None,
    first: date | None,
    last: date | None,
    metrics: Sequence[str],
    cuts: Cuts,
    currency: str | None,
    as_of: datetime | None,
) -> dict[str, Any]:
    """The buckets of `period` overlapping `first`..`last`; with no period, one bucket from
    `first` to `last` exactly (`GET /v1/kpis/total`, both given)."""
    who = parse_owner(owner) if owner else default_owner(principal)
    team = team_filter(principal, who)
    org = await org_view(runtime, principal.org)
    cur = _currency(currency, org)
    if period is None:
        assert first is not None  # both required by the route
        assert last is not None
        if last < first:
            raise RangeReversed()
    else:
        first, last = _range(period, first, last, org)
        bucket_list = buckets(period, first, last)
    source, freshness = await _source(runtime, principal, org, as_of)
    scope = Scope(who, team, cuts)
    if period is None:
        rows = [await reports.kpi_range(source, scope, first, last, metrics, cur)]
    else:
        rows = await reports.kpi_buckets(source, scope, period, bucket_list, metrics, cur)
    # Kept in memory by the caller, the /v1/kpis route (router.kpis_direct), as rendered bytes.
    return {
        "owner": str(who),
        "period": period.value if period else "range",
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": org.timezone.key,
        "currency": cur,
        "filters": cuts.as_dict(),
        "as_of": as_of.isoformat() if as_of else None,
        "up_to": freshness,
        "buckets": rows,
    }


async def _cohorts(
    runtime: Runtime,
    principal: Principal,
    org: OrgView,
    scope: Scope,
    first: date,
    last: date,
    as_of: datetime | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cohort funnel from the stored lead and deal states, or for `as_of` from those of a
    replay of the log as it stood then; and how far they go."""
    if as_of is not None:
        replayed = await replayed_as_of(runtime, principal, org, as_of)
        book = replayed.replay.book
        tiers = {key: account.tier for key, account in book.accounts.items()}
        report = reports.cohort_funnel(
            book.leads, book.deals.values(), tiers, scope, first, last, org.timezone
        )
        recorded = replayed.last_recorded_at
        freshness = {
            "position": replayed.position,
            "recorded_at": recorded.isoformat() if recorded else None,
        }
        return report, freshness
    start = datetime.combine(first, time(), org.timezone)
    end = datetime.combine(last + timedelta(days=1), time(), org.timezone)
    async with runtime.pool.acquire() as conn:
        leads, deals, tiers = await repository.funnel_cohorts(
            conn, principal.org, org.generation, start, end, tiers=scope.cuts.tier is not None
        )
    report = reports.cohort_funnel(leads, deals, tiers, scope, first, last, org.timezone)
    freshness = {
        "position": org.position,
        "recorded_at": org.last_recorded_at.isoformat() if org.last_recorded_at else None,
    }
    return report, freshness


async def funnel(
    runtime: Runtime,
    principal: Principal,
    *,
    owner: str | None,
    first: date | None,
    last: date | None,
    cuts: Cuts,
    as_of: datetime | None,
    reading: FunnelReading = FunnelReading.PERIOD,
) -> dict[str, Any]:
    who = parse_owner(owner) if owner else default_owner(principal)
    team = team_filter(principal, who)
    org = await org_view(runtime, principal.org)
    first, last = _range(Period.MONTH, first, last, org)
    if last < first:
        buckets(Period.DAY, first, last)  # raises, naming `to`

    async def compute() -> dict[str, Any]:
        scope = Scope(who, team, cuts)
        if reading is FunnelReading.COHORT:
            report, freshness = await _cohorts(runtime, principal, org, scope, first, last, as_of)
        else:
            source, freshness = await _source(runtime, principal, org, as_of)
            report = await reports.funnel(source, scope, first, last)
        return {
            "owner": str(who),
            "reading": reading.value,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "timezone": org.timezone.key,
            "filters": cuts.as_dict(),
            "as_of": as_of.isoformat() if as_of else None,
            "up_to": freshness,
            **report,
        }

    if as_of is not None:
        return await compute()
    question = ("funnel", reading, who, team, first, last, cuts)
    report: dict[str, Any] = await runtime.answers.get(_at(principal.org, org, question), compute)
    return report


LEADERBOARD_KINDS = (
    Kind.COUNT,
    Kind.MONEY,
    Kind.RATE,
    Kind.MONEY_RATE,
    Kind.AVERAGE_MONEY,
    Kind.AVERAGE_DAYS,
    Kind.AVERAGE_ELAPSED_DAYS,
)


def _sort_value(value: dict[str, Any]) -> float:
    v = value["value"]
    return float(v) if v is not None else float("-inf")


async def leaderboard(
    runtime: Runtime,
    principal: Principal,
    *,
    metric: str,
    period: Period,
    at: date | None,
    scope: str | None,
    currency: str | None,
) -> dict[str, Any]:
    if principal.role is Role.REP:
        raise LeaderboardForManagers()
    if CATALOGUE[metric].kind not in LEADERBOARD_KINDS:
        raise NotRankable(metric)
    where = parse_owner(scope, "scope") if scope else default_owner(principal)
    if where.kind is OwnerKind.REP:
        raise ScopeNotTeamOrOrg()
    team_filter(principal, where)
    org = await org_view(runtime, principal.org)
    cur = _currency(currency, org)
    day = at or _today(org)
    start = period_start(period, day)
    end = period_end(period, start)
    team = where.id if where.kind is OwnerKind.TEAM else None

    async def compute() -> dict[str, Any]:
        source = _stored(runtime, principal, org)
        sums: dict[str, dict[tuple[str, str], Any]] = defaultdict(lambda: defaultdict(int))
        for rep, stored, cur_, value in await source.by_rep(
            period.grain, start, end, stored_parts([metric]), team
        ):
            sums[rep][(stored, cur_)] += value
        for rep in await source.members(start, end, team):  # a silent member ranks at zero
            sums.setdefault(rep, defaultdict(int))
        ranked = sorted(
            ((rep, derive(metric, s, cur)) for rep, s in sums.items()),
            key=lambda item: (-_sort_value(item[1]), item[0]),
        )
        items, rank, previous = [], 0, None
        for n, (rep, value) in enumerate(ranked, start=1):
            if value["value"] != previous:
                rank, previous = n, value["value"]
            items.append({"rank": rank, "rep_id": rep, **value})
        return {
            "metric": metric,
            "period": period.value,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "scope": str(where),
            "currency": cur,
            "items": items,
        }

    question = ("leaderboard", metric, period, start, where, cur)
    report: dict[str, Any] = await runtime.answers.get(_at(principal.org, org, question), compute)
    return report


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = (
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
)


def encode_export_cursor(row: asyncpg.Record, org: str) -> str:
    """The keyset of the last row handed out: its series and day (`repository.export_page`)."""
    return encode_keyset("k2", [str(row["series_id"]), row["bucket"].isoformat()], org)


def decode_export_cursor(cursor: str | None, org: str) -> tuple[int, date] | None:
    if not cursor:
        return None
    series, day = decode_keyset("k2", cursor, 2, org)
    try:
        if not re.fullmatch(r"-?\d{1,19}", series) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            raise ValueError(cursor)
        if not -(2**63) <= int(series) < 2**63:  # a series id is a bigint
            raise ValueError(series)
        return int(series), date.fromisoformat(day)
    except ValueError as exc:
        raise bad_cursor() from exc


def export_rows_as_dicts(org_id: str, rows: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    return [
        {
            "org_id": org_id,
            "day": r["bucket"].isoformat(),
            "rep_id": r["rep_id"],
            "team_id": r["team_id"],
            "product_line": r["product_line"],
            "tier": r["tier"],
            "channel": r["channel"],
            "currency": r["currency"],
            "metric": r["metric"],
            "value": format(r["value"], "f"),
        }
        for r in rows
    ]


async def export_page(
    runtime: Runtime, principal: Principal, *, cursor: str | None, limit: int, owner: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    if principal.role not in (Role.ADMIN, Role.BI, Role.SERVICE):
        raise ExportNotAllowed()
    after = decode_export_cursor(cursor, principal.org)
    who = parse_owner(owner) if owner else Owner(OwnerKind.ORG)
    rep = who.id if who.kind is OwnerKind.REP else None
    team = who.id if who.kind is OwnerKind.TEAM else None
    org = await org_view(runtime, principal.org)
    async with runtime.pool.acquire() as conn:
        rows = await repository.export_page(
            conn, principal.org, org.generation, after, limit + 1, rep, team
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_export_cursor(rows[-1], principal.org) if more else None
    return export_rows_as_dicts(principal.org, rows), next_cursor


# --------------------------------------------------------------------------- settings, rebuild


def _org_settings(row: asyncpg.Record | None, runtime: Runtime) -> dict[str, Any]:
    if row is None:
        return {"timezone": runtime.settings.default_timezone, "currency": None}
    return {"timezone": row["timezone"], "currency": row["currency"]}


async def get_settings(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        return _org_settings(await repository.get_org(conn, principal.org), runtime)


async def put_settings(
    runtime: Runtime, principal: Principal, timezone: str, currency: str | None
) -> dict[str, Any]:
    if principal.role is not Role.ADMIN:
        raise AdminOnly("changes the org's settings")
    parse_timezone(timezone)
    if currency is not None and currency not in CURRENCIES:
        raise UnknownCurrency(currency)
    async with runtime.pool.acquire() as conn, conn.transaction():
        before = await repository.get_org(conn, principal.org)
        old_tz = before["timezone"] if before else runtime.settings.default_timezone
        # Days are bucketed in the org's timezone: a new one means re-bucketing every event.
        row = await repository.update_settings(
            conn,
            principal.org,
            timezone,
            currency,
            rebuild=timezone != old_tz and before is not None,
        )
    runtime.org_rows.forget(principal.org)  # read-your-writes here; other replicas are told
    return {**_org_settings(row, runtime), "rebuilding": row["rebuild_requested"]}


async def request_rebuild(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    if principal.role is not Role.ADMIN:
        raise AdminOnly("rebuilds the org's projections")
    async with runtime.pool.acquire() as conn:
        row = await repository.request_rebuild(
            conn, principal.org, runtime.settings.default_timezone
        )
    runtime.org_rows.forget(principal.org)
    return _rebuild_status(row)


async def rebuild_status(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    if principal.role not in (Role.ADMIN, Role.SERVICE):
        raise AdminOnly("follows a rebuild")
    async with runtime.pool.acquire() as conn:
        row = await repository.get_org(conn, principal.org)
    return _rebuild_status(row)


def _rebuild_status(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {"state": "idle", "generation": 1, "done": 0, "total": 0}
    progress = orjson.loads(row["rebuild"]) if row["rebuild"] else {"state": "idle"}
    if row["rebuild_asked"] or (row["rebuild_requested"] and progress.get("state") != "running"):
        progress = {"state": "requested"}  # asked for (or a void came in), not started yet
    return {"generation": row["generation"], "done": 0, "total": 0, **progress}
