"""The model bars on the real CarDekho file: honest (de-duplicated) split, 30 trials, the
same seeds as `python -m carprice.train`, so these are the CLI's figures.

Skipped when the real file isn't configured (CARPRICE_RAW_DATA or ../shared/data).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from carprice import train
from carprice.clean import clean_training

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def real_model(real_data_path: Path | None):  # noqa: ANN201
    if real_data_path is None:
        pytest.skip("real CarDekho file not available (set CARPRICE_RAW_DATA)")
    report = clean_training(pd.read_csv(real_data_path, dtype=str, keep_default_na=False))
    tr, te = train.split(report.frame, 0.2, seed=42)
    params, rounds, history = train.tune(tr, trials=30, seed=42)
    summary = train.data_summary(tr, te, report.counts, str(real_data_path))
    model = train.fit_best(tr, te, params, rounds, seed=42, level=0.8, summary=summary)
    return model, tr, te, history


def test_no_test_row_is_a_duplicate_of_a_training_row(real_model) -> None:  # noqa: ANN001
    _, tr, te, _ = real_model
    assert len(te.merge(tr, how="inner")) == 0


def test_quality_bars(real_model) -> None:  # noqa: ANN001
    model, _, _, history = real_model
    m = model.metrics
    print({k: round(v, 4) for k, v in m.items()})
    assert len(history) == 30
    # Issue 11's bars (R² is driven by the top 1% of prices and is not one of them).
    assert m["mape"] <= 0.145
    assert m["median_ape"] <= 0.102
    assert m["unseen_variant_mape"] <= 0.18 and m["unseen_variant_rows"] >= 150
    assert 0.77 <= m["interval_coverage"] <= 0.83
    # The MAE bar, ₹66k: this split gives ₹65.0k with the forest, the head start and
    # the clipped comparables (₹66.5k with the booster alone). Grouped repeated CV still puts
    # it at ₹66.5k [63.3k, 70.5k] (`python -m benchmarks.bench_cv`): this one split meets it,
    # the CV estimate doesn't.
    assert m["mae"] <= 66_000
    assert m["r2"] >= 0.92
