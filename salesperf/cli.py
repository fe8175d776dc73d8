"""The `salesperf` command: run the services, mint tokens, migrate."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from salesperf.scoring_cli import app as scoring_app
from shared.auth import DEFAULT_TTL_SECONDS, Role, mint_token
from shared.config import CommonSettings
from shared.db import embedded_pgdata, run_migrations, stop_embedded, sync_url

ActivityUrl = Annotated[
    str | None,
    typer.Option(
        help="The activity service \\[default: from ACTIVITY_HOST and ACTIVITY_PORT, 127.0.0.1:8002].",
        show_default=False,
    ),
]
app = typer.Typer(help="salesperf: sales-performance management backend.", no_args_is_help=True)
app.add_typer(scoring_app, name="scoring")
console = Console()


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    settings = CommonSettings()
    run_migrations(sync_url(settings))
    console.print("[green]migrated to head[/green]")


@app.command()
def token(
    org: Annotated[str, typer.Option(help="The organisation (tenant) id.")],
    role: Annotated[Role, typer.Option(help="admin, manager, rep, bi or service.")],
    sub: Annotated[str, typer.Option(help="The subject: a rep's id for reps.")],
    team: Annotated[str | None, typer.Option(help="The team (required for managers).")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = DEFAULT_TTL_SECONDS,
) -> None:
    """Print a signed JWT for calling the APIs (HS256: the key SALESPERF_JWT_KID names, with its
    `kid`, else the configured secret)."""
    if role is Role.MANAGER and not team:
        raise typer.BadParameter("a manager's token needs --team", param_hint="--team")
    if ttl < 1:
        raise typer.BadParameter("must be at least 1 second", param_hint="--ttl")
    typer.echo(
        mint_token(CommonSettings(), org=org, role=role, sub=sub, team=team, ttl_seconds=ttl)
    )


@app.command()
def run(
    org: Annotated[str, typer.Option(help="Org of the development admin token printed.")] = "demo",
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Start the database (embedded unless DATABASE_URL is set), migrate, and serve every service."""

    settings = CommonSettings()
    # SIGTERM before the services take over their signals: exit through `finally`, not silently.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    watchdog: subprocess.Popen[bytes] | None = None
    try:
        with console.status(
            "starting PostgreSQL" + ("" if settings.database_url else " (embedded)")
        ):
            url = sync_url(settings)
            if settings.database_url is None:
                watchdog = _watch_embedded(embedded_pgdata(settings.data_dir))
        _serve(settings, url, org, log_level)
    finally:
        if settings.database_url is None:
            stop_embedded()  # the embedded Postgres stops with the run that started it
        if watchdog is not None:
            watchdog.terminate()
            watchdog.wait(5)
    console.print("stopped")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _watch_embedded(pgdata: Path) -> subprocess.Popen[bytes]:
    """The watchdog that stops the embedded Postgres if this process is killed with -9."""
    return subprocess.Popen(
        [sys.executable, "-m", "salesperf.pg_watchdog", str(pgdata), str(os.getpid())],
        start_new_session=True,  # a Ctrl-C to the terminal's group leaves it to its job
        stdin=subprocess.DEVNULL,
    )


def _serve(settings: CommonSettings, url: str, org: str, log_level: str) -> None:
    from salesperf.runner import serve, service_urls

    with console.status("migrating"):
        run_migrations(url)
    admin = mint_token(
        settings,
        org=org,
        role=Role.ADMIN,
        sub="dev-admin",
        ttl_seconds=7 * 24 * 3600,
    )
    table = Table(title="salesperf is running", show_header=True)
    table.add_column("service")
    table.add_column("API docs")
    for name, base in service_urls():
        table.add_row(name, f"{base}/docs")
    console.print(table)
    console.print(f"Development admin token for org [bold]{org}[/bold] (valid 7 days):")
    console.print(admin, soft_wrap=True, highlight=False)
    console.print("Press Ctrl-C to stop.")
    asyncio.run(serve(url, log_level=log_level))


@app.command()
def demo(
    url: ActivityUrl = None,
    org: Annotated[str, typer.Option(help="The org to fill.")] = "demo",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same events.")] = 7,
    scale: Annotated[float, typer.Option(help="Activities per rep-day, relative.")] = 1.0,
    start: Annotated[
        str, typer.Option(help="First day of the quarter (YYYY-MM-DD).")
    ] = "2026-07-01",
    days: Annotated[int, typer.Option(help="Length of the quarter in days.")] = 92,
) -> None:
    """Post a synthetic sales quarter (3 teams of 4 reps, ~10,000 events) to activity."""
    from datetime import date

    from rich.markup import escape

    from salesperf.demo import DemoError, run_demo

    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            "must be a date such as 2026-07-01", param_hint="--start"
        ) from None
    if scale <= 0 or days < 1:
        raise typer.BadParameter("--scale must be positive and --days at least 1")
    try:
        result = asyncio.run(
            run_demo(
                url=url,
                org=org,
                seed=seed,
                scale=scale,
                start=first_day,
                days=days,
                console=console,
            )
        )
    except DemoError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    table = Table(title=f"org {org}: {result.posted:,} events", show_header=True)
    table.add_column("type")
    table.add_column("events", justify="right")
    for event_type, count in result.types.items():
        table.add_row(event_type, f"{count:,}")
    console.print(table)
    console.print(
        f"posted {result.posted:,} events in {result.batches} batches in {result.seconds:.1f} s "
        f"({result.rate:,.0f} events/s): [green]{result.created:,} new[/green], "
        f"{result.duplicates:,} already stored"
    )


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="NDJSON, CSV or Parquet file of events.",
        ),
    ],
    org: Annotated[str, typer.Option(help="The org to import into.")],
    url: ActivityUrl = None,
    format: Annotated[
        str | None,
        typer.Option(
            help="ndjson, csv or parquet \\[default: from the file's extension].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import a file of events (history from a CRM) into activity, with a progress bar."""
    import httpx
    from rich.markup import escape

    from salesperf.demo import activity_url
    from salesperf.import_cli import FORMAT_MEDIA, ImportFailed, run_import

    if format is not None and format not in FORMAT_MEDIA:
        raise typer.BadParameter("must be ndjson, csv or parquet", param_hint="--format")
    try:
        job = run_import(url or activity_url(), org, file, fmt=format, console=console)
    except (ImportFailed, OSError, ValueError, httpx.HTTPError) as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"{job['state']}: {job['rows_read']:,} rows read, [green]{job['stored']:,} stored[/green],"
        f" {job['duplicates']:,} already stored, {job['rejected']:,} rejected"
    )
    for error in job.get("first_errors", []):
        fields = "; ".join(f"{e['field']}: {e['message']}" for e in error["errors"])
        console.print(f"  row {error['row']}: {escape(fields)}", highlight=False)
    if job["state"] != "done":
        console.print(f"[red]{escape(job.get('error') or 'failed')}[/red]", highlight=False)
        raise typer.Exit(2)


if __name__ == "__main__":
    app()
