"""model_monitor's decision, its sales export (cleaned like any training data), its report,
and the pipeline taking the exported sales as extra training rows."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pandas as pd
import pytest

from carprice import lake, monitor, pipeline, runlake
from carprice.clean import clean_training
from carprice.monitor_report import render
from carprice.synthetic import generate


def _summary(sales: int = 40, mape: float = 0.25, quotes: int = 100, major: int = 0) -> dict:
    features = {f"f{i}": {"kind": "numeric", "psi": 0.4, "band": "major"} for i in range(major)}
    features["year"] = {"kind": "numeric", "psi": 0.01, "band": "stable", "median": 2015.0,
                        "train_median": 2015.0}  # fmt: skip
    acc = {"sales": sales, "mae": 50_000.0, "mape": mape, "median_ape": 0.1, "coverage": 0.8}
    return {
        "quotes": quotes, "sales": sales, "accuracy": acc,
        "by_model_version": {"3": {"quotes": quotes, **acc}},
        "by_week": [{"week": "2026-11-30", "quotes": quotes, **acc}],
        "rates": {"out_of_range": 0.02, "refused": None},
        "drift": {"verdict": "drift" if major else "stable", "features": features},
    }  # fmt: skip


def test_live_error_above_the_test_figure_triggers_a_retrain() -> None:
    out = monitor.decide(_summary(mape=0.25), test_mape=0.15, t=monitor.Thresholds())
    assert out["retrain"] is True
    assert "10.0 points above" in out["reasons"][0]


def test_too_few_sales_or_a_small_gap_do_not() -> None:
    t = monitor.Thresholds(min_sales=30, mape_points=5)
    assert monitor.decide(_summary(sales=10, mape=0.5), 0.15, t)["retrain"] is False
    small = monitor.decide(_summary(mape=0.18), 0.15, t)
    assert small["retrain"] is False and "no threshold crossed" in small["reasons"][0]


def test_drift_in_enough_inputs_triggers_a_retrain() -> None:
    t = monitor.Thresholds(drift_features=2)
    assert monitor.decide(_summary(mape=0.15, major=1), 0.15, t)["retrain"] is False
    out = monitor.decide(_summary(mape=0.15, major=2), 0.15, t)
    assert out["retrain"] is True and "2 inputs drifted" in out["reasons"][0]
    # Too few quotes say nothing about drift.
    assert monitor.decide(_summary(mape=0.15, major=3, quotes=10), 0.15, t)["retrain"] is False


def _logged(n: int) -> pd.DataFrame:
    cars = [
        {"name": "Maruti Swift Dzire VDI", "brand": "Maruti", "model": "swift",
         "variant": "dzire vdi", "year": 2014, "km_driven": 145500, "fuel": "Diesel",
         "seller_type": "Individual", "transmission": "Manual", "owner_rank": 1,
         "mileage_kmpl": 23.4, "engine_cc": 1248.0, "max_power_bhp": 74.0, "torque_nm": 190.0,
         "torque_rpm": 2000.0, "seats": 5},
        {"name": None, "brand": "Maruti", "model": "wagon", "variant": "r cng lxi", "year": 2016,
         "km_driven": 60000, "fuel": "CNG", "seller_type": "Dealer", "transmission": "Manual",
         "owner_rank": 2, "mileage_kmpl": 26.6, "engine_cc": 998.0, "max_power_bhp": 58.2,
         "torque_nm": 78.0, "torque_rpm": None, "seats": 5},
    ]  # fmt: skip
    return pd.DataFrame(
        {"inputs": [cars[i % 2] for i in range(n)],
         "sale_price": [450_000.0 if i % 3 else float("nan") for i in range(n)]}
    )  # fmt: skip


def test_matched_sales_become_raw_training_rows_that_clean() -> None:
    raw = monitor.sales_as_raw(_logged(6))
    assert len(raw) == 4  # only quotes with a sale
    assert list(raw.columns[:3]) == ["name", "year", "selling_price"]
    swift = raw[raw["name"] == "Maruti Swift Dzire VDI"].iloc[0]
    assert swift["owner"] == "First Owner" and swift["torque"] == "190Nm@ 2000rpm"
    wagon = raw[raw["name"] == "Maruti wagon r cng lxi"].iloc[0]  # no name: brand model variant
    assert wagon["mileage"] == "26.6 km/kg" and wagon["owner"] == "Second Owner"
    as_read = pd.read_csv(io.StringIO(raw.to_csv(index=False)), dtype=str, keep_default_na=False)
    report = clean_training(as_read)
    assert report.rejected.empty, report.rejected
    assert report.counts["rows_out"] == 2  # two cars, each sold twice: exact duplicates go


def test_report_names_the_decision_and_escapes_text() -> None:
    summary = _summary(major=2)
    summary["drift"]["features"]["brand"] = {
        "kind": "category", "psi": 0.6, "band": "major",
        "share_changes": [{"value": "<b>Tesla</b>", "change_points": 30.0}],
    }  # fmt: skip
    decision = monitor.decide(summary, 0.15, monitor.Thresholds())
    html = render(summary, decision, champion="3", test_mape=0.15,
                  window={"since": "2026-11-25T00:00", "until": "2026-12-02T00:00"})  # fmt: skip
    assert "Retrain triggered" in html and "test MAPE was 15.0%" in html
    assert "&lt;b&gt;Tesla&lt;/b&gt; +30.0 pts" in html and "<b>Tesla" not in html


def test_pipeline_ingest_appends_the_sales(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    raw_uri = lake.join(root, "raw", "car_details_v3.csv")
    lake.write_csv(raw_uri, generate(rows=300, seed=3))
    sales = monitor.sales_as_raw(_logged(6))
    sales_uri = monitor.sales_uri(root, "2026-12-02")
    lake.write_bytes(sales_uri, sales.to_csv(index=False).encode())
    run = runlake.run_uri(root, "manual__x")
    out = pipeline.ingest(raw_uri, run, [sales_uri])
    assert out["extra_rows"] == 4 and out["extra_uris"] == [sales_uri]
    # The configured file's checksum, not the merged snapshot's: sales don't make it "other data".
    assert out["sha256"] == hashlib.sha256(lake.read_bytes(raw_uri)).hexdigest()
    assert pipeline.source_sha256(run) == out["sha256"]
    pipeline.validate(run)
    clean = lake.read_parquet(lake.join(run, "validated", "clean.parquet"))
    sold = clean[(clean["selling_price"] == 450_000) & clean["km_driven"].isin([145_500, 60_000])]
    assert sorted(sold["year"]) == [2014, 2016]  # both cars sold, each once after de-duplication
    with pytest.raises(ValueError, match="columns the raw data lacks"):
        bad = lake.join(root, "sales", "bad.csv")
        lake.write_bytes(bad, b"name,colour\nMaruti Swift,red\n")
        pipeline.ingest(raw_uri, runlake.run_uri(root, "manual__y"), [bad])


def test_a_stack_without_a_champion_has_nothing_to_monitor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """model_monitor's first scheduled run on a fresh stack comes before any champion."""
    from carprice.settings import get_settings

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("CARPRICE_DATABASE_URL", f"sqlite:///{tmp_path / 'quotes.db'}")
    monkeypatch.setenv("CARPRICE_LAKE_ROOT", str(tmp_path / "lake"))
    get_settings.cache_clear()
    try:
        out = monitor.summarise(days=7)
    finally:
        get_settings.cache_clear()
    assert out["retrain"] is False and out["champion"] is None
    assert out["reasons"][0].startswith("no car_price@champion to monitor yet")
