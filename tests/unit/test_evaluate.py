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
    calib = IntervalCalibration.fit(rng.normal(0, 0.2, 4000), np.zeros(4000, bool), level=0.8)
    assert calib.log_low < 0 < calib.log_high
    assert calib.unseen_log_low is None  # no unseen variants: one pooled interval
    truth = np.exp(rng.normal(0, 0.2, 20000)) * 1e5
    low, high = calib.bounds(np.full(truth.shape, 1e5))
    assert coverage(truth, low, high) == pytest.approx(0.8, abs=0.02)


def test_unseen_variants_get_their_own_wider_interval() -> None:
    """Mondrian calibration: each group covers its level, not just the pool."""
    rng = np.random.default_rng(1)
    unseen = rng.random(6000) < 0.2
    residuals = np.where(unseen, rng.normal(0, 0.35, 6000), rng.normal(0, 0.15, 6000))
    calib = IntervalCalibration.fit(residuals, unseen, level=0.8)
    assert calib.unseen_log_high > calib.log_high and calib.n_unseen == unseen.sum()
    fresh_unseen = rng.random(20000) < 0.2
    truth = 1e5 * np.exp(
        np.where(fresh_unseen, rng.normal(0, 0.35, 20000), rng.normal(0, 0.15, 20000))
    )
    low, high = calib.bounds(np.full(truth.shape, 1e5), fresh_unseen)
    inside = (truth >= low) & (truth <= high)
    assert inside[fresh_unseen].mean() == pytest.approx(0.8, abs=0.03)
    assert inside[~fresh_unseen].mean() == pytest.approx(0.8, abs=0.03)


ACTUAL = np.array([100_000.0, 200_000.0, 400_000.0, 800_000.0])


def test_gate_first_model_wins_then_only_better_ones() -> None:
    good = ACTUAL * 1.05
    first = gate(ACTUAL, good, None)
    assert first.promote and first.tags()["gate.verdict"] == "promoted"
    assert first.reason == "no champion yet"
    worse = gate(ACTUAL, ACTUAL * 1.10, good)
    assert not worse.promote
    assert float(worse.tags()["gate.champion_test_mae"]) == pytest.approx(18_750.0)
    assert float(worse.tags()["gate.candidate_test_mape"]) == pytest.approx(0.10)
    assert "does not beat" in worse.reason
    assert not gate(ACTUAL, good, good).promote  # a tie keeps the champion
    assert gate(ACTUAL, ACTUAL * 1.04, good).promote


def test_gate_needs_mae_and_mape_both_no_worse() -> None:
    champion = ACTUAL * 1.10  # MAE 37.5k, MAPE 10%
    candidate = np.array([100_000.0, 200_000.0, 400_000.0, 880_000.0])  # MAE 20k, MAPE 2.5%
    assert gate(ACTUAL, candidate, champion).promote
    skewed = np.array([150_000.0, 200_000.0, 400_000.0, 800_000.0])  # MAE 12.5k, MAPE 12.5%
    assert not gate(ACTUAL, skewed, champion).promote


def test_gate_compares_both_models_on_the_same_rows() -> None:
    """A row the champion can't price (a brand new to it) is left out of both scores, and
    counted; without that, the candidate would be judged on a harder set of rows."""
    candidate = np.array([105_000.0, 210_000.0, 420_000.0, 400_000.0])  # last row: far off
    champion = np.array([110_000.0, 220_000.0, 440_000.0, np.nan])
    verdict = gate(ACTUAL, candidate, champion)
    assert verdict.promote
    assert verdict.shared_rows == 3 and verdict.champion_unpriced == 1
    assert verdict.candidate["mae"] == pytest.approx((5_000 + 10_000 + 20_000) / 3)
    tags = verdict.tags()
    assert tags["gate.shared_rows"] == "3" and tags["gate.champion_unpriced_rows"] == "1"
    assert "can't price 1 more" in verdict.reason
