"""Quote-log rows (quotes and refusals) that couldn't reach the database, kept on local disk
until it is back.

One JSON-lines file per batch, written under a temporary name, fsync'd, then renamed, so a
reader only ever sees whole files; names sort in the order batches were spooled. Replays are
idempotent (`QuoteStore.insert_rows` skips known ids), so a crash between the database write
and the file's removal duplicates nothing, and two processes sharing the folder can't double a
row either.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("carprice.quotelog")

SUFFIX = ".jsonl"
_sequence = itertools.count()


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Spool:
    """A folder of spooled batches: `append`, then `files` in order, `read`, `remove`."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def append(self, rows: Sequence[dict[str, Any]]) -> Path:
        """Write one batch durably (data and the folder entry fsync'd) and return its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_sequence):06d}"
        tmp = self.directory / f".{name}.tmp"
        final = self.directory / f"{name}{SUFFIX}"
        with open(tmp, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=_default, allow_nan=False))
                fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        self._sync_dir()
        return final

    def files(self) -> list[Path]:
        """Spooled batches, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def pending_rows(self) -> int:
        total = 0
        for path in self.files():
            try:
                with open(path, "rb") as fh:
                    total += sum(1 for _ in fh)
            except FileNotFoundError:  # replayed by another process meanwhile
                continue
        return total

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def remove(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:  # another process replayed it too (idempotent)
            return
        self._sync_dir()

    def reject(self, path: Path, reason: str) -> None:
        """A batch the database refuses for its content (not an outage) is set aside, so it
        can't block the batches behind it; kept for a person to look at."""
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        try:
            os.replace(path, rejected / path.name)
        except FileNotFoundError:
            return
        log.error("quote log: spooled batch %s refused by the database (%s); moved to %s",
                  path.name, reason, rejected)  # fmt: skip

    def _sync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
