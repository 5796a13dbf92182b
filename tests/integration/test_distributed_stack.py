"""The distributed profile for real: CeleryExecutor with two Celery workers on the Redis
broker, Airflow and MLflow on PostgreSQL, services from `stack.services.build`.

A small champion is trained through car_price_pipeline on the workers; then batch_quotes
prices a lake CSV in chunks and, while one chunk runs, its worker is SIGKILLed (its whole
process group and the task process under it: a lost machine). The chunk must be retried on
the other worker, and the output must hold every input row exactly once, in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest

from carprice.names import BATCH_DAG
from carprice.synthetic import generate
from tests.airflow_server import AirflowClient
from tests.distributed_stack import DistributedStack, private_settings, start

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

ROWS = 3000
CHUNK_ROWS = 500
INPUT_KEY = "batch/in/distributed.csv"
OUTPUT_KEY = "batch/out/distributed.csv"


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedStack]:
    """A private distributed stack with a champion; stopped and its databases dropped after."""
    from stack import bootstrap
    from stack.cli import _train

    settings = private_settings(
        tmp_path_factory.mktemp("distributed") / "state", workers=2, trials=1, max_rounds=30
    )
    started = time.monotonic()
    stack = start(settings)
    try:
        client = bootstrap.s3_client(settings, stack.creds)
        bootstrap.ensure_buckets(client)
        seed = bootstrap.seed_data(client, None, settings.state)
        version = _train(settings, seed, "distributed-profile test")
        print(f"\n[figure] distributed stack up with champion v{version} in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        yield stack
    finally:
        stack.stop()


def _s3(stack: DistributedStack) -> Any:
    from stack import bootstrap

    return bootstrap.s3_client(stack.settings, stack.creds)


def _worker_of(stack: DistributedStack, pid: int) -> str | None:
    """The name of the Celery worker whose process tree holds ``pid``."""
    leaders = {proc.pid: name for name, proc in stack.workers().items()}
    try:
        proc: psutil.Process | None = psutil.Process(pid)
        while proc is not None:
            if proc.pid in leaders:
                return leaders[proc.pid]
            proc = proc.parent()
    except psutil.Error:
        return None
    return None


def _kill_worker(stack: DistributedStack, name: str) -> list[int]:
    """SIGKILL the worker's process group and every process under it; return their pids."""
    leader = stack.workers()[name].pid
    tree = [leader]
    with contextlib.suppress(psutil.Error):
        tree += [child.pid for child in psutil.Process(leader).children(recursive=True)]
    os.killpg(leader, signal.SIGKILL)
    for pid in tree:  # the task process runs in a process group of its own
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return tree


def _running_chunk(client: AirflowClient, run_id: str, timeout: float) -> dict[str, Any]:
    """The first quote_chunk task instance seen running with a pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ti in client.task_instances(BATCH_DAG, run_id):
            if ti["task_id"] == "quote_chunk" and ti["state"] == "running" and ti.get("pid"):
                return ti
        time.sleep(0.2)
    raise AssertionError(f"no quote_chunk seen running within {timeout:.0f} s")


def test_killed_worker_chunk_is_retried_on_the_other_worker(
    distributed: DistributedStack,
) -> None:
    from stack.celery_status import live_workers

    stack = distributed
    assert live_workers(stack.settings.broker_url) == [
        "celery@airflow-worker-1", "celery@airflow-worker-2"
    ]  # fmt: skip
    cars = generate(rows=ROWS, seed=5).drop(columns=["selling_price"]).head(ROWS)
    cars.insert(0, "ref", range(ROWS))
    s3 = _s3(stack)
    s3.put_object(Bucket="data", Key=INPUT_KEY, Body=cars.to_csv(index=False).encode())

    client = AirflowClient(stack.airflow_url, *stack.airflow_login)
    client.wait_for_dag(BATCH_DAG)
    conf = {"input_uri": f"s3://data/{INPUT_KEY}", "output_uri": f"s3://data/{OUTPUT_KEY}",
            "chunk_rows": CHUNK_ROWS}  # fmt: skip
    started = time.monotonic()
    run_id = client.trigger(BATCH_DAG, conf)
    victim = _running_chunk(client, run_id, timeout=300)
    killed = _worker_of(stack, int(victim["pid"]))
    assert killed is not None, f"pid {victim['pid']} is under no worker: {victim}"
    _kill_worker(stack, killed)
    print(f"\n[figure] SIGKILLed {killed} while it ran quote_chunk[{victim['map_index']}]")

    run = client.wait(BATCH_DAG, run_id, timeout=600)
    seconds = time.monotonic() - started
    assert run["state"] == "success", client.failure_report(run)
    print(f"[figure] batch_quotes with a worker killed: {ROWS} rows in {seconds:.0f} s")

    # The chunk was retried, and the retry ran on the worker still alive.
    index = victim["map_index"]
    chunk = next(
        ti for ti in run["task_instances"]
        if ti["task_id"] == "quote_chunk" and ti["map_index"] == index
    )  # fmt: skip
    assert chunk["state"] == "success" and chunk["try_number"] >= 2, chunk
    survivor = next(name for name in stack.workers() if name != killed)
    assert not stack.workers()[killed].is_running()
    logs = {name: Path(proc.log_path).read_text(errors="replace")
            for name, proc in stack.workers().items()}  # fmt: skip
    retry = (f"task_id='quote_chunk', dag_id='{BATCH_DAG}', run_id='{run_id}', "
             f"try_number={chunk['try_number']}")  # fmt: skip
    ran_retry = {name for name, text in logs.items()
                 if any(retry in line and f"map_index={index}," in line
                        for line in text.splitlines())}  # fmt: skip
    assert ran_retry == {survivor}, ran_retry
    assert live_workers(stack.settings.broker_url) == [f"celery@{survivor}"]

    # Every row exactly once, in input order, each priced by the pinned champion.
    body = s3.get_object(Bucket="data", Key=OUTPUT_KEY)["Body"]
    out = pd.read_csv(body)
    assert len(out) == ROWS
    assert out["ref"].tolist() == list(range(ROWS))
    assert out["model_version"].nunique() == 1
    assert out["predicted_price"].notna().mean() > 0.9
