"""Fixtures for the API tests.

* `mem_model`: a small PricingModel trained in memory (pure unit tests, no servers).
* `mlflow_server` + `champion`: a real `mlflow server` (SQLite, local artifacts) with a model
  trained once per session through `carprice.train.run` (2 trials, capped rounds).
* `client`: `TestClient(app)` with the real lifespan, pointed at that server.
* `start_api()`: a real uvicorn subprocess on a free port (hot-swap test).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from api.config import get_api_settings
from carprice.settings import get_settings
from tests.servers import (
    ManagedProcess,
    MlflowServer,
    free_port,
    start_mlflow_server,
    wait_http,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = "car_price"
CAR = {
    "name": "Maruti Swift VDI",
    "brand": "Maruti",
    "year": 2015,
    "km_driven": 50000,
    "fuel": "Diesel",
    "seller_type": "Individual",
    "transmission": "Manual",
    "owner_rank": 1,
    "mileage_kmpl": 22.0,
    "engine_cc": 1248,
    "max_power_bhp": 74,
    "seats": 5,
    "torque_nm": 190,
    "torque_rpm": 2000,
}


def refresh_settings() -> None:
    get_settings.cache_clear()
    get_api_settings.cache_clear()


@pytest.fixture(scope="session")
def mem_model():  # noqa: ANN201 - PricingModel
    """Fitted exactly like train.run's final model, minus MLflow (a few seconds)."""
    from carprice import train
    from carprice.clean import clean_training
    from carprice.synthetic import generate

    report = clean_training(generate(rows=1000, seed=3))
    tr, te = train.split(report.frame, 0.2, seed=1)
    summary = train.data_summary(tr, te, report.counts, "SYNTHETIC api-test sample")
    params = {"eta": 0.1, "max_depth": 5, "min_child_weight": 1.0, "subsample": 0.9}
    return train.fit_best(tr, te, params, rounds=80, seed=1, level=0.8, summary=summary)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    base = tmp_path_factory.mktemp("api_mlflow")
    server = start_mlflow_server(
        f"sqlite:///{base / 'mlflow.db'}",
        str(base / "artifacts"),
        log_path=base / "mlflow.log",
        workdir=base,
    )
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Champion:
    url: str
    version: str
    source: str  # model URI of the trained version, reused to register more versions
    run_id: str
    model_id: str | None

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def new_version(self, name: str = MODEL) -> str:
        """Register the same model again: a new version to move the alias to."""
        mv = self.client().create_model_version(
            name, self.source, run_id=self.run_id, model_id=self.model_id
        )
        return str(mv.version)

    def set_alias(self, version: str, name: str = MODEL, alias: str = "champion") -> None:
        self.client().set_registered_model_alias(name, alias, version)


@pytest.fixture(scope="session")
def champion(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """Train and register once per session against the real MLflow server."""
    from carprice import train
    from carprice.synthetic import ensure_sample

    sample = ensure_sample(str(tmp_path_factory.mktemp("data")))
    kwargs: dict = {"trials": 2, "tracking_uri": mlflow_server.url, "progress": lambda _: None}
    if "max_rounds" in inspect.signature(train.run).parameters:
        kwargs["max_rounds"] = 120
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("train_cwd"))
        refresh_settings()
        result = train.run(sample, **kwargs)
    refresh_settings()
    mlflow.set_tracking_uri(None)
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    mv = client.get_model_version(MODEL, result["version"])
    return Champion(
        mlflow_server.url,
        result["version"],
        mv.source,
        mv.run_id,
        getattr(mv, "model_id", None) or mv.source.removeprefix("models:/"),
    )


@contextlib.contextmanager
def api_env(url: str, **extra: str) -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", url)
        mp.setenv("CARPRICE_API_POLL_SECONDS", extra.pop("poll", "0.5"))
        mp.delenv("CARPRICE_API_KEY", raising=False)
        for key, value in extra.items():
            mp.setenv(key, value)
        refresh_settings()
        try:
            yield mp
        finally:
            refresh_settings()
            mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def client(champion: Champion) -> Iterator:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with api_env(champion.url), TestClient(create_app()) as c:
        assert c.get("/health").json()["model_version"] is not None
        yield c


@pytest.fixture
def settings_env() -> Iterator[pytest.MonkeyPatch]:
    """Change CARPRICE_API_* for one test; settings are re-read per request."""
    with pytest.MonkeyPatch.context() as mp:
        yield mp
    refresh_settings()


def start_api(url: str, log_dir: Path, **env: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    full_env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": url,
        "CARPRICE_API_POLL_SECONDS": "0.5",
        **env,
    }
    full_env.pop("CARPRICE_API_KEY", None)
    cmd = [
        sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    proc = ManagedProcess(f"api:{port}", cmd, log_dir / f"api-{port}.log", env=full_env, cwd=REPO)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/health", 120, process=proc)
    except Exception:
        proc.stop()
        raise
    return proc, base


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def served_version(base: str) -> str | None:
    return httpx.get(base + "/health", timeout=10).json()["model_version"]


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()
