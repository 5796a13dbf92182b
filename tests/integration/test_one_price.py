"""One price per car, whoever asks (issue 10): on a few hundred rows of the real file,
``/predict``, ``/predict/batch``, ``/predict/csv``, the MLflow pyfunc and the ``batch_quotes``
DAG return the same price, low and high bound, to the rupee, from either input shape.

A quick model (one trial, capped rounds) is trained on the real file against the Airflow
stack's MLflow (PostgreSQL, artifacts in S3) and forced to ``champion``; a real uvicorn API
and the real Airflow then serve it. Every car is asked in both shapes where the path takes
both: raw CarDekho listing cells (``"23.4 kmpl"``) and CarFeatures values, built from the same
row by ``carprice.clean.to_frame``. ``/predict`` is asked once per car, all of them. Skipped
when the real file is absent. About 6-7 minutes here (training about 2-4 of them).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from carprice import names
from carprice.clean import to_frame
from carprice.schema import RAW_COLUMNS, TARGET, CarFeatures
from tests.airflow_server import AirflowStack
from tests.integration.conftest import alias_version
from tests.plugins.api_stack import refresh_settings, served_version, start_api, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

MODEL = names.MODEL_NAME
ROWS = 300  # distinct real listings, a fixed sample
SEED = 10
# Brands with at least this many distinct listings: surely in the 80% training split.
MIN_BRAND_ROWS = 8
# The CarFeatures fields these cars are sent with: identity and use, and every spec.
FEATURE_FIELDS = (
    "name",
    "brand",
    "year",
    "km_driven",
    "fuel",
    "seller_type",
    "transmission",
    "owner_rank",
    "mileage_kmpl",
    "engine_cc",
    "max_power_bhp",
    "seats",
    "torque_nm",
    "torque_rpm",
)
PRICE_COLUMNS = ("predicted_price", "price_low", "price_high")
BATCH_IN = "batch/in/one_price.csv"  # not the file test_airflow_pipeline uses
BATCH_OUT = "batch/out/one_price.csv"
DAG_CHUNK_ROWS = 100  # three mapped quote_chunk tasks
DAG_TIMEOUT = 900.0


@dataclass
class Cars:
    raw: pd.DataFrame  # RAW_COLUMNS, every cell the text of the real file
    features: list[dict[str, Any]]  # the same cars as CarFeatures JSON objects


@dataclass
class RealChampion:
    url: str  # the MLflow server
    version: str
    trained: dict[str, Any]  # carprice.train.run's summary


@contextlib.contextmanager
def _mlflow_at(url: str) -> Iterator[pytest.MonkeyPatch]:
    """This process's MLflow pointed at `url` for the duration; its globals and the
    MLFLOW_*_URI variables that mlflow.set_*_uri export are put back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            mp.delenv(var, raising=False)  # recorded, so undo restores them
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        try:
            yield mp
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


@pytest.fixture(scope="module")
def real_file(real_data_path: Path | None) -> Path:
    if real_data_path is None:
        pytest.skip(
            "real car_details_v3.csv not found (set CARPRICE_RAW_DATA or put it in "
            "../shared/data/): this test prices real listings"
        )
    return real_data_path


def _feature_dict(row: dict[str, Any]) -> dict[str, Any]:
    """One internal-frame row → a CarFeatures JSON object (a missing spec → None)."""
    car: dict[str, Any] = {}
    for field in FEATURE_FIELDS:
        value = row[field]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            car[field] = None
        elif field in ("year", "km_driven", "owner_rank", "seats"):
            car[field] = int(value)
        elif isinstance(value, float | np.floating):
            car[field] = float(value)
        else:
            car[field] = value
    return car


@pytest.fixture(scope="module")
def cars(real_file: Path) -> Cars:
    """ROWS distinct real listings that both shapes can express: the raw row cleans without
    error, every field of FEATURE_FIELDS but torque is present (``/predict`` took them as
    required before the catalogue filled specs) and the brand is common in the file. Kept in
    file order."""
    raw = pd.read_csv(real_file, dtype=str, keep_default_na=False)
    raw = raw.drop(columns=[TARGET]).drop_duplicates().reset_index(drop=True)
    frame, errors = to_frame(raw)
    brand_key = frame["brand"].str.lower()
    common = brand_key.map(brand_key.value_counts()).ge(MIN_BRAND_ROWS)
    required = [c for c in FEATURE_FIELDS if not c.startswith("torque")]
    usable = (errors == "") & frame[required].notna().all(axis=1) & common
    # Every such row with a spec missing (torque rpm: 3 in the file), so "missing" is compared
    # across shapes too, plus a fixed random sample of the rest.
    partial = usable & frame[["torque_nm", "torque_rpm"]].isna().any(axis=1)
    rest = frame[usable & ~partial].sample(n=ROWS - int(partial.sum()), random_state=SEED)
    picked = pd.concat([frame[partial], rest]).sort_index()
    features = [_feature_dict(row) for row in picked.to_dict("records")]
    for car in features:
        CarFeatures.model_validate(car)  # the API must accept every one of them
    return Cars(
        raw=raw.loc[picked.index, list(RAW_COLUMNS)].reset_index(drop=True), features=features
    )


