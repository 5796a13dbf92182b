"""model_monitor's run against real parts: the session champion in a real MLflow server, a
quote log in SQLite, a local lake. A week of quotes replayed from the champion's own data:
as quoted, nothing is due; with shifted inputs (older, higher-km cars), drift triggers a
retrain, the matched sales are exported as training rows, and the report and MLflow run
say why."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from carprice import lake, monitor
from carprice.clean import clean_training
from carprice.quotelog.records import refusal_rows
from carprice.quotelog.replay import replay
from carprice.quotelog.store import QuoteStore
from carprice.synthetic import generate
from tests.plugins.api_stack import Champion, refresh_settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture
def env(champion: Champion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Other tests move the session registry's alias (to versions made to be refused, too):
    # the monitor must watch the session's trained model.
    champion.set_alias(champion.version)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.url)
    monkeypatch.setenv("CARPRICE_DATABASE_URL", f"sqlite:///{tmp_path / 'quotes.db'}")
    monkeypatch.setenv("CARPRICE_LAKE_ROOT", str(tmp_path / "lake"))
    refresh_settings()
    mlflow.set_tracking_uri(champion.url)  # `replay` prices with the registry's champion
    mlflow.set_registry_uri(champion.url)
    yield tmp_path
    refresh_settings()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_quotes_like_training_need_no_retrain(env: Path, champion: Champion) -> None:
    store = QuoteStore.from_url(f"sqlite:///{env / 'quotes.db'}")
    store.migrate()
    now = datetime.now(UTC)
    replay(store, generate(rows=400, seed=11), now)
    for at, n in ((now - timedelta(hours=3), 12), (now - timedelta(days=9), 5)):  # 5 too old
        reasons = ["brand 'Tesla' is unknown"] * n
        store.insert_rows(
            refusal_rows(reasons, created_at=at, model_version="1", api_key_name=None, source="csv")
        )
    out = monitor.summarise(days=7, requested="test")
    assert out["quotes"] >= 350 and out["sales"] >= 175
    assert out["retrain"] is False, out["reasons"]
    assert out["sales_uri"] is None
    html = lake.read_bytes(out["report_uri"]).decode()
    assert "No retrain" in html and "(12 rows)" in html
    assert out["refused"] == 12
    metrics = MlflowClient(champion.url).get_run(out["mlflow_run_id"]).data.metrics
    assert metrics["refused"] == 12
    assert metrics["rate_refused"] == pytest.approx(12 / (out["quotes"] + 12), abs=1e-5)


def test_shifted_quotes_trigger_a_retrain_with_their_sales(env: Path, champion: Champion) -> None:
    store = QuoteStore.from_url(f"sqlite:///{env / 'quotes.db'}")
    store.migrate()
    cars = generate(rows=400, seed=12)
    shifted = cars.assign(
        year=(cars["year"].astype(int) - 6).clip(lower=1995),
        km_driven=(cars["km_driven"].astype(float) * 3).clip(upper=900_000).round(),
    )
    sold = replay(store, shifted, datetime.now(UTC))
    out = monitor.summarise(days=7, requested="test")
    assert out["retrain"] is True, out
    assert any("inputs drifted" in r and "km_driven" in r and "year" in r for r in out["reasons"])
    assert out["drift"] == "drift"
    # The matched sales, as raw training rows the pipeline cleans like its own data.
    sales = pd.read_csv(io.BytesIO(lake.read_bytes(out["sales_uri"])), dtype=str,
                        keep_default_na=False)  # fmt: skip
    assert len(sales) == sold
    rejected = clean_training(sales).rejected  # only a sale price no real car sells for
    assert all(r.startswith("selling_price") for r in rejected["reason"]), rejected.to_dict(
        "records"
    )
    html = lake.read_bytes(out["report_uri"]).decode()
    assert "Retrain triggered" in html and "km_driven" in html
    # The MLflow run holds the figures and the decision.
    run = MlflowClient(champion.url).get_run(out["mlflow_run_id"])
    assert run.data.tags["retrain"] == "true" and run.data.tags["drift"] == "drift"
    assert run.data.metrics["quotes"] == out["quotes"] and run.data.metrics["psi_km_driven"] >= 0.25
    # Outside the window (the quotes are from the last six days), nothing is counted.
    old = monitor.summarise(days=1, until=datetime.now(UTC) - timedelta(days=8))
    assert old["quotes"] == 0 and old["retrain"] is False
