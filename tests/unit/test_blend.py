"""The extra-trees forest merged into the booster prices exactly as the two averaged, and its
TreeSHAP contributions add up to that average, on numbers, category codes and missing cells."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from carprice import blend
from carprice.explain import SplitExplainer, log_contributions

FEATURES = ["brand", "fuel", "year", "km", "power"]
TYPES = ["c", "c", "q", "q", "q"]
COUNTS = {0: 7, 1: 4}


def _data(matrix: np.ndarray) -> xgb.DMatrix:
    return xgb.DMatrix(matrix, feature_names=FEATURES, feature_types=TYPES, enable_categorical=True)


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    brand = rng.integers(0, 7, n)
    fuel = rng.integers(0, 4, n)
    year = rng.integers(2000, 2021, n)
    km = rng.gamma(2.0, 30_000, n)
    power = rng.normal(90, 25, n)
    matrix = np.c_[brand, fuel, year, km, power].astype(np.float32)
    log_price = (
        12
        + 0.3 * (brand % 3)
        - 0.2 * (fuel == 2)
        + 0.09 * (year - 2010)
        - 0.000004 * km
        + 0.004 * power
        + rng.normal(0, 0.1, n)
    )
    return matrix, log_price


@pytest.fixture(scope="module")
def fitted() -> tuple[xgb.Booster, object, xgb.Booster]:
    matrix, label = _rows(1500, 0)
    monotone = [0, 0, 1, -1, 0]
    data = _data(matrix)
    data.set_label(label)
    params = {"max_depth": 4, "eta": 0.1, "max_cat_to_onehot": 1, "nthread": 1}
    booster = xgb.train({**params, "monotone_constraints": "(0,0,1,-1,0)"}, data, 60)
    forest = blend.fit_extra_trees(matrix, label, monotone, [0, 1], seed=1, rounds=90)
    return booster, forest, blend.merge(booster, forest, 0.4, COUNTS)


def test_the_merged_booster_prices_as_the_weighted_average(fitted) -> None:  # noqa: ANN001
    booster, forest, merged = fitted
    matrix, _ = _rows(400, 1)
    matrix[::5, 0] = np.nan  # a missing brand code
    matrix[1::7, 4] = np.nan  # missing power
    matrix[2::9, 1] = np.nan
    want = 0.4 * booster.inplace_predict(matrix) + 0.6 * forest.predict(matrix)
    np.testing.assert_allclose(merged.inplace_predict(matrix), want, atol=1e-4)
    assert merged.num_boosted_rounds() == 60 + forest.num_trees()


def test_split_points_exactly_on_a_threshold_go_the_same_way(fitted) -> None:  # noqa: ANN001
    """LightGBM sends x ≤ t left and XGBoost x < s: rows placed exactly on the forest's own
    thresholds, and just either side, must follow LightGBM."""
    _, forest, _ = fitted
    merged = blend.merge(fitted[0], forest, 0.0, COUNTS)  # the forest alone
    thresholds = [
        (node["split_feature"], float(node["threshold"]))
        for tree in forest.dump_model()["tree_info"]
        for node in _splits(tree["tree_structure"])
        if node["decision_type"] == "<="
    ][:200]
    base, _ = _rows(1, 2)
    rows = []
    for feature, t in thresholds:
        for value in (np.float32(t), np.nextafter(np.float32(t), np.float32(np.inf))):
            row = base[0].copy()
            row[feature] = value
            rows.append(row)
    matrix = np.array(rows, dtype=np.float32)
    np.testing.assert_allclose(merged.inplace_predict(matrix), forest.predict(matrix), atol=1e-5)


def test_contributions_add_up_to_the_blended_price(fitted) -> None:  # noqa: ANN001
    _, _, merged = fitted
    matrix, _ = _rows(50, 3)
    contribs = merged.predict(_data(matrix), pred_contribs=True)
    np.testing.assert_allclose(contribs.sum(axis=1), merged.inplace_predict(matrix), atol=1e-4)
    one = merged.predict(_data(matrix[:1]), pred_contribs=True)
    np.testing.assert_allclose(one[0], contribs[0], atol=1e-6)  # no batch-dependent base


def test_forest_rounds_follow_a_capped_booster() -> None:
    assert blend.forest_rounds(600) == blend.EXTRA_TREES_ROUNDS
    assert blend.forest_rounds(2000) == blend.EXTRA_TREES_ROUNDS
    assert blend.forest_rounds(20) == 20
    assert blend.settings(20) == {"forest_rounds": 20, "booster_weight": blend.BOOSTER_WEIGHT}


@pytest.mark.parametrize(("trees", "atol"), [(1, 1e-6), (None, 1e-5)])
def test_explaining_on_two_threads_matches_explaining_at_once(fitted, trees, atol) -> None:  # noqa: ANN001
    """A quote's path: the halves explained on two threads equal one-thread TreeSHAP, on the
    whole booster and on one tree (nothing to split between threads: exact to 1e-6), and the
    work run alongside comes back with them."""
    _, _, merged = fitted
    booster = merged[:trees] if trees else merged
    matrix, _ = _rows(40, 4)
    contribs, log_price = SplitExplainer(booster).contributions_and(
        matrix, lambda: booster.inplace_predict(matrix)
    )
    np.testing.assert_allclose(contribs, log_contributions(booster, _data(matrix)), atol=atol)
    np.testing.assert_allclose(contribs.sum(axis=1), log_price, atol=1e-4)


def _splits(node: dict) -> list[dict]:
    if "split_index" not in node:
        return []
    return [node, *_splits(node["left_child"]), *_splits(node["right_child"])]
