"""`salesperf scoring …`: operate the scoring service."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.auth import Role, issue_token
from shared.config import CommonSettings

app = typer.Typer(help="Operate the scoring service.", no_args_is_help=True)
console = Console()


def rebuild_org(
    url: str, org: str, *, timeout: float = 3600, poll: float = 0.2,
    transport: httpx.BaseTransport | None = None, show: bool = True,
) -> dict[str, object]:  # fmt: skip
    """Ask scoring to rebuild `org` and follow it to the end; the final status."""
    token = issue_token(CommonSettings().resolved_jwt_secret(), org=org, role=Role.ADMIN,
                        sub="salesperf-cli")  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10, transport=transport) as http:
        started = http.post("/v1/admin/rebuild")
        if started.status_code != 202:
            raise RuntimeError(f"scoring answered {started.status_code}: {started.text}")
        generation = started.json()["generation"]
        deadline = time.monotonic() + timeout
        with Progress(
            TextColumn(f"rebuilding [bold]{org}[/bold]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("events"), TimeElapsedColumn(), console=console, disable=not show,
        ) as progress:  # fmt: skip
            task = progress.add_task("rebuild", total=None)
            while time.monotonic() < deadline:
                status: dict[str, object] = http.get("/v1/admin/rebuild").json()
                total = int(str(status.get("total") or 0)) or None
                progress.update(task, completed=int(str(status.get("done") or 0)), total=total)
                if status.get("state") == "done" and int(str(status["generation"])) > generation:
                    return status
                time.sleep(poll)
    raise TimeoutError(f"the rebuild of {org} did not finish in {timeout:.0f}s")


@app.command()
def rebuild(
    org: Annotated[str, typer.Option(help="The org whose projections to rebuild.")] = "demo",
    url: Annotated[str, typer.Option(help="Where scoring answers.")] = "http://127.0.0.1:8003",
) -> None:
    """Replay the org's whole log into new tables and swap them in when caught up. Reads stay
    available throughout; scoring must be running (`make run`)."""
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
