"""The evaluation report: error by group, with counts that add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice import report
from carprice.model import PricingModel


def test_groups_cover_every_priced_row_once_per_dimension() -> None:
    test = pd.DataFrame(
        {
            "brand": ["Maruti", "Maruti", "Honda", "BMW"],
            "fuel": ["Petrol", "Diesel", "Petrol", "Diesel"],
            "year": [2019, 2010, 2003, 2015],
            "variant": ["maruti swift vdi", "maruti alto lx", "honda city zx", "bmw x1 new"],
            "selling_price": [500_000.0, 200_000.0, 100_000.0, 2_000_000.0],
        }
    )
    price = np.array([550_000.0, 180_000.0, np.nan, 2_200_000.0])  # Honda: refused
    seen = np.array([True, True, True, False])
    table = report.build(test, price, seen, reference_year=2020)
    for _, part in table.groupby("dimension"):
        assert part["rows"].sum() == 3
    brand = table[table["dimension"] == "brand"].set_index("group")
    assert brand.loc["Maruti", "mape"] == pytest.approx((0.1 + 0.1) / 2)
    assert brand.loc["BMW", "mae"] == pytest.approx(200_000)
    ages = set(table.loc[table["dimension"] == "age band", "group"])
    assert ages == {"0–3 years", "7–10 years", "4–6 years"}
    assert report.headline(table) == {
        "seen_variant_mape": pytest.approx(0.1),
        "seen_variant_rows": 2.0,
        "unseen_variant_mape": pytest.approx(0.1),
        "unseen_variant_rows": 1.0,
    }


def test_trained_model_carries_its_report(trained) -> None:  # noqa: ANN001
    model, _, test = trained
    table = pd.DataFrame(model.report)
    assert list(table.columns) == list(report.REPORT_COLUMNS)
    assert set(table["dimension"]) == {"brand", "price decile", "fuel", "age band", "variant"}
    decile = table[table["dimension"] == "price decile"]
    assert len(decile) == 10 and decile["rows"].sum() == len(test)
    assert "seen_variant_mape" in model.metrics


def test_report_survives_save_and_load(model: PricingModel, tmp_path) -> None:  # noqa: ANN001
    assert PricingModel.load(model.save(tmp_path / "m")).report == model.report
