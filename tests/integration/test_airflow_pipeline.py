"""The DAGs on a real Airflow (PostgreSQL, LocalExecutor) with a real MLflow server and S3.

Triggered through Airflow's REST API, as a user or ``make up`` would. One synthetic raw file
is uploaded to ``s3://data/raw/car_details_v3.csv``; the first run trains a model, the second
is made deliberately worse (``max_rounds=2``) and must not move ``champion``; then
``batch_quotes`` prices a small CSV with a bad row and a formula cell.
Kept cheap: one trial, a few hundred rows, capped boosting rounds.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from carprice.clean import clean_training
from carprice.quotelog.records import inputs_of, quote_row
from carprice.quotelog.store import QuoteStore
from carprice.runlake import safe_run_id
from carprice.synthetic import generate
from tests.airflow_server import AirflowStack
from tests.integration.conftest import MODEL, alias_version

RUN_TIMEOUT = 420.0
pytestmark = pytest.mark.timeout(900)


def _s3_json(stack: AirflowStack, key: str) -> Any:
    body = stack.s3.client().get_object(Bucket="data", Key=key)["Body"].read()
    return json.loads(body)


def _s3_keys(stack: AirflowStack, prefix: str) -> set[str]:
    pages = (
        stack.s3.client().get_paginator("list_objects_v2").paginate(Bucket="data", Prefix=prefix)
    )
    return {obj["Key"][len(prefix) :] for page in pages for obj in page.get("Contents", [])}


def _run(stack: AirflowStack, dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    run = stack.trigger_and_wait(dag_id, conf, timeout=RUN_TIMEOUT)
    run["seconds"] = round(time.monotonic() - started, 1)
    print(f"{dag_id} {conf}: {run['state']} in {run['seconds']} s")
    assert run["state"] == "success", stack.failure_report(run)
    return run


@pytest.fixture(scope="module")
def first_run(airflow_stack: AirflowStack, mlflow_client: MlflowClient) -> dict[str, Any]:
    """A raw file in the lake, then one good pipeline run; the champion before it."""
    raw = generate(rows=400, seed=11)
    airflow_stack.s3.client().put_object(
        Bucket="data", Key="raw/car_details_v3.csv", Body=raw.to_csv(index=False).encode()
    )
    champion_before = alias_version(mlflow_client, "champion")
    run = _run(airflow_stack, "car_price_pipeline", {"trials": 1, "max_rounds": 150})
    return {"run": run, "champion_before": champion_before}


def test_pipeline_writes_processed_data_and_reports(
    airflow_stack: AirflowStack, first_run: dict[str, Any]
) -> None:
    run = first_run["run"]
    assert set(run["task_states"].values()) == {"success"}, run["task_states"]
    prefix = f"runs/{safe_run_id(run['dag_run_id'])}/"
    keys = _s3_keys(airflow_stack, prefix)
    for stage, files in {
        "raw": ("car_details_v3.csv",),
        "validated": ("clean.parquet", "rejected_rows.csv", "profile.json"),
        "processed": ("train.parquet", "test.parquet"),
        "model": ("booster.ubj", "metrics.json"),
        "promotion": ("promotion.json",),
    }.items():
        for name in (*files, "_SUCCESS"):
            assert f"{stage}/{name}" in keys, f"{stage}/{name} missing under {prefix}: {keys}"

    s3 = airflow_stack.s3.client()
    profile = _s3_json(airflow_stack, prefix + "validated/profile.json")
    rejected = pd.read_csv(
        s3.get_object(Bucket="data", Key=prefix + "validated/rejected_rows.csv")["Body"]
    )
    train = pd.read_parquet(
        io.BytesIO(
            s3.get_object(Bucket="data", Key=prefix + "processed/train.parquet")["Body"].read()
        )
    )
    test = pd.read_parquet(
        io.BytesIO(
            s3.get_object(Bucket="data", Key=prefix + "processed/test.parquet")["Body"].read()
        )
    )
    held = _s3_json(airflow_stack, prefix + "processed/eval_set.json")
    assert profile["rows"]["rows_out"] == len(train) + len(test) + held["excluded_rows"]
    manifest = _s3_json(airflow_stack, f"eval/{held['set_id']}/manifest.json")
    assert manifest["sha256"] == held["sha256"] and manifest["rows"] == held["rows"] > 0
    assert profile["rows"]["rejected"] == len(rejected) > 0
    assert rejected["reason"].str.len().gt(0).all()
    assert profile["numeric"]["selling_price"]["min"] > 0
    assert sum(profile["categories"]["fuel"].values()) == profile["rows"]["rows_out"]


def test_first_run_registers_a_version_with_the_right_alias(
    airflow_stack: AirflowStack, first_run: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    prefix = f"runs/{safe_run_id(first_run['run']['dag_run_id'])}/"
    outcome = _s3_json(airflow_stack, prefix + "promotion/promotion.json")
    version = mlflow_client.get_model_version(MODEL, outcome["version"])
    assert version.tags["gate.verdict"] == ("promoted" if outcome["promoted"] else "rejected")
    assert outcome["alias"] in version.aliases
    if first_run["champion_before"] is None:  # nothing to beat: the first model is champion
        champion = alias_version(mlflow_client, "champion")
        assert outcome["promoted"] and champion == outcome["version"]
    # The trials are child runs of the tuning run.
    parent = version.tags["run_id"]
    experiment = mlflow_client.get_run(parent).info.experiment_id
    children = mlflow_client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert len(children) == 1


def test_worse_run_does_not_move_champion(
    airflow_stack: AirflowStack, first_run: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    champion = alias_version(mlflow_client, "champion")
    assert champion is not None
    run = _run(airflow_stack, "car_price_pipeline", {"trials": 1, "max_rounds": 2})
    prefix = f"runs/{safe_run_id(run['dag_run_id'])}/"
    outcome = _s3_json(airflow_stack, prefix + "promotion/promotion.json")
    assert not outcome["promoted"], outcome
    assert alias_version(mlflow_client, "champion") == champion
    assert alias_version(mlflow_client, "challenger") == outcome["version"] != champion
    tags = mlflow_client.get_model_version(MODEL, outcome["version"]).tags
    assert tags["gate.verdict"] == "rejected"
    assert float(tags["gate.candidate_mae"]) > float(tags["gate.champion_mae"])
    assert "does not beat" in tags["gate.reason"]


def test_approval_run_waits_as_challenger_with_its_outcome_in_airflow(
    airflow_stack: AirflowStack, first_run: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    """require_approval: the gate's verdict is recorded, the version waits as challenger, and
    the outcome the promote task returned is readable over Airflow's REST API (the XCom the
    dashboard's Pipelines page shows to every session)."""
    from pydantic import SecretStr

    from dashboard.clients.airflow_client import AirflowClient

    champion = alias_version(mlflow_client, "champion")
    conf = {"trials": 1, "max_rounds": 150, "require_approval": True, "min_gain": 0.02}
    run = _run(airflow_stack, "car_price_pipeline", conf)
    client = AirflowClient(airflow_stack.url, airflow_stack.user, SecretStr(airflow_stack.password))
    outcome = client.xcom("car_price_pipeline", run["dag_run_id"], "promote")
    assert isinstance(outcome, dict), outcome
    assert outcome["awaiting_approval"] is True and outcome["promoted"] is False
    assert outcome["previous_champion"] == champion and outcome["min_gain"] == 0.02
    assert alias_version(mlflow_client, "champion") == champion
    assert alias_version(mlflow_client, "challenger") == outcome["version"]
    tags = mlflow_client.get_model_version(MODEL, outcome["version"]).tags
    assert tags["gate.awaiting_approval"] == "true" and tags["gate.min_gain"] == "0.0200"
    first = _s3_json(
        airflow_stack,
        f"runs/{safe_run_id(first_run['run']['dag_run_id'])}/processed/eval_set.json",
    )
    assert tags["gate.eval_set"] == first["set_id"] == outcome["eval_set"]  # reused
    assert client.xcom("car_price_pipeline", run["dag_run_id"], "no_such_task") is None


