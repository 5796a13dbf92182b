"""Headers as people write them map to the schema; the user's corrections always win."""

from __future__ import annotations

import pandas as pd
import pytest

from carprice.clean import ShapeError, detect_shape, to_frame
from carprice.headers import PASS_PREFIX, describe, resolve, squash, suggest


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Km Driven", "km_driven"),
        ("KMs", "km_driven"),
        ("Kilometers", "km_driven"),
        ("kms_driven", "km_driven"),
        ("Fuel Type", "fuel"),
        ("Transmission Type", "transmission"),
        ("No. of Owners", "owner"),
        ("Selling Price", "selling_price"),
        ("Price (Rs)", "selling_price"),
        ("Engine (CC)", "engine_cc"),
        ("Make", "brand"),
        ("Car Name", "name"),
        ("Model Year", "year"),
        ("SELLER-TYPE", "seller_type"),
        ("max_power_bhp", "max_power_bhp"),
        ("Colour", None),
    ],
)
def test_common_headers_are_recognised(header: str, target: str | None) -> None:
    assert suggest([header]) == [target]


def test_matching_ignores_case_spacing_and_punctuation() -> None:
    assert squash(" No. of  Owners ") == squash("no_of_owners") == "noofowners"


def test_the_first_column_wins_a_field_and_the_rest_pass_through() -> None:
    headers = ["Km Driven", "KMs", "Notes"]
    assert suggest(headers) == ["km_driven", None, None]
    columns = resolve(headers, None)
    assert columns[0] == "km_driven"
    assert columns[1].startswith(PASS_PREFIX) and columns[2].startswith(PASS_PREFIX)
    assert describe(headers, columns) == {"Km Driven": "km_driven", "KMs": None, "Notes": None}


def test_the_users_mapping_overrides_the_guess() -> None:
    headers = ["Name", "Mileage", "KMs"]  # this dealer's 'Mileage' is the odometer
    columns = resolve(headers, {"Mileage": "km_driven", "KMs": None})
    assert columns[:2] == ["name", "km_driven"] and columns[2].startswith(PASS_PREFIX)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"Name": "colour"}, "unknown column"),
        ({"Nope": "name"}, "doesn't have"),
        ({"KMs": "year"}, "same field"),
    ],
)
def test_a_mapping_that_cannot_work_says_why(mapping: dict, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        resolve(["Name", "Year", "KMs"], mapping)


def test_a_dealer_sheet_prices_after_mapping() -> None:
    sheet = pd.DataFrame(
        {
            "Car Name": ["Maruti Swift Dzire VDI"],
            "Model Year": ["2014"],
            "KMs": ["145500"],
            "Fuel Type": ["Diesel"],
            "Seller Type": ["Individual"],
            "Transmission Type": ["Manual"],
            "No. of Owners": ["2"],
            "Engine (CC)": ["1248"],
            "Mileage": ["23.4 kmpl"],
        }
    )
    columns = resolve(list(sheet.columns), None)
    assert detect_shape(columns) == "raw"
    frame, errors = to_frame(sheet.set_axis(columns, axis=1))
    assert list(errors) == [""]
    row = frame.iloc[0]
    assert (row.owner_rank, row.engine_cc, row.mileage_kmpl, row.km_driven) == (
        2,
        1248,
        23.4,
        145500,
    )


@pytest.mark.parametrize(
    ("label", "rank"),
    [
        ("2", 2),
        ("2nd Owner", 2),
        ("first", 1),
        ("Third Owner", 3),
        ("4+", 4),
        ("Test Drive Car", 0),
    ],
)
def test_owner_counts_and_ordinals_are_ranks(label: str, rank: int) -> None:
    row = {
        "name": "Maruti Swift", "year": "2014", "km_driven": "1000", "fuel": "Petrol",
        "seller_type": "Dealer", "transmission": "Manual", "owner": label,
    }  # fmt: skip
    frame, errors = to_frame(pd.DataFrame([row]))
    assert list(errors) == [""] and frame.iloc[0].owner_rank == rank


def test_a_header_written_twice_is_shown_twice() -> None:
    headers = ["Price", "Price"]
    assert describe(headers, resolve(headers, None)) == {
        "Price": "selling_price",
        "Price (2)": None,
    }
