"""The detached supervisor: honcho runs every service and tees its output into log files.

`logs/stack.log` holds every line, prefixed with time and service (what `make logs` follows);
`logs/<service>.log` holds one service's output, the file error messages point at. As honcho
does, one service exiting stops them all: SIGTERM to each process group, SIGKILL after the
grace period (the Airflow scheduler can hang on an idle worker, apache/airflow#67870). The
exception is a service marked `restart` (the Celery workers): a shell loop starts it again,
as compose's `restart: unless-stopped` would, because losing one worker must not take the
stack down. honcho has no restart policy of its own.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import IO

from honcho import manager as honcho_manager
from honcho.printer import Message, Printer

from stack.config import REPO_ROOT, StackSettings
from stack.credentials import load_or_create
from stack.services import Service, build

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


RESTART_DELAY_SECONDS = 5

# $1: the service's name; the rest: its argv. `setsid` gives each start a process group of
# its own, with the start's pid as its id (a background child is no group leader, so setsid
# execs in place; sh has no job control without a terminal). What a start forked (a worker's
# log server, its task processes) goes with it, so it can't hold a port against the next
# start. A TERM from `down` is passed on to that group and ends the loop.
_RESTART_LOOP = (
    "name=$1; shift; "
    'trap \'kill -TERM -"$child" 2>/dev/null; wait "$child"; exit 0\' TERM INT; '
    'while :; do setsid "$@" & child=$!; wait "$child"; code=$?; kill -KILL -"$child" 2>/dev/null; '
    'echo "$name exited with status $code; starting it again in {delay} s"; sleep {delay}; done'
)


def command(service: Service) -> str:
    """The shell line honcho runs for `service`."""
    if not service.restart:
        return "exec " + shlex.join(service.argv)
    loop = _RESTART_LOOP.format(delay=RESTART_DELAY_SECONDS)
    return "exec " + shlex.join(["sh", "-c", loop, "restart-loop", service.name, *service.argv])


def run(settings: StackSettings) -> int:
    """Run every service until one exits or a SIGTERM arrives; return honcho's exit code."""
    creds, _ = load_or_create(settings.secrets_dir)
    # honcho has no option for it; KILL_WAIT is read at each loop turn.
    honcho_manager.KILL_WAIT = settings.stop_grace
    mgr = honcho_manager.Manager(TeePrinter(settings.log_dir))
    for service in build(settings, creds):
        mgr.add_process(service.name, command(service), env=service.env, cwd=str(REPO_ROOT))
    mgr.loop()
    return int(mgr.returncode or 0)
