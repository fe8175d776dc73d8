"""Scoring's "what to do next" use cases: lead and deal priority, one score, the models behind
them, training on demand, the backtest and the scores' export. Routers call one function here.

Stored answers come from `scoring.scores` (kept by the consumer, see follow/scorer.py); an `as_of`
answer replays the org's log as it stood then and scores it with the model that was active then
(the prior before the first one), for the org-local day of `as_of`.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import orjson

from shared.auth import Principal, Role
from shared.pagination import bad_cursor, decode_keyset, encode_keyset

from .. import jobs, repository
from ..dependencies import Runtime
from ..domain import OwnerKind, default_owner, parse_owner, team_filter
from ..exceptions import (
    AdminOnly,
    BacktestNotAllowed,
    ExportNotAllowed,
    ForeignCursor,
    ModelsNotAllowed,
    NothingFolded,
    ProspectNotFound,
)
from ..follow.scorer import model_record, today
from ..priority import scores, training
from ..priority.scores import ActiveModel
from .service import OrgView, _at, org_view, replayed_as_of

PRIORITY_CURSOR = "p1"
EXPORT_CURSOR = "s1"


def _freshness(org: OrgView) -> dict[str, Any]:
    return {
        "position": org.position,
        "recorded_at": org.last_recorded_at.isoformat() if org.last_recorded_at else None,
    }


def _scored_freshness(org: OrgView) -> dict[str, Any]:
    """How far the stored scores and health go (never past the projection's position)."""
    recorded = org.scored_recorded_at
    return {
        "position": org.scored_position,
        "recorded_at": recorded.isoformat() if recorded else None,
    }


def _who(principal: Principal, owner: str | None) -> tuple[str | None, str | None]:
    """The rep and team a caller's question is limited to (None: any)."""
    who = parse_owner(owner) if owner else default_owner(principal)
    limit = team_filter(principal, who)
    if who.kind is OwnerKind.REP:
        return who.id, limit
    if who.kind is OwnerKind.TEAM:
        return None, who.id
    return None, None


def _visible(principal: Principal, rep_id: str, team_id: str) -> bool:
    """May the caller see a lead or deal of this rep and team? (Refused as 404: not yours.)"""
    if principal.role is Role.REP:
        return rep_id == principal.sub
    if principal.role is Role.MANAGER:
        return bool(principal.team) and team_id == principal.team
    return True


def _decode_after(cursor: str | None, kind: str, org: str) -> tuple[int, str] | None:
    """The (score, id) a page of `kind` continues after; a cursor of another list (or of the
    other kind) is refused rather than read as a place in this one."""
    if not cursor:
        return None
    cursor_kind, score_text, key = decode_keyset(PRIORITY_CURSOR, cursor, 3, org)
    if (
        cursor_kind != kind
        or not (score_text.isascii() and score_text.isdigit())
        or int(score_text) > 100
        or not key.startswith(f"{kind}-")
    ):
        raise ForeignCursor()
    return int(score_text), key


# --------------------------------------------------------------------------- as_of


async def _models_as_of(runtime: Runtime, org_id: str, as_of: datetime) -> dict[str, ActiveModel]:
    out: dict[str, ActiveModel] = {}
    async with runtime.pool.acquire() as conn:
        for kind in scores.KINDS:
            record = await repository.model_as_of(conn, org_id, kind, as_of)
            out[kind] = model_record(record) if record else scores.default_model(kind)
    return out


async def _replayed(
    runtime: Runtime, principal: Principal, org: OrgView, as_of: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any], date]:
    """Every open lead's and deal's score as the log stood at `as_of` (rendered, unsorted)."""
    replayed = await replayed_as_of(runtime, principal, org, as_of)
    models = await _models_as_of(runtime, principal.org, as_of)
    day = as_of.astimezone(org.timezone).date()
    scorer = runtime.consumer.scorer
    rows, _ = await asyncio.to_thread(
        scores.scores_for,
        list(replayed.replay.book.prospects.values()),
        models,
        day,
        org.timezone,
        rules=scorer.rules,
        feature_rules=scorer.features,
    )
    freshness = {
        "position": replayed.position,
        "recorded_at": replayed.last_recorded_at.isoformat() if replayed.last_recorded_at else None,
    }
    return [scores.render(r.doc, day) for r in rows], freshness, day


