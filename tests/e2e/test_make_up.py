"""`python -m stack up|down` for real: a whole second stack on free ports in a temp folder.

First `up` trains a small champion through Airflow (synthetic data, 2 trials, 50 rounds) and
must end with the API serving it; `stack.env` must hold working URLs and credentials; `up`
again (running, then after `down`) must reuse the state without retraining; `up` with other
data configured must train on it, since the champion is then the wrong model; `down` must
leave no process and no listening port behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from carprice.names import TRAINING_DAG
from carprice.synthetic import generate
from stack import control, envfile
from stack.ports import is_free
from stack.training import airflow_api, request_token
from tests.e2e.conftest import run_stack
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
PORT_VARS = ("S3", "MLFLOW", "AIRFLOW", "AIRFLOW_WORKER_LOG", "AIRFLOW_TRIGGER_LOG", "API",
             "DASHBOARD")  # fmt: skip


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for a private stack; `down` runs at the end whatever happened."""
    state = tmp_path_factory.mktemp("stack") / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARPRICE_", "AIRFLOW"))}
    env.update({f"CARPRICE_STACK_{name}_PORT": str(free_port()) for name in PORT_VARS})
    env.update(
        {
            "CARPRICE_STACK_STATE_DIR": str(state),
            "CARPRICE_STACK_TRIALS": "2",
            "CARPRICE_STACK_MAX_ROUNDS": "50",
            "CARPRICE_STACK_STOP_GRACE": "10",
            "CARPRICE_STACK_TRAIN_TIMEOUT": "900",
        }
    )
    yield env
    run_stack("down", env, timeout=120)
    leftovers = control.marked_processes(state)
    for proc in leftovers:  # never leave a stack running after the test session
        proc.kill()


def _airflow_runs(values: dict[str, str]) -> int:
    """How many runs the training DAG has (apache-airflow-client, logged in from stack.env)."""
    from airflow_client.client import DagRunApi

    api = airflow_api(values["AIRFLOW_URL"])
    status, token = request_token(api, values["AIRFLOW_USER"], values["AIRFLOW_PASSWORD"])
    assert token, f"Airflow login with stack.env's credentials: HTTP {status}"
    api.configuration.access_token = token
    runs = DagRunApi(api).get_dag_runs(TRAINING_DAG, limit=1, _request_timeout=(30.0, 30.0))
    return int(runs.total_entries or 0)


