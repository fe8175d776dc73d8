"""Goals rendered into the API's response models, once, from their specs."""

from __future__ import annotations

from decimal import Decimal

from shared.contracts.scoring import MetricInfo

from .domain import render
from .models import Goal, Revision
from .schemas import Decomposition, GoalOut
from .spec import GoalSpec


def goal_out(goal: Goal, revision: Revision, spec: GoalSpec | None = None) -> GoalOut:
    """The goal as of `revision` (its spec, when already parsed)."""
    spec = spec or GoalSpec.from_body(revision.body)
    info = spec.info
    target, floor, stretch = (render(v, info, spec.currency) for v in spec.bounds)
    split = spec.decomposition
    return GoalOut(
        id=goal.id,
        revision=revision.revision,
        parent_id=goal.parent_id,
        owner=str(spec.owner),
        team_id=spec.team_id,
        metric=spec.metric,
        unit=info.unit,
        period=spec.period,
        start=spec.span.start,
        end=spec.span.end,
        target=target,
        floor=floor,
        stretch=stretch,
        currency=spec.currency,
        product_line=spec.product_line,
        tier=spec.tier,
        channel=spec.channel,
        note=spec.note,
        archived=spec.archived,
        decomposition=Decomposition(
            by=split.by,
            into=split.into.value if split.into else None,
            strategy=split.strategy,
            children=list(split.children),
        )
        if split
        else None,
        created_at=goal.created_at,
        created_by=goal.created_by,
        updated_at=revision.changed_at,
        updated_by=revision.changed_by,
    )


def render_signed(value: Decimal, info: MetricInfo, currency: str | None) -> int | str:
    if value >= 0:
        return render(value, info, currency)
    shown = render(-value, info, currency)
    return -shown if isinstance(shown, int) else f"-{shown}"
