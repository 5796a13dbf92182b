"""The one encoder (`FeaturePipeline.encode`) and its one unknown-value policy: a single quote
is a frame of one row, priced exactly as the same row inside a large frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice.clean import to_frame
from carprice.features import MODEL_FEATURES, UnknownCategory
from carprice.model import PricingModel, UnpriceableCar


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


def test_encoded_matrix_prices_like_the_booster_on_a_dmatrix(
    trained: tuple[PricingModel, pd.DataFrame, pd.DataFrame],
) -> None:
    """Training's DMatrix and serving's in-place matrix are the same encoding."""
    model, _, test = trained
    frame, _ = to_frame(test.drop(columns="selling_price"))
    encoded = model.pipeline.encode(frame)
    assert encoded.matrix.shape == (len(test), len(MODEL_FEATURES)) and encoded.ok.all()
    via_dmatrix = model.booster.predict(model.pipeline.dmatrix(encoded.matrix))
    np.testing.assert_allclose(model.booster.inplace_predict(encoded.matrix), via_dmatrix, rtol=1e-6)


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
def test_a_single_quote_prices_like_its_row_in_a_batch(
    trained: tuple[PricingModel, pd.DataFrame, pd.DataFrame], overrides: dict
) -> None:
    model, _, test = trained
    car = _car(**overrides)
    batch = pd.concat(
        [test.drop(columns="selling_price").head(50), pd.DataFrame([car])], ignore_index=True
    )
    in_batch = model.price_frame(batch).iloc[-1]
    alone = model.price_frame(pd.DataFrame([car])).iloc[0]
    quote = model.quote(car)
    assert in_batch["predicted_price"] == alone["predicted_price"] == quote["price"]
    assert (in_batch["price_low"], in_batch["price_high"]) == (
        quote["price_low"],
        quote["price_high"],
    )


@pytest.mark.parametrize(("column", "value"), [("brand", "Trabant"), ("fuel", "Hydrogen")])
def test_unknown_categories_are_refused_naming_the_allowed_values(
    model: PricingModel, column: str, value: str
) -> None:
    with pytest.raises(UnknownCategory) as info:
        model.quote(_car(**{column: value}))
    assert info.value.column == column
    assert info.value.allowed == model.pipeline.display_values(column)
    assert value in str(info.value)
    row = model.price_frame(pd.DataFrame([_car(), _car(**{column: value})]))
    assert np.isfinite(row.loc[0, "predicted_price"]) and np.isnan(row.loc[1, "predicted_price"])
    assert row.loc[1, "error"] == str(info.value)


def test_other_unpriceable_rows_name_their_reason(model: PricingModel) -> None:
    with pytest.raises(UnpriceableCar, match="year 1900 is outside"):
        model.quote(_car(year=1900))


def test_new_model_family_is_missing_not_an_error(model: PricingModel) -> None:
    frame, _ = to_frame(pd.DataFrame([_car(name="Maruti Zzyzx LXI")]))
    encoded = model.pipeline.encode(frame)
    assert encoded.ok.all()
    assert np.isnan(encoded.matrix[0, list(MODEL_FEATURES).index("model")])
