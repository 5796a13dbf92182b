"""carprice.relatives: an unlisted variant's specs from its closest listed relatives, and
training rows kept on the level medians."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carprice.relatives import Relatives, _median

SPECS = ("engine_cc", "max_power_bhp")
VARIANTS = {
    "key": ["acme roadster 2.0 at", "acme roadster 1.2", "acme roadster 2.0", "acme van 1.2"],
    "brand": ["acme"] * 4,
    "model": ["acme roadster", "acme roadster", "acme roadster", "acme van"],
    "fuel": ["Diesel", "Petrol", "Diesel", "Petrol"],
    "transmission": ["Automatic", "Manual", "Manual", "Manual"],
    "engine_cc": [1995.0, 1197.0, 1995.0, 1199.0],
    "max_power_bhp": [190.0, 82.0, 150.0, None],
}


@pytest.fixture
def relatives() -> Relatives:
    return Relatives(VARIANTS, ("model", "brand"), SPECS)


def test_same_fuel_and_gearbox_first(relatives: Relatives) -> None:
    got = relatives.specs("model", "acme roadster", "acme roadster 2.0 sport", "Diesel", "Manual")
    np.testing.assert_array_equal(got, [1995.0, 150.0])
    got = relatives.specs(
        "model", "acme roadster", "acme roadster 2.0 sport", "Diesel", "Automatic"
    )
    np.testing.assert_array_equal(got, [1995.0, 190.0])


def test_then_the_same_fuel_then_any(relatives: Relatives) -> None:
    # No petrol automatic roadster: the petrol one, whatever its gearbox.
    got = relatives.specs("model", "acme roadster", "acme roadster lx", "Petrol", "Automatic")
    np.testing.assert_array_equal(got, [1197.0, 82.0])
    # No CNG at all: the variants sharing most words ('2.0'), their median on a tie.
    got = relatives.specs("model", "acme roadster", "acme roadster 2.0", "CNG", "Manual")
    np.testing.assert_array_equal(got, [1995.0, 170.0])  # '2.0' and '2.0 at' share 3 words


def test_ties_take_the_median_of_known_values(relatives: Relatives) -> None:
    got = relatives.specs("brand", "acme", "acme", "Petrol", "Manual")
    np.testing.assert_array_equal(got, [1198.0, 82.0])  # the van lists no power
    assert relatives.specs("brand", "acme", None, "Petrol", "Manual") is not None


def test_a_node_without_variants_has_no_relatives(relatives: Relatives) -> None:
    assert relatives.specs("model", "acme truck", "acme truck 3.0", "Diesel", "Manual") is None
    assert Relatives({}, ("model",), SPECS).specs("model", "x", "x y", None, None) is None


def test_median_matches_numpy_and_keeps_unknown_columns_nan() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(7, 4))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 3] = np.nan
    with pytest.warns(RuntimeWarning):
        expected = np.nanmedian(values, axis=0)
    np.testing.assert_allclose(_median(values), expected)


def test_training_rows_keep_level_medians(
    synthetic_raw: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relatives serve quotes and held-out rows; rows the model learns from are filled from
    their level's median (README, "Quoted by name alone")."""
    from carprice import train
    from carprice.catalogue import Catalogue
    from carprice.clean import clean_training

    frame = clean_training(synthetic_raw.head(300)).frame
    asked: list[bool] = []
    real = Catalogue.fill
    monkeypatch.setattr(
        Catalogue,
        "fill",
        lambda self, f, relatives=True: asked.append(relatives) or real(self, f, relatives),
    )
    fitted = train._Fitted.fit(frame)
    assert asked == [False]
    train._encoded(fitted, frame, training=True)
    train._encoded(fitted, frame)
    assert asked == [False, False, True]
