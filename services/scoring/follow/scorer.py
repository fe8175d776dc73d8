"""Scores and health kept beside the KPI projection: what the consumer calls after folding a page,
when an org's day turns or its model changes (a rescore), and to train an org's models.

- After a page: the leads and deals the page changed are scored with the org's active models
  for its current day, the accounts it changed get their health, in the page's transaction.
- While the consumer is behind the feed, pages are folded without that: the keys they changed
  are kept (`Unscored`) and scored at once when it has caught up (`score_keys`), or every
  `scores_lag_seconds`; `scored_position` says how far scores and health go meanwhile.
- A rescore recomputes every open lead's and deal's score and every account's health, when the
  org's day has turned (scores look at "days since the last touch") or a new model is active;
  it holds the org's row (FOR UPDATE), so it and a page never interleave.
- Training (`train_org`) reads the org's profiles, learns in a worker process (workers.py:
  reads and folding never wait for it), stores a new model version and makes it active; the
  next rescore applies it. Rescores of orgs past `SMALL_ORG_EVENTS` are computed there too (a
  rebuild scores its new generation in the process it replays in: generations.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import structlog

from .. import jobs, repository
from ..config import ScoringSettings
from ..priority import features as feats
from ..priority import scores
from ..priority.model import AdditiveModel
from ..priority.scores import ActiveModel, PriorityRules
from ..projections import health, leads
from ..workers import Workers

log = structlog.get_logger(__name__)
T = TypeVar("T")
RESCORE_TRIES = 3
JOB_PROFILES = 2000  # profiles scored per job sent to a worker process
# Below this many events an org's rescore takes milliseconds: it runs in a thread here rather
# than wait for a worker process (whose first start, ~1 s of imports, its follower would wait
# for: measured as a 1.3 s stall of a new org's append-to-visible).
SMALL_ORG_EVENTS = 10_000
# What a rescore's result depends on, of the org's row: unchanged from read to write, or again.
STANDING = ("generation", "position", "timezone", "currency", "lead_model", "deal_model")
# The same, for scores of the keys pages left: pages folded meanwhile leave keys of their own.
SETTLED = tuple(k for k in STANDING if k != "position")


def priority_rules(settings: ScoringSettings) -> PriorityRules:
    return PriorityRules(settings.tier_a, settings.tier_b, dict(settings.touch_days))


def feature_rules(settings: ScoringSettings) -> feats.FeatureRules:
    defaults = feats.FeatureRules()
    return feats.FeatureRules(half_lives={**defaults.half_lives, **settings.engagement_half_lives})


def health_rules(settings: ScoringSettings) -> health.HealthRules:
    return health.HealthRules(no_touch_days=dict(settings.no_touch_days), pareto=settings.pareto)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while part := list(islice(iterator, size)):
        yield part


def today(timezone: ZoneInfo) -> date:
    return datetime.now(UTC).astimezone(timezone).date()


def versions(row: Mapping[str, Any]) -> str:
    """The active model versions an org row names."""
    return f"{row['lead_model']},{row['deal_model']}"


def model_record(record: Mapping[str, Any]) -> ActiveModel:
    return ActiveModel(
        record["kind"],
        record["version"],
        AdditiveModel.from_json(orjson.loads(record["body"])),
        record["trained_at"],
        record["outcomes"],
    )


def outcome_change(
    prospects: Mapping[str, leads.Prospect],
    before: Mapping[str, leads.Prospect],
    removed: Iterable[str] = (),
) -> int:
    """How a page moves the count of leads and deals with an outcome (for training to count):
    +1 for each it gave one, -1 for each its voids took one from or took out (`removed`)."""

    def had(key: str) -> int:
        return int(key in before and before[key].outcome is not None)

    changed = sum(int(p.outcome is not None) - had(key) for key, p in prospects.items())
    return changed - sum(had(key) for key in removed)


@dataclass(slots=True)
class Unscored:
    """What the pages folded without scoring left to score, in one generation of an org."""

    generation: int
    since: float = field(default_factory=time.monotonic)
    prospects: set[str] = field(default_factory=set)
    customers: set[str] = field(default_factory=set)

    def add(self, prospects: Iterable[str], customers: Iterable[str]) -> None:
        self.prospects.update(prospects)
        self.customers.update(customers)

    def __len__(self) -> int:
        return len(self.prospects) + len(self.customers)

    def age(self) -> float:
        return time.monotonic() - self.since


class Scorer:
    """One per process: the rules from settings and the models it has loaded."""

    def __init__(self, settings: ScoringSettings, dsn: str = "") -> None:
        self.settings = settings
        self.dsn = dsn  # where worker processes read profiles (jobs.Stored)
        self.rules = priority_rules(settings)
        self.features = feature_rules(settings)
        self.health = health_rules(settings)
        self.job_rules = jobs.Rules(self.rules, self.features, self.health, settings.min_outcomes)
        # Two pools, so that a rescore (which a follower waits for) never queues behind the
        # training or backtest of another org, which can take minutes at nice 10.
        self.trainers = Workers(settings.worker_processes, settings.worker_nice)
        self.scorers = Workers(settings.worker_processes, settings.worker_nice)
        self.here = Workers(0, 0)
        self._models: dict[tuple[str, str, int], ActiveModel] = {}

    async def models(
        self, conn: asyncpg.Connection, org: str, row: Mapping[str, Any]
    ) -> dict[str, ActiveModel]:
        """The org's active lead and deal models (kept in memory: a version never changes)."""
        out: dict[str, ActiveModel] = {}
        for kind in scores.KINDS:
            version: int = row[f"{kind}_model"]
            key = (org, kind, version)
            if key not in self._models:
                record = await repository.get_model(conn, org, kind, version) if version else None
                for old in [k for k in self._models if k[:2] == (org, kind)]:
                    del self._models[old]  # versions only go forward: keep the newest
                self._models[key] = model_record(record) if record else scores.default_model(kind)
            out[kind] = self._models[key]
        return out

    def currency(self, row: Mapping[str, Any]) -> str:
        return row["currency"] or self.settings.default_currency

    def marker(self, row: Mapping[str, Any]) -> str:
        """What an org's scores and health were computed with, as `scored_models` records it:
        the active models and the currency money is counted in (a change of either, like a
        new day, calls for a rescore)."""
        return f"{versions(row)},{self.currency(row)}"

    async def last_trained(
        self, conn: asyncpg.Connection, org: str, row: Mapping[str, Any]
    ) -> datetime | None:
        """When the org's active models were trained (None: never)."""
        models = await self.models(conn, org, row)
        times = [m.trained_at for m in models.values() if m.trained_at is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ after a page

    async def judge_page(
        self,
        conn: asyncpg.Connection,
        org: str,
        row: Mapping[str, Any],
        prospects: Mapping[str, leads.Prospect],
        customers: Iterable[health.Customer],
    ) -> asyncio.Future[tuple[list[scores.ScoreRow], list[scores.HealthRow]]]:
        """Start scoring a page's changed prospects and judging its changed accounts, in a
        thread (a large page's CPU off the event loop); the caller writes the page's other
        effects meanwhile, so this Python work and PostgreSQL's overlap, then `save_page`."""
        timezone = ZoneInfo(row["timezone"])
        models = await self.models(conn, org, row)
        return asyncio.ensure_future(
            asyncio.to_thread(
                jobs.score_org,
                list(prospects.values()),
                list(customers),
                models,
                today(timezone),
                timezone,
                self.currency(row),
                self.job_rules,
            )
        )

    async def save_page(
        self,
        conn: asyncpg.Connection,
        org: str,
        generation: int,
        judged: asyncio.Future[tuple[list[scores.ScoreRow], list[scores.HealthRow]]],
        prospects: Mapping[str, leads.Prospect],
    ) -> None:
        """Write what `judge_page` found."""
        rows, health_rows = await judged
        await self._save(conn, org, generation, rows, health_rows, prospects)

    @staticmethod
    async def _save(
        conn: asyncpg.Connection,
        org: str,
        generation: int,
        rows: list[scores.ScoreRow],
        health_rows: list[scores.HealthRow],
        prospects: Collection[str],
        customers: Collection[str] = (),
    ) -> None:
        """Scores of the open ones of `prospects` (the others' are dropped) and health (of
        `customers`, those no longer there are dropped: a correction deleted them)."""
        scored = {r.key for r in rows}
        others = [key for key in prospects if key not in scored]
        await repository.save_scores(conn, org, generation, rows, others)
        await repository.save_health(conn, org, generation, health_rows)
        judged = {r[0] for r in health_rows}
        await repository.delete_health(
            conn, org, generation, [key for key in customers if key not in judged]
        )

    async def score_keys(self, pool: asyncpg.Pool, org: str, unscored: Unscored) -> bool:
        """Score what pages folded without scoring left (`Unscored`, every page up to the org's
        position now: none is being written), and bring the scored position up to there. Pages
        folded meanwhile leave their keys unscored too, for the next round. False when the
        rest of the org's scores are not current (another day, models or currency; a swap came
        in meanwhile): a whole rescore is due instead (`due` says so)."""
        async with pool.acquire() as conn:
            row = await repository.get_org(conn, org)
            if row is None or row["generation"] != unscored.generation:
                return True  # a swap scored its whole generation; nothing of this one is kept
            timezone = ZoneInfo(row["timezone"])
            day = today(timezone)
            if row["scored_on"] != day or row["scored_models"] != self.marker(row):
                return False
            models = await self.models(conn, org, row)
        # `JOB_PROFILES` at a time, each read where it is scored (a worker process, unless
        # they are few) and written at once: this process never holds more of them. Only
        # these write scores while keys are left (pages leave theirs), so these writes need
        # not hold the org's row; the scored position moves once all are in.
        generation = unscored.generation
        few = len(unscored) <= JOB_PROFILES
        parts: list[tuple[list[str], list[str]]] = [
            (part, []) for part in chunks(sorted(unscored.prospects), JOB_PROFILES)
        ]
        parts += [([], part) for part in chunks(sorted(unscored.customers), JOB_PROFILES)]
        for prospects, customers in parts:
            rows, health_rows = await (self.here if few else self.scorers).run(
                jobs.score_org,
                self.stored(org, generation, "prospects", prospects),
                self.stored(org, generation, "customers", customers),
                models,
                day,
                timezone,
                self.currency(row),
                self.job_rules,
            )
            async with pool.acquire() as conn:
                await self._save(conn, org, generation, rows, health_rows, prospects, customers)
        async with pool.acquire() as conn, conn.transaction():
            now = await repository.lock_org(conn, org)
            if now is None or [now[k] for k in SETTLED] != [row[k] for k in SETTLED]:
                return False
            if now["scored_on"] != day or now["scored_models"] != row["scored_models"]:
                return False
            await repository.mark_scored(
                conn,
                org,
                generation,
                day,
                self.marker(row),
                up_to=(row["position"], row["last_recorded_at"]),
            )
        return True

    # ------------------------------------------------------------------ whole org

    def close(self) -> None:
        self.trainers.close()
        self.scorers.close()

    def stored(
        self, org: str, generation: int, kind: str, keys: Iterable[str] | None = None
    ) -> jobs.Stored:
        """An org's profiles of a kind (those of `keys`), for a worker to read itself."""
        return jobs.Stored(self.dsn, org, generation, kind, None if keys is None else tuple(keys))

    async def score_org(
        self,
        prospects: Iterable[jobs.Profile],
        customers: Iterable[jobs.Profile],
        models: Mapping[str, ActiveModel],
        day: date,
        timezone: ZoneInfo,
        currency: str,
    ) -> tuple[list[scores.ScoreRow], list[scores.HealthRow]]:
        """Every open prospect's score and every customer's health (profiles or their stored
        states), in a worker process, `JOB_PROFILES` at a time: what is sent there, and back,
        stays small whatever the org's size."""
        score_rows: list[scores.ScoreRow] = []
        health_rows: list[scores.HealthRow] = []
        for part in chunks(prospects, JOB_PROFILES):
            score_rows += (
                await self.scorers.run(
                    jobs.score_org,
                    part,
                    (),
                    models,
                    day,
                    timezone,
                    currency,
                    self.job_rules,
                )
            )[0]
        for part in chunks(customers, JOB_PROFILES):
            health_rows += (
                await self.scorers.run(
                    jobs.score_org,
                    (),
                    part,
                    models,
                    day,
                    timezone,
                    currency,
                    self.job_rules,
                )
            )[1]
        return score_rows, health_rows

    async def rescore(self, pool: asyncpg.Pool, org: str, *, folding: bool = False) -> None:
        """Every score and health of the org's live generation, for today, its models and its
        currency. Profiles are read (by the worker) and scored without holding the org's row;
        the write holds it and goes ahead only if nothing moved meanwhile (else it starts
        over). With `folding`, pages go on being folded meanwhile, and the caller leaves their
        keys unscored and scores them once this is written (upkeep.py): the write then needs
        only the generation, timezone, currency and models unchanged, and the scored position
        moves to where the org stood when the profiles were read."""
        standing = SETTLED if folding else STANDING
        for _ in range(RESCORE_TRIES):
            async with pool.acquire() as conn:
                row = await repository.get_org(conn, org)
                if row is None:
                    return
                generation = row["generation"]
                timezone = ZoneInfo(row["timezone"])
                day = today(timezone)
                models = await self.models(conn, org, row)
            workers = self.here if row["folded"] < SMALL_ORG_EVENTS else self.scorers
            score_rows, health_rows = await workers.run(
                jobs.score_org,
                self.stored(org, generation, "prospects"),
                self.stored(org, generation, "customers"),
                models,
                day,
                timezone,
                self.currency(row),
                self.job_rules,
            )
            async with pool.acquire() as conn, conn.transaction():
                now = await repository.lock_org(conn, org)
                if now is None or [now[k] for k in standing] != [row[k] for k in standing]:
                    continue  # a page, a swap, a model or settings came in: read again
                await repository.replace_scores_and_health(
                    conn, org, generation, score_rows, health_rows
                )
                up_to = (row["position"], row["last_recorded_at"]) if folding else None
                await repository.mark_scored(
                    conn, org, generation, day, self.marker(row), up_to=up_to
                )
                return
        log.warning("rescoring put off: the org kept moving; next time", org=org)

    def due(self, row: Mapping[str, Any]) -> bool:
        """Whether the org's scores are for another day or other models than now, or do not
        reach its position (pages folded while behind, whose keys a restart forgot)."""
        day_turned: bool = row["scored_on"] != today(ZoneInfo(row["timezone"]))
        behind: bool = row["scored_position"] < row["position"]
        return day_turned or behind or row["scored_models"] != self.marker(row)

    def training_due(self, row: Mapping[str, Any], last_trained: datetime | None) -> bool:
        new = row["outcomes"] - row["trained_outcomes"]
        if row["trained_outcomes"] < 0:
            return True  # never trained: learn (or settle on the prior) now
        if new >= self.settings.train_after_outcomes:
            return True
        if new > 0 and last_trained is not None:
            age = (datetime.now(UTC) - last_trained).total_seconds()
            return age >= self.settings.train_seconds
        return False

    # ------------------------------------------------------------------ training

    async def train_org(self, pool: asyncpg.Pool, org: str) -> list[dict[str, Any]]:
        """Learn the org's lead and deal models from its live projection; store and activate
        them. Decoding the profiles and fitting run in a worker process."""
        async with pool.acquire() as conn:
            row = await repository.get_org(conn, org)
            if row is None:
                return []
        profiles = self.stored(org, row["generation"], "prospects")
        trained = await self.trainers.run(
            jobs.train_models, profiles, datetime.now(UTC), self.job_rules
        )
        stored = []
        async with pool.acquire() as conn, conn.transaction():
            for kind, result in trained.items():
                record = await repository.save_model(
                    conn,
                    org,
                    kind,
                    model_kind=result.model.kind,
                    outcomes=result.outcomes,
                    body=orjson.dumps(result.model.to_json()).decode(),
                    report=orjson.dumps(result.report).decode(),
                    trained_outcomes=row["outcomes"],
                )
                stored.append(dict(record))
        log.info(
            "trained",
            org=org,
            models=[
                {
                    "kind": r["kind"],
                    "version": r["version"],
                    "model_kind": r["model_kind"],
                    "outcomes": r["outcomes"],
                }
                for r in stored
            ],
        )
        return stored
