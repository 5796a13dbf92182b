"""stack.process / stack.health.wait_http: the helpers tests and benchmarks start servers with."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from stack.health import StartError, wait_http
from stack.ports import free_port, is_free
from stack.process import ManagedProcess, find_executable, log_tail


def test_free_port_is_bindable() -> None:
    assert is_free("127.0.0.1", free_port())


def test_find_executable_prefers_the_venv() -> None:
    assert find_executable("python").parent == Path(sys.executable).parent
    with pytest.raises(FileNotFoundError, match="no-such-tool"):
        find_executable("no-such-tool")


def test_log_tail(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "missing.log") == "<no log file>"
    (tmp_path / "a.log").write_text("".join(f"line {i}\n" for i in range(50)))
    assert log_tail(tmp_path / "a.log", 2) == "line 48\nline 49"


def test_server_answers_then_stop_ends_the_whole_group(tmp_path: Path) -> None:
    port = free_port()
    # The leader spawns a child (like `mlflow server` its workers); stop() must end both.
    script = (
        "import subprocess, sys;"
        f"subprocess.Popen([sys.executable, '-m', 'http.server', '{port}',"
        " '--bind', '127.0.0.1']).wait()"
    )
    proc = ManagedProcess("web", [sys.executable, "-c", script], tmp_path / "web.log").start()
    try:
        assert wait_http(f"http://127.0.0.1:{port}/", 30, process=proc) == 200
        assert "$ " in proc.tail()  # the command line heads the log
    finally:
        proc.stop(timeout=5)
    assert not proc.is_running()
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    proc.stop()  # idempotent


def test_wait_http_names_a_process_that_exits(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "print('cannot bind: address in use'); raise SystemExit(3)"]
    with (
        ManagedProcess("broken", cmd, tmp_path / "broken.log") as proc,
        pytest.raises(StartError) as err,
    ):
        wait_http(f"http://127.0.0.1:{free_port()}/", 30, process=proc)
    message = str(err.value)
    assert "broken exited with code 3" in message and "address in use" in message


def test_wait_http_times_out_with_the_last_error(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(StartError, match="did not answer .* within 1 s"):
        wait_http(f"http://127.0.0.1:{free_port()}/", 1, log_path=tmp_path / "none.log")
    assert time.monotonic() - started < 10


def test_restarted_reuses_command_log_and_env(tmp_path: Path) -> None:
    proc = ManagedProcess("x", ["true"], tmp_path / "x.log", env={"A": "1"}, cwd=tmp_path)
    again = proc.restarted()
    assert (again.name, again.cmd, again.log_path, again.env, again.cwd) == (
        "x",
        ["true"],
        tmp_path / "x.log",
        {"A": "1"},
        tmp_path,
    )
    assert again is not proc and again.returncode is None
