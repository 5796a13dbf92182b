"""A service marked `restart` (the Celery workers) comes back when it dies, even by SIGKILL,
and a TERM to its process group (what `down` sends) ends the loop and the service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack import supervise
from stack.services import Service


def test_only_restartable_services_run_in_the_loop() -> None:
    plain = Service("api", ["/bin/api", "--port", "1"], "http://x/")
    assert supervise.command(plain) == "exec /bin/api --port 1"
    worker = Service("airflow-worker-1", ["/bin/airflow", "celery", "worker"], "http://x/",
                     restart=True)  # fmt: skip
    line = supervise.command(worker)
    assert line.startswith("exec sh -c ") and line.endswith(
        "restart-loop airflow-worker-1 /bin/airflow celery worker"
    )


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its parent, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_a_killed_service_starts_again_and_term_stops_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(supervise, "RESTART_DELAY_SECONDS", 0.2)
    pids = tmp_path / "pids"
    # The service forks a helper (as a worker forks its log server) that outlives it.
    child = (
        "import os, subprocess, sys, time; "
        "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pids)!r}, 'a').write(f'{{os.getpid()}} {{helper.pid}} '); time.sleep(60)"
    )
    service = Service("worker", [sys.executable, "-c", child], "http://x/", restart=True)
    loop = subprocess.Popen(  # as honcho runs it: a shell line, in a process group of its own
        supervise.command(service), shell=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _pids(pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        first, first_helper = _pids(pids)
        os.kill(first, signal.SIGKILL)
        while len(_pids(pids)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_pids(pids)) == 4, "the killed service was not started again"
        second, second_helper = _pids(pids)[2:]
        assert not _alive(first_helper), "what the killed service forked outlived it"
        os.killpg(loop.pid, signal.SIGTERM)  # what `down` does
        out, _ = loop.communicate(timeout=10)
        assert loop.returncode == 0
        assert "worker exited with status 137; starting it again" in out
        time.sleep(0.2)
        assert not _alive(second) and not _alive(second_helper)
    finally:
        if loop.poll() is None:
            os.killpg(loop.pid, signal.SIGKILL)
