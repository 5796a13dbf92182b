"""One supervised subprocess outside honcho: for tests and benchmarks that start a server.

`ManagedProcess` runs a command in its own session (process group) with its output in a log
file. Stopping sends SIGTERM to the whole group, so whatever it spawned goes too (`mlflow
server` starts uvicorn workers), then SIGKILLs what is left after a grace period, as the
stack's supervisor does (the Airflow scheduler can hang on an idle worker,
apache/airflow#67870). Wait for one with `stack.health.wait_http`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

_BIN_DIR = Path(sys.executable).parent


def find_executable(name: str) -> Path:
    """``name`` next to the running interpreter (the venv's bin) or else on PATH."""
    candidate = _BIN_DIR / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name!r} not found in {_BIN_DIR} nor on PATH (pip install the dev extras)"
        )
    return Path(found)


def log_tail(path: Path | None, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file (or a note that there is none)."""
    if path is None or not path.is_file():
        return "<no log file>"
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or "<log file is empty>"


# Safety net: anything still running when the interpreter exits gets stopped.
_LIVE: set[ManagedProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_LIVE):
        proc.stop(timeout=3.0)


class ManagedProcess:
    """A subprocess in its own session/process group, with output going to a log file.

    ``stop()`` sends SIGTERM to the whole group, waits up to ``timeout`` seconds for
    every member to exit, then SIGKILLs what is left. Usable as a context manager.
    """

    def __init__(
        self,
        name: str,
        cmd: Sequence[str | os.PathLike[str]],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.cmd = [os.fspath(c) for c in cmd]
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        """Start the process; output (stdout and stderr) is appended to ``log_path``."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"[{stamp}] $ {' '.join(self.cmd)}\n".encode())
        self._log.flush()
        self._popen = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        _LIVE.add(self)
        return self

    def restarted(self) -> ManagedProcess:
        """A new, not yet started process with the same command, log, environment and cwd."""
        return ManagedProcess(self.name, self.cmd, self.log_path, env=self.env, cwd=self.cwd)

    @property
    def pid(self) -> int:
        """PID of the leader, which is also the process-group id."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} not started")
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit code of the leader, or None while it runs (or was never started)."""
        return None if self._popen is None else self._popen.poll()

    def is_running(self) -> bool:
        """True while the leader process is alive."""
        return self._popen is not None and self._popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """Last lines of this process's log."""
        return log_tail(self.log_path, lines)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - group taken over by another user
            return True
        return True

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL it. Idempotent."""
        popen = self._popen
        if popen is None:
            return
        try:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            # Wait for the leader first (reaps it), then for any other group members.
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            while self._group_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._group_alive() or popen.poll() is None:
                self._signal_group(signal.SIGKILL)
                popen.wait(timeout=5.0)
                end = time.monotonic() + 5.0
                while self._group_alive() and time.monotonic() < end:
                    time.sleep(0.05)
        finally:
            _LIVE.discard(self)
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Self:
        return self if self._popen is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self._popen is None else f"pid={self.pid} rc={self.returncode}"
        return f"<ManagedProcess {self.name} {state}>"
