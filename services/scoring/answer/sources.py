"""Where a report's sums come from: the stored projection (`repository.SqlSource`) or a replay
held in memory (`MemorySource`, for `as_of`). Both answer the same three questions, so one
report builder (`service.py`) serves both, and they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ..domain import Owner, OwnerKind
from ..projections.kpis import Value, Win
from ..projections.rollup import Rollups


@dataclass(frozen=True, slots=True)
class Cuts:
    product_line: str | None = None
    tier: str | None = None
    channel: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"product_line": self.product_line, "tier": self.tier, "channel": self.channel}


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows: the owner, a manager's team limit on rep rows, and the cut."""

    owner: Owner
    team: str | None = None
    cuts: Cuts = Cuts()


Row = tuple[date, str, str, Value]  # bucket, stored metric, currency, sum


class Source(Protocol):
    async def rows(
        self,
        scope: Scope,
        grain: str,
        first: date,
        last: date,
        *,
        metrics: Collection[str] = (),
        prefixes: tuple[str, ...] = (),
    ) -> list[Row]:
        """Sums per bucket and stored metric (those named, or starting with a prefix)."""
        ...

    async def wins(self, scope: Scope, first: date, last: date) -> list[tuple[str, date]]:
        """(account, day) of each won deal in [first, last] in the scope."""
        ...

    async def first_wins(self, accounts: Collection[str]) -> dict[str, date]:
        """The day of each account's first won deal, whoever won it."""
        ...

    async def stocks(
        self, scope: Scope, ends: Sequence[date], prefixes: tuple[str, ...]
    ) -> list[dict[tuple[str, str], Value]] | None:
        """For each day in `ends`, the sums of the prefixed metrics over all days up to it,
        where who is in the scope is decided on that day (a team's open pipeline is its members'
        that day: a rep who moved takes their open deals along); None where the scope does not
        depend on the day (no roster), and month and day rows answer it."""
        ...


def _matches(
    owner: Owner,
    team: str | None,
    cuts: Cuts,
    grain: str,
    key_owner: tuple[str, str, str],
    key_cut: tuple[str, str, str],
) -> bool:
    kind, owner_id, team_id = key_owner
    if grain == "d":  # day rows: per rep and team only (see projections/rollup.py)
        if owner.kind is OwnerKind.REP and owner_id != owner.id:
            return False
        if owner.kind is OwnerKind.TEAM and team_id != owner.id:
            return False
    elif kind != owner.kind.value or owner_id != owner.id:
        return False
    if team is not None and team_id != team:
        return False
    product_line, tier, channel = key_cut
    return (
        (cuts.product_line is None or product_line == cuts.product_line)
        and (cuts.tier is None or tier == cuts.tier)
        and (cuts.channel is None or channel == cuts.channel)
    )


class MemorySource:
    """A replay's rollups and wins, queried in memory."""

    def __init__(self, rollups: Rollups, wins: Iterable[Win]) -> None:
        self._rollups = rollups
        self._wins = list(wins)

    async def rows(
        self,
        scope: Scope,
        grain: str,
        first: date,
        last: date,
        *,
        metrics: Collection[str] = (),
        prefixes: tuple[str, ...] = (),
    ) -> list[Row]:
        sums: dict[tuple[date, str, str], Value] = {}
        wanted = set(metrics)
        for key, value in self._rollups.items():
            g, bucket, kind, owner_id, team_id, pl, tier, ch, currency, metric = key
            if g != grain or not first <= bucket <= last:
                continue
            if metric not in wanted and not (prefixes and metric.startswith(prefixes)):
                continue
            if not _matches(
                scope.owner,
                scope.team,
                scope.cuts,
                grain,
                (kind, owner_id, team_id),
                (pl, tier, ch),
            ):
                continue
            k = (bucket, metric, currency)
            sums[k] = sums.get(k, 0) + value
        return [(b, m, c, v) for (b, m, c), v in sums.items()]

    async def wins(self, scope: Scope, first: date, last: date) -> list[tuple[str, date]]:
        out = []
        for w in self._wins:
            if not first <= w.day <= last:
                continue
            owner = scope.owner
            if owner.kind is OwnerKind.REP and w.rep_id != owner.id:
                continue
            if owner.kind is OwnerKind.TEAM and w.team_id != owner.id:
                continue
            if scope.team is not None and w.team_id != scope.team:
                continue
            cuts = scope.cuts
            if (
                (cuts.product_line is not None and w.product_line != cuts.product_line)
                or (cuts.tier is not None and w.tier != cuts.tier)
                or (cuts.channel is not None and w.channel != cuts.channel)
            ):
                continue
            out.append((w.account_id, w.day))
        return out

    async def stocks(
        self, scope: Scope, ends: Sequence[date], prefixes: tuple[str, ...]
    ) -> list[dict[tuple[str, str], Value]] | None:
        return None  # a replay counts teams as the events name them

    async def first_wins(self, accounts: Collection[str]) -> dict[str, date]:
        wanted = set(accounts)
        first: dict[str, date] = {}
        for w in self._wins:
            if w.account_id in wanted and (
                w.account_id not in first or w.day < first[w.account_id]
            ):
                first[w.account_id] = w.day
        return first
