"""The S3 server stops during a pipeline run, on the real stack (Airflow, MLflow, rclone S3).

Issue 6, "Reliability": the task fails and retries, the champion is untouched, a rerun after
S3 returns succeeds, and no half-written processed data is read later. The shared S3 server
is stopped for real (process gone, port closed) and restarted on the same port over the same
folder, always in a ``finally``: the other tests of the session use it too. Kept cheap: a
few hundred synthetic rows, one trial, capped boosting rounds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from carprice import lake, pipeline, registry, runlake
from carprice.runlake import IncompleteRunData
from carprice.synthetic import generate
from tests.airflow_server import AirflowStack
from tests.integration.conftest import MODEL, alias_version
from tests.servers import S3Server

DAG = "car_price_pipeline"
BUCKET = "data"
RAW_KEY = "raw/faults/car_details_v3.csv"  # not the shared raw file other tests upload
CONF = {"trials": 1, "max_rounds": 150, "data_uri": f"s3://{BUCKET}/{RAW_KEY}"}
RUN_TIMEOUT = 420.0
STAGES = ("raw", "validated", "processed", "tune", "model", "registry", "promotion")
pytestmark = pytest.mark.timeout(600)


@contextmanager
def s3_outage(s3: S3Server) -> Iterator[dict[str, float]]:
    """Stop the S3 server; bring it back on the same port and folder whatever happens."""
    timing = {"stopped_at": time.monotonic()}
    s3.stop()
    try:
        yield timing
    finally:
        s3.start()
        timing["seconds"] = round(time.monotonic() - timing["stopped_at"], 1)


@contextmanager
def lake_env(s3: S3Server) -> Iterator[None]:
    """Point ``carprice.lake`` in this process at the test S3 server."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in s3.env().items():
            patch.setenv(name, value)
        yield


def _aliases(client: MlflowClient) -> dict[str, str | None]:
    return {a: alias_version(client, a) for a in (registry.CHAMPION, registry.CHALLENGER)}


def _versions(client: MlflowClient) -> dict[str, dict[str, str]]:
    try:
        found = client.search_model_versions(f"name='{MODEL}'", max_results=1000)
    except Exception:  # noqa: BLE001 - no model registered yet
        return {}
    return {str(v.version): dict(v.tags) for v in found}


def _stage_files_on_disk(s3: S3Server, run: str) -> dict[str, set[str]]:
    """Stage -> file names, read from the folder behind the S3 server (works while it is down)."""
    root = s3.data_dir / BUCKET / run.removeprefix(f"s3://{BUCKET}/")
    if not root.is_dir():
        return {}
    return {d.name: {f.name for f in d.iterdir()} for d in root.iterdir() if d.is_dir()}


