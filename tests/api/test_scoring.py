"""The API's fast paths price exactly like PricingModel.predict (pure unit tests, no servers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from api.scoring import Scorer, UnknownValue
from carprice.clean import normalise_headers
from carprice.schema import CarFeatures
from carprice.synthetic import generate
from tests.api.conftest import CAR

FEATURE_COLUMNS = list(CarFeatures.model_fields)


@pytest.fixture(scope="module")
def scorer(mem_model) -> Scorer:  # noqa: ANN001
    return Scorer(mem_model)


@pytest.fixture(scope="module")
def feature_frame(mem_model) -> pd.DataFrame:  # noqa: ANN001
    """Realistic CarFeatures-shaped text rows, plus hand-made awkward ones."""
    from carprice.clean import to_frame

    frame, errors = to_frame(generate(rows=400, seed=21).drop(columns=["selling_price"]))
    rows = frame[errors == ""][[c for c in FEATURE_COLUMNS if c in frame]].head(300)
    text = rows.astype(object).where(rows.notna(), "").astype(str)
    awkward = [
        {**CAR, "brand": "tesla"},  # unknown brand
        {**CAR, "fuel": "electric"},  # not a fuel
        {**CAR, "fuel": "  diesel "},  # case and spaces
        {**CAR, "brand": "MARUTI", "name": "maruti SWIFT vdi"},  # casing
        {**CAR, "name": "Swift Dzire VDI"},  # name without the brand word
        {**CAR, "name": ""},  # no name: brand only
        {**CAR, "km_driven": "1,45,500"},  # Indian digit grouping
        {**CAR, "year": "2015.5"},  # not whole
        {**CAR, "year": "1900"},  # out of range
        {**CAR, "seats": ""},  # required, missing
        {**CAR, "torque_nm": "", "torque_rpm": ""},  # optional, missing
        {**CAR, "torque_nm": "nan"},  # spelled-out blank
        {**CAR, "mileage_kmpl": "inf"},
        {**CAR, "engine_cc": "big"},
        {**CAR, "max_power_bhp": "74.0"},
    ]
    awkward_text = pd.DataFrame(awkward).astype(str)
    return pd.concat([text, awkward_text], ignore_index=True)[FEATURE_COLUMNS]


def test_frame_path_is_the_domain_package(mem_model, scorer, feature_frame) -> None:  # noqa: ANN001
    expected = mem_model.predict(feature_frame)
    got = scorer.score_frame(normalise_headers(feature_frame))
    for col in ("predicted_price", "price_low", "price_high"):
        np.testing.assert_array_equal(got[col].to_numpy(float), expected[col].to_numpy(float))
    assert got["error"].tolist() == expected["error"].fillna("").tolist()
    assert (got["error"] == "").sum() > 290  # most rows really were priced


def test_raw_shape_goes_through_domain_package(mem_model, scorer) -> None:  # noqa: ANN001
    raw = generate(rows=60, seed=4).drop(columns=["selling_price"]).astype(str)
    expected = mem_model.predict(raw)
    got = scorer.score_frame(normalise_headers(raw))
    np.testing.assert_array_equal(
        got["predicted_price"].to_numpy(float), expected["predicted_price"].to_numpy(float)
    )


def test_single_car_matches_and_contributions_add_up(mem_model, scorer) -> None:  # noqa: ANN001
    for car in (CAR, {**CAR, "name": None}, {**CAR, "torque_nm": None, "year": 2019}):
        result = scorer.explain(CarFeatures.model_validate(car))
        expected = mem_model.predict(pd.DataFrame([car]))
        assert result["price"] == pytest.approx(expected["predicted_price"][0], abs=100)
        assert result["price_low"] < result["price"] < result["price_high"]
        contrib = result["contributions"]
        rupees = sum(f["rupees"] for f in contrib["features"])
        assert contrib["base_price"] + rupees == pytest.approx(result["price"], abs=0.01)
        logs = sum(f["log"] for f in contrib["features"])
        assert contrib["base_value_log"] + logs == pytest.approx(contrib["log_price"], abs=1e-4)
        assert np.exp(contrib["log_price"]) == pytest.approx(result["price"], rel=1e-3)
        assert {f["feature"] for f in contrib["features"]} == set(scorer.feature_names)


def test_unknown_categories_list_allowed_values(scorer) -> None:  # noqa: ANN001
    with pytest.raises(UnknownValue) as brand:
        scorer.encode(CarFeatures.model_validate({**CAR, "brand": "Tesla"}))
    assert brand.value.column == "brand" and "Maruti" in brand.value.allowed
    with pytest.raises(UnknownValue) as fuel:
        scorer.encode(CarFeatures.model_validate({**CAR, "fuel": "Electric"}))
    assert fuel.value.column == "fuel" and "Diesel" in fuel.value.allowed


def test_out_of_range_warning(scorer) -> None:  # noqa: ANN001
    result = scorer.explain(CarFeatures.model_validate({**CAR, "km_driven": 990_000}))
    assert [w["feature"] for w in result["warnings"]] == ["km_driven"]


def test_comparables_match_domain_package(mem_model, scorer) -> None:  # noqa: ANN001
    from carprice.explain import comparables

    cars = [CAR, {**CAR, "name": "Honda City ZX", "brand": "Honda", "max_power_bhp": 117},
            {**CAR, "name": None}, {**CAR, "name": "Maruti Unknownmodel X"}]  # fmt: skip
    for car in cars:
        enc = scorer.encode(CarFeatures.model_validate(car))
        expected = comparables(mem_model, pd.Series(enc.frame_row, dtype=object), scorer.k)
        got = scorer.comparables(enc.frame_row)
        assert [r["name"] for r in got] == expected["name"].tolist()
        assert [r["distance"] for r in got] == expected["distance"].tolist()
