"""Unit-test fixtures: a small model trained in memory on synthetic listings (no servers)."""

from __future__ import annotations

import pandas as pd
import pytest

from carprice import train
from carprice.clean import clean_training
from carprice.model import PricingModel
from carprice.synthetic import generate

FAST_PARAMS = {"eta": 0.1, "max_depth": 5, "min_child_weight": 1.0, "subsample": 0.9}


@pytest.fixture(scope="session")
def synthetic_raw() -> pd.DataFrame:
    return generate(rows=1500, seed=3)


@pytest.fixture(scope="session")
def trained(synthetic_raw: pd.DataFrame) -> tuple[PricingModel, pd.DataFrame, pd.DataFrame]:
    """(model, train frame, test frame), fitted exactly as `train.run` does, minus MLflow."""
    report = clean_training(synthetic_raw)
    tr, te = train.split(report.frame, 0.2, seed=1)
    summary = train.data_summary(tr, te, report.counts, "SYNTHETIC unit-test sample")
    model = train.fit_best(tr, te, FAST_PARAMS, rounds=150, seed=1, level=0.8, summary=summary)
    return model, tr, te


@pytest.fixture
def model(trained: tuple[PricingModel, pd.DataFrame, pd.DataFrame]) -> PricingModel:
    return trained[0]
