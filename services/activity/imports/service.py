"""Bulk imports: an uploaded file of events, appended in the background, chunk by chunk.

A job is a file spooled to the replica that received it (`ACTIVITY_IMPORT_DIR`) and a row of
`activity.imports`. Its runner holds the job's advisory lock for as long as it runs and, for
each chunk of rows:
1. reads, validates and renders it (imports/preparer.py: in a worker thread, or for a large
   file in a process of its own, chunks ahead of the one being stored, so Python's work, the
   runner's and PostgreSQL's overlap);
2. appends its valid rows through the same planner and group-commit `store` as the API, each
   row decided on its own (a row that conflicts is rejected, its neighbours go on), under the
   org's append lock: positions are allocated as for any append, so a feed reader skips nothing;
3. writes the chunk's counts, its rejections and `rows_done` in the same transaction.
A chunk is stored whole or not at all, and a job resumed after a crash or a restart (at start-up,
by the replica holding its file) begins after the last committed chunk: no row is stored or
counted twice. Live appends to the org wait for at most one chunk's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg
import structlog

from shared import tasks
from shared.auth import Principal, Role
from shared.errors import DomainError, field_error

from .. import metrics
from .. import repository as events_repository
from ..writer import UNAVAILABLE, Appendable, store
from . import preparer, repository
from .exceptions import (
    EmptyFile,
    FileTooLarge,
    ImportNotAllowed,
    ImportNotFound,
    ImportsHidden,
    UnreadableFileRefused,
)
from .formats import Format, UnreadableFile, check
from .preparer import Prepared
from .validation import Rejection

log = structlog.get_logger(__name__)

IMPORTERS = (Role.ADMIN, Role.SERVICE)
RETRIES = 8


class Importer:
    """The import jobs of one activity replica."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        directory: Path,
        *,
        host: str | None = None,
        chunk_rows: int = 5000,
        max_bytes: int = 10 * 1024**3,
        process_bytes: int = 8 * 1024**2,
        on_commit: Callable[[str], None] = lambda org: None,
    ) -> None:
        self._pool = pool
        self._dir = directory
        self.host = host or socket.gethostname()
        self._chunk_rows = chunk_rows
        self.max_bytes = max_bytes
        self._process_bytes = process_bytes
        self._on_commit = on_commit
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self.preparers: dict[UUID, preparer.Preparer] = {}  # of the jobs running here

    def path(self, id: UUID) -> Path:
        return self._dir / f"{id}.upload"

    async def start(self) -> None:
        """Resume the unfinished jobs whose files this replica holds."""
        self._dir.mkdir(parents=True, exist_ok=True)
        async with self._pool.acquire() as conn:
            jobs = await repository.resumable(conn, self.host)
            for job in jobs:
                if self.path(job["id"]).exists():
                    self._spawn(job["id"])
                else:
                    await repository.finish_job(conn, job["id"], state="failed", error=_LOST)

    async def stop(self) -> None:
        """Stop every running job where it stands; each resumes at the next start."""
        await tasks.stop(*self._tasks.values())

    # ------------------------------------------------------------------ creating a job

    async def create(
        self,
        principal: Principal,
        body: AsyncIterator[bytes],
        fmt: Format,
        filename: str | None,
    ) -> asyncpg.Record:
        """Spool the upload, check the file can be read as a whole, queue the job."""
        if principal.role not in IMPORTERS or principal.is_platform:
            raise ImportNotAllowed()
        id = uuid.uuid4()
        path = self.path(id)
        self._dir.mkdir(parents=True, exist_ok=True)
        try:
            size = await _spool(body, path, self.max_bytes)
            rows_total = await asyncio.to_thread(_check, path, fmt)
            async with self._pool.acquire() as conn:
                job = await repository.insert_job(
                    conn,
                    id=id,
                    org_id=principal.org,
                    format=fmt.value,
                    filename=filename,
                    size_bytes=size,
                    rows_total=rows_total,
                    subject=principal.sub,
                    role=principal.role.value,
                    host=self.host,
                )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        self._spawn(id)
        return job

    def _spawn(self, id: UUID) -> None:
        if id in self._tasks:
            return
        task = asyncio.create_task(self._run(id), name=f"import-{id}")
        self._tasks[id] = task
        task.add_done_callback(lambda _: self._tasks.pop(id, None))

    # ------------------------------------------------------------------ running a job

    async def _run(self, id: UUID) -> None:
        """Run the job; when the database is briefly out of reach (a lost connection, the org's
        append lock held too long elsewhere), wait and go on from the last committed chunk."""
        for attempt in range(RETRIES + 1):
            try:
                async with self._pool.acquire() as conn:
                    if not await repository.try_lock_job(conn, id):
                        return  # another runner has it
                    try:
                        await self._run_locked(conn, id)
                        return
                    finally:
                        with contextlib.suppress(Exception):
                            await repository.unlock_job(conn, id)
            except UNAVAILABLE as exc:
                log.warning("import interrupted", job=str(id), error=repr(exc), attempt=attempt)
                await asyncio.sleep(min(30.0, 2.0**attempt))
        log.error("import left to the next start", job=str(id))

    async def _run_locked(self, conn: asyncpg.Connection, id: UUID) -> None:
        job = await repository.start_job(conn, id)
        if job is None:
            return
        principal = Principal(org=job["org_id"], role=Role(job["role"]), sub=job["subject"])
        path = self.path(id)
        if not path.exists():
            await repository.finish_job(conn, id, state="failed", error=_LOST)
            return
        log.info("import started", job=str(id), org=principal.org, after=job["rows_done"])
        chunks = preparer.start(
            path,
            Format(job["format"]),
            chunk_rows=self._chunk_rows,
            after=job["rows_done"],
            principal=principal,
            process=path.stat().st_size >= self._process_bytes,
        )
        self.preparers[id] = chunks
        try:
            while (prepared := await chunks.next()) is not None:
                await self._commit(conn, id, principal, prepared)
        except (asyncio.CancelledError, *UNAVAILABLE):
            raise  # stopped or interrupted: resumed after the last committed chunk
        except (UnreadableFile, ValueError) as exc:
            log.warning("import failed", job=str(id), error=repr(exc))
            await repository.finish_job(conn, id, state="failed", error=str(exc)[:500])
        except Exception as exc:
            log.exception("import failed", job=str(id))
            await repository.finish_job(conn, id, state="failed", error=repr(exc)[:500])
        else:
            await repository.finish_job(conn, id, state="done")
            log.info("import done", job=str(id), org=principal.org)
        finally:
            self.preparers.pop(id, None)
            chunks.close()
        path.unlink(missing_ok=True)

    async def _commit(
        self, conn: asyncpg.Connection, id: UUID, principal: Principal, prepared: Prepared
    ) -> None:
        rows = [
            Appendable(principal, [c], batch=False, drafts=[d])
            for (_, c), d in zip(prepared.candidates, prepared.drafts, strict=True)
        ]
        rejected = list(prepared.rejected)
        stored = duplicates = 0
        try:
            if rows:
                outcomes = await store(conn, principal.org, rows)  # begins, with the org's lock
            else:
                outcomes = []
                await events_repository.begin_locked(conn, principal.org)
            for (number, candidate), outcome in zip(prepared.candidates, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    rejected.append(
                        Rejection(
                            number,
                            str(candidate.event_id),
                            outcome.errors
                            or [field_error("row", outcome.detail or "", outcome.slug)],
                        )
                    )
                elif outcome[0].created:
                    stored += 1
                else:
                    duplicates += 1
            rejected.sort(key=lambda r: r.number)
            await repository.record_chunk(
                conn,
                id,
                rows_done=prepared.last,
                read=prepared.read,
                stored=stored,
                duplicates=duplicates,
                rejected=rejected,
                progress=prepared.fraction,
            )
            await events_repository.commit(conn)
        except BaseException:
            await events_repository.rollback(conn)
            raise
        if stored:
            self._on_commit(principal.org)
            metrics.EVENTS_IMPORTED.inc(stored)
        metrics.IMPORT_ROWS_REJECTED.inc(len(rejected))

    # ------------------------------------------------------------------ reading jobs

    async def get(self, principal: Principal, id: UUID) -> asyncpg.Record:
        _may_read(principal)
        async with self._pool.acquire() as conn:
            job = await repository.get_job(conn, principal.org, id)
        if job is None:
            raise ImportNotFound(id)
        return job

    async def jobs(
        self, principal: Principal, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[asyncpg.Record]:
        _may_read(principal)
        async with self._pool.acquire() as conn:
            return await repository.list_jobs(conn, principal.org, before=before, limit=limit)

    async def errors(
        self, principal: Principal, id: UUID, after: int, limit: int
    ) -> list[asyncpg.Record]:
        await self.get(principal, id)
        async with self._pool.acquire() as conn:
            return await repository.list_errors(conn, id, after=after, limit=limit)


_LOST = (
    "The uploaded file was lost before the import finished (the import directory is not "
    "persistent?). Upload it again: rows already stored count as duplicates."
)


def _may_read(principal: Principal) -> None:
    if principal.role not in IMPORTERS or principal.is_platform:
        raise ImportsHidden()


def _check(path: Path, fmt: Format) -> int | None:
    try:
        return check(path, fmt)
    except UnreadableFile as exc:
        raise UnreadableFileRefused(fmt.value, str(exc)) from None


async def _spool(body: AsyncIterator[bytes], path: Path, max_bytes: int) -> int:
    size = 0
    with path.open("wb") as file:
        async for piece in body:
            size += len(piece)
            if size > max_bytes:
                raise FileTooLarge(max_bytes)
            file.write(piece)  # the server's receive chunks: small, buffered writes
    if size == 0:
        raise EmptyFile()
    return size
