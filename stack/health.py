"""Wait for services to answer their health URLs while watching the supervisor."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

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
    if not path.is_file():
        return "  <no log yet>"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join("  " + line for line in text) or "  <log is empty>"


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