def test_up_trains_once_serves_and_down_cleans_up(
    stack_env: dict[str, str], record: Callable[..., None]
) -> None:
    state = Path(stack_env["CARPRICE_STACK_STATE_DIR"])

    started = time.monotonic()
    first = run_stack("up", stack_env, timeout=1200)
    record("make up, clean state -> champion live", time.monotonic() - started)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "champion live: v1" in first.stdout
    assert "train" in first.stdout or "tune: success" in first.stdout  # progress was shown
    count, rss, pss = control.memory(state)
    print(f"\n[figure] stack memory: {count} processes, RSS {rss:.0f} MiB, PSS {pss:.0f} MiB")

    # stack.env: private, complete, and every URL/credential in it works.
    env_file = state / "stack.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    values = envfile.read(env_file)
    for key in ("AIRFLOW_URL", "AIRFLOW_USER", "AIRFLOW_PASSWORD", "MLFLOW_URL", "API_URL",
                "DASHBOARD_URL", "S3_ENDPOINT", "S3_KEY", "S3_SECRET"):  # fmt: skip
        assert key in values, key
    assert values["API_URL"].endswith(stack_env["CARPRICE_STACK_API_PORT"])
    assert values["DATA_SOURCE"] == "synthetic"
    for secret in (state / "secrets").iterdir():
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    assert _airflow_runs(values) == 1
    # No secret on a command line: `ps` shows every process's arguments to every local user.
    listing = subprocess.run(
        ["ps", "-eww", "-o", "args="], capture_output=True, text=True, check=True
    ).stdout
    secrets = {values[k] for k in ("AIRFLOW_PASSWORD", "S3_KEY", "S3_SECRET")}
    secrets |= {f.read_text().strip() for f in (state / "secrets").iterdir() if f.is_file()}
    leaked = sorted(s[:4] + "…" for s in secrets if len(s) >= 8 and s in listing)
    assert not leaked, f"secrets visible in `ps`: {leaked}"

    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", endpoint_url=values["S3_ENDPOINT"], aws_access_key_id=values["S3_KEY"],
        aws_secret_access_key=values["S3_SECRET"], region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} >= {"data", "mlflow"}

    # The API prices a car with the champion.
    cars = (REPO / "data_samples" / "quote_cars.csv").read_bytes()
    resp = httpx.post(
        values["API_URL"] + "/predict/csv",
        files={"file": ("cars.csv", cars, "text/csv")},
        timeout=60,
        trust_env=False,
    )
    assert resp.status_code == 200, resp.text[:500]
    header, first_row = resp.text.splitlines()[:2]
    row = dict(zip(header.split(","), first_row.split(","), strict=False))
    assert float(row["predicted_price"]) > 0 and row["model_version"] == "1"
    if values["DASHBOARD_URL"]:
        health = httpx.get(values["DASHBOARD_URL"] + "/_stcore/health", trust_env=False)
        assert health.status_code == 200

    # `status`: JSON naming the executor, each database's kind and every service healthy.
    shown = run_stack("status", stack_env, timeout=60)
    assert shown.returncode == 0, shown.stderr[-2000:]
    report = json.loads(shown.stdout)
    assert report["running"] and report["executor"] == "LocalExecutor"
    assert report["databases"] == {"airflow": "sqlite", "mlflow": "sqlite", "quote_log": "sqlite"}
    assert report["workers"] == []
    assert {s["name"]: s["state"] for s in report["services"]} == {
        s["name"]: "healthy" for s in report["services"]
    }
    assert {"api", "mlflow", "airflow-scheduler"} <= {s["name"] for s in report["services"]}
    assert not [s for s in secrets if len(s) >= 8 and s in shown.stdout]

    # `up` on a running stack: reuse, no retraining.
    again = run_stack("up", stack_env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already running" in again.stdout and "not retraining" in again.stdout

    # Other data configured (`CARPRICE_RAW_DATA=<file> make up`): the champion was trained on
    # the synthetic sample, so it is the wrong model for it; `up` says so and trains on it.
    listings = state.parent / "listings.csv"
    other = generate(rows=2000, seed=7)
    other["selling_price"] = other["selling_price"] * 3  # a market the old champion never saw
    other.to_csv(listings, index=False)
    configured = {**stack_env, "CARPRICE_RAW_DATA": str(listings)}
    retrained = run_stack("up", configured, timeout=900)
    assert retrained.returncode == 0, retrained.stdout[-3000:] + retrained.stderr[-3000:]
    assert "champion v1 was trained on other data" in retrained.stdout, retrained.stdout
    assert "training on the configured data instead" in retrained.stdout
    assert "champion live: v2" in retrained.stdout
    assert envfile.read(env_file)["DATA_SOURCE"] == "configured"
    assert _airflow_runs(envfile.read(env_file)) == 2
    stack_env = configured  # from here on the stack's data is that file

    # `down`: nothing left, every port free.
    down = run_stack("down", stack_env, timeout=120)
    assert down.returncode == 0, down.stderr
    assert control.marked_processes(state) == []
    ports = {name: int(stack_env[f"CARPRICE_STACK_{name}_PORT"]) for name in PORT_VARS}
    assert all(is_free("127.0.0.1", port) for port in ports.values()), ports
    stopped = run_stack("status", stack_env, timeout=60)
    assert stopped.returncode == 3 and json.loads(stopped.stdout)["running"] is False

    # Cold `up` from the same state: same champion, still one DAG run.
    started = time.monotonic()
    cold = run_stack("up", stack_env, timeout=600)
    record("make up, existing state (no retraining)", time.monotonic() - started)
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr[-3000:]
    assert "not retraining" in cold.stdout and "champion live: v2" in cold.stdout
    assert _airflow_runs(envfile.read(env_file)) == 2

    down = run_stack("down", stack_env, timeout=120)
    assert down.returncode == 0
    assert control.marked_processes(state) == []


def test_busy_port_is_named_and_nothing_starts(stack_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the stack's TIME_WAITs
        sock.bind(("127.0.0.1", int(stack_env["CARPRICE_STACK_MLFLOW_PORT"])))
        sock.listen()
        done = run_stack("up", stack_env, timeout=120)
    assert done.returncode == 1
    assert f"port {stack_env['CARPRICE_STACK_MLFLOW_PORT']} (mlflow) is in use" in done.stderr
    assert control.marked_processes(Path(stack_env["CARPRICE_STACK_STATE_DIR"])) == []