@pytest.fixture(scope="module")
def real_champion(
    airflow_stack: AirflowStack, real_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealChampion]:
    """A quick model trained on the real file, forced to ``champion`` for this module.

    The gate may or may not promote it over an earlier (synthetic) champion; the alias is set
    by hand afterwards either way. The aliases found before are put back at teardown, so tests
    that run later in the session on this MLflow (test_train_registry expects its synthetic
    model to beat the champion) never see a real-file champion.
    """
    from carprice import train

    url = airflow_stack.mlflow_url
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    before = {alias: alias_version(client, alias) for alias in names.ALIASES}
    base = tmp_path_factory.mktemp("one_price_train")
    started = time.monotonic()
    with _mlflow_at(url) as mp:
        mp.chdir(base)
        mp.setenv("CARPRICE_LAKE_ROOT", str(base / "lake"))
        refresh_settings()
        try:
            result = train.run(
                str(real_file), trials=1, tracking_uri=url, progress=lambda _: None, max_rounds=150
            )
        finally:
            refresh_settings()
    version = str(result["version"])
    client.set_registered_model_alias(MODEL, names.CHAMPION, version)
    print(
        f"\nreal-file model v{version} trained in {time.monotonic() - started:.0f} s "
        f"(gate: {result['promoted']}, {result['reason']}); test {result['test']}"
    )
    try:
        yield RealChampion(url=url, version=version, trained=result)
    finally:
        for alias, previous in before.items():
            if previous is not None:
                client.set_registered_model_alias(MODEL, alias, previous)
            elif alias_version(client, alias) is not None:
                client.delete_registered_model_alias(MODEL, alias)