# --------------------------------------------------------------------------- priority


async def priority(
    runtime: Runtime,
    principal: Principal,
    *,
    owner: str | None,
    kind: str,
    tier: str | None,
    cursor: str | None,
    limit: int,
    as_of: datetime | None,
) -> dict[str, Any]:
    rep, team = _who(principal, owner)
    after = _decode_after(cursor, kind, principal.org)
    org = await org_view(runtime, principal.org)
    if as_of is None:
        # Kept in memory while the org stands still (answers.py): the same question between
        # two events is answered without the database. The caller's limits (rep, team) are
        # in the key; who may ask was checked above.
        question = ("priority", kind, rep, team, tier, after, limit)

        async def stored() -> dict[str, Any]:
            async with runtime.pool.acquire() as conn:
                rows = await repository.priority_page(
                    conn,
                    principal.org,
                    org.generation,
                    kind=kind,
                    rep=rep,
                    team=team,
                    tier=tier,
                    after=after,
                    limit=limit + 1,
                )
            day = today(org.timezone)
            listed = [scores.listed(scores.render(r["doc"], day)) for r in rows]
            return _page(listed, kind, limit, None, _scored_freshness(org), principal.org)

        answer: dict[str, Any] = await runtime.answers.get(
            _at(principal.org, org, question, scores=True), stored
        )
        return answer
    else:
        everything, freshness, _ = await _replayed(runtime, principal, org, as_of)
        everything = [scores.listed(answer) for answer in everything]
        items = sorted(
            (
                s
                for s in everything
                if s["kind"] == kind
                and (rep is None or s["rep_id"] == rep)
                and (team is None or s["team_id"] == team)
                and (tier is None or s["tier"] == tier)
                and (after is None or (s["score"], _neg(s["id"])) < (after[0], _neg(after[1])))
            ),
            key=lambda s: (-s["score"], s["id"]),
        )[: limit + 1]
    return _page(items, kind, limit, as_of, freshness, principal.org)


