"""Incentive plans: made and changed by an admin (a new version each time, never overwritten),
read by whom they may concern. Each use case loads through the repository, decides with
incentive_spec.py, persists (flush, never commit: the request owns the transaction).

Who reads a plan (it is visible when any of its versions names them, so the plan behind any
statement of theirs stays readable):
- admin, bi and the org's service tokens: every plan of the org;
- a manager: the plans naming `org`, the team they lead today (their token's team, while the
  roster names no other manager of it) or a rep the roster places in that team today;
- a rep: the plans naming `org`, themselves, or a team the roster places them in today or has
  placed them in before (a past period's statement was made under that team's plans); for a rep
  the roster does not know today, the team their own history places them in (scoring, as
  placement.py decides for goals).
Anything else is answered 404, as a plan that does not exist.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal, Role
from shared.errors import FieldError, validation_problem
from shared.pagination import bad_cursor, decode_keyset, encode_keyset

from . import repository
from .calendars import org_day
from .exceptions import (
    PlanNotFound,
    PlanRefused,
    PlansForAdmins,
    PlanVersionConflict,
    PlanVersionNotFound,
)
from .incentive_schemas import PlanOut, PlanPage, PlanVersionBrief, PlanVersionOut, PlanVersionPage
from .incentive_spec import PlanIn, PlanPatch, reaches, revise
from .membership import periods, roster_team
from .models import IncentivePlan, IncentivePlanVersion
from .placement import leads, rep_team
from .roster import rep_entry
from .scoring import GoalsScoring

CURSOR_TAG = "incentive-plans"
ALL_REPS = 100_000  # a team's reps read at once (a team is never near this)


@dataclass(frozen=True, slots=True)
class Reach:
    """Whom a reader's plans must name (besides `org`); `everything`: no limit."""

    everything: bool = False
    reps: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()

    def sees(self, versions: Sequence[IncentivePlanVersion]) -> bool:
        return self.everything or any(
            reaches(v.body.get("applies_to", []), self.reps, self.teams) for v in versions
        )


async def _teams_of_rep(
    session: AsyncSession, scoring: GoalsScoring, org: str, rep: str, day: date
) -> frozenset[str]:
    """`rep`'s team on `day` (placement.py's: the roster's, else scoring's) and every team the
    roster placed them in before."""
    entries = [rep_entry(row) for row in await repository.rep_entries(session, org, [rep])]
    teams = {m.team_id for m in periods(entries) if m.start <= day}
    today = roster_team(entries, day)
    if today is None:  # the roster does not know them that day: their history decides
        today = await rep_team(session, scoring, org, rep, day)
    if today is not None:
        teams.add(today)
    return frozenset(teams)


async def _reach(session: AsyncSession, scoring: GoalsScoring, user: Principal, day: date) -> Reach:
    if user.role is Role.REP:
        teams = await _teams_of_rep(session, scoring, user.org, user.sub, day)
        return Reach(reps=frozenset({user.sub}), teams=teams)
    if user.role is Role.MANAGER:
        if user.team is None or not await leads(session, user, day):
            return Reach()  # the org's plans only
        rows = await repository.reps_on(
            session,
            user.org,
            day,
            team=user.team,
            status=None,
            rep=None,
            after=None,
            limit=ALL_REPS,
        )
        return Reach(reps=frozenset(r.rep_id for r in rows), teams=frozenset({user.team}))
    return Reach(everything=True)


def _check_admin(user: Principal) -> None:
    if user.role is not Role.ADMIN:
        raise PlansForAdmins()


