"""`salesperf import FILE --org ORG`: upload a file of events to activity and follow its job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from shared.auth import Role, mint_token
from shared.config import CommonSettings

MEDIA_TYPES = {
    ".ndjson": "application/x-ndjson",
    ".jsonl": "application/x-ndjson",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
}
FORMAT_MEDIA = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


class ImportFailed(RuntimeError):
    pass


def media_type(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        return FORMAT_MEDIA[fmt]
    try:
        return MEDIA_TYPES[path.suffix.lower()]
    except KeyError:
        raise ImportFailed(
            f"cannot tell the format of {path.name} from its extension: use --format"
        ) from None


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as file:
        while piece := file.read(size):
            yield piece


def run_import(
    url: str,
    org: str,
    path: Path,
    *,
    fmt: str | None = None,
    console: Console | None = None,
    poll: float = 0.5,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Upload `path`, follow the job to its end with a progress bar; the final job."""
    token = mint_token(CommonSettings(), org=org, role=Role.ADMIN, sub="salesperf-cli")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": media_type(path, fmt)}
    with httpx.Client(
        base_url=url, timeout=httpx.Timeout(30, write=None), transport=transport
    ) as http:
        answer = http.post(
            "/v1/imports",
            content=_chunks(path),
            headers=headers,
            params={"filename": path.name[:255]},
        )
        if answer.status_code != 202:
            problem = answer.json() if "json" in answer.headers.get("content-type", "") else {}
            raise ImportFailed(
                f"activity refused the file ({answer.status_code}): "
                f"{problem.get('detail') or answer.text[:300]}"
            )
        location = answer.headers["location"]
        job: dict[str, Any] = answer.json()
        with Progress(
            TextColumn(f"importing [bold]{path.name}[/bold]"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            disable=console is None,
        ) as progress:
            task = progress.add_task("import", total=1.0, counts="")
            while job["state"] in ("queued", "running"):
                time.sleep(poll)
                job = http.get(location, headers=headers).json()
                progress.update(
                    task,
                    completed=job["progress"],
                    counts=(
                        f"{job['stored']:,} stored · {job['duplicates']:,} duplicates · "
                        f"{job['rejected']:,} rejected"
                    ),
                )
        if job["rejected"]:
            errors = http.get(f"{location}/errors", headers=headers, params={"limit": 10})
            job["first_errors"] = errors.json()["items"]
    return job
