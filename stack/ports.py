"""Ports: the busy-port check before start-up (which port, which service wanted it, who holds
it), and a free port for servers that tests and benchmarks start beside the stack."""

from __future__ import annotations

import errno
import socket


def is_free(host: str, port: int) -> bool:
    """True if a listener could bind ``host:port`` now (TIME_WAIT leftovers don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def holder(port: int) -> str:
    """A short description of the process listening on ``port``, as far as we may know."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    break
                proc = psutil.Process(conn.pid)
                cmd = " ".join(proc.cmdline())[:120] or proc.name()
                return f"pid {conn.pid} ({cmd})"
    except Exception:  # noqa: BLE001 - diagnostics only; never fail the message itself
        pass
    return f"an unknown process (see `ss -ltnp 'sport = :{port}'`)"


def busy_ports(host: str, wanted: dict[str, int]) -> list[str]:
    """One message per busy port, e.g. ``port 5001 (mlflow) is in use by pid 12 (…)``."""
    messages = []
    for service, port in wanted.items():
        if not is_free(host, port):
            messages.append(
                f"port {port} ({service}) is in use by {holder(port)}; stop it or set "
                f"CARPRICE_STACK_{_env_name(service)}_PORT"
            )
    return messages


def _env_name(service: str) -> str:
    names = {
        "airflow-api-server": "AIRFLOW",
        "airflow-worker-log-server": "AIRFLOW_WORKER_LOG",
        "airflow-trigger-log-server": "AIRFLOW_TRIGGER_LOG",
    }
    if service not in names and service.endswith("-log-server"):
        return "WORKER_LOG"  # a Celery worker's: CARPRICE_STACK_WORKER_LOG_PORT (+1 each)
    return names.get(service, service.upper())
