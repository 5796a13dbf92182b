"""Input drift: PSI against the training reference, bands, per-feature and overall verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from carprice import drift


def cars(n: int, seed: int = 0, km_scale: float = 1.0, diesel: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "year": rng.integers(2005, 2020, n),
            "km_driven": rng.lognormal(11, 0.6, n) * km_scale,
            "engine_cc": rng.choice([796, 998, 1197, 1248, 1498], n),
            "brand": rng.choice(["Maruti", "Hyundai", "Honda", "Tata"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "fuel": np.where(rng.random(n) < diesel, "Diesel", "Petrol"),
            "transmission": rng.choice(["Manual", "Automatic"], n, p=[0.85, 0.15]),
        }
    )


@pytest.fixture(scope="module")
def ref() -> dict:
    return drift.reference(cars(5000, seed=1))


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == 0
    small, large = drift.psi([0.5, 0.5], [0.55, 0.45]), drift.psi([0.5, 0.5], [0.9, 0.1])
    assert 0 < small < large
    assert np.isfinite(drift.psi([1.0, 0.0], [0.0, 1.0]))  # empty bins are floored


@pytest.mark.parametrize(("value", "name"), [(0.0, "stable"), (0.0999, "stable"),
                                             (0.1, "moderate"), (0.2499, "moderate"),
                                             (0.25, "major"), (3.0, "major")])  # fmt: skip
def test_bands(value: float, name: str) -> None:
    assert drift.band(value) == name


def test_reference_is_json_and_holds_deciles_and_shares(ref: dict) -> None:
    again = json.loads(json.dumps(ref))
    assert again == ref
    km = ref["numeric"]["km_driven"]
    assert len(km["edges"]) == drift.BINS - 1 and len(km["shares"]) == drift.BINS
    assert sum(km["shares"]) == pytest.approx(1)
    assert all(s == pytest.approx(0.1, abs=0.01) for s in km["shares"])
    assert set(ref["categories"]["fuel"]) == {"Diesel", "Petrol"}
    # A column with few distinct values keeps one edge per value, not ten equal ones.
    assert len(ref["numeric"]["engine_cc"]["edges"]) <= 5


def test_a_window_like_training_is_stable(ref: dict) -> None:
    out = drift.compare(ref, cars(2000, seed=2))
    assert out["verdict"] == "stable", out
    assert {f["band"] for f in out["features"].values()} == {"stable"}


def test_shifted_km_and_fuel_are_major_drift(ref: dict) -> None:
    out = drift.compare(ref, cars(2000, seed=3, km_scale=3.0, diesel=0.95))
    assert out["verdict"] == "drift"
    assert out["features"]["km_driven"]["band"] == "major"
    assert (
        out["features"]["km_driven"]["median"] > 2.5 * out["features"]["km_driven"]["train_median"]
    )
    fuel = out["features"]["fuel"]
    assert fuel["band"] == "major"
    top = fuel["share_changes"][0]
    assert top["value"] in {"Diesel", "Petrol"} and abs(top["change_points"]) > 40
    assert out["features"]["transmission"]["band"] == "stable"
    # Allowing two major features turns the same window into "watch", not "drift".
    assert drift.compare(ref, cars(2000, seed=3, km_scale=3.0, diesel=0.95),
                         max_major=2)["verdict"] == "watch"  # fmt: skip


def test_an_unseen_brand_counts_as_other(ref: dict) -> None:
    window = cars(500, seed=4).assign(brand="Tesla")
    brand = drift.compare(ref, window)["features"]["brand"]
    assert brand["band"] == "major"
    assert brand["share_changes"][0] == {
        "value": drift.OTHER, "train_share": 0.0, "share": 1.0, "change_points": 100.0
    }  # fmt: skip


def test_too_few_rows_and_no_reference_say_so(ref: dict) -> None:
    assert drift.compare(ref, cars(10))["verdict"] == "too few rows"
    assert drift.compare({}, cars(500))["verdict"] == "no reference"