@pytest.fixture(scope="module")
def api(real_champion: RealChampion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn serving the real-file champion (artifacts come through MLflow from S3)."""
    proc, base = start_api(real_champion.url, tmp_path_factory.mktemp("one_price_api"))
    try:
        wait_for(lambda: served_version(base) == real_champion.version, timeout=180, interval=0.5)
        yield base
    finally:
        proc.stop()


def _frame(prices: dict[str, list[Any]], errors: list[Any]) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.to_numeric(pd.Series(v), errors="coerce") for c, v in prices.items()})
    out["error"] = [e if e else "" for e in errors]
    return out


def _from_csv(body: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)


def _priced_csv(out: pd.DataFrame, version: str, what: str) -> pd.DataFrame:
    assert set(out["model_version"]) == {version}, f"{what}: {set(out['model_version'])}"
    return _frame({c: out[c].tolist() for c in PRICE_COLUMNS}, out["error"].tolist())


def _via_predict(http: httpx.Client, cars: Cars, version: str) -> pd.DataFrame:
    prices: dict[str, list[Any]] = {c: [] for c in PRICE_COLUMNS}
    errors: list[Any] = []
    for car in cars.features:  # every car, one request each
        response = http.post("/predict", json=car)
        if response.status_code != 200:
            for c in PRICE_COLUMNS:
                prices[c].append(None)
            errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
            continue
        body = response.json()
        assert body["model_version"] == version
        for c, key in zip(PRICE_COLUMNS, ("price", "price_low", "price_high"), strict=True):
            prices[c].append(body[key])
        errors.append("")
    return _frame(prices, errors)


def _via_batch(http: httpx.Client, cars: Cars, version: str) -> pd.DataFrame:
    items: list[dict[str, Any]] = []
    for start in range(0, len(cars.features), 1000):
        response = http.post("/predict/batch", json=cars.features[start : start + 1000])
        assert response.status_code == 200, response.text[:500]
        assert response.json()["model_version"] == version
        items += response.json()["items"]
    assert [item["index"] for item in items] == [i % 1000 for i in range(len(items))]
    prices = {
        c: [item[key] for item in items]
        for c, key in zip(PRICE_COLUMNS, ("price", "price_low", "price_high"), strict=True)
    }
    return _frame(prices, [item["error"] for item in items])


def _via_csv(http: httpx.Client, frame: pd.DataFrame, version: str, what: str) -> pd.DataFrame:
    body = frame.to_csv(index=False).encode()
    response = http.post("/predict/csv", files={"file": ("cars.csv", body, "text/csv")})
    assert response.status_code == 200, response.text[:500]
    out = _from_csv(response.content)
    assert len(out) == len(frame), what
    return _priced_csv(out, version, what)


def _via_pyfunc(url: str, frame: pd.DataFrame) -> pd.DataFrame:
    with _mlflow_at(url):
        model = mlflow.pyfunc.load_model(f"models:/{MODEL}@{names.CHAMPION}")
        out = model.predict(frame)
    return _frame({c: out[c].tolist() for c in PRICE_COLUMNS}, out["error"].tolist())


def _via_dag(stack: AirflowStack, cars: Cars, version: str) -> pd.DataFrame:
    s3 = stack.s3.client()
    s3.put_object(Bucket="data", Key=BATCH_IN, Body=cars.raw.to_csv(index=False).encode())
    started = time.monotonic()
    run = stack.trigger_and_wait(
        names.BATCH_DAG,
        {"input_uri": f"s3://data/{BATCH_IN}", "chunk_rows": DAG_CHUNK_ROWS},
        timeout=DAG_TIMEOUT,
    )
    print(f"batch_quotes: {run['state']} in {time.monotonic() - started:.0f} s")
    assert run["state"] == "success", stack.failure_report(run)
    out = _from_csv(s3.get_object(Bucket="data", Key=BATCH_OUT)["Body"].read())
    assert len(out) == len(cars.raw)
    assert out["km_driven"].tolist() == cars.raw["km_driven"].tolist()  # input order kept
    return _priced_csv(out, version, "batch_quotes")


@pytest.fixture(scope="module")
def prices(
    airflow_stack: AirflowStack, real_champion: RealChampion, api: str, cars: Cars
) -> dict[str, pd.DataFrame]:
    """Path name → one row per car (same order): the three price columns and ``error``."""
    version = real_champion.version
    features = pd.DataFrame(cars.features, columns=list(FEATURE_FIELDS))
    out: dict[str, pd.DataFrame] = {}
    timings: dict[str, float] = {}

    def take(name: str, fn: Any, *args: Any) -> None:
        started = time.monotonic()
        out[name] = fn(*args)
        timings[name] = time.monotonic() - started

    with httpx.Client(base_url=api, timeout=120) as http:
        take("pyfunc raw", _via_pyfunc, real_champion.url, cars.raw)
        take("pyfunc features", _via_pyfunc, real_champion.url, features)
        take("/predict features", _via_predict, http, cars, version)
        take("/predict/batch features", _via_batch, http, cars, version)
        take("/predict/csv raw", _via_csv, http, cars.raw, version, "/predict/csv raw")
        take("/predict/csv features", _via_csv, http, features, version, "/predict/csv features")
    take("batch_quotes DAG raw", _via_dag, airflow_stack, cars, version)
    print("seconds per path: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return out


def test_every_path_prices_every_car(prices: dict[str, pd.DataFrame], cars: Cars) -> None:
    unpriced = {
        path: [(i, cars.raw.at[i, "name"], e) for i, e in enumerate(p["error"]) if e][:5]
        for path, p in prices.items()
        if (p["error"] != "").any() or p[list(PRICE_COLUMNS)].isna().any().any()
    }
    assert not unpriced, f"cars left unpriced (first 5 per path): {unpriced}"
    for path, p in prices.items():
        assert len(p) == ROWS, path
        mid, low, high = (p[c] for c in PRICE_COLUMNS)
        assert ((low <= mid) & (mid <= high) & (mid > 0)).all(), path


def test_every_path_gives_the_same_price_to_the_rupee(
    prices: dict[str, pd.DataFrame], cars: Cars
) -> None:
    """Exact equality: prices are whole rupees (rounded to ₹100 by the model), so any
    difference at all means two paths priced a car differently."""
    reference_path = "pyfunc raw"
    reference = prices[reference_path]
    report: list[str] = []
    for path, p in prices.items():
        for col in PRICE_COLUMNS:
            differ = np.flatnonzero(p[col].to_numpy() != reference[col].to_numpy())
            if len(differ):
                diffs = p[col].to_numpy()[differ] - reference[col].to_numpy()[differ]
                report.append(
                    f"{path} vs {reference_path}, {col}: {len(differ)}/{len(p)} rows differ, "
                    f"max |Δ| ₹{np.nanmax(np.abs(diffs)):,.0f}; first: "
                    + "; ".join(
                        f"row {i} {cars.raw.at[i, 'name']!r}: {p[col].iat[i]:,.0f} vs "
                        f"{reference[col].iat[i]:,.0f}"
                        for i in differ[:5]
                    )
                )
    assert not report, "paths disagree:\n" + "\n".join(report)
