"""The head start both models boost from (`carprice.anchor`): a rising staircase in the
encoder's estimate that prices, as one tree of the merged booster, exactly as in training."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from carprice import blend
from carprice.anchor import Anchor

ESTIMATE = 2  # column of the test matrices the staircase climbs
COUNTS = {0: 5}


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A category code, km and an 'estimate' with a long dear tail, and the log price."""
    rng = np.random.default_rng(seed)
    brand = rng.integers(0, 5, n)
    km = rng.gamma(2.0, 30_000, n)
    estimate = 12.5 + rng.gamma(2.0, 0.4, n)
    matrix = np.c_[brand, km, estimate].astype(np.float32)
    log_price = estimate + 0.1 * (brand % 2) - 0.000003 * km + rng.normal(0, 0.1, n)
    return matrix, log_price


def _data(matrix: np.ndarray, margin: np.ndarray | None = None) -> xgb.DMatrix:
    data = xgb.DMatrix(matrix, feature_types=["c", "q", "q"], enable_categorical=True)
    if margin is not None:
        data.set_base_margin(margin)
    return data


def test_steps_rise_and_every_step_holds_a_training_row() -> None:
    matrix, label = _rows(2000, 0)
    anchor = Anchor.fit(matrix, ESTIMATE, step=0.1)
    assert np.all(np.diff(anchor.thresholds) > 0)
    assert np.all(np.diff(anchor.centres) > 0)
    assert anchor.counts.min() >= 1 and anchor.counts.sum() == len(matrix)
    steps = anchor.steps(matrix)
    assert set(np.unique(steps)) == set(range(len(anchor.centres)))
    estimate = matrix[:, ESTIMATE].astype(float)
    assert np.ptp(estimate) / 0.1 >= len(anchor.centres) - 1  # no step narrower than asked
    # each step is centred on its own rows
    for k in (0, len(anchor.centres) // 2, len(anchor.centres) - 1):
        assert anchor.centres[k] == pytest.approx(estimate[steps == k].mean(), rel=1e-6)
    margin = anchor.margin(matrix, label, 0.5)
    assert np.all(np.diff(margin.values) > 0)  # a dearer estimate never starts lower
    assert np.mean(label - margin.of(matrix)) == pytest.approx(0.0, abs=1e-9)
    flat = anchor.margin(matrix, label, 0.0)
    np.testing.assert_allclose(flat.values, np.mean(label))


def test_one_value_makes_one_step() -> None:
    matrix, label = _rows(50, 1)
    matrix[:, ESTIMATE] = 14.0
    anchor = Anchor.fit(matrix, ESTIMATE)
    assert len(anchor.thresholds) == 0 and anchor.counts.tolist() == [50.0]
    tree = anchor.margin(matrix, label, 0.5).tree()
    assert tree == {"leaf_value": pytest.approx(np.mean(label)), "leaf_weight": 50.0}


@pytest.fixture(scope="module")
def anchored() -> tuple:
    """Booster and forest each boosting from their own head start, merged with the blend of
    the two, as `train.fit_booster` fits them."""
    matrix, label = _rows(1500, 0)
    anchor = Anchor.fit(matrix, ESTIMATE)
    to_booster, to_forest = anchor.margin(matrix, label, 0.5), anchor.margin(matrix, label, 0.2)
    params = {"max_depth": 4, "eta": 0.1, "max_cat_to_onehot": 1, "nthread": 1}
    data = _data(matrix, to_booster.of(matrix))
    data.set_label(label)
    booster = xgb.train(params, data, 50)
    forest = blend.fit_extra_trees(
        matrix, label, [0, -1, 1], [0], seed=1, rounds=60, margin=to_forest.of(matrix)
    )
    head_start = to_booster.blended(to_forest, 0.4)
    merged = blend.merge(booster, forest, 0.4, COUNTS, head_start.tree())
    return matrix, booster, forest, to_booster, to_forest, merged


def test_the_merged_booster_prices_as_the_models_did_in_training(anchored) -> None:  # noqa: ANN001
    _, booster, forest, to_booster, to_forest, merged = anchored
    matrix, _ = _rows(400, 2)
    matrix[::7, 1] = np.nan  # missing km
    # each model as trained: its head start plus its trees
    own = booster.predict(_data(matrix, to_booster.of(matrix)))
    woods = to_forest.of(matrix) + forest.predict(matrix)
    np.testing.assert_allclose(merged.inplace_predict(matrix), 0.4 * own + 0.6 * woods, atol=1e-4)
    assert merged.num_boosted_rounds() == 50 + forest.num_trees() + 1


def test_rows_on_a_step_edge_take_the_step_training_gave_them(anchored) -> None:  # noqa: ANN001
    """XGBoost sends x < t left; rows exactly on every threshold, and the float32 either
    side, must land on the step `Anchor.steps` puts them on."""
    matrix, booster, forest, to_booster, to_forest, _ = anchored
    head_start = to_booster.blended(to_forest, 0.4)
    edges = []
    for t in to_booster.anchor.thresholds:
        for value in (np.nextafter(t, np.float32(-np.inf)), t, np.nextafter(t, np.float32(np.inf))):
            row = matrix[0].copy()
            row[ESTIMATE] = value
            edges.append(row)
    rows = np.array(edges, dtype=np.float32)
    stairs = blend.merge(booster, forest, 1.0, COUNTS, head_start.tree())  # forest weighs 0
    want = booster.predict(_data(rows, np.zeros(len(rows)))) + head_start.of(rows)
    np.testing.assert_allclose(stairs.inplace_predict(rows), want, atol=1e-5)
    # and the steps themselves differ by more than that tolerance, so a wrong step would show
    assert np.min(np.diff(head_start.values)) > 1e-3


def test_contributions_add_up_and_the_staircase_is_credited_to_the_estimate(anchored) -> None:  # noqa: ANN001
    matrix, _, _, _, _, merged = anchored
    rows = matrix[:30]
    contribs = merged.predict(_data(rows), pred_contribs=True)
    np.testing.assert_allclose(contribs.sum(axis=1), merged.inplace_predict(rows), atol=1e-4)
    dear, cheap = np.argmax(rows[:, ESTIMATE]), np.argmin(rows[:, ESTIMATE])
    assert contribs[dear, ESTIMATE] > contribs[cheap, ESTIMATE]
