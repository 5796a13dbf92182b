"""`CARPRICE_STACK_PROFILE=distributed python -m stack up|status|down` for real: a private
stack on free ports with its own PostgreSQL databases and Redis database.

`up` must create the databases, train a small champion through Celery workers and serve it;
`status` must report the CeleryExecutor, PostgreSQL for Airflow and MLflow, both workers by
their Celery names and every service (Flower and the workers included) healthy, with no
secret in it; `down` must leave nothing running. The databases are dropped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from stack import control, databases, envfile
from stack.ports import is_free
from tests.distributed_stack import PORT_FIELDS, flush_broker, private_settings
from tests.e2e.conftest import run_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for a private distributed stack; `down`, database drop and broker flush
    run at the end whatever happened."""
    settings = private_settings(tmp_path_factory.mktemp("dist-up") / "state", workers=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARPRICE_", "AIRFLOW"))}
    fields = (*PORT_FIELDS, "worker_log_port", "broker_url", "airflow_database",
              "mlflow_database", "state_dir")  # fmt: skip
    env.update({f"CARPRICE_STACK_{name.upper()}": str(getattr(settings, name)) for name in fields})
    env.update(
        {
            "CARPRICE_STACK_PROFILE": "distributed",
            "CARPRICE_STACK_DASHBOARD": "false",
            "CARPRICE_STACK_TRIALS": "1",
            "CARPRICE_STACK_MAX_ROUNDS": "30",
            "CARPRICE_STACK_STOP_GRACE": "10",
        }
    )
    yield env
    try:
        run_stack("down", env, timeout=120)
        for proc in control.marked_processes(settings.state):
            proc.kill()
    finally:
        databases.drop(settings.database_url, settings.airflow_database, settings.mlflow_database)
        flush_broker(settings.broker_url)


def test_distributed_up_status_down(stack_env: dict[str, str]) -> None:
    state = Path(stack_env["CARPRICE_STACK_STATE_DIR"])
    first = run_stack("up", stack_env, timeout=900)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "profile: distributed" in first.stdout
    assert "postgresql: created databases" in first.stdout
    assert "champion live: v1" in first.stdout and "Flower" in first.stdout

    shown = run_stack("status", stack_env, timeout=60)
    assert shown.returncode == 0, shown.stderr[-2000:]
    report = json.loads(shown.stdout)
    assert report["profile"] == "distributed" and report["executor"] == "CeleryExecutor"
    assert report["databases"]["airflow"] == report["databases"]["mlflow"] == "postgresql"
    assert report["workers"] == ["celery@airflow-worker-1", "celery@airflow-worker-2"]
    states = {s["name"]: s["state"] for s in report["services"]}
    assert {"flower", "airflow-worker-1", "airflow-worker-2"} <= set(states)
    assert set(states.values()) == {"healthy"}, states
    values = envfile.read(state / "stack.env")
    secrets = {f.read_text().strip() for f in (state / "secrets").iterdir() if f.is_file()}
    assert not [s for s in secrets if s in shown.stdout]
    assert values["PROFILE"] == "distributed" and values["FLOWER_URL"]

    # Flower answers its API behind the Airflow login, and lists both workers.
    import httpx

    resp = httpx.get(
        values["FLOWER_URL"] + "/api/workers?refresh=1",  # ask the workers, not the cache
        auth=(values["AIRFLOW_USER"], values["AIRFLOW_PASSWORD"]),
        timeout=30,
        trust_env=False,
    )
    assert resp.status_code == 200, resp.text[:300]
    assert set(resp.json()) >= {"celery@airflow-worker-1", "celery@airflow-worker-2"}
    assert httpx.get(values["FLOWER_URL"] + "/api/workers", trust_env=False).status_code == 401

    # A worker killed outright comes back (the supervisor's restart loop); the stack stays up.
    # the restart loop; the worker is its child
    loop = psutil.Process(control.started_pids(state / "logs")["airflow-worker-1"])
    [worker] = loop.children()
    worker.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        time.sleep(3)
        shown = run_stack("status", stack_env, timeout=60)
        workers = json.loads(shown.stdout).get("workers", []) if shown.returncode == 0 else []
        fresh = [c for c in loop.children() if c.pid != worker.pid]
        if fresh and "celery@airflow-worker-1" in workers:
            break
    else:
        raise AssertionError(f"worker 1 did not come back: {shown.stdout[-2000:]}")
    assert shown.returncode == 0, "the stack went down with its worker"

    down = run_stack("down", stack_env, timeout=120)
    assert down.returncode == 0, down.stderr
    assert control.marked_processes(state) == []
    ports = [int(stack_env[f"CARPRICE_STACK_{name.upper()}"]) for name in PORT_FIELDS]
    assert all(is_free("127.0.0.1", port) for port in ports)
