"""The fast encodings (`FeaturePipeline.encode/encode_row`, `clean.car_row`) agree with the
DataFrame path the model was trained and evaluated with."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice.clean import car_row, to_frame
from carprice.features import MODEL_FEATURES, UnknownCategory
from carprice.model import PricingModel
from carprice.schema import CarFeatures


def _car(**overrides: object) -> dict:
    car = {
        "name": "Maruti Swift VDI",
        "brand": "Maruti",
        "year": 2014,
        "km_driven": 60000,
        "fuel": "diesel",
        "seller_type": "Individual",
        "transmission": "MANUAL",
        "owner_rank": 1,
        "mileage_kmpl": 21.0,
        "engine_cc": 1197,
        "max_power_bhp": 82,
        "seats": 5,
        "torque_nm": 190,
    }
    return {**car, **overrides}


def test_matrix_prediction_matches_dataframe_prediction(
    trained: tuple[PricingModel, pd.DataFrame, pd.DataFrame],
) -> None:
    model, _, test = trained
    frame = test.drop(columns="selling_price")
    via_frame = model.log_price(model.pipeline.transform(frame))
    via_matrix = model.booster.inplace_predict(model.pipeline.encode(frame))
    np.testing.assert_allclose(via_matrix, via_frame, rtol=1e-6)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"name": None},
        {"name": "  "},
        {"name": "Swift Dzire VDI"},  # name without the brand: first word is the model
        {"name": "maruti  SWIFT vdi", "brand": "maruti"},
        {"torque_nm": None},
    ],
)
def test_car_row_matches_to_frame(model: PricingModel, overrides: dict) -> None:
    car = _car(**overrides)
    frame, errors = to_frame(pd.DataFrame([car]))
    row = car_row(CarFeatures.model_validate(car))
    expected = frame.iloc[0].to_dict()
    for col, value in expected.items():
        got = row[col]
        if pd.isna(value):
            assert got is None, col
        else:
            assert got == value, col
    encoded = model.pipeline.encode_row(row)
    np.testing.assert_array_equal(encoded, model.pipeline.encode(frame)[0])
    assert encoded.shape == (len(MODEL_FEATURES),)


@pytest.mark.parametrize(("column", "value"), [("brand", "Trabant"), ("fuel", "Hydrogen")])
def test_encode_row_refuses_unknown_categories(
    model: PricingModel, column: str, value: str
) -> None:
    row = car_row(CarFeatures.model_validate(_car(**{column: value})))
    with pytest.raises(UnknownCategory) as info:
        model.pipeline.encode_row(row)
    assert info.value.column == column
    assert info.value.allowed == model.pipeline.display_values(column)
    assert value in str(info.value)


def test_new_model_family_is_missing_not_an_error(model: PricingModel) -> None:
    row = car_row(CarFeatures.model_validate(_car(name="Maruti Zzyzx LXI")))
    encoded = model.pipeline.encode_row(row)
    assert np.isnan(encoded[list(MODEL_FEATURES).index("model")])


def test_out_of_range_flags_per_row_with_duplicate_index(model: PricingModel) -> None:
    frame, _ = to_frame(pd.DataFrame([_car(), _car(year=1985, seats=14), _car(km_driven=1)]))
    frame.index = [7, 7, 7]
    flags = model.pipeline.out_of_range(frame).tolist()
    assert flags[0] == []
    assert set(flags[1]) >= {"year", "seats"}
    assert "km_driven" in flags[2] or model.pipeline.ranges["km_driven"]["min"] <= 1
