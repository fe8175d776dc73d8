"""Preparing an import's chunks beside the event loop: read, validated, planned-for and rendered.

A chunk is ready to store once its records are read, validated into `Candidate`s and each
candidate's stored JSON drafted (`repository.draft`); what is left for the job's runner is what
only the org's append lock decides. That preparation is most of an import's CPU:
- `ThreadPreparer` runs it in a thread of the service's own process, a chunk ahead of the one
  being stored (a small file: no process to start);
- `ProcessPreparer` runs it in a process of its own, started for the job (a file of at least
  `ACTIVITY_IMPORT_PROCESS_BYTES`), which reads the file itself and hands finished chunks over a
  pipe, ahead of the runner: on two cores, Python's validation and the stored chunk's planning and COPY
  run side by side instead of taking turns at one interpreter lock.
Both prepare with the same function; a chunk crosses the process boundary as `marshal`ed plain
values (pickling its dataclasses, ids and times cost as much as validating them). A preparer process that dies
mid-job (killed, out of memory) raises `PreparerLost`, which the runner treats like a lost
database connection: the job goes on from its last committed chunk.
"""

from __future__ import annotations

import asyncio
import gc
import marshal
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from asyncpg.pgproto.pgproto import UUID as PgUUID

from shared.auth import Principal

from ..domain import Candidate, from_microseconds, microseconds
from ..repository import Draft, draft
from .formats import Chunk, Format, read
from .validation import Rejection, validate


@dataclass(frozen=True, slots=True)
class Prepared:
    """A chunk ready to store: its rows' candidates (by record number) with their drafts."""

    read: int  # records read (bad ones included)
    last: int  # the number of the chunk's last record
    fraction: float  # how much of the file is read, 0–1
    candidates: list[tuple[int, Candidate]]
    drafts: list[Draft]
    rejected: list[Rejection]


class PreparerLost(OSError):
    """The preparer process ended without finishing (killed, out of memory): retried."""


class Preparer(Protocol):
    async def next(self) -> Prepared | None: ...

    def close(self) -> None: ...


def prepare(chunk: Chunk, principal: Principal) -> Prepared:
    validated = validate(chunk.records, principal)
    drafts = [draft(principal.org, c) for _, c in validated.candidates]
    return Prepared(
        len(chunk.records),
        chunk.last,
        chunk.fraction,
        validated.candidates,
        drafts,
        validated.rejected,
    )


class _OneAhead:
    """Takes the next chunk (`_take`, blocking) in a worker thread while the runner stores
    the one before."""

    _upcoming: asyncio.Future[Prepared | None] | None = None

    def _take(self) -> Prepared | None:
        raise NotImplementedError

    async def next(self) -> Prepared | None:
        loop = asyncio.get_running_loop()
        upcoming = self._upcoming or loop.run_in_executor(None, self._take)
        prepared = await upcoming
        self._upcoming = None if prepared is None else loop.run_in_executor(None, self._take)
        return prepared


class ThreadPreparer(_OneAhead):
    """Chunks prepared in a worker thread, one ahead of the runner."""

    def __init__(
        self, path: Path, fmt: Format, *, chunk_rows: int, after: int, principal: Principal
    ) -> None:
        self._chunks = read(path, fmt, chunk_rows=chunk_rows, after=after)
        self._principal = principal

    def _take(self) -> Prepared | None:
        chunk = next(self._chunks, None)
        return None if chunk is None else prepare(chunk, self._principal)

    def close(self) -> None:
        if self._upcoming is not None:
            self._upcoming.cancel()


