"""The review digests as Markdown, for a chat message or an e-mail: pure functions of a digest
(review_schemas.py) to text. Every number is the digest's own, as it shows it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from shared.contracts.scoring import LostReason

from .review_schemas import (
    Attainment,
    DailyDigest,
    DailyGoal,
    FirstActions,
    MonthlyDigest,
    NextGoal,
    StepComparison,
    WeeklyDigest,
    WinsAndLosses,
)
from .schemas import GoalOut, ProgressOut

NONE = "_None._"


def _day(day: date) -> str:
    return f"{day:%a} {day.isoformat()}"


def _value(value: int | str | float | None) -> str:
    return "—" if value is None else str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f} pp"


def _cell(text: str) -> str:
    """Text as one table cell: a backslash and a pipe escaped (in that order, so `\\|` cannot
    become a column break), line breaks as spaces, and what would make a link or a tag
    (`[ ] < >`) escaped: factor sentences carry attributes typed into a CRM."""
    for char in "\\|[]<>":
        text = text.replace(char, "\\" + char)
    return " ".join(text.splitlines()) if text else text


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _unit(goal: GoalOut) -> str:
    return f" {goal.currency}" if goal.currency else ""


def _goal_title(goal: GoalOut) -> str:
    cuts = [
        f"{k} {v}"
        for k, v in (
            ("product line", goal.product_line),
            ("tier", goal.tier),
            ("channel", goal.channel),
        )
        if v
    ]
    cut = f" ({', '.join(cuts)})" if cuts else ""
    return (
        f"{goal.metric}{cut} · {goal.period.value} {goal.start.isoformat()}–{goal.end.isoformat()}"
        f" · target {goal.target}{_unit(goal)}"
    )


def _progress_line(p: ProgressOut) -> str:
    unit = _unit(p.goal)
    if p.shape.startswith("its level"):
        return (
            f"Level {p.actual}{unit} against target {p.goal.target}{unit} "
            f"({_pct(p.attainment_pct)}): **{p.status}**"
        )
    return (
        f"{p.actual}{unit} of {p.goal.target}{unit} ({_pct(p.attainment_pct)}), "
        f"expected {p.expected_to_date}{unit} by now: **{p.status}**"
    )


def _daily_goal(item: DailyGoal) -> list[str]:
    p = item.progress
    unit = _unit(p.goal)
    lines = [f"### {_goal_title(p.goal)}", "", f"- Progress: {_progress_line(p)}"]
    if item.day_target is not None:
        lines.append(f"- The day: target {item.day_target}{unit}, actual {item.day_actual}{unit}")
    carry = item.carry_over
    if carry is not None:
        after = "" if carry.in_period else " (after the goal's period)"
        lines.append(
            f"- Next working day {_day(carry.day)}{after}: planned {carry.planned}{unit}"
            f" + carried {carry.carried}{unit} = **{carry.total}{unit}**"
        )
    return [*lines, ""]


def _reasons(reasons: Sequence[LostReason]) -> str:
    return ", ".join(f"{r.reason} {r.count}" for r in reasons)


def _wins(title: str, w: WinsAndLosses) -> list[str]:
    revenue = ", ".join(f"{m.value} {m.currency}" for m in w.revenue_won)
    lost = f"- Deals lost: {w.deals_lost}"
    if w.lost_reasons:
        lost += f" ({_reasons(w.lost_reasons)})"
    return [f"## {title}", "", f"- Deals won: {w.deals_won}", f"- Revenue won: {revenue}", lost, ""]


def _actions(actions: FirstActions) -> list[str]:
    due = f" (touches due by {_day(actions.due_by)})" if actions.due_by else ""
    lines = [f"## Tomorrow's first actions{due}", ""]
    if not actions.items:
        return [*lines, NONE, ""]
    rows = [
        (
            a.id,
            str(a.score),
            a.tier,
            a.next_touch_due.isoformat() + (" (overdue)" if a.overdue else ""),
            ", ".join(a.why),
            a.top_factor or "—",
        )
        for a in actions.items
    ]
    return [*lines, *_table(("Lead", "Score", "Tier", "Next touch", "Why", "Top factor"), rows), ""]


def daily(digest: DailyDigest) -> str:
    worked = "a working day" if digest.working_day else "not a working day"
    lines = [
        f"# Daily review: {digest.owner}, {_day(digest.day)}",
        "",
        f"_{worked} · timezone {digest.timezone}_",
        "",
        "## Goals",
        "",
    ]
    if not digest.goals:
        lines += [NONE, ""]
    for item in digest.goals:
        lines += _daily_goal(item)
    if digest.first_actions is not None:
        lines += _actions(digest.first_actions)
    lines += _wins("The day's wins and losses", digest.wins_and_losses)
    return "\n".join(lines).rstrip() + "\n"


def _goal_lines(items: Sequence[ProgressOut]) -> list[str]:
    if not items:
        return [NONE, ""]
    return [f"- {_goal_title(p.goal)}: {_progress_line(p)}" for p in items] + [""]


def _step_row(s: StepComparison) -> tuple[str, ...]:
    return (
        s.step,
        str(s.week_count),
        _rate(s.week_conversion),
        str(s.trailing_count),
        _rate(s.trailing_conversion),
        _pp(s.difference_pp),
    )


def weekly(digest: WeeklyDigest) -> str:
    f = digest.funnel
    lines = [
        f"# Weekly review: {digest.owner}, {digest.week} "
        f"({digest.start.isoformat()} – {digest.end.isoformat()})",
        "",
        f"_Goals as of {_day(digest.as_of_day)} · timezone {digest.timezone}_",
        "",
        "## Goals",
        "",
        *_goal_lines(digest.goals),
    ]
    trailing = (
        f"{f.trailing_from.isoformat()} – {f.trailing_to.isoformat()}"
        if f.trailing_from and f.trailing_to
        else "none"
    )
    lines += [f"## Funnel (against the four weeks before: {trailing})", ""]
    header = ("Step", "Week", "Conversion", "4 weeks", "Conversion", "Δ")
    lines += _table(header, [*map(_step_row, f.steps), _step_row(f.win_rate)])
    lines.append("")
    lines += _wins("Wins and losses", digest.wins_and_losses)
    lines += ["## Alerts", ""]
    alerts = [f"- {a.message}" for a in digest.scoring_alerts]
    alerts += [f"- {a.message}" for a in digest.pace_alerts]
    lines += alerts or [NONE]
    return "\n".join(lines).rstrip() + "\n"


def _next(goal: NextGoal) -> list[str]:
    unit = f" {goal.currency}" if goal.currency else ""
    lines = [
        f"- {goal.metric} · {goal.period.value} {goal.start.isoformat()}–{goal.end.isoformat()}: "
        f"target {goal.target}{unit} (floor {goal.floor}, stretch {goal.stretch})"
    ]
    if goal.plan is not None:
        steps = ", ".join(
            f"{s['name']} {_value(s['needed'])}" for s in goal.plan["steps"] if s.get("needed")
        )
        lines.append(f"  - Plan: {steps or 'nothing computable'}")
    if goal.plan_missing:
        lines.append(f"  - Missing: {'; '.join(goal.plan_missing)}")
    if goal.plan_unavailable and goal.metric in ("revenue_won", "new_customers"):
        lines.append(f"  - No plan: {goal.plan_unavailable}")
    return lines


def _reached(a: Attainment) -> str:
    hit = [
        name
        for name, ok in (
            ("floor", a.floor_reached),
            ("target", a.target_reached),
            ("stretch", a.stretch_reached),
        )
        if ok
    ]
    return " · ".join(hit) or "—"


def monthly(digest: MonthlyDigest) -> str:
    lines = [
        f"# Monthly review: {digest.owner}, {digest.month}",
        "",
        f"_Goals as of {_day(digest.as_of_day)} · timezone {digest.timezone}_",
        "",
        "## Attainment",
        "",
    ]
    if digest.attainment:
        rows = [
            (
                f"{a.metric} ({a.period.value} {a.start.isoformat()}–{a.end.isoformat()})",
                f"{a.actual}{' ' + a.currency if a.currency else ''}",
                str(a.target),
                str(a.floor),
                str(a.stretch),
                _pct(a.attainment_pct),
                _reached(a),
            )
            for a in digest.attainment
        ]
        header = ("Goal", "Actual", "Target", "Floor", "Stretch", "Attainment", "Reached")
        lines += [*_table(header, rows), ""]
    else:
        lines += [NONE, ""]
    c = digest.champions
    if c is not None:

        def names(items: Iterable[tuple[str, str]]) -> str:
            return ", ".join(f"{rep} ({value})" for rep, value in items) or "nobody"

        ranking = [(str(x.rank), x.rep_id, f"{x.value} {c.currency}") for x in c.ranking]
        lines += [
            f"## Revenue ranking ({c.scope})",
            "",
            *(_table(("Rank", "Rep", "Revenue won"), ranking) if ranking else [NONE]),
            "",
            f"## Champions ({c.scope})",
            "",
            f"- Revenue: {names((x.rep_id, f'{x.value} {c.currency}') for x in c.revenue)}",
            f"- New customers: {names((x.rep_id, str(x.value)) for x in c.new_customers)}",
            "- Most improved: "
            + names(
                (i.rep_id, f"+{i.increase} {c.currency}: {i.before} → {i.after}")
                for i in c.most_improved
            ),
            "",
        ]
    r = digest.rank
    if r is not None:
        lines += ["## Rank", ""]
        if r.rank is not None:
            lines.append(f"- Revenue won: rank {r.rank} of {r.of} in {r.scope} ({r.value})")
        else:
            lines.append(f"- No rank: {r.unavailable}")
        lines.append("")
    lines += ["## Next month's goals", ""]
    if digest.next_month:
        for goal in digest.next_month:
            lines += _next(goal)
    else:
        lines.append(NONE)
    return "\n".join(lines).rstrip() + "\n"
