"""benchmarks.bench_cv: the pooled figures and the car-level bootstrap behind the CV intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.bench_cv import bootstrap, figures, priced_only


def _rows() -> pd.DataFrame:
    # Four cars; car 3 is posted twice and is the only unseen variant.
    return pd.DataFrame(
        {
            "repeat": [0, 0, 0, 0, 0],
            "group": [0, 1, 2, 3, 3],
            "actual": [100.0, 200.0, 400.0, 100.0, 100.0],
            "price": [110.0, 180.0, 400.0, 150.0, 150.0],
            "low": [90.0, 150.0, 350.0, 120.0, 120.0],
            "high": [120.0, 250.0, 450.0, 200.0, 200.0],
            "unseen": [False, False, False, True, True],
        }
    )


def test_figures_pool_rows_and_split_unseen_variants() -> None:
    got = figures(_rows())
    assert got["mape"] == pytest.approx((0.1 + 0.1 + 0.0 + 0.5 + 0.5) / 5)
    assert got["median_ape"] == pytest.approx(0.1)
    assert got["mae"] == pytest.approx((10 + 20 + 0 + 50 + 50) / 5)
    assert got["coverage"] == pytest.approx(3 / 5)
    assert got["unseen_mape"] == pytest.approx(0.5)
    assert got["seen_mape"] == pytest.approx(0.2 / 3)


def test_weights_count_a_row_as_often_as_its_car_was_drawn() -> None:
    rows = _rows()
    weighted = figures(rows, np.array([2.0, 0.0, 1.0, 1.0, 1.0]))
    repeated = figures(rows.iloc[[0, 0, 2, 3, 4]].reset_index(drop=True))
    assert weighted == pytest.approx(repeated)


def test_bootstrap_resamples_cars_not_rows() -> None:
    rng = np.random.default_rng(1)
    cars = 300
    actual = rng.uniform(1e5, 1e6, cars)
    price = actual * rng.lognormal(0, 0.2, cars)
    posted_twice = pd.DataFrame(
        {
            "repeat": 0,
            "group": np.repeat(np.arange(cars), 2),  # every car posted twice, identically
            "actual": np.repeat(actual, 2),
            "price": np.repeat(price, 2),
            "low": np.repeat(price * 0.8, 2),
            "high": np.repeat(price * 1.2, 2),
            "unseen": np.repeat(np.arange(cars) % 5 == 0, 2),
        }
    )
    point, spread = figures(posted_twice), bootstrap(posted_twice, resamples=300, seed=0)
    for key, (low, high) in spread.items():
        assert low < point[key] < high, key
    # Reposts add no evidence: treating each row as its own car would narrow the interval
    # by about √2.
    as_rows = bootstrap(posted_twice.assign(group=np.arange(2 * cars)), resamples=300, seed=0)
    width = spread["mape"][1] - spread["mape"][0]
    assert width > 1.2 * (as_rows["mape"][1] - as_rows["mape"][0])


def test_refused_rows_are_counted_not_scored() -> None:
    rows = _rows()
    rows.loc[1, "price"] = np.nan
    kept, refused = priced_only(rows)
    assert refused == 1 and len(kept) == 4
    assert np.isfinite(figures(kept)["mape"])


def test_with_trials_every_fold_runs_the_search_on_its_own_rows(
    synthetic_raw: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--trials` measures the served procedure: each fold tunes on its training rows only,
    and prices its held-out cars with what that search chose."""
    from benchmarks import bench_cv
    from carprice import train
    from carprice.clean import clean_training

    frame = clean_training(synthetic_raw.head(600)).frame
    searched: list[int] = []
    real_tune = train.tune

    def tune(rows: pd.DataFrame, trials: int, seed: int) -> tuple[dict, int, list]:
        searched.append(len(rows))
        return real_tune(rows, trials, seed, max_rounds=30)

    monkeypatch.setattr(train, "tune", tune)
    rows = bench_cv.out_of_fold(frame, folds=2, repeats=1, rounds=30, trials=2)
    assert len(searched) == 2 and sum(searched) == len(frame)  # each fold its own rows
    assert len(rows) == len(frame) and rows["group"].notna().all()
    assert np.isfinite(rows["price"]).mean() > 0.95


def test_identity_quotes_the_same_cars_without_their_specs(synthetic_raw: pd.DataFrame) -> None:
    """`--identity` prices each held-out car a second time from name, year, km, fuel, seller,
    gearbox and owners alone; the full-spec figures are untouched by it."""
    from benchmarks import bench_cv
    from carprice.clean import clean_training

    frame = clean_training(synthetic_raw.head(600)).frame
    plain = bench_cv.out_of_fold(frame, folds=2, repeats=1, rounds=30)
    both = bench_cv.out_of_fold(frame, folds=2, repeats=1, rounds=30, identity=True)
    np.testing.assert_array_equal(both["price"], plain["price"])
    assert "id_price" not in plain
    quoted = bench_cv.identity_view(both)
    assert sorted(quoted.columns) == sorted(plain.columns)
    np.testing.assert_array_equal(quoted["price"], both["id_price"])
    priced = np.isfinite(quoted["price"])
    assert priced.mean() > 0.95
    assert (quoted["low"][priced] <= quoted["price"][priced]).all()
    # The specs matter: quoted without them, some cars get another price.
    assert (np.abs(quoted["price"] - both["price"]) > 1)[priced].any()