def _field_errors(exc: ValidationError) -> list[FieldError]:
    """The errors of a refused body as the request's own validation reports them."""
    problem = validation_problem([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
    return list(problem.errors or [])


# --------------------------------------------------------------------------- answers


def _brief(version: IncentivePlanVersion) -> PlanVersionBrief:
    return PlanVersionBrief(
        version=version.version,
        effective_from=version.effective_from,
        created_at=version.created_at,
        created_by=version.created_by,
        reason=version.reason,
        active=bool(version.body.get("active", True)),
    )


def _facts(version: IncentivePlanVersion) -> dict[str, object]:
    return {
        **version.body,
        "id": version.plan_id,
        "version": version.version,
        "effective_from": version.effective_from,
        "reason": version.reason,
        "created_by": version.created_by,
        "created_at": version.created_at,
    }


def version_out(version: IncentivePlanVersion) -> PlanVersionOut:
    return PlanVersionOut.model_validate(_facts(version))


def plan_out(versions: Sequence[IncentivePlanVersion], shown: IncentivePlanVersion) -> PlanOut:
    """The plan as of `shown`, with every one of its `versions` (oldest first) in short."""
    return PlanOut.model_validate({**_facts(shown), "versions": [_brief(v) for v in versions]})


# --------------------------------------------------------------------------- use cases


async def create_plan(session: AsyncSession, user: Principal, data: PlanIn) -> PlanOut:
    """A new plan at its first version."""
    _check_admin(user)
    plan = await repository.add_plan(session, user.org, uuid.uuid4(), user.sub)
    version = await repository.add_plan_version(
        session,
        plan,
        effective_from=data.effective_from,
        body=data.model_dump(mode="json", exclude={"effective_from"}),
        reason=None,
        created_by=user.sub,
    )
    return plan_out([version], version)


async def patch_plan(
    session: AsyncSession, user: Principal, plan_id: uuid.UUID, patch: PlanPatch
) -> PlanOut:
    """The plan's next version: its latest body with the patch's fields replaced. The plan row
    stays locked until the transaction ends, so concurrent changes are numbered one after the
    other; a refused patch stores nothing."""
    _check_admin(user)
    plan = await repository.get_plan(session, user.org, plan_id, lock=True)
    if plan is None:
        raise PlanNotFound(plan_id)
    if patch.expected_version is not None and patch.expected_version != plan.version:
        raise PlanVersionConflict(plan.version, patch.expected_version)
    versions = await repository.plan_versions(session, user.org, [plan.id])
    try:
        body = revise(versions[-1].body, patch)
    except ValidationError as exc:
        raise PlanRefused(_field_errors(exc)) from exc
    new = await repository.add_plan_version(
        session,
        plan,
        effective_from=patch.effective_from,
        body=body.model_dump(mode="json"),
        reason=patch.reason,
        created_by=user.sub,
    )
    return plan_out([*versions, new], new)


async def _readable(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, plan_id: uuid.UUID
) -> list[IncentivePlanVersion]:
    """Every version of the plan (oldest first), if the caller may read it; else 404."""
    versions = await repository.plan_versions(session, user.org, [plan_id])
    if not versions:
        raise PlanNotFound(plan_id)
    reach = await _reach(session, scoring, user, await org_day(session, user.org, None))
    if not reach.sees(versions):
        raise PlanNotFound(plan_id)
    return versions


async def get_plan(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    plan_id: uuid.UUID,
    version: int | None,
) -> PlanOut:
    """The plan as of `version` (default: its latest)."""
    versions = await _readable(session, user, scoring, plan_id)
    if version is None:
        return plan_out(versions, versions[-1])
    for held in versions:
        if held.version == version:
            return plan_out(versions, held)
    raise PlanVersionNotFound(plan_id, version, versions[-1].version)


async def plan_versions(
    session: AsyncSession, user: Principal, scoring: GoalsScoring, plan_id: uuid.UUID
) -> PlanVersionPage:
    versions = await _readable(session, user, scoring, plan_id)
    return PlanVersionPage(items=[version_out(v) for v in versions])


async def list_plans(
    session: AsyncSession,
    user: Principal,
    scoring: GoalsScoring,
    *,
    applies_to: str | None,
    cursor: str | None,
    limit: int,
) -> PlanPage:
    """The plans the caller may read, by id; `applies_to=rep:X`: only those that concern rep
    X (naming them, a team the roster places them in today or before, or `org`)."""
    after = _decode_cursor(cursor, user.org)
    day = await org_day(session, user.org, None)
    reach = await _reach(session, scoring, user, day)
    wanted = Reach(everything=True)
    if applies_to is not None:
        rep = applies_to.removeprefix("rep:")
        if user.role is Role.REP and rep != user.sub:
            return PlanPage(items=[], next=None)  # whom another rep's plans name is not theirs
        teams = await _teams_of_rep(session, scoring, user.org, rep, day)
        wanted = Reach(reps=frozenset({rep}), teams=teams)
    found: list[tuple[IncentivePlan, list[IncentivePlanVersion]]] = []
    while True:  # a page leaves out what the caller may not read: fill it from further on
        batch = await repository.list_plans(session, user.org, after=after, limit=limit + 1)
        held: dict[uuid.UUID, list[IncentivePlanVersion]] = defaultdict(list)
        for v in await repository.plan_versions(session, user.org, [p.id for p in batch]):
            held[v.plan_id].append(v)
        found += [
            (p, held[p.id])
            for p in batch
            if held[p.id] and reach.sees(held[p.id]) and wanted.sees(held[p.id])
        ]
        if len(batch) <= limit or len(found) > limit:
            break
        after = batch[-1].id
    more = len(found) > limit
    found = found[:limit]
    return PlanPage(
        items=[plan_out(versions, versions[-1]) for _, versions in found],
        next=encode_keyset(CURSOR_TAG, [str(found[-1][0].id)], user.org)
        if more and found
        else None,
    )


def _decode_cursor(cursor: str | None, org: str) -> uuid.UUID | None:
    if not cursor:
        return None
    (ident,) = decode_keyset(CURSOR_TAG, cursor, 1, org)
    try:
        return uuid.UUID(ident)
    except ValueError as exc:
        raise bad_cursor() from exc
