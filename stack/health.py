"""Wait for services to answer their health URLs: the stack's services while watching the
supervisor (`wait_all`), or one `ManagedProcess` (`wait_http`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from stack.process import ManagedProcess
from stack.process import log_tail as plain_log_tail
from stack.services import Service

#: Airflow components other than the API server report through its monitor endpoint.
_AIRFLOW_MONITOR_KEYS = {
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag_processor",
    "airflow-triggerer": "triggerer",
}


class StartError(RuntimeError):
    """A service did not come up; the message names it and its log file."""


def is_healthy(service: Service, client: httpx.Client) -> bool:
    """One probe: any answer below 500 (and, for Airflow components, a healthy heartbeat)."""
    try:
        resp = client.get(service.health_url)
    except httpx.HTTPError:
        return False
    if resp.status_code >= 500:
        return False
    key = _AIRFLOW_MONITOR_KEYS.get(service.name)
    if key is None:
        return True
    try:
        return (resp.json().get(key) or {}).get("status") == "healthy"
    except ValueError:
        return False


def log_tail(path: Path, lines: int = 15) -> str:
    """The end of a log, indented under the message that quotes it."""
    return "\n".join("  " + line for line in plain_log_tail(path, lines).splitlines())


def wait_all(
    services: list[Service],
    log_dir: Path,
    timeout: float,
    supervisor_alive: Callable[[], bool],
    first_stopped: Callable[[], tuple[str, int] | None],
    say: Callable[[str], None],
) -> dict[str, float]:
    """Wait until every service is healthy; return seconds each took.

    Raises StartError naming the service that exited (or those that never answered) and
    the log file to read.
    """
    started = time.monotonic()
    pending = list(services)
    took: dict[str, float] = {}
    with httpx.Client(timeout=5, trust_env=False) as client:
        while pending:
            if not supervisor_alive():
                stopped = first_stopped()
                if stopped is None:
                    raise StartError(
                        f"the supervisor exited during start-up; see {log_dir / 'stack.log'}"
                    )
                name, code = stopped
                log = log_dir / f"{name}.log"
                raise StartError(
                    f"{name} exited with code {code} during start-up; see {log}:\n{log_tail(log)}"
                )
            for service in list(pending):
                if is_healthy(service, client):
                    took[service.name] = time.monotonic() - started
                    say(f"  {service.name:<22} up ({took[service.name]:.0f} s)")
                    pending.remove(service)
            if pending and time.monotonic() - started > timeout:
                names = ", ".join(s.name for s in pending)
                logs = "\n".join(
                    f"- {s.name}: {s.health_url} ; log {s.log_file(log_dir)}\n"
                    f"{log_tail(s.log_file(log_dir), 8)}"
                    for s in pending
                )
                raise StartError(f"not healthy after {timeout:.0f} s: {names}\n{logs}")
            if pending:
                time.sleep(1)
    return took


def wait_http(
    url: str,
    timeout: float = 60.0,
    *,
    process: ManagedProcess | None = None,
    log_path: Path | None = None,
    interval: float = 0.2,
) -> int:
    """Poll ``url`` until it answers with any status < 500; return that status.

    Raises StartError (with the tail of the server log) on timeout, or as soon as
    ``process`` exits. Proxy environment variables are ignored: the URL is local.
    """
    log_path = log_path or (process.log_path if process else None)
    name = process.name if process else "server"
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    tail = f"\n--- tail of {log_path} ---\n"
    with httpx.Client(timeout=5, trust_env=False) as client:
        while True:
            if process is not None and not process.is_running():
                raise StartError(
                    f"{name} exited with code {process.returncode} before {url} answered."
                    f"{tail}{plain_log_tail(log_path)}"
                )
            try:
                status = client.get(url).status_code
            except httpx.HTTPError as err:
                last_error = repr(err)
            else:
                if status < 500:
                    return status
                last_error = f"HTTP {status}"
            if time.monotonic() >= deadline:
                raise StartError(
                    f"{name} did not answer at {url} within {timeout:.0f} s "
                    f"(last error: {last_error}).{tail}{plain_log_tail(log_path)}"
                )
            time.sleep(interval)
