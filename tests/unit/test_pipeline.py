"""The pipeline steps on a local lake folder (no Airflow), the batch pricing steps, and the
DAG files (they import cleanly, fast, without heavy modules)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carprice import batch, evalset, lake, pipeline, runlake
from carprice.runlake import IncompleteRunData, StageWriter
from carprice.synthetic import generate

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS = REPO_ROOT / "airflow" / "dags"


@pytest.fixture
def raw_uri(tmp_path: Path) -> str:
    uri = str(tmp_path / "lake" / "raw" / "car_details_v3.csv")
    raw = generate(rows=300, seed=7)
    bad = raw.head(2).copy()
    bad["year"] = ["next year", "1890"]  # unparseable, out of range
    lake.write_csv(uri, pd.concat([raw, bad], ignore_index=True))
    return uri


@pytest.fixture
def run(tmp_path: Path) -> str:
    return runlake.run_uri(str(tmp_path / "lake"), "manual__2026-01-02T03:04:05.678+00:00")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_run_ids_become_safe_prefixes() -> None:
    assert runlake.safe_run_id("manual__2026-01-02T03:04:05+00:00") == (
        "manual__2026-01-02T03_04_05_00_00"
    )
    assert runlake.run_uri("s3://data/", "a/b") == "s3://data/runs/a_b"
    with pytest.raises(ValueError):
        runlake.safe_run_id("///")


def test_data_steps_write_complete_stages(raw_uri: str, run: str) -> None:
    assert pipeline.ingest(raw_uri, run)["bytes"] > 0
    counts = pipeline.validate(run)
    sizes = pipeline.split(run)

    folder = Path(run)
    for stage in ("raw", "validated", "processed"):
        assert (folder / stage / runlake.MANIFEST).is_file()
    rejected = pd.read_csv(folder / "validated" / "rejected_rows.csv")
    assert len(rejected) == counts["rejected"] > 0
    assert {"source_row", "reason"} <= set(rejected.columns)
    assert rejected["reason"].str.len().gt(0).all()
    profile = json.loads((folder / "validated" / "profile.json").read_text())
    assert profile["rows"] == counts and profile["source"] == raw_uri
    price = profile["numeric"]["selling_price"]
    assert 0 < price["min"] <= price["median"] <= price["max"]
    assert sum(profile["categories"]["fuel"].values()) == counts["rows_out"]
    assert profile["rejection_reasons"]
    train = pd.read_parquet(folder / "processed" / "train.parquet")
    test = pd.read_parquet(folder / "processed" / "test.parquet")
    assert (len(train), len(test)) == (sizes["train_rows"], sizes["test_rows"])
    held = evalset.load(str(Path(run).parents[1]), sizes["eval_set"]).rows
    assert len(train) + len(test) + sizes["excluded_rows"] == counts["rows_out"]
    assert sizes["excluded_rows"] == len(held) > 0.1 * counts["rows_out"]
    assert not pd.merge(train, test, how="inner").shape[0]  # no row in both splits
    # No listing of the frozen set (nor a repost of one) is in training or the test split.
    keys = set(evalset.listing_keys(held))
    assert not evalset.listing_keys(train).isin(keys).any()
    assert not evalset.listing_keys(test).isin(keys).any()


def test_the_frozen_set_is_made_once_and_reused(raw_uri: str, tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    runs = [runlake.run_uri(root, f"r{i}") for i in range(3)]
    for run in runs[:2]:
        pipeline.ingest(raw_uri, run)
        pipeline.validate(run)
    first, second = pipeline.split(runs[0]), pipeline.split(runs[1])
    assert second["eval_set"] == first["eval_set"]
    assert "no evaluation set yet" in first["eval_decision"]
    assert second["eval_decision"] == f"reusing {first['eval_set']}"
    manifest = json.loads(
        (tmp_path / "lake" / "eval" / first["eval_set"] / "manifest.json").read_text()
    )
    assert manifest["source"] == raw_uri and manifest["rows"] == first["eval_rows"]
    assert len(manifest["sha256"]) == 64
    # Asked for, a new set is made and becomes current.
    pipeline.ingest(raw_uri, runs[2])
    pipeline.validate(runs[2])
    third = pipeline.split(runs[2], new_eval_set=True)
    assert third["eval_set"] != first["eval_set"]
    assert evalset.current_manifest(root)["set_id"] == third["eval_set"]
    assert pipeline.split(runs[2], new_eval_set=True)["eval_set"] == third["eval_set"]  # retry
    # A set whose rows changed after it was written is refused.
    rows = tmp_path / "lake" / "eval" / third["eval_set"] / "rows.parquet"
    rows.write_bytes(rows.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(evalset.EvalSetError, match="does not match"):
        pipeline.split(runs[2])


def test_data_steps_are_idempotent(raw_uri: str, run: str) -> None:
    def do() -> dict[str, bytes]:
        pipeline.ingest(raw_uri, run)
        pipeline.validate(run)
        pipeline.split(run)
        tree = _tree(Path(run))
        # Manifests carry a timestamp; everything they vouch for must be identical.
        return {k: v for k, v in tree.items() if not k.endswith(runlake.MANIFEST)}

    first = do()
    assert do() == first
    assert not [k for k in _tree(Path(run)) if k.endswith(".tmp")]


def test_a_retry_sees_the_new_input(raw_uri: str, run: str, tmp_path: Path) -> None:
    pipeline.ingest(raw_uri, run)
    first = pipeline.validate(run)
    other = str(tmp_path / "other.csv")
    lake.write_csv(other, generate(rows=200, seed=8))
    pipeline.ingest(other, run)
    assert pipeline.validate(run) != first


def test_unfinished_stage_is_refused(raw_uri: str, run: str) -> None:
    pipeline.ingest(raw_uri, run)
    with pytest.raises(IncompleteRunData, match="validated"):
        pipeline.split(run)  # validate never ran
    pipeline.validate(run)
    manifest = Path(run) / "validated" / runlake.MANIFEST
    manifest.unlink()  # as during a rewrite by a retried validate
    with pytest.raises(IncompleteRunData, match="not complete"):
        pipeline.split(run)


def test_stage_that_fails_midway_stays_incomplete(run: str) -> None:
    with pytest.raises(RuntimeError), StageWriter(run, "processed") as stage:
        stage.write("train.parquet", b"half")
        raise RuntimeError("worker died")
    assert not runlake.is_complete(run, "processed")
    with pytest.raises(IncompleteRunData):
        runlake.read(run, "processed", "train.parquet")


def test_file_changed_after_its_stage_finished_is_refused(raw_uri: str, run: str) -> None:
    pipeline.ingest(raw_uri, run)
    pipeline.validate(run)
    (Path(run) / "validated" / "clean.parquet").write_bytes(b"truncated")
    with pytest.raises(IncompleteRunData, match="does not match"):
        pipeline.split(run)


def test_rewrite_removes_the_manifest_first(raw_uri: str, run: str) -> None:
    pipeline.ingest(raw_uri, run)
    with StageWriter(run, "raw") as stage:
        assert not runlake.is_complete(run, "raw")
        stage.write("car_details_v3.csv", b"x")
    assert runlake.is_complete(run, "raw")


def test_ingest_and_validate_refuse_unusable_input(tmp_path: Path, run: str) -> None:
    with pytest.raises(FileNotFoundError):
        pipeline.ingest(str(tmp_path / "nope.csv"), run)
    tiny = str(tmp_path / "tiny.csv")
    lake.write_csv(tiny, generate(rows=10, seed=1))
    pipeline.ingest(tiny, run)
    with pytest.raises(ValueError, match="usable rows"):
        pipeline.validate(run)
    assert not runlake.is_complete(run, "validated")


# --------------------------------------------------------------------------- batch


def test_price_rows_keeps_every_row_in_order(trained) -> None:  # noqa: ANN001 - fixture
    model, _, test = trained
    rows = generate(rows=12, seed=9).drop(columns=["selling_price"]).head(12)
    rows = rows.astype(str).reset_index(drop=True)
    rows.loc[2, "year"] = "soon"
    rows.loc[5, "name"] = "=cmd()"
    out = batch.price_rows(model, "7", rows)
    assert len(out) == len(rows)
    assert out["km_driven"].tolist() == rows["km_driven"].tolist()
    assert out.loc[2, "error"] and np.isnan(out.loc[2, "predicted_price"])
    assert out.loc[5, "name"] == "'=cmd()" and out.loc[5, "error"]
    ok = out["error"] == ""
    assert ok.sum() >= 6
    assert (out.loc[ok, "price_low"] <= out.loc[ok, "predicted_price"]).all()
    assert set(out["model_version"]) == {"7"}


def test_combine_writes_chunks_in_input_order(tmp_path: Path) -> None:
    parts = []
    for index in (1, 0, 2):  # mapped tasks may finish in any order
        uri = str(tmp_path / "out" / f"{index:05d}.parquet")
        frame = pd.DataFrame({"row": [index * 2, index * 2 + 1], "error": ["", "bad"]})
        lake.write_bytes(uri, lake.parquet_bytes(frame))
        parts.append(uri)
    result = batch.combine(parts, str(tmp_path / "result.csv"))
    assert result == {
        "output_uri": str(tmp_path / "result.csv"),
        "rows": 6,
        "priced": 3,
        "errors": 3,
    }
    assert pd.read_csv(tmp_path / "result.csv")["row"].tolist() == list(range(6))


def test_default_output_keeps_the_input_name() -> None:
    assert batch.default_output_uri("s3://data", "s3://data/batch/in/cars.csv") == (
        "s3://data/batch/out/cars.csv"
    )


# --------------------------------------------------------------------------- DAG files

_DAG_CHECK = r"""
import importlib.util, json, sys, time
import airflow.sdk  # the framework's own import cost is not ours,
import airflow.dag_processing.dagbag  # nor the DAG processor's (it has these loaded)
heavy = ("pandas", "numpy", "xgboost", "mlflow", "sklearn", "optuna", "boto3", "pyarrow",
         "carprice.pipeline", "carprice.batch", "carprice.registry")
