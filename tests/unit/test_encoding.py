"""The one encoder (`FeaturePipeline.encode`) and its one unknown-value policy: a single quote
is a frame of one row, priced exactly as the same row inside a large frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice.clean import to_frame
from carprice.features import UnknownCategory
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
    assert encoded.matrix.shape == (len(test), len(model.pipeline.features)) and encoded.ok.all()
    via_dmatrix = model.booster.predict(model.pipeline.dmatrix(encoded.matrix))
    np.testing.assert_allclose(
        model.booster.inplace_predict(encoded.matrix), via_dmatrix, rtol=1e-6
    )


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


def test_a_new_model_family_is_priced_from_its_brand(model: PricingModel) -> None:
    frame, _ = to_frame(pd.DataFrame([_car(name="Maruti Zzyzx LXI"), _car()]))
    encoded = model.pipeline.encode(frame)
    assert encoded.ok.all()
    row = dict(zip(model.pipeline.features, encoded.matrix[0], strict=True))
    assert row["te_model"] == row["te_model_line"] == row["te_variant"] == row["te_brand"]
    assert row["n_variant"] == 0 and row["tok_lxi"] == 1
    assert model.pipeline.unseen_variant(encoded.matrix).tolist() == [True, False]


def test_training_rows_are_encoded_out_of_fold(
    trained: tuple[PricingModel, pd.DataFrame, pd.DataFrame],
) -> None:
    """A training row's name value must not contain its own price: out of fold, it differs
    from the value the fitted encoder gives the same row."""
    model, train, _ = trained
    te = model.pipeline.features.index("te_variant")
    groups = np.arange(len(train))
    oof = model.pipeline.encode(train, oof_groups=groups).matrix[:, te]
    full = model.pipeline.encode(train).matrix[:, te]
    assert not np.allclose(oof, full)
    again = model.pipeline.encode(train, oof_groups=groups).matrix[:, te]
    np.testing.assert_array_equal(oof, again)  # seeded: training is reproducible


def test_a_v1_pipeline_still_encodes_its_own_features(model: PricingModel) -> None:
    """A model saved before v2 lists its features; encoding builds exactly those."""
    from carprice.features import V1_FEATURES, FeaturePipeline

    data = {**model.pipeline.to_dict(), "encoder": None}
    data.pop("features")
    old = FeaturePipeline.from_dict(data)
    assert old.features == list(V1_FEATURES)
    frame, _ = to_frame(pd.DataFrame([_car()]))
    encoded = old.encode(frame)
    assert encoded.matrix.shape == (1, len(V1_FEATURES))
    assert encoded.matrix[0, list(V1_FEATURES).index("model")] == old.codes["model"]["swift"]