def test_failed_run_leaves_champion_untouched(
    airflow_stack: AirflowStack, first_run: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    aliases = {a: alias_version(mlflow_client, a) for a in ("champion", "challenger")}
    missing = "s3://data/raw/not_uploaded.csv"
    run = airflow_stack.trigger_and_wait(
        "car_price_pipeline", {"trials": 1, "data_uri": missing}, timeout=RUN_TIMEOUT
    )
    assert run["state"] == "failed", run["task_states"]
    assert run["task_states"]["ingest"] == "failed"
    assert run["task_states"]["promote"] == "upstream_failed"
    assert {a: alias_version(mlflow_client, a) for a in aliases} == aliases
    ingest = next(ti for ti in run["task_instances"] if ti["task_id"] == "ingest")
    assert ingest["try_number"] == 3  # retried twice
    log = airflow_stack.client.task_log(
        "car_price_pipeline", run["dag_run_id"], "ingest", ingest["try_number"]
    )
    assert f"no object at {missing}" in log
    assert not _s3_keys(airflow_stack, f"runs/{safe_run_id(run['dag_run_id'])}/")


def test_batch_quotes_keeps_every_row_in_order(
    airflow_stack: AirflowStack, first_run: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    cars = generate(rows=10, seed=5).drop(columns=["selling_price"]).head(10).astype(str)
    cars = cars.reset_index(drop=True)
    cars.loc[3, "year"] = "not a year"
    cars.loc[6, "name"] = '=HYPERLINK("http://x")'
    s3 = airflow_stack.s3.client()
    s3.put_object(Bucket="data", Key="batch/in/cars.csv", Body=cars.to_csv(index=False).encode())
    run = _run(
        airflow_stack,
        "batch_quotes",
        {"input_uri": "s3://data/batch/in/cars.csv", "chunk_rows": 4},
    )
    assert sum(k.startswith("quote_chunk[") for k in run["task_states"]) == 3
    body = s3.get_object(Bucket="data", Key="batch/out/cars.csv")["Body"].read()
    out = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    assert len(out) == len(cars)
    assert out["km_driven"].tolist() == cars["km_driven"].astype(str).tolist()
    assert out.loc[3, "error"] and out.loc[3, "predicted_price"] == ""
    assert out.loc[6, "name"].startswith("'=")
    priced = out[out["error"] == ""]
    assert len(priced) >= 7
    assert (priced["predicted_price"].astype(float) > 0).all()
    low, mid, high = (
        priced[c].astype(float) for c in ("price_low", "predicted_price", "price_high")
    )
    assert ((low <= mid) & (mid <= high)).all()
    assert set(out["model_version"]) == {alias_version(mlflow_client, "champion")}


def test_model_monitor_triggers_a_retrain_with_the_sales(
    airflow_stack: AirflowStack, first_run: dict[str, Any], mlflow_client: MlflowClient
) -> None:
    """A week of logged quotes for older, higher-km cars than the champion learned from, half
    of them sold: model_monitor reports drift, writes its report and the sales, and starts
    car_price_pipeline with the sales as extra training data, which runs to success."""
    store = QuoteStore.from_url(airflow_stack.task_env["CARPRICE_DATABASE_URL"])
    store.migrate()
    cars = clean_training(generate(rows=300, seed=21)).frame
    cars = cars.assign(year=(cars["year"] - 6).clip(lower=1995), km_driven=cars["km_driven"] * 3)
    now, version = datetime.now(UTC), alias_version(mlflow_client, "champion")
    rows, sales = [], []
    for i, car in enumerate(cars.to_dict("records")):
        quote_id, price = str(uuid.uuid4()), float(car["selling_price"])
        rows.append(quote_row(
            quote_id, created_at=now - timedelta(hours=1 + i % 150), model_version=version,
            inputs=inputs_of(car), price=price * 0.8, price_low=price * 0.6,
            price_high=price, warnings=[], api_key_name=None, source="csv",
        ))  # fmt: skip
        if i % 2:
            sales.append((quote_id, price, date.today()))
    store.insert_quotes(rows)
    store.record_sales(sales)

    run = _run(airflow_stack, "model_monitor", {"retrain_trials": 1})
    assert run["task_states"]["retrain"] == "success", run["task_states"]
    day = now.strftime("%Y-%m-%d")
    report = airflow_stack.s3.client().get_object(Bucket="data", Key=f"reports/monitor/{day}.html")
    assert b"Retrain triggered" in report["Body"].read()
    assert f"{day}/sales.csv" in _s3_keys(airflow_stack, "sales/")
    # The retrain it started: the sales as extra data, the finding as its reason.
    runs = httpx.get(
        f"{airflow_stack.url}/api/v2/dags/car_price_pipeline/dagRuns",
        params={"order_by": "-run_after", "limit": 1},
        headers={"Authorization": f"Bearer {airflow_stack.token()}"},
        timeout=30,
    ).json()["dag_runs"]
    triggered = runs[0]
    assert triggered["conf"]["extra_data"] == [f"s3://data/sales/{day}/sales.csv"]
    assert "inputs drifted" in triggered["conf"]["reason"] and triggered["conf"]["trials"] == 1
    done = airflow_stack.client.wait("car_price_pipeline", triggered["dag_run_id"], RUN_TIMEOUT)
    assert done["state"] == "success", airflow_stack.failure_report(done)
    source = _s3_json(airflow_stack, f"runs/{safe_run_id(triggered['dag_run_id'])}/raw/source.json")
    assert source["extra_rows"] == len(sales)