class ProcessPreparer(_OneAhead):
    """Chunks prepared by a process of the job's own. It sends each over a pipe of which it
    holds the only writing end, so a preparer that dies, even halfway through sending a chunk,
    ends the pipe (`PreparerLost`) instead of leaving the runner waiting; the runner receives
    the next chunk while it stores one, and the preparer prepares the one after meanwhile."""

    def __init__(
        self, path: Path, fmt: Format, *, chunk_rows: int, after: int, principal: Principal
    ) -> None:
        context = _context()
        self._reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve,
            args=(str(path), fmt.value, chunk_rows, after, principal, writer),
            name="salesperf-import-preparer",
            daemon=True,
        )
        try:
            self._process.start()
        finally:
            writer.close()  # the preparer's is now the only writing end

    @property
    def pid(self) -> int | None:
        pid: int | None = self._process.pid
        return pid

    def _take(self) -> Prepared | None:
        try:
            message = self._reader.recv()
        except (EOFError, OSError):
            self._process.join(1)
            raise PreparerLost(
                f"the import's preparer process ended (exit code {self._process.exitcode}) "
                "before the file was read"
            ) from None
        kind = message[0]
        if kind == "chunk":
            return _decode(message[1:])
        if kind == "done":
            return None
        if kind == "failed":
            raise ValueError(message[1])
        raise RuntimeError(message[1])

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()  # a receive still waiting then ends with the pipe
        self._process.join(5)
        upcoming, self._upcoming = self._upcoming, None
        if upcoming is None or upcoming.done():
            self._reader.close()
        else:  # its receive ends with the pipe: then take what it raised, and close
            upcoming.add_done_callback(self._closed)

    def _closed(self, upcoming: asyncio.Future[Prepared | None]) -> None:
        if not upcoming.cancelled():
            upcoming.exception()  # retrieved: PreparerLost, as the pipe ended
        self._reader.close()


def _context() -> multiprocessing.context.ForkServerContext:
    """Preparers fork from a server process started once, at the first large import, with
    this module imported (a fork of it starts in milliseconds, a fresh interpreter in ~0.5 s);
    nothing of the service's event loop, threads or connections is copied into them."""
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, multiprocessing.context.ForkServerContext)
    context.set_forkserver_preload([__name__])
    return context


def start(
    path: Path, fmt: Format, *, chunk_rows: int, after: int, principal: Principal, process: bool
) -> Preparer:
    kind = ProcessPreparer if process else ThreadPreparer
    return kind(path, fmt, chunk_rows=chunk_rows, after=after, principal=principal)


# --------------------------------------------------------------------------- the process


def _serve(
    path: str,
    fmt: str,
    chunk_rows: int,
    after: int,
    principal: Principal,
    out: Connection,
) -> None:
    gc.freeze()  # the modules just imported are never garbage: not walked chunk after chunk
    try:
        chunks: Iterator[Chunk] = read(Path(path), Format(fmt), chunk_rows=chunk_rows, after=after)
        for chunk in chunks:
            out.send(("chunk", *_encode(prepare(chunk, principal))))
    except ValueError as exc:  # UnreadableFile included: the job fails with its message
        out.send(("failed", str(exc)))
    except Exception as exc:
        out.send(("error", repr(exc)))
    else:
        out.send(("done",))
    finally:
        out.close()


def _encode(p: Prepared) -> tuple[bytes, list[Rejection]]:
    """A chunk as `marshal` bytes of plain values (ids as 16 bytes, times as microseconds
    since the epoch): a tenth of what pickling its objects costs on either side."""
    rows = [
        (
            n,
            c.event_id.bytes,
            c.type,
            c.stream,
            c.rep_id,
            c.team_id,
            microseconds(c.occurred_at),
            c.schema_version,
            c.data_json,
            c.metadata_json,
            c.content_hash,
            c.expected_version,
            c.voids.bytes if c.voids is not None else None,
            c.reassigns_to,
            d.head,
            d.middle,
            d.tail,
        )
        for (n, c), d in zip(p.candidates, p.drafts, strict=True)
    ]
    return marshal.dumps((p.read, p.last, p.fraction, rows)), p.rejected


def _decode(message: tuple[Any, ...]) -> Prepared:
    """The chunk `_encode` sent; ids as asyncpg's UUIDs (equal to, and hashed as, `uuid.UUID`s
    of the same value, and built in C), times in UTC (their offset is in the drafts already)."""
    data, rejected = message
    read_, last, fraction, rows = marshal.loads(data)
    candidates = [
        (
            r[0],
            Candidate(
                PgUUID(r[1]),
                r[2],
                r[3],
                r[4],
                r[5],
                from_microseconds(r[6]),
                r[7],
                r[8],
                r[9],
                r[10],
                r[11],
                None if r[12] is None else PgUUID(r[12]),
                r[13],
            ),
        )
        for r in rows
    ]
    drafts = [Draft(*r[14:]) for r in rows]
    return Prepared(read_, last, fraction, candidates, drafts, rejected)
