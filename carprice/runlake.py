"""Where one pipeline run keeps its files in the lake, and the write-then-mark protocol.

Layout: ``{lake_root}/runs/<safe run id>/<stage>/<file>``. A stage is written by
``StageWriter``: it first deletes the stage's ``_SUCCESS`` manifest, writes the files, then
writes the manifest last (file names, sizes, SHA-256). Readers go through ``read``, which
refuses a stage without a manifest or a file that does not match it, so nobody ever reads a
half-written or half-rewritten stage; a retried task simply rewrites its stage.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from types import TracebackType
from typing import Any, Self

import pandas as pd

from carprice import lake

MANIFEST = "_SUCCESS"


class IncompleteRunData(RuntimeError):
    """A stage of a run is missing, being rewritten, or does not match its manifest."""


def safe_run_id(run_id: str) -> str:
    """Airflow run ids (``manual__2026-01-01T00:00:00+00:00``) made safe for paths and keys."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id.strip()).strip("._")
    if not safe:
        raise ValueError(f"run id {run_id!r} has no usable characters")
    return safe


def run_uri(lake_root: str, run_id: str) -> str:
    """The run's prefix: ``{lake_root}/runs/<safe run id>``."""
    return lake.join(lake_root, "runs", safe_run_id(run_id))


def stage_uri(run: str, stage: str, name: str = "") -> str:
    """A stage folder, or one file in it."""
    return lake.join(run, stage, name) if name else lake.join(run, stage)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class StageWriter:
    """Context manager: ``with StageWriter(run, "processed") as w: w.write("x.csv", data)``.

    The manifest is written only when the block ends without an exception.
    """

    def __init__(self, run: str, stage: str) -> None:
        self.run = run
        self.stage = stage
        self.files: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> Self:
        lake.delete(stage_uri(self.run, self.stage, MANIFEST))
        return self

    def write(self, name: str, data: bytes) -> str:
        """Write one file of the stage; returns its URI."""
        uri = lake.write_bytes(stage_uri(self.run, self.stage, name), data)
        self.files[name] = {"bytes": len(data), "sha256": _digest(data)}
        return uri

    def write_json(self, name: str, payload: Any) -> str:
        return self.write(name, json.dumps(payload, indent=2, default=str).encode())

    def write_csv(self, name: str, frame: pd.DataFrame) -> str:
        return self.write(name, frame.to_csv(index=False).encode())

    def write_parquet(self, name: str, frame: pd.DataFrame) -> str:
        return self.write(name, lake.parquet_bytes(frame))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            manifest = {"stage": self.stage, "written_at": time.time(), "files": self.files}
            lake.write_bytes(
                stage_uri(self.run, self.stage, MANIFEST), json.dumps(manifest).encode()
            )


def manifest(run: str, stage: str) -> dict[str, Any]:
    """The stage's manifest; ``IncompleteRunData`` if the stage was never finished."""
    try:
        return json.loads(lake.read_bytes(stage_uri(run, stage, MANIFEST)))
    except FileNotFoundError as exc:
        raise IncompleteRunData(
            f"stage '{stage}' of {run} is not complete (no {MANIFEST}): "
            "run the step that writes it first"
        ) from exc


def is_complete(run: str, stage: str) -> bool:
    return lake.exists(stage_uri(run, stage, MANIFEST))


def read(run: str, stage: str, name: str) -> bytes:
    """One file of a finished stage, checked against the manifest."""
    entry = manifest(run, stage)["files"].get(name)
    if entry is None:
        raise IncompleteRunData(f"stage '{stage}' of {run} has no file {name!r}")
    try:
        data = lake.read_bytes(stage_uri(run, stage, name))
    except FileNotFoundError as exc:
        raise IncompleteRunData(f"{name} of stage '{stage}' is missing in {run}") from exc
    if len(data) != entry["bytes"] or _digest(data) != entry["sha256"]:
        raise IncompleteRunData(
            f"{name} of stage '{stage}' in {run} does not match its manifest "
            "(changed or half-written after the stage finished)"
        )
    return data


def read_json(run: str, stage: str, name: str) -> Any:
    return json.loads(read(run, stage, name))


def read_parquet(run: str, stage: str, name: str) -> pd.DataFrame:
    import io

    return pd.read_parquet(io.BytesIO(read(run, stage, name)))