already = {m for m in heavy if m in sys.modules}
timings = {}
for path in sys.argv[1:]:
    start = time.perf_counter()
    spec = importlib.util.spec_from_file_location("dagfile_" + str(len(timings)), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    timings[path] = time.perf_counter() - start
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1].rsplit("/", 1)[0])
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "file": dag.fileloc, "doc_md": dag.doc_md, "tasks": [t.task_id for t in dag.tasks],
        "params": {k: dag.params.get_param(k).schema for k in dag.params},
        "defaults": dag.params.dump(), "retries": [t.retries for t in dag.tasks],
    }
print(json.dumps({"errors": {str(k): v for k, v in bag.import_errors.items()},
                  "heavy": sorted(m for m in heavy if m in sys.modules and m not in already),
                  "seconds": timings, "dags": dags}))
"""


@pytest.fixture(scope="module")
def dag_check(tmp_path_factory: pytest.TempPathFactory) -> dict:
    files = sorted(str(p) for p in DAGS.glob("*.py"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "CARPRICE_"))}
    env |= {
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_home")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CARPRICE_LAKE_ROOT": "s3://data",
    }
    done = subprocess.run(
        [sys.executable, "-c", _DAG_CHECK, *files],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dag_files_import_cleanly_fast_and_light(dag_check: dict) -> None:
    assert dag_check["errors"] == {}
    assert dag_check["heavy"] == [], "heavy modules imported at DAG parse time"
    assert set(dag_check["dags"]) == {"car_price_pipeline", "batch_quotes", "model_monitor"}
    for path, seconds in dag_check["seconds"].items():
        assert seconds < 2.0, f"{path} took {seconds:.2f} s to import"


def test_dags_follow_the_contract(dag_check: dict) -> None:
    for dag_id, dag in dag_check["dags"].items():
        path = Path(dag["file"])
        assert path.stem == dag_id
        module_doc = path.read_text().split('"""')[1]
        assert dag["doc_md"].strip() == module_doc.strip()
        assert min(dag["retries"]) >= 1
    training = dag_check["dags"]["car_price_pipeline"]
    assert training["tasks"] == [
        "ingest",
        "validate",
        "split",
        "tune",
        "evaluate",
        "register",
        "promote",
    ]
    assert training["params"]["trials"]["type"] == "integer"
    assert training["params"]["trials"]["minimum"] == 1
    assert training["params"]["data_uri"]["type"] == "string"
    assert training["params"]["max_rounds"]["type"] == ["null", "integer"]
    assert training["params"]["min_gain"]["type"] == "number"
    assert training["params"]["require_approval"]["type"] == "boolean"
    assert training["params"]["new_eval_set"]["type"] == "boolean"
    assert training["defaults"]["require_approval"] is False
    assert training["defaults"]["data_uri"] == "s3://data/raw/car_details_v3.csv"
    assert training["params"]["extra_data"]["type"] == "array"
    assert training["defaults"]["extra_data"] == [] and training["defaults"]["reason"] is None
    monitor = dag_check["dags"]["model_monitor"]
    assert sorted(monitor["tasks"]) == ["retrain", "retrain_due", "summarise"]
    assert {"days", "mape_points", "min_sales", "drift_features", "min_quotes",
            "allow_retrain", "retrain_trials"} == set(monitor["params"])  # fmt: skip
    assert monitor["defaults"]["allow_retrain"] is True
    quotes = dag_check["dags"]["batch_quotes"]
    assert quotes["tasks"] == ["plan", "quote_chunk", "combine"]
    assert quotes["params"]["chunk_rows"]["type"] == "integer"
    assert quotes["defaults"]["input_uri"].startswith("s3://data/batch/in/")