def _wait_for_task(stack: AirflowStack, run_id: str, task_id: str, timeout: float = 240.0) -> None:
    """Poll closely until ``task_id`` succeeded, so the outage starts right after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {ti["task_id"]: ti["state"] for ti in stack.client.task_instances(DAG, run_id)}
        if states.get(task_id) == "success":
            return
        if stack.client.dag_run(DAG, run_id)["state"] in ("success", "failed"):
            break
        time.sleep(0.25)
    run = stack.client.wait(DAG, run_id, timeout=5)
    pytest.fail(f"{task_id} did not succeed: {stack.failure_report(run)}")


def _check_complete(run: str) -> None:
    """Every stage has its manifest, and every file it lists matches its checksum."""
    for stage in STAGES:
        for name in runlake.manifest(run, stage)["files"]:
            runlake.read(run, stage, name)


@pytest.fixture(scope="module")
def outage_then_rerun(airflow_stack: AirflowStack, mlflow_client: MlflowClient) -> dict[str, Any]:
    """Run 1 loses S3 right after ``ingest`` and stays without it until it has failed;
    run 2 is triggered once S3 is back. Returns what was observed along the way."""
    stack, s3 = airflow_stack, airflow_stack.s3
    raw = generate(rows=400, seed=23).to_csv(index=False).encode()
    s3.client().put_object(Bucket=BUCKET, Key=RAW_KEY, Body=raw)
    before = {"aliases": _aliases(mlflow_client), "versions": _versions(mlflow_client)}

    stack.check_alive()
    stack.client.wait_for_dag(DAG)
    started = time.monotonic()
    run_id = stack.client.trigger(DAG, CONF)
    _wait_for_task(stack, run_id, "ingest")
    lake_run = runlake.run_uri(f"s3://{BUCKET}", run_id)
    with s3_outage(s3) as outage:
        failed = stack.client.wait(DAG, run_id, timeout=RUN_TIMEOUT)
        during = {
            "aliases": _aliases(mlflow_client),
            "versions": _versions(mlflow_client),
            "disk": _stage_files_on_disk(s3, lake_run),
            "s3_down": not s3.process.is_running(),
        }
    failed["seconds"] = round(time.monotonic() - started, 1)
    with lake_env(s3):
        refused: dict[str, str] = {}
        for stage, files in _stage_files_on_disk(s3, lake_run).items():
            for name in files - {runlake.MANIFEST}:
                try:
                    runlake.read(lake_run, stage, name)
                except IncompleteRunData as exc:
                    refused[f"{stage}/{name}"] = str(exc)

    started = time.monotonic()
    rerun = stack.trigger_and_wait(DAG, CONF, timeout=RUN_TIMEOUT)
    rerun["seconds"] = round(time.monotonic() - started, 1)
    print(
        f"outage {outage['seconds']} s; failed run {failed['seconds']} s "
        f"{failed['task_states']}; rerun {rerun['state']} in {rerun['seconds']} s"
    )
    return {
        "before": before,
        "during": during,
        "failed": failed,
        "failed_lake_run": lake_run,
        "refused": refused,
        "rerun": rerun,
        "outage_seconds": outage["seconds"],
    }


def test_task_fails_and_retries_while_s3_is_down(
    airflow_stack: AirflowStack, outage_then_rerun: dict[str, Any]
) -> None:
    failed, during = outage_then_rerun["failed"], outage_then_rerun["during"]
    assert during["s3_down"]
    assert failed["state"] == "failed", failed["task_states"]
    tries = {ti["task_id"]: ti["try_number"] for ti in failed["task_instances"]}
    states = failed["task_states"]
    assert states["ingest"] == "success" and tries["ingest"] == 1
    # The first task to need S3 after the outage began fails, is retried twice, then gives up;
    # nothing downstream of it runs.
    broken = [t for t, s in states.items() if s == "failed"]
    assert len(broken) == 1, states
    assert tries[broken[0]] == 3, tries
    assert states["promote"] == "upstream_failed"
    log = airflow_stack.client.task_log(DAG, failed["dag_run_id"], broken[0], 1)
    assert "Could not connect to the endpoint URL" in log, log[-2000:]


def test_champion_untouched_by_the_failed_run(
    outage_then_rerun: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    before, during = outage_then_rerun["before"], outage_then_rerun["during"]
    assert during["aliases"] == before["aliases"]
    assert during["versions"] == before["versions"]  # nothing registered, nothing re-tagged
    label = runlake.safe_run_id(outage_then_rerun["failed"]["dag_run_id"])
    tags = _versions(mlflow_client).values()
    assert not [t for t in tags if t.get("pipeline_run") == label]


def test_failed_run_left_no_finished_stage_past_the_outage(
    outage_then_rerun: dict[str, Any],
) -> None:
    disk = outage_then_rerun["during"]["disk"]
    assert runlake.MANIFEST in disk["raw"]  # written before the outage
    unfinished = {stage for stage, files in disk.items() if runlake.MANIFEST not in files}
    assert set(disk) - {"raw"} == unfinished, disk
    # Whatever a dying attempt managed to write is refused by every reader.
    for stage in unfinished:
        for name in disk[stage] - {runlake.MANIFEST}:
            assert f"{stage}/{name}" in outage_then_rerun["refused"]


def test_rerun_after_s3_returns_succeeds(
    airflow_stack: AirflowStack, outage_then_rerun: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    rerun = outage_then_rerun["rerun"]
    assert rerun["state"] == "success", airflow_stack.failure_report(rerun)
    assert {ti["try_number"] for ti in rerun["task_instances"]} == {1}
    lake_run = runlake.run_uri(f"s3://{BUCKET}", rerun["dag_run_id"])
    assert lake_run != outage_then_rerun["failed_lake_run"]
    with lake_env(airflow_stack.s3):
        _check_complete(lake_run)
        outcome = runlake.read_json(lake_run, "promotion", pipeline.PROMOTION_FILE)
        source = runlake.read_json(lake_run, "raw", "source.json")
    assert source["data_uri"] == CONF["data_uri"]
    before = outage_then_rerun["before"]["aliases"][registry.CHAMPION]
    assert alias_version(mlflow_client, outcome["alias"]) == outcome["version"]
    if outcome["promoted"]:
        assert before is None or outcome["champion_mae"] is not None
    else:
        assert alias_version(mlflow_client, registry.CHAMPION) == before


def test_stage_cut_off_by_s3_outage_is_refused(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retried ``split`` loses S3 between its two files: the stage holds a new train split
    next to the old test split (rows could be in both). Readers must refuse it, and the next
    attempt, once S3 is back, must finish it."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    raw_uri = f"s3://{BUCKET}/raw/faults/cut-{uuid.uuid4().hex[:8]}.csv"
    lake.write_csv(raw_uri, generate(rows=300, seed=5))
    run = runlake.run_uri(f"s3://{BUCKET}", f"faults_cut_{uuid.uuid4().hex[:8]}")
    pipeline.ingest(raw_uri, run)
    pipeline.validate(run)
    pipeline.split(run, seed=1)
    folder = s3_server.data_dir / BUCKET / run.removeprefix(f"s3://{BUCKET}/") / "processed"
    old_test = (folder / "test.parquet").read_bytes()

    write_bytes = lake.write_bytes

    def write_then_lose_s3(uri: str, data: bytes) -> str:
        written = write_bytes(uri, data)
        if uri.endswith("/processed/train.parquet"):
            s3_server.stop()
        return written

    monkeypatch.setattr(lake, "write_bytes", write_then_lose_s3)
    try:
        with pytest.raises(Exception, match="Could not connect to the endpoint URL"):
            pipeline.split(run, seed=2)  # a retry that draws a different split
        on_disk = {p.name for p in folder.iterdir()}
    finally:
        s3_server.start()
        monkeypatch.setattr(lake, "write_bytes", write_bytes)

    # half-rewritten, no manifest (eval_set.json is the earlier attempt's)
    assert on_disk == {"train.parquet", "test.parquet", "eval_set.json"}
    assert (folder / "test.parquet").read_bytes() == old_test
    assert not runlake.is_complete(run, "processed")
    for name in ("train.parquet", "test.parquet"):
        with pytest.raises(IncompleteRunData, match="not complete"):
            runlake.read_parquet(run, "processed", name)

    sizes = pipeline.split(run, seed=2)
    train = runlake.read_parquet(run, "processed", "train.parquet")
    test = runlake.read_parquet(run, "processed", "test.parquet")
    assert (len(train), len(test)) == (sizes["train_rows"], sizes["test_rows"])
    assert not pd.merge(train, test, how="inner").shape[0]


def test_gate_keeps_champion_when_s3_fails_mid_decision(
    airflow_stack: AirflowStack,
    outage_then_rerun: dict[str, Any],
    mlflow_client: MlflowClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gate re-scores the champion, whose artifacts live in S3. If S3 is gone at that
    moment the gate cannot compare, so it must fail (Airflow retries) rather than promote a
    candidate it never compared: the champion stays."""
    s3, url = airflow_stack.s3, airflow_stack.mlflow_url
    champion = alias_version(mlflow_client, registry.CHAMPION)
    assert champion is not None  # the rerun above made sure there is one
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")  # fail in seconds, not minutes
    rerun_lake = runlake.run_uri(f"s3://{BUCKET}", outage_then_rerun["rerun"]["dag_run_id"])
    test_rows = runlake.read_parquet(rerun_lake, "processed", "test.parquet")
    registry.connect(url, "car_price_faults")
    candidate = parent_id = None
    try:
        model = registry.load_version(MODEL, champion)
        with mlflow.start_run(run_name="faults-gate-candidate") as parent:
            parent_id = parent.info.run_id
        candidate = registry.register_version(model, parent_id, MODEL)
        with s3_outage(s3) as outage:
            try:  # the gate must score the champion, whose artifacts are on the stopped S3
                outcome: object = registry.promote(MODEL, candidate, test_rows)
            except registry.GateUnavailable as exc:
                outcome = exc
        print(f"gate with S3 down for {outage['seconds']} s: {outcome!r}"[:600])
        assert isinstance(outcome, registry.GateUnavailable), f"decided blind: {outcome}"
        assert alias_version(mlflow_client, registry.CHAMPION) == champion
        assert not mlflow_client.get_model_version(MODEL, candidate).aliases
        assert "gate.verdict" not in mlflow_client.get_model_version(MODEL, candidate).tags
    finally:  # leave the registry as the other tests expect it
        if alias_version(mlflow_client, registry.CHAMPION) != champion:
            mlflow_client.set_registered_model_alias(MODEL, registry.CHAMPION, champion)
        if candidate is not None:
            mlflow_client.delete_model_version(MODEL, candidate)
        if parent_id is not None:
            mlflow_client.delete_run(parent_id)
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
