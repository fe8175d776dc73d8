"""`salesperf scoring …`: operate the scoring service."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.auth import Role, mint_token
from shared.config import CommonSettings

app = typer.Typer(help="Operate the scoring service.", no_args_is_help=True)
console = Console()


def rebuild_org(
    url: str,
    org: str,
    *,
    timeout: float = 3600,
    poll: float = 0.2,
    transport: httpx.BaseTransport | None = None,
    show: bool = True,
) -> dict[str, object]:
    """Ask scoring to rebuild `org` and follow it to the end; the final status."""
    token = mint_token(CommonSettings(), org=org, role=Role.ADMIN, sub="salesperf-cli")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10, transport=transport) as http:
        started = http.post("/v1/admin/rebuild")
        if started.status_code != 202:
            raise RuntimeError(f"scoring answered {started.status_code}: {started.text}")
        generation = started.json()["generation"]
        deadline = time.monotonic() + timeout
        with Progress(
            TextColumn(f"rebuilding [bold]{org}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeElapsedColumn(),
            console=console,
            disable=not show,
        ) as progress:
            task = progress.add_task("rebuild", total=None)
            while time.monotonic() < deadline:
                status: dict[str, object] = http.get("/v1/admin/rebuild").json()
                total = int(str(status.get("total") or 0)) or None
                progress.update(task, completed=int(str(status.get("done") or 0)), total=total)
                if status.get("state") == "done" and int(str(status["generation"])) > generation:
                    return status
                time.sleep(poll)
    raise TimeoutError(f"the rebuild of {org} did not finish in {timeout:.0f}s")


URL_HELP = "Where scoring answers \\[default: from SCORING_HOST and SCORING_PORT, 127.0.0.1:8003]."


def scoring_url() -> str:
    """Where scoring answers, from its settings (`SCORING_HOST`, `SCORING_PORT`)."""
    from salesperf.demo import local_url
    from services.scoring.config import ScoringSettings

    settings = ScoringSettings()
    return local_url(settings.host, settings.port)


@app.command()
def rebuild(
    org: Annotated[str, typer.Option(help="The org whose projections to rebuild.")] = "demo",
    url: Annotated[str | None, typer.Option(help=URL_HELP, show_default=False)] = None,
) -> None:
    """Replay the org's whole log into new tables and swap them in when caught up. Reads stay
    available throughout; scoring must be running (`make run`)."""
    url = url or scoring_url()
    try:
        status = rebuild_org(url, org)
    except httpx.TransportError as exc:
        console.print(f"[red]cannot reach scoring at {url}[/red] ({exc}); is `make run` running?")
        raise typer.Exit(1) from exc
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(
        f"[green]rebuilt[/green] {org}: {status['done']} events in {status.get('seconds')} s, "
        f"generation {status['generation']}"
    )


def backtest_org(
    url: str,
    org: str,
    *,
    cutoff: str,
    horizon_days: int,
    known_by: str = "recorded",
    transport: httpx.BaseTransport | None = None,
) -> dict[str, object]:
    """Ask scoring for the org's backtest (learn before `cutoff`, judge what came after)."""
    token = mint_token(CommonSettings(), org=org, role=Role.ADMIN, sub="salesperf-cli")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=600, transport=transport) as http:
        answer = http.get(
            "/v1/scoring/backtest",
            params={"cutoff": cutoff, "horizon_days": horizon_days, "known_by": known_by},
        )
    if answer.status_code != 200:
        raise RuntimeError(f"scoring answered {answer.status_code}: {answer.text}")
    report: dict[str, object] = answer.json()
    return report


def _figure(value: object) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


@app.command()
def backtest(
    cutoff: Annotated[
        str,
        typer.Option(
            help="ISO date or time: learn only from what was "
            "recorded before it; judge what was created after."
        ),
    ],
    org: Annotated[str, typer.Option(help="The org to measure.")] = "demo",
    horizon_days: Annotated[int, typer.Option(help="Score each lead from its first N days.")] = 14,
    known_by: Annotated[
        str,
        typer.Option(
            help="recorded: an event is known from when it was "
            "recorded; occurred: from when it occurred (history "
            "imported in bulk)."
        ),
    ] = "recorded",
    url: Annotated[str | None, typer.Option(help=URL_HELP, show_default=False)] = None,
) -> None:
    """How well lead and deal scores predict: AUC, Brier score, log loss and calibration error
    of the org's model and, computed the same way, of the stage-only rate and the time-weighted
    naive Bayes. Scoring must be running (`make run`)."""
    when = cutoff if "T" in cutoff else f"{cutoff}T00:00:00+00:00"
    url = url or scoring_url()
    try:
        report = backtest_org(url, org, cutoff=when, horizon_days=horizon_days, known_by=known_by)
    except httpx.TransportError as exc:
        console.print(f"[red]cannot reach scoring at {url}[/red] ({exc}); is `make run` running?")
        raise typer.Exit(1) from exc
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    for item in report["items"]:  # type: ignore[attr-defined]
        table = Table(
            title=f"{item['kind']}s: learnt from {item['trained_on']} outcomes "
            f"before {cutoff}, judged on {item['evaluated_on']} created after"
        )
        for column in ("model", "AUC", "Brier", "log loss", "ECE"):
            table.add_column(column, justify="left" if column == "model" else "right")
        rows = [("ours: " + str(item["model"].get("kind")), item["model"])]
        rows += [(name.replace("_", " "), figures) for name, figures in item["baselines"].items()]
        for name, figures in rows:
            table.add_row(
                name, *(_figure(figures.get(k)) for k in ("auc", "brier", "log_loss", "ece"))
            )
        console.print(table)
