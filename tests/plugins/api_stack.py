"""Session fixtures for the pricing API, shared by tests/api, tests/dashboard and tests/e2e.

* `mlflow_server`: a real `mlflow server` (SQLite, local artifacts).
* `champion`: a model trained once per session through `carprice.train.run` (2 trials, capped
  rounds, synthetic sample) and registered as `car_price@champion` on that server.
* `api_server`: a real uvicorn running `api.main:app` on loopback, serving that champion
  (`.url`). Started lazily, once per session.
* `keyed_api_server`: another one with CARPRICE_API_KEY and other credentials set (security).
* `start_api()`: start another uvicorn (hot-swap and abuse tests).

Heavy imports (mlflow, carprice.train) happen inside fixtures, so loading this plugin is cheap.
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
from typing import TYPE_CHECKING

import httpx
import pytest

from carprice import names
from stack.health import wait_http
from stack.ports import free_port
from stack.process import ManagedProcess
from tests.servers import MlflowServer, start_mlflow_server

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

REPO = Path(__file__).resolve().parents[2]
MODEL = names.MODEL_NAME
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
    """Drop the cached carprice and API settings after an environment change."""
    from api.config import get_api_settings
    from carprice.settings import get_settings

    get_settings.cache_clear()
    get_api_settings.cache_clear()


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
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def new_version(self, name: str = MODEL) -> str:
        """Register the same model again: a new version to move the alias to."""
        mv = self.client().create_model_version(
            name, self.source, run_id=self.run_id, model_id=self.model_id
        )
        return str(mv.version)

    def set_alias(self, version: str, name: str = MODEL, alias: str = names.CHAMPION) -> None:
        self.client().set_registered_model_alias(name, alias, version)


@pytest.fixture(scope="session")
def champion(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """Train and register once per session against the real MLflow server."""
    import mlflow
    from mlflow import MlflowClient

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
    """In-process API settings pointed at the MLflow server `url` for the duration."""
    import mlflow

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


def start_api(url: str, log_dir: Path, **env: str) -> tuple[ManagedProcess, str]:
    """Start uvicorn on a free loopback port serving `url`'s champion; returns (process, base)."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "CARPRICE_API_KEY"}
    full_env = {
        **inherited,
        "MLFLOW_TRACKING_URI": url,
        "CARPRICE_API_POLL_SECONDS": "0.5",
        # the quote log of a test server stays in its log folder, not in the repo's .stack
        "CARPRICE_DATABASE_URL": f"sqlite:///{log_dir / f'quotes-{port}.db'}",
        "CARPRICE_QUOTE_SPOOL_DIR": str(log_dir / f"quote-spool-{port}"),
        **env,  # a test may set CARPRICE_API_KEY here on purpose
    }
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


@dataclass
class ApiServer:
    """A running uvicorn API; `url` is its base URL, `mlflow_url` the registry it serves from."""

    url: str
    mlflow_url: str
    process: ManagedProcess


@pytest.fixture(scope="session")
def api_server(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The real API on loopback, serving the session champion (waits until a model is loaded)."""
    proc, base = start_api(champion.url, tmp_path_factory.mktemp("api_server"))
    try:
        wait_for(lambda: served_version(base) is not None, timeout=120)
        yield ApiServer(url=base, mlflow_url=champion.url, process=proc)
    finally:
        proc.stop()


#: Secrets a keyed API process is given: the API key, and MLflow and S3 credentials it holds
#: (no server here checks the latter; they are there to be kept out of answers and logs).
API_SECRETS = {
    "CARPRICE_API_KEY": "test-api-Key-7f3c9a1e",
    "MLFLOW_TRACKING_USERNAME": "carprice",
    "MLFLOW_TRACKING_PASSWORD": "mlflow-Pass-5b2d",
    "AWS_SECRET_ACCESS_KEY": "s3-Secret-c81f0e",
}


@dataclass
class KeyedApiServer(ApiServer):
    """A real API that requires `key` on pricing; `secrets` are every credential it was given."""

    key: str = ""
    secrets: tuple[str, ...] = ()


@pytest.fixture(scope="session")
def keyed_api_server(
    champion: Champion, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyedApiServer]:
    """The real API with CARPRICE_API_KEY (and other credentials) set, serving the champion."""
    proc, base = start_api(champion.url, tmp_path_factory.mktemp("keyed_api"), **API_SECRETS)
    try:
        wait_for(lambda: served_version(base) is not None, timeout=120)
        yield KeyedApiServer(
            url=base,
            mlflow_url=champion.url,
            process=proc,
            key=API_SECRETS["CARPRICE_API_KEY"],
            secrets=tuple(v for k, v in API_SECRETS.items() if k != "MLFLOW_TRACKING_USERNAME"),
        )
    finally:
        proc.stop()


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy, else fail after `timeout` seconds."""
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
