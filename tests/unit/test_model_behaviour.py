"""Model behaviour: directional and invariance checks, plus the prediction contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice import train
from carprice.clean import clean_training
from carprice.model import PREDICTION_COLUMNS, PricingModel
from tests.unit.conftest import FAST_PARAMS


def _car(**overrides: object) -> dict:
    car = {
        "name": "Maruti Swift VDI",
        "brand": "Maruti",
        "year": 2014,
        "km_driven": 60000,
        "fuel": "Diesel",
        "seller_type": "Individual",
        "transmission": "Manual",
        "owner_rank": 1,
        "mileage_kmpl": 21.0,
        "engine_cc": 1197,
        "max_power_bhp": 82,
        "seats": 5,
    }
    return {**car, **overrides}


def _price(model: PricingModel, rows: list[dict]) -> np.ndarray:
    out = model.predict(pd.DataFrame(rows))
    assert out["error"].isna().all(), out["error"].tolist()
    return out["predicted_price"].to_numpy()


def test_newer_car_is_not_cheaper(model: PricingModel) -> None:
    prices = _price(model, [_car(year=y) for y in range(2000, 2021)])
    assert (np.diff(prices) >= 0).all()


def test_only_constrained_features_move_with_the_year(model: PricingModel) -> None:
    """Why a newer car is never cheaper, for every car and not just this sample's: the only
    booster inputs that change with the year are the year and the encoder's estimate, and
    both carry a rising monotone constraint."""
    from carprice.features import MONOTONE

    rows = pd.DataFrame([_car(year=y) for y in range(2000, 2021)])
    matrix = model.prepare(rows).encoded.matrix
    moving = {f for i, f in enumerate(model.pipeline.features) if np.ptp(matrix[:, i]) > 0}
    assert moving == {"year", "te_price"}
    assert all(MONOTONE[f] == 1 for f in moving)


def test_more_km_is_not_dearer(model: PricingModel) -> None:
    prices = _price(model, [_car(km_driven=k) for k in range(0, 400_001, 20_000)])
    assert (np.diff(prices) <= 0).all()


def test_casing_of_categories_does_not_change_price(model: PricingModel) -> None:
    base = _price(model, [_car()])
    shouted = _price(
        model,
        [
            _car(
                name="MARUTI swift vdi",
                brand="maruti",
                fuel="DIESEL",
                seller_type="individual",
                transmission="MANUAL",
            )
        ],
    )
    assert shouted == pytest.approx(base)


def test_contract_one_row_per_input_in_order(model: PricingModel) -> None:
    rows = [
        _car(),
        _car(brand="Tesla", name="Tesla Model 3"),
        _car(km_driven="abc"),
        _car(year=2019),
    ]
    out = model.predict(pd.DataFrame(rows))
    assert list(out.columns) == list(PREDICTION_COLUMNS)
    assert len(out) == 4
    assert out.loc[[0, 3], "predicted_price"].notna().all()
    assert "brand 'Tesla' is unknown; allowed: " in out.loc[1, "error"]
    assert "Maruti" in out.loc[1, "error"]
    assert "km_driven 'abc' is not a number" in out.loc[2, "error"]
    assert out.loc[3, "predicted_price"] > out.loc[0, "predicted_price"]
    assert (out.loc[[0, 3], "price_low"] < out.loc[[0, 3], "predicted_price"]).all()
    assert (out.loc[[0, 3], "price_high"] > out.loc[[0, 3], "predicted_price"]).all()


def test_all_string_values_price_the_same(model: PricingModel) -> None:
    as_text = {k: str(v) for k, v in _car().items()}
    assert _price(model, [as_text]) == pytest.approx(_price(model, [_car()]))


def test_raw_listing_shape_is_accepted(model: PricingModel) -> None:
    raw = {
        "name": "Maruti Swift VDI",
        "year": "2014",
        "km_driven": "60000",
        "fuel": "Diesel",
        "seller_type": "Individual",
        "transmission": "Manual",
        "owner": "First Owner",
        "mileage": "21.0 kmpl",
        "engine": "1197 CC",
        "max_power": "82 bhp",
        "torque": "",
        "seats": "5",
    }
    assert _price(model, [raw]) == pytest.approx(_price(model, [_car()]))


def test_contributions_add_up_to_the_price(model: PricingModel) -> None:
    quote = model.quote(_car())
    contrib = quote["contributions"]
    parts = contrib["features"]
    assert contrib["base_value_log"] + sum(p["log"] for p in parts) == pytest.approx(
        contrib["log_price"], abs=1e-6
    )
    assert float(np.exp(np.float32(contrib["log_price"]))) == pytest.approx(quote["price"], abs=50)
    assert contrib["base_price"] + sum(p["rupees"] for p in parts) == pytest.approx(
        quote["price"], abs=1e-6
    )


def test_comparables_are_real_listings_of_the_same_model(model: PricingModel) -> None:
    similar = pd.DataFrame(model.quote(_car(), comparables=3)["comparables"])
    assert len(similar) == 3
    assert (similar["model"] == "swift").all()
    assert similar["selling_price"].gt(0).all()
    assert similar["distance"].is_monotonic_increasing


def test_out_of_range_inputs_are_flagged(model: PricingModel) -> None:
    assert model.quote(_car())["warnings"] == []
    flagged = {w["feature"] for w in model.quote(_car(year=1985, seats=14))["warnings"]}
    assert {"year", "seats"} <= flagged


def test_save_and_load_round_trip(model: PricingModel, tmp_path) -> None:  # noqa: ANN001
    loaded = PricingModel.load(model.save(tmp_path / "m"))
    rows = pd.DataFrame([_car(), _car(year=2018)])
    pd.testing.assert_frame_equal(loaded.predict(rows), model.predict(rows))
    assert loaded.pipeline.vocab == model.pipeline.vocab
    assert loaded.metrics == model.metrics
    # The training reference for drift travels with the model.
    assert loaded.drift_reference == model.drift_reference
    assert {"year", "km_driven"} <= set(model.drift_reference["numeric"])
    assert {"brand", "fuel"} <= set(model.drift_reference["categories"])


def test_training_metrics_recorded(trained) -> None:  # noqa: ANN001
    model, _, test = trained
    for key in ("mae", "rmse", "r2", "mape", "median_ape", "interval_coverage"):
        assert key in model.metrics
    assert model.metrics["r2"] > 0.8
    assert model.metrics["interval_coverage"] == pytest.approx(0.8, abs=0.1)
    assert list(model.importance)[0] in model.pipeline.features
    assert model.metrics["refused_rows"] == 0 and model.metrics["priced_rows"] == len(test)


def test_the_served_model_is_refit_on_train_and_test(trained, synthetic_raw) -> None:  # noqa: ANN001
    """The model returned is fitted on training and test rows together; its figures are
    still the ones measured on test by the model fitted on training rows alone."""
    model, train_rows, test = trained
    report = clean_training(synthetic_raw)
    summary = {"source": "SYNTHETIC unit-test sample"}
    evaluated = train.fit_best(
        train_rows, test, FAST_PARAMS, rounds=150, seed=1, level=0.8, summary=summary,
        refit=False,
    )  # fmt: skip
    assert len(report.frame) == len(train_rows) + len(test)
    assert model.metrics == evaluated.metrics and model.report == evaluated.report
    assert model.summary["fit_rows"] == len(train_rows) + len(test)
    assert evaluated.summary["fit_rows"] == len(train_rows)
    assert len(model.comparables) == len(train_rows) + len(test)
    # Only the refit model has seen the test rows: its catalogue counts them, and it prices
    # them differently from the model that was scored on them.
    served, scored = (sum(m.catalogue.levels["variant"]["listings"]) for m in (model, evaluated))
    assert (served, scored) == (len(train_rows) + len(test), len(train_rows))
    rows = test.drop(columns="selling_price")
    assert not np.array_equal(
        model.price_frame(rows)["predicted_price"], evaluated.price_frame(rows)["predicted_price"]
    )
    assert model.params["rounds"] > evaluated.params["rounds"] == 150
