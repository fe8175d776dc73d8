"""Where the database is, and the async engine/session helpers every service uses.

`DATABASE_URL` set: that server. Unset: the embedded PostgreSQL of the `pgserver` package,
with its data under `<data_dir>/pg`, reached over a Unix socket; a fresh clone needs no server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.config import CommonSettings

EMBEDDED_DATABASE = "salesperf"
MIGRATION_LOCK = 0x5A1E0001  # session advisory lock: replicas starting together migrate in turn
_embedded: dict[Path, Any] = {}


def embedded_pgdata(data_dir: Path) -> Path:
    return (data_dir / "pg").resolve()


def embedded_server(data_dir: Path) -> Any:
    """Start (or join) the embedded Postgres under `data_dir/pg`; stopped when its last user exits.

    pgserver counts its users in `pgdata/.handle_pids.json` and stops the server when the last
    one exits; a user killed with -9 never left that list, so the server outlived every later
    run. The pids of processes that are gone are dropped first: a postmaster left by such a
    user is joined, and stopped when this process, then its last user, exits."""
    pgdata = embedded_pgdata(data_dir)
    if pgdata not in _embedded:
        # pgserver keeps a lock file in the XDG runtime dir and warns when there is none.
        runtime = data_dir.resolve() / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import pgserver  # only the embedded server needs it (and its import is slow)

        logging.getLogger("pgserver").setLevel(logging.WARNING)

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with _pgserver_lock():
            forget_dead_users(pgdata)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
        if "(0 rows)" in exists:
            server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
        _embedded[pgdata] = server
    return _embedded[pgdata]


def _pgserver_lock() -> Any:
    """pgserver's own inter-process lock, under which it reads and writes its list of users."""
    from pgserver.postgres_server import PostgresServer  # as `import pgserver` above

    return PostgresServer._lock


def forget_dead_users(pgdata: Path) -> list[int]:
    """Drop the processes that are gone from pgserver's list of the server's users (call it
    under `_pgserver_lock`); the users still alive."""
    import psutil  # type: ignore[import-untyped]

    path = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(pids, list):
        pids = []
    alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p)]
    if alive != pids:
        path.write_text(json.dumps(alive))
    return alive


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the postmaster running on `pgdata`, or None."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


def stop_postmaster(pgdata: Path, timeout: float = 15) -> None:
    """Stop the postmaster on `pgdata` (fast shutdown; then immediate; then SIGKILL)."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        pid = postmaster_pid(pgdata)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and postmaster_pid(pgdata) == pid:
            time.sleep(0.1)


def stop_if_unused(pgdata: Path) -> bool:
    """Stop the embedded Postgres on `pgdata` if no live process uses it; True if it was."""
    with _pgserver_lock():
        if forget_dead_users(pgdata):
            return False
        stop_postmaster(pgdata)
        return True


def stop_embedded() -> None:
    """Leave the embedded Postgres this process started or joined: stopped unless another live
    process still uses it (pgserver's atexit hook does the same, if nothing did it before)."""
    while _embedded:
        pgdata, server = _embedded.popitem()
        server.cleanup()
        stop_if_unused(pgdata)


def sync_url(settings: CommonSettings) -> str:
    """A libpq-style URL (postgresql://…) for the configured or embedded database."""
    if settings.database_url:
        url = make_url(settings.database_url)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)
    return str(embedded_server(settings.data_dir).get_uri(EMBEDDED_DATABASE))


def async_url(url: str) -> str:
    """The SQLAlchemy asyncpg form of a Postgres URL."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The plain form asyncpg.connect() accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(
    url: str, *, pool_size: int = 10, application_name: str = "salesperf"
) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        json_serializer=lambda obj: orjson.dumps(obj).decode(),
        json_deserializer=orjson.loads,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with request.app.state.sessionmaker.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def run_migrations(url: str, revision: str = "head") -> None:
    """`alembic upgrade head` against `url` (synchronous: call it outside the event loop)."""
    from alembic import command  # only migrations need alembic (a slow import)
    from alembic.config import Config

    from shared.config import REPO_ROOT

    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.attributes["url"] = url
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, revision)


async def release_as_is(conn: asyncpg.Connection) -> None:
    """`reset=` for an asyncpg pool whose users leave a connection as they found it.

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: a round trip per borrowed connection, measured at ~5 % of the CPU of a
    `/v1/kpis` answer. Our pools take no session locks, LISTEN or SET on borrowed connections
    (the lease locks and LISTEN have dedicated connections; settings are SET LOCAL), so only an
    unfinished transaction is ended here.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")
