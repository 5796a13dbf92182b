"""Metrics, conformal intervals and the promotion gate."""

from __future__ import annotations

import numpy as np
import pytest

from carprice.evaluate import IntervalCalibration, coverage, gate, regression_metrics


def test_metrics_in_rupees() -> None:
    m = regression_metrics(np.array([100.0, 200.0]), np.array([110.0, 180.0]))
    assert m["mae"] == pytest.approx(15.0)
    assert m["mape"] == pytest.approx((0.1 + 0.1) / 2)
    assert m["median_ape"] == pytest.approx(0.1)
    assert m["rmse"] == pytest.approx(np.sqrt((100 + 400) / 2))
    assert m["r2"] == pytest.approx(1 - 500 / 5000)


def test_conformal_interval_covers_its_level_on_fresh_data() -> None:
    rng = np.random.default_rng(0)
    calib = IntervalCalibration.fit(rng.normal(0, 0.2, 4000), level=0.8)
    assert calib.log_low < 0 < calib.log_high
    truth = np.exp(rng.normal(0, 0.2, 20000)) * 1e5
    low, high = calib.bounds(np.full(truth.shape, 1e5))
    assert coverage(truth, low, high) == pytest.approx(0.8, abs=0.02)


def test_gate_first_model_wins_then_only_better_ones() -> None:
    first = gate(70_000.0, None)
    assert first.promote and first.tags()["gate.verdict"] == "promoted"
    worse = gate(80_000.0, 70_000.0)
    assert not worse.promote
    assert worse.tags()["gate.champion_test_mae"] == "70000.00"
    assert "does not beat" in worse.reason
    assert not gate(70_000.0, 70_000.0).promote  # a tie keeps the champion
    assert gate(69_999.0, 70_000.0).promote
