"""The detached supervisor: honcho runs every service and tees its output into log files.

`logs/stack.log` holds every line, prefixed with time and service (what `make logs` follows);
`logs/<service>.log` holds one service's output, the file error messages point at. As honcho
does, one service exiting stops them all: SIGTERM to each process group, SIGKILL after the
grace period (the Airflow scheduler can hang on an idle worker, apache/airflow#67870).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import IO

from honcho import manager as honcho_manager
from honcho.printer import Message, Printer

from stack.config import REPO_ROOT, StackSettings
from stack.credentials import load_or_create
from stack.services import build

COMBINED_LOG = "stack.log"


class TeePrinter(Printer):
    """Honcho's printer writing to the combined log, plus one file per service."""

    def __init__(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_dir = log_dir
        self._files: dict[str, IO[str]] = {}
        combined = (log_dir / COMBINED_LOG).open("a", encoding="utf-8", buffering=1)
        super().__init__(combined, colour=False, prefix=True)

    def write(self, message: Message) -> None:
        super().write(message)
        if message.name and message.name != honcho_manager.SYSTEM_PRINTER_NAME:
            out = self._files.get(message.name)
            if out is None:
                path = self._log_dir / f"{message.name}.log"
                out = self._files[message.name] = path.open("a", encoding="utf-8", buffering=1)
            data = message.data
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            out.write(text if text.endswith("\n") else text + "\n")


def run(settings: StackSettings) -> int:
    """Run every service until one exits or a SIGTERM arrives; return honcho's exit code."""
    creds, _ = load_or_create(settings.secrets_dir)
    # honcho has no option for it; KILL_WAIT is read at each loop turn.
    honcho_manager.KILL_WAIT = settings.stop_grace
    mgr = honcho_manager.Manager(TeePrinter(settings.log_dir))
    for service in build(settings, creds):
        mgr.add_process(
            service.name, "exec " + shlex.join(service.argv), env=service.env, cwd=str(REPO_ROOT)
        )
    mgr.loop()
    return int(mgr.returncode or 0)
