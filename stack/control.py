"""Start the supervisor in the background, find it again, and stop everything it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from stack.config import REPO_ROOT, StackSettings
from stack.services import MARKER, base_env
from stack.supervise import COMBINED_LOG

_STOPPED = re.compile(r"\| (?P<name>[\w-]+) stopped \(rc=(?P<rc>-?\d+)\)")
_STARTED = re.compile(r"\| (?P<name>[\w-]+) started \(pid=(?P<pid>\d+)\)")


def read_pid(pidfile: Path) -> int | None:
    """The supervisor's pid if the pidfile names a live supervisor, else None."""
    try:
        pid = int(pidfile.read_text().strip())
        proc = psutil.Process(pid)
        if "stack" in proc.cmdline() and "supervise" in proc.cmdline():
            return pid
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def spawn_supervisor(settings: StackSettings) -> int:
    """Start `python -m stack supervise` in its own session; record and return its pid."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    out = (settings.log_dir / "supervisor.log").open("ab")
    env = base_env(settings)
    env["CARPRICE_STACK_STATE_DIR"] = str(settings.state)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack", "supervise"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out.close()
    settings.pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def marked_processes(state: Path) -> list[psutil.Process]:
    """Every live process carrying this stack's marker (services, workers, the supervisor)."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(MARKER) == str(state) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def stop(settings: StackSettings, log: Callable[[str], None] = print) -> list[int]:
    """SIGTERM the supervisor (honcho stops the services), then SIGKILL whatever is left.

    Returns the pids that had to be killed.
    """
    pid = read_pid(settings.pidfile)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        # honcho escalates to SIGKILL per service after stop_grace; give it that plus slack.
        deadline = time.monotonic() + settings.stop_grace + 5
        while time.monotonic() < deadline and psutil.pid_exists(pid):
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            time.sleep(0.3)
    killed = []
    left = marked_processes(settings.state)
    if left:
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(left, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                log(f"  SIGKILL leftover pid {proc.pid} ({' '.join(proc.cmdline())[:80]})")
                proc.kill()
                killed.append(proc.pid)
        psutil.wait_procs(alive, timeout=5)
    settings.pidfile.unlink(missing_ok=True)
    return killed


def first_stopped(log_dir: Path) -> tuple[str, int] | None:
    """The first service honcho saw exit (name, return code), from the combined log."""
    path = log_dir / COMBINED_LOG
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    # Only the latest session: honcho prints "… started (pid=…)" at each start.
    session = text[text.rfind("| s3 started") :] if "| s3 started" in text else text
    match = _STOPPED.search(session)
    return (match["name"], int(match["rc"])) if match else None


def started_pids(log_dir: Path) -> dict[str, int]:
    """Each service's pid at its latest start, from the combined log's "<name> started
    (pid=N)" lines. For a Celery worker N is its restart loop (`stack.supervise`): the worker
    and all it forks are below it. Read from the log, not found by command line: Celery
    retitles its processes."""
    path = log_dir / COMBINED_LOG
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    return {m["name"]: int(m["pid"]) for m in _STARTED.finditer(text)}  # the last start wins


def memory(state: Path) -> tuple[int, float, float]:
    """(process count, summed RSS MiB, summed PSS MiB) of the stack's processes."""
    rss = pss = 0.0
    procs = marked_processes(state)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return len(procs), rss / 2**20, pss / 2**20