def _page(
    items: list[dict[str, Any]],
    kind: str,
    limit: int,
    as_of: datetime | None,
    freshness: dict[str, Any],
    org_id: str,
) -> dict[str, Any]:
    """A page of scores (up to `limit` of `items`, which holds one more when there is more)."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = (
        encode_keyset(PRIORITY_CURSOR, [kind, str(items[-1]["score"]), items[-1]["id"]], org_id)
        if more
        else None
    )
    return {
        "items": items,
        "next": next_cursor,
        "has_more": more,
        "as_of": as_of.isoformat() if as_of else None,
        "up_to": freshness,
    }


class _neg(str):
    """A key that sorts backwards, so (score, key) tuples order as the list does (score
    descending, key ascending) with one comparison."""

    __slots__ = ()

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


async def score_of(
    runtime: Runtime, principal: Principal, key: str, *, as_of: datetime | None
) -> dict[str, Any]:
    org = await org_view(runtime, principal.org)
    if as_of is None:

        async def stored() -> tuple[str, str, dict[str, Any]] | None:
            async with runtime.pool.acquire() as conn:
                row = await repository.get_score(conn, principal.org, org.generation, key)
            if row is None:
                return None
            return row["rep_id"], row["team_id"], scores.render(row["doc"], today(org.timezone))

        found = await runtime.answers.get(
            _at(principal.org, org, ("score", key), scores=True), stored
        )
        if found is None or not _visible(principal, found[0], found[1]):
            raise ProspectNotFound(key)
        answer: dict[str, Any] = found[2]
        return answer
    everything, _, _ = await _replayed(runtime, principal, org, as_of)
    for answer in everything:
        if answer["id"] == key and _visible(
            principal, answer["rep_id"] or "", answer["team_id"] or ""
        ):
            return answer
    raise ProspectNotFound(key, as_of)


# --------------------------------------------------------------------------- models


def _admin(principal: Principal, what: str) -> None:
    if principal.role is not Role.ADMIN:
        raise AdminOnly(what)


def _model_info(record: Any, active: dict[str, int]) -> dict[str, Any]:
    return {
        "kind": record["kind"],
        "version": record["version"],
        "model_kind": record["model_kind"],
        "active": active.get(record["kind"]) == record["version"],
        "trained_at": record["trained_at"].isoformat(),
        "outcomes": record["outcomes"],
        "report": orjson.loads(record["report"]),
    }


async def list_models(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    if principal.role not in (Role.ADMIN, Role.MANAGER, Role.BI, Role.SERVICE):
        raise ModelsNotAllowed()
    async with runtime.pool.acquire() as conn:
        row = await repository.get_org(conn, principal.org)
        records = await repository.list_models(conn, principal.org)
    active = {k: row[f"{k}_model"] for k in scores.KINDS} if row else {}
    return {"items": [_model_info(r, active) for r in records]}


async def train(runtime: Runtime, principal: Principal) -> dict[str, Any]:
    """Train the org's lead and deal models now (in a worker thread), activate them and rescore
    the org; answers the new versions."""
    _admin(principal, "trains the org's models")
    async with runtime.pool.acquire() as conn:
        if await repository.get_org(conn, principal.org) is None:
            raise NothingFolded()
    scorer = runtime.consumer.scorer
    stored = await scorer.train_org(runtime.pool, principal.org)
    await scorer.rescore(runtime.pool, principal.org)
    runtime.org_rows.forget(principal.org)
    active = {r["kind"]: r["version"] for r in stored}
    return {"items": [_model_info(r, active) for r in stored]}


async def backtest(
    runtime: Runtime,
    principal: Principal,
    *,
    cutoff: datetime,
    horizon_days: int,
    known_by: str = training.RECORDED,
) -> dict[str, Any]:
    """Learn from what was recorded before `cutoff`, score what was created after it from its
    first `horizon_days` days (the live projection's profiles hold both times)."""
    if principal.role not in (Role.ADMIN, Role.BI):
        raise BacktestNotAllowed()
    org = await org_view(runtime, principal.org)
    scorer = runtime.consumer.scorer
    profiles = scorer.stored(principal.org, org.generation, "prospects")
    reports = await scorer.trainers.run(
        jobs.backtests, profiles, cutoff, horizon_days, known_by, scorer.job_rules
    )
    return {"items": reports}


# --------------------------------------------------------------------------- export


def _export_row(org_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "org_id": org_id,
        "kind": doc["kind"],
        "id": doc["id"],
        "rep_id": doc["rep_id"] or "",
        "team_id": doc["team_id"] or "",
        "score": doc["score"],
        "win_probability": doc["win_probability"],
        "tier": doc["tier"],
        "next_touch_due": doc["next_touch_due"],
        "overdue": doc["overdue"],
        "scored_for": doc["scored_for"],
        "model_version": doc["model"]["version"],
        "model_kind": doc["model"]["kind"],
        "factors": orjson.dumps(doc["factors"]).decode(),
    }


async def export_scores(
    runtime: Runtime, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    if principal.role not in (Role.ADMIN, Role.BI, Role.SERVICE):
        raise ExportNotAllowed()
    after: tuple[str, str] | None = None
    if cursor:
        kind, key = decode_keyset(EXPORT_CURSOR, cursor, 2, principal.org)
        if kind not in scores.KINDS or not key.startswith(f"{kind}-"):
            raise bad_cursor()
        after = (kind, key)
    org = await org_view(runtime, principal.org)
    async with runtime.pool.acquire() as conn:
        rows = await repository.score_export_page(
            conn, principal.org, org.generation, after, limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    day = today(org.timezone)
    out = [_export_row(principal.org, scores.render(r["doc"], day)) for r in rows]
    next_cursor = (
        encode_keyset(EXPORT_CURSOR, [rows[-1]["kind"], rows[-1]["key"]], principal.org)
        if more
        else None
    )
    return out, next_cursor
