"""The API's answer shapes over the one pricing path (pure unit tests, no servers)."""

from __future__ import annotations

import pandas as pd
import pytest

from api.scoring import batch_items
from carprice.schema import CarFeatures
from tests.api.conftest import CAR


def test_batch_items_keep_order_and_price_like_price_frame(mem_model) -> None:  # noqa: ANN001
    cars = [
        CAR,
        {**CAR, "year": "not a year"},  # fails pydantic validation: only this item
        {**CAR, "brand": "Tesla"},  # unknown to the model: refused with allowed values
        {**CAR, "km_driven": 990_000},  # priced, with a range warning
        {**CAR, "name": None, "torque_nm": None},
    ]
    items = batch_items(mem_model, cars)
    assert [i.index for i in items] == list(range(len(cars)))
    assert items[1].error.startswith("year:") and items[1].price is None
    assert "brand 'Tesla' is unknown; allowed: " in items[2].error and "Maruti" in items[2].error
    assert [w.feature for w in items[3].warnings] == ["km_driven"]
    valid = [CarFeatures.model_validate(c).model_dump() for c in (cars[0], cars[3], cars[4])]
    expected = mem_model.price_frame(pd.DataFrame(valid))
    for item, (_, row) in zip((items[0], items[3], items[4]), expected.iterrows(), strict=True):
        assert item.error is None
        assert (item.price, item.price_low, item.price_high) == (
            row["predicted_price"],
            row["price_low"],
            row["price_high"],
        )


def test_a_batch_of_only_bad_items_prices_nothing(mem_model) -> None:  # noqa: ANN001
    items = batch_items(mem_model, [{"brand": "Maruti"}, {**CAR, "fuel": "Electric"}])
    assert all(i.price is None and i.error for i in items)
    assert "fuel 'Electric' is unknown; allowed: " in items[1].error


def test_single_quote_matches_its_batch_price(mem_model) -> None:  # noqa: ANN001
    for car in (CAR, {**CAR, "name": None}, {**CAR, "torque_nm": None, "year": 2019}):
        quote = mem_model.quote(CarFeatures.model_validate(car).model_dump())
        item = batch_items(mem_model, [car])[0]
        assert quote["price"] == item.price
        assert quote["price_low"] < quote["price"] < quote["price_high"]


@pytest.mark.parametrize("k", [0, 3])
def test_quote_returns_k_comparables(mem_model, k: int) -> None:  # noqa: ANN001
    assert len(mem_model.quote(CAR, comparables=k)["comparables"]) == k
