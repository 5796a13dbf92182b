"""Metrics, conformal intervals and the promotion gate."""

from __future__ import annotations

import numpy as np
import pytest

from carprice.evaluate import (
    IntervalCalibration,
    coverage,
    gate,
    paired_bootstrap,
    regression_metrics,
)


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
    assert float(worse.tags()["gate.champion_mae"]) == pytest.approx(18_750.0)
    assert float(worse.tags()["gate.candidate_mape"]) == pytest.approx(0.10)
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


def _noisy_pair(gain: float, n: int = 900, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Prices of two models on n cars: errors ~10% each, the candidate's shrunk by `gain`."""
    rng = np.random.default_rng(seed)
    actual = rng.lognormal(13, 0.6, n)
    champion = actual * (1 + rng.normal(0, 0.12, n))
    candidate = actual + (champion - actual) * (1 - gain) + actual * rng.normal(0, 0.05, n)
    return actual, candidate, champion


def test_a_small_gain_within_noise_does_not_promote() -> None:
    """The case from the issue: a 3-trial run went live on a 0.9% gain. On the same rows,
    with model noise, that gain's interval spans zero: the champion stays."""
    actual, _, champion = _noisy_pair(0.0)
    rng = np.random.default_rng(5)
    factor = rng.normal(0.991, 0.3, len(actual))  # 0.9% smaller errors on average, row by row noisy
    candidate = actual + (champion - actual) * factor
    verdict = gate(actual, candidate, champion, resamples=1000, eval_set="eval-x")
    gain = verdict.gain
    assert gain is not None and gain.low < 0 < gain.high
    assert not verdict.promote
    assert "does not beat the champion beyond noise" in verdict.reason
    tags = verdict.tags()
    assert tags["gate.eval_set"] == "eval-x" and tags["gate.resamples"] == "1000"
    assert float(tags["gate.gain_low"]) < 0 < float(tags["gate.gain_high"])
    assert tags["gate.level"] == "0.95" and tags["gate.min_gain"] == "0.0000"


def test_a_rebuilt_champion_is_named_as_such() -> None:
    """The same data, seed and settings rebuild the champion: the reason says so instead of
    leaving the operator to read a ₹0 … ₹0 interval."""
    actual, _, champion = _noisy_pair(0.0)
    verdict = gate(actual, champion.copy(), champion, resamples=200)
    assert not verdict.promote
    assert verdict.reason.startswith("does not beat the champion: it prices every shared row")
    nudged = champion.copy()
    nudged[0] *= 1.001
    assert "exactly" not in gate(actual, nudged, champion, resamples=200).reason


def test_a_clear_gain_promotes_unless_below_the_minimum() -> None:
    actual, candidate, champion = _noisy_pair(0.15)
    clear = gate(actual, candidate, champion, resamples=1000)
    assert clear.promote and clear.gain.rel_low > 0
    assert "beats the champion beyond noise" in clear.reason
    strict = gate(actual, candidate, champion, min_gain=clear.gain.rel_high + 0.01, resamples=1000)
    assert not strict.promote and "minimum gain" in strict.reason


def test_paired_bootstrap_interval_is_seeded_and_covers_the_gain() -> None:
    actual, candidate, champion = _noisy_pair(0.05)
    a = paired_bootstrap(actual, candidate, champion, resamples=500, seed=3)
    assert a == paired_bootstrap(actual, candidate, champion, resamples=500, seed=3)
    assert a.low < a.gain < a.high and a.rel_low < a.rel_gain < a.rel_high
    assert a.rows == len(actual) and a.resamples == 500
    same = paired_bootstrap(actual, champion, champion, resamples=200)
    assert same.low == same.high == same.gain == 0.0
