"""One car listed twice shares a key; two cars of one variant and year don't."""

from __future__ import annotations

import pandas as pd

from carprice.listings import listing_groups, listing_keys


def test_a_repost_shares_the_key_whatever_the_spelling_and_dtype() -> None:
    ints = pd.DataFrame({"name": ["Maruti Swift VDI"], "year": [2015], "km_driven": [45000]})
    floats = pd.DataFrame(
        {"name": ["  maruti  SWIFT vdi "], "year": [2015.0], "km_driven": [45000.0]}
    )
    key = "maruti swift vdi|2015|45000"
    assert listing_keys(ints).iloc[0] == listing_keys(floats).iloc[0] == key


def test_cars_of_one_variant_and_year_are_different_listings() -> None:
    frame = pd.DataFrame(
        {
            "name": ["Maruti Swift VDI"] * 3 + ["Maruti Swift ZXI"],
            "year": [2015, 2015, 2015, 2015],
            "km_driven": [45000, 45000, 70000, 45000],
        }
    )
    assert listing_groups(frame).tolist() == [0, 0, 1, 2]
