"""A goal as the domain reads it: a frozen `GoalSpec`, parsed once from a revision's stored body
and written back into one. No HTTP, no SQL.

The stored body (a revision's JSONB) keeps its shape: values as decimal strings, dates as ISO
days, the decomposition as a small object. Everything else reads the spec's typed fields.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shared.contracts.scoring import MetricInfo

from .calendar import PeriodKind, Span
from .domain import Owner, bounds, exponent, metric_info, parse_owner, parse_value, render

BOUND_KEYS = ("floor", "stretch", "buffer_pct", "base_pct", "challenge_pct")


@dataclass(frozen=True, slots=True)
class Decomposition:
    """How a goal was split, and the children it made."""

    by: str  # time, tier, product_line, rep
    into: PeriodKind | None  # by=time: the finer period
    strategy: str
    children: tuple[uuid.UUID, ...]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Decomposition:
        into = body.get("into")
        return cls(
            by=body["by"],
            into=PeriodKind(into) if into else None,
            strategy=body["strategy"],
            children=tuple(uuid.UUID(c) for c in body["children"]),
        )

    def to_body(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "into": self.into.value if self.into else None,
            "strategy": self.strategy,
            "children": [str(c) for c in self.children],
        }


@dataclass(frozen=True, slots=True)
class GoalSpec:
    """What a goal asks of its owner over its period: one revision's content."""

    owner: Owner
    team_id: str | None
    metric: str
    period: PeriodKind
    span: Span
    target: Decimal
    floor: Decimal
    stretch: Decimal
    currency: str | None = None
    product_line: str | None = None
    tier: str | None = None
    channel: str | None = None
    note: str | None = None
    archived: bool = False
    decomposition: Decomposition | None = None
    parent_id: uuid.UUID | None = None

    @property
    def info(self) -> MetricInfo:
        return metric_info(self.metric)

    @property
    def bounds(self) -> tuple[Decimal, Decimal, Decimal]:
        """Target, floor and stretch."""
        return self.target, self.floor, self.stretch

    def cut(self, by: str) -> str | None:
        """The goal's own cut by `tier` or `product_line` (None: all of them)."""
        return self.tier if by == "tier" else self.product_line

    def replace(self, **changes: Any) -> GoalSpec:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> GoalSpec:
        """The spec of a stored revision body (written by `to_body`, or by earlier versions
        that left out keys holding their defaults)."""
        decomposition = body.get("decomposition")
        parent = body.get("parent_id")
        return cls(
            owner=parse_owner(body["owner"]),
            team_id=body.get("team_id"),
            metric=body["metric"],
            period=PeriodKind(body["period"]),
            span=Span(date.fromisoformat(body["start"]), date.fromisoformat(body["end"])),
            target=Decimal(body["target"]),
            floor=Decimal(body["floor"]),
            stretch=Decimal(body["stretch"]),
            currency=body.get("currency"),
            product_line=body.get("product_line"),
            tier=body.get("tier"),
            channel=body.get("channel"),
            note=body.get("note"),
            archived=bool(body.get("archived", False)),
            decomposition=Decomposition.from_body(decomposition) if decomposition else None,
            parent_id=uuid.UUID(parent) if parent else None,
        )

    def to_body(self) -> dict[str, Any]:
        """The body a revision stores (what `from_body` reads back)."""
        return {
            "owner": str(self.owner),
            "team_id": self.team_id,
            "metric": self.metric,
            "period": self.period.value,
            "start": self.span.start.isoformat(),
            "end": self.span.end.isoformat(),
            "target": str(self.target),
            "floor": str(self.floor),
            "stretch": str(self.stretch),
            "currency": self.currency,
            "product_line": self.product_line,
            "tier": self.tier,
            "channel": self.channel,
            "note": self.note,
            "archived": self.archived,
            "decomposition": self.decomposition.to_body() if self.decomposition else None,
            "parent_id": str(self.parent_id) if self.parent_id else None,
        }


def patched(spec: GoalSpec, given: Mapping[str, Any]) -> GoalSpec:
    """`spec` changed by a patch's given fields: a new target keeps floor and stretch as the
    same share of it unless they are given too (one bound given keeps the other)."""
    info, currency = spec.info, spec.currency
    target, floor, stretch = spec.bounds
    if given.get("target") is not None:
        target = parse_value(given["target"], "target", info, currency)
    if any(given.get(k) is not None for k in BOUND_KEYS):
        if (given.get("floor") is None) != (given.get("stretch") is None):
            kept = "stretch" if given.get("floor") is not None else "floor"
            given = {**given, kept: render(getattr(spec, kept), info, currency)}
        floor, stretch = bounds(target, info, currency, given)
    elif "target" in given:
        if spec.target:
            q = Decimal(1).scaleb(-exponent(info, currency))
            floor = (floor * target / spec.target).quantize(q)
            stretch = (stretch * target / spec.target).quantize(q)
        else:
            floor = stretch = target
    return spec.replace(
        target=target,
        floor=floor,
        stretch=stretch,
        note=given["note"] if "note" in given else spec.note,
        archived=spec.archived if given.get("archived") is None else given["archived"],
    )
