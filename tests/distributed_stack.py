"""The distributed profile (CeleryExecutor, Redis broker, PostgreSQL) for tests, run from the
stack's own service list (`stack.services.build`) and preparation (`stack.cli.prepare`).

Each service is a ``ManagedProcess`` in its own process group rather than under honcho, so a
test can SIGKILL one Celery worker and watch the others carry on (honcho stops every service
when one exits). Ports are free ones, the state is a fresh folder, the broker an empty Redis
database and the PostgreSQL databases have names of their own, dropped by ``stop``: it never
meets another test or a `make up`.
"""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stack import databases, health
from stack.config import REPO_ROOT, StackSettings
from stack.credentials import Credentials, load_or_create
from stack.ports import free_port
from stack.process import ManagedProcess
from stack.services import AIRFLOW_USER, build

#: Port settings of StackSettings that a private stack moves to free ports.
PORT_FIELDS = ("s3_port", "mlflow_port", "airflow_port", "airflow_worker_log_port",
               "airflow_trigger_log_port", "api_port", "flower_port")  # fmt: skip


@dataclass
class DistributedStack:
    """A running distributed profile; ``processes`` by service name (workers included)."""

    settings: StackSettings
    creds: Credentials
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def airflow_url(self) -> str:
        return self.settings.url(self.settings.airflow_port)

    @property
    def mlflow_url(self) -> str:
        return self.settings.url(self.settings.mlflow_port)

    @property
    def airflow_login(self) -> tuple[str, str]:
        return AIRFLOW_USER, self.creds.airflow_admin_password

    def workers(self) -> dict[str, ManagedProcess]:
        """The Celery worker processes by name."""
        return {n: p for n, p in self.processes.items() if n.startswith("airflow-worker-")}

    def stop(self, drop_databases: bool = True) -> None:
        """Stop every process (SIGTERM, then SIGKILL), then drop the databases."""
        procs = list(self.processes.values())
        if procs:
            with ThreadPoolExecutor(max_workers=len(procs)) as pool:
                list(pool.map(lambda proc: proc.stop(timeout=15.0), procs))
        if drop_databases and self.settings.distributed:
            s = self.settings
            databases.drop(s.database_url, s.airflow_database, s.mlflow_database)
            flush_broker(s.broker_url)


def private_settings(state: Path, **overrides: object) -> StackSettings:
    """Distributed-profile settings on free ports, in ``state``, with unique database names."""
    token = f"{os.getpid()}_{secrets.token_hex(3)}"
    ports = {name: free_port() for name in PORT_FIELDS}
    # Worker log servers take consecutive ports from worker_log_port: find a free run of them.
    workers = int(overrides.get("workers", 2))  # type: ignore[call-overload]
    while True:
        base = free_port()
        if all(_is_free(base + i) for i in range(workers)):
            break
    values: dict[str, object] = {
        "profile": "distributed",
        "state_dir": state,
        "dashboard": False,
        "airflow_database": f"carprice_test_airflow_{token}",
        "mlflow_database": f"carprice_test_mlflow_{token}",
        "worker_log_port": base,
        "stop_grace": 10.0,
        "broker_url": free_redis_db(),
        **ports,
        **overrides,
    }
    return StackSettings(**values)  # type: ignore[arg-type]


def free_redis_db(server: str = "redis://127.0.0.1:6379") -> str:
    """A broker URL on an empty Redis database (1-15, in random order) of ``server``.

    Celery workers on one broker database see each other (queues, broadcasts, hostnames), so
    a private stack takes a database nothing uses; database 0 is `make up`'s default."""
    import random

    import redis

    numbers = list(range(1, 16))
    random.shuffle(numbers)
    for number in numbers:
        client = redis.Redis.from_url(f"{server}/{number}")
        try:
            if client.dbsize() == 0:
                return f"{server}/{number}"
        finally:
            client.close()
    raise RuntimeError(f"no empty Redis database on {server}: flush a test one")


def flush_broker(broker_url: str) -> None:
    """Empty the private broker database (queues, bindings) for the next user."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        client.flushdb()
    finally:
        client.close()


def _is_free(port: int) -> bool:
    from stack.ports import is_free

    return port < 65535 and is_free("127.0.0.1", port)


def start(
    settings: StackSettings, *, with_api: bool = False, timeout: float = 300.0
) -> DistributedStack:
    """Prepare (databases, schema) and start every service of ``settings``; wait for health."""
    from stack.cli import prepare

    settings.state.mkdir(parents=True, exist_ok=True)
    creds, _ = load_or_create(settings.secrets_dir)
    stack = DistributedStack(settings, creds)
    try:
        prepare(settings, creds)
        services = [s for s in build(settings, creds) if with_api or s.name != "api"]
        for service in services:
            proc = ManagedProcess(
                service.name,
                service.argv,
                service.log_file(settings.log_dir),
                env=service.env,
                cwd=REPO_ROOT,
            )
            stack.processes[service.name] = proc.start()

        def first_stopped() -> tuple[str, int] | None:
            for name, proc in stack.processes.items():
                if not proc.is_running():
                    return name, int(proc.returncode or 0)
            return None

        health.wait_all(
            services,
            settings.log_dir,
            timeout,
            supervisor_alive=lambda: first_stopped() is None,
            first_stopped=first_stopped,
            say=lambda message: print(message, flush=True),
        )
    except BaseException:
        stack.stop()
        raise
    return stack
