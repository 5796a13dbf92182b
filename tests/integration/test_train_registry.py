"""Train → register → reload against real MLflow servers, and the promotion gate.

Two back-ends, as in production and on a laptop: SQLite with local artifacts, and
PostgreSQL with artifacts in a real S3 server (rclone). Synthetic data keeps this quick.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from hashlib import sha256
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from carprice import names, registry, train
from carprice.settings import get_settings
from carprice.synthetic import ensure_sample
from tests.plugins.api_stack import CAR as API_CAR
from tests.servers import MlflowS3Stack, MlflowServer

REPO = Path(__file__).resolve().parents[2]
# The shared test car without torque: the model must price it with torque missing.
CAR = {k: v for k, v in API_CAR.items() if not k.startswith("torque")}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> str:
    return ensure_sample(str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A lake of this module's own: its frozen evaluation set is made by the first run."""
    return str(tmp_path_factory.mktemp("lake"))


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, lake_root: str) -> None:
    monkeypatch.setenv("CARPRICE_TRIALS", "2")
    monkeypatch.setenv("CARPRICE_LAKE_ROOT", lake_root)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    mlflow.set_tracking_uri(None)


def _reload_in_new_process(url: str, env: dict[str, str], alias: str = "champion") -> list[float]:
    """Load the aliased version in a fresh interpreter: proves the registry alone is enough."""
    code = (
        "import json, sys, pandas as pd; from carprice import registry;"
        f"registry.connect({url!r}, 'car_price');"
        f"m, v = registry.load('car_price', {alias!r});"
        f"print(json.dumps(m.predict(pd.DataFrame([{CAR!r}]))['predicted_price'].tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **env},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sqlite_server_train_register_reload_and_gate(
    mlflow_sqlite_server: MlflowServer, sample: str
) -> None:
    url = mlflow_sqlite_server.url
    first = train.run(sample, trials=2, tracking_uri=url, progress=lambda _: None)
    assert first["promoted"] and first["version"] == "1"
    assert first["test"]["r2"] > 0.8

    client = MlflowClient(url, registry_uri=url)
    champion = client.get_model_version_by_alias("car_price", "champion")
    assert champion.version == "1"
    assert champion.tags["gate.verdict"] == "promoted"
    assert champion.tags["gate.reason"] == "no champion yet"
    # The champion records what it was trained on (make up compares it with its data).
    assert champion.tags[names.DATA_SOURCE_SHA_TAG] == sha256(Path(sample).read_bytes()).hexdigest()

    children = client.search_runs(
        [client.get_experiment_by_name("car_price").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{first['run_id']}'",
    )
    assert len(children) == 2
    assert all("val_mae" in r.data.metrics and "eta" in r.data.params for r in children)
    parent = client.get_run(first["run_id"])
    assert parent.data.metrics["test_interval_coverage"] > 0.6
    assert parent.data.tags["data.synthetic"] == "true"

    model, version = registry.load("car_price")
    assert version == "1"
    local = model.predict(pd.DataFrame([CAR]))["predicted_price"].tolist()
    assert _reload_in_new_process(url, {}) == local

    # A deliberately worse model (3 boosting rounds) is registered but does not take over.
    worse = train.run(sample, trials=1, tracking_uri=url, progress=lambda _: None, max_rounds=3)
    assert not worse["promoted"] and worse["version"] == "2"
    assert client.get_model_version_by_alias("car_price", "champion").version == "1"
    challenger = client.get_model_version_by_alias("car_price", "challenger")
    assert challenger.version == "2"
    assert challenger.tags["gate.verdict"] == "rejected"
    assert float(challenger.tags["gate.candidate_mae"]) > float(
        challenger.tags["gate.champion_mae"]
    )
    assert "does not beat" in challenger.tags["gate.reason"]

    # Both runs were scored on the same frozen evaluation set, beside their own split.
    runs = [client.get_run(r["run_id"]) for r in (first, worse)]
    sets = {r.data.tags["carprice.eval_set"] for r in runs}
    assert len(sets) == 1 and challenger.tags["gate.eval_set"] in sets
    for r in runs:
        assert {"frozen_mae", "frozen_mape", "frozen_median_ape", "frozen_rows", "test_mae"} <= (
            r.data.metrics.keys()
        )
    assert float(challenger.tags["gate.gain_low"]) <= float(challenger.tags["gate.gain_high"])
    assert challenger.tags["gate.champion_mae"]

    # An operator approves the challenger anyway, then rolls back with a reason.
    done = registry.approve("car_price", reason="integration check", client=client)
    assert done == {"version": "2", "previous": "1", "at": done["at"]}
    assert client.get_model_version_by_alias("car_price", "champion").version == "2"
    back = registry.rollback("car_price", "too weak", client=client)
    assert back["version"] == "1"
    assert client.get_model_version_by_alias("car_price", "champion").version == "1"
    rolled = client.get_model_version("car_price", "2").tags
    assert rolled["carprice.rolled_back"] == "rollback by operator: too weak"
    reigns = registry.history("car_price", client=client)
    assert [(r.version, r.how) for r in reigns] == [("1", "rollback"), ("2", "approval"),
                                                     ("1", "gate")]  # fmt: skip


def test_postgres_s3_server_train_register_reload(
    mlflow_pg_s3_server: MlflowS3Stack, sample: str
) -> None:
    url = mlflow_pg_s3_server.url
    result = train.run(sample, trials=2, tracking_uri=url, progress=lambda _: None)
    # This server is shared with other tests that register car_price too, so whether the gate
    # promotes this version depends on what ran before: it is champion or challenger.
    alias = "champion" if result["promoted"] else "challenger"

    s3 = mlflow_pg_s3_server.s3.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith("booster.ubj") for k in keys), keys
    assert any(k.endswith("comparables.parquet") for k in keys)
    assert any(k.endswith("rejected_rows.csv") for k in keys)

    model, version = registry.load("car_price", alias)
    assert version == result["version"]
    local = model.predict(pd.DataFrame([CAR]))["predicted_price"].tolist()
    # The new process has no S3 credentials: artifacts come through the MLflow server.
    proxied = {"MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false"}
    assert _reload_in_new_process(url, proxied, alias) == local


def test_cli_prints_json_summary_last(mlflow_sqlite_server: MlflowServer, sample: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "carprice.train", "--data", sample, "--trials", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_sqlite_server.url},
        check=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"version", "promoted", "test"} <= summary.keys()
    assert "[3/5] trial 1/1" in out.stderr


def test_cli_reports_missing_data_clearly(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "carprice.train", "--data", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"},
    )
    assert out.returncode == 2
    assert "no file at" in out.stderr and "Traceback" not in out.stderr
