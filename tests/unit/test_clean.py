"""Cleaning: both input shapes, de-duplication, and a reason for every rejected row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carprice.clean import (
    ShapeError,
    clean_training,
    map_distinct,
    normalise_headers,
    split_name,
    to_frame,
)
from carprice.schema import FRAME_COLUMNS

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _raw(**overrides: object) -> dict:
    row = {
        "name": "Maruti Swift Dzire VDI",
        "year": "2014",
        "selling_price": "450000",
        "km_driven": "145500",
        "fuel": "Diesel",
        "seller_type": "Individual",
        "transmission": "Manual",
        "owner": "First Owner",
        "mileage": "23.4 kmpl",
        "engine": "1248 CC",
        "max_power": "74 bhp",
        "torque": "190Nm@ 2000rpm",
        "seats": "5",
    }
    return {**row, **overrides}


def test_raw_row_maps_to_typed_frame() -> None:
    frame, errors = to_frame(pd.DataFrame([_raw()]))
    assert list(errors) == [""]
    row = frame.iloc[0]
    assert set(FRAME_COLUMNS) <= set(frame.columns)
    assert (row.brand, row.model, row.variant) == ("Maruti", "swift", "maruti swift dzire vdi")
    assert (row.owner_rank, row.mileage_kmpl, row.engine_cc, row.max_power_bhp) == (
        1,
        23.4,
        1248,
        74,
    )
    assert (row.torque_nm, row.torque_rpm, row.seats, row.year) == (190, 2000, 5, 2014)


def test_both_shapes_give_the_same_frame() -> None:
    raw, _ = to_frame(pd.DataFrame([_raw()]).drop(columns="selling_price"))
    features = pd.DataFrame(
        [
            {
                "name": "Maruti Swift Dzire VDI",
                "brand": "Maruti",
                "year": 2014,
                "km_driven": 145500,
                "fuel": "diesel",
                "seller_type": "INDIVIDUAL",
                "transmission": "manual",
                "owner_rank": 1,
                "mileage_kmpl": 23.4,
                "engine_cc": 1248,
                "max_power_bhp": 74,
                "seats": 5,
                "torque_nm": 190,
                "torque_rpm": 2000,
            }
        ]
    )
    feat, errors = to_frame(features)
    assert list(errors) == [""]
    pd.testing.assert_frame_equal(raw, feat, check_dtype=False)


def test_headers_are_case_insensitive_and_duplicates_refused() -> None:
    upper = pd.DataFrame([_raw()]).rename(columns=str.upper)
    frame, errors = to_frame(upper)
    assert errors.iloc[0] == "" and frame.iloc[0].km_driven == 145500
    dup = pd.DataFrame([[1, 2]], columns=["Year", "year"])
    with pytest.raises(ShapeError, match="duplicated column"):
        normalise_headers(dup)


def test_missing_columns_named() -> None:
    with pytest.raises(ShapeError, match="missing column"):
        to_frame(pd.DataFrame([{"year": 2014, "km_driven": 10}]))


def test_two_word_brands() -> None:
    assert split_name("Land Rover Discovery Sport TD4 HSE") == ("Land Rover", "discovery")
    assert split_name("Mercedes-Benz E-Class E250") == ("Mercedes-Benz", "e-class")


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"km_driven": "-5000"}, "km_driven -5000 is outside"),
        ({"km_driven": "lots"}, "km_driven 'lots' is not a number"),
        ({"km_driven": "inf"}, "km_driven must be a finite number"),
        ({"year": ""}, "year is missing"),
        ({"name": ""}, "name is missing"),
        ({"fuel": "Electric"}, "fuel 'Electric' is not one of"),
        ({"owner": "Fifth Owner"}, "owner 'Fifth Owner' is not one of"),
        ({"mileage": "twenty kmpl"}, "mileage 'twenty kmpl' is not a number"),
        ({"mileage": "0.0 kmpl"}, "mileage_kmpl 0 is outside"),
        ({"torque": "190@ 21,800(kgm@ rpm)"}, "torque_rpm 21800 is outside"),
        ({"selling_price": ""}, "selling_price is missing"),
        ({"year": "2014.5"}, "year must be a whole number"),
    ],
)
def test_rejected_rows_carry_reasons(override: dict, reason: str) -> None:
    report = clean_training(pd.DataFrame([_raw(), _raw(**override)]))
    assert report.counts["rejected"] == 1
    assert report.rejected.iloc[0]["reason"].startswith(reason)
    assert report.rejected.iloc[0]["source_row"] == 3
    assert len(report.frame) == 1


def test_blank_and_unit_only_cells_are_missing_not_rejected() -> None:
    row = _raw(mileage="", engine="", max_power=" bhp", torque="", seats="")
    report = clean_training(pd.DataFrame([row]))
    assert report.counts["rejected"] == 0
    assert (
        report.frame[["mileage_kmpl", "engine_cc", "max_power_bhp", "seats"]].isna().all(axis=None)
    )


def test_exact_duplicates_dropped_before_anything_else() -> None:
    report = clean_training(pd.DataFrame([_raw(), _raw(), _raw(km_driven="1000")]))
    assert report.counts == {
        "rows_in": 3,
        "exact_duplicates_dropped": 1,
        "rejected": 0,
        "parsed_duplicates_dropped": 0,
        "rows_out": 2,
    }


def test_counts_add_up_on_the_synthetic_sample(synthetic_raw: pd.DataFrame) -> None:
    c = clean_training(synthetic_raw).counts
    assert c["rows_in"] == (
        c["exact_duplicates_dropped"]
        + c["rejected"]
        + c["parsed_duplicates_dropped"]
        + c["rows_out"]
    )
    assert c["exact_duplicates_dropped"] > 0 and c["rejected"] > 0


def test_bad_rows_sample_every_row_accounted_for() -> None:
    frame, errors = to_frame(
        pd.read_csv(SAMPLES / "bad_rows.csv", dtype=str, keep_default_na=False)
    )
    assert len(frame) == len(errors) == 9
    assert errors.iloc[0] == "" and errors.iloc[-1] == ""
    assert all(errors.iloc[2:4] != "")


def test_real_file_parses_with_few_rejections(real_data_path: str | None) -> None:
    if real_data_path is None:
        pytest.skip("real CarDekho file not available (set CARPRICE_RAW_DATA)")
    report = clean_training(pd.read_csv(real_data_path, dtype=str, keep_default_na=False))
    c = report.counts
    assert c["rows_in"] == 6961 and c["exact_duplicates_dropped"] == 1035
    assert c["rejected"] < 30 and (report.rejected["reason"] != "").all()


def test_numbers_parse_alike_from_text_and_from_numeric_columns() -> None:
    """The CSV path (all text) and the JSON path (numbers) give the same values and reasons;
    only cells that aren't plain numbers take the slow text route."""
    from carprice.clean import _Errors, _numeric

    text = pd.Series(["12", " 1,200 ", "", None, "lots", "1e3", "-5", "inf", "NaN", "7.5"])
    errors = _Errors(len(text))
    values = _numeric(text, "km_driven", errors)
    expected = [12, 1200, None, None, None, 1000, -5, None, None, 7.5]
    assert values.tolist() == pytest.approx(
        [float("nan") if v is None else v for v in expected], nan_ok=True
    )
    assert errors.messages[4] == "km_driven 'lots' is not a number"
    assert errors.messages[7] == "km_driven must be a finite number"
    # "NaN" is how pandas writes a blank cell: missing, not an error
    assert (errors.messages[[0, 1, 2, 3, 5, 6, 8, 9]] == "").all()

    numeric = pd.Series([12.0, 1200, None, 7.5])
    plain = _Errors(len(numeric))
    assert _numeric(numeric, "km_driven", plain).tolist() == pytest.approx(
        [12.0, 1200, float("nan"), 7.5], nan_ok=True
    )
    assert (plain.messages == "").all()


@pytest.mark.parametrize(
    "cells",
    [
        ["12", "1200", "", "1e3", "-5", "7.5", "+3", ".5"],  # all plain: Arrow parses them
        ["12", " 1,200 ", "", "lots", "1e3", "-5", "inf", "NaN", "7.5"],  # the general route
    ],
    ids=["plain-numbers", "messy"],
)
def test_upload_text_parses_like_python_strings(cells: list[str]) -> None:
    """A CSV upload arrives as Arrow-backed text and may take the C++ parse; values and
    reasons must be what the same cells as Python strings give."""
    from carprice.clean import _Errors, _numeric

    results = []
    for dtype in ("object", "str"):
        series = pd.Series(cells, dtype=dtype)
        errors = _Errors(len(series))
        values = _numeric(series, "km_driven", errors)
        results.append((values.tolist(), errors.messages.tolist()))
    (obj_values, obj_errors), (str_values, str_errors) = results
    assert str_values == pytest.approx(obj_values, nan_ok=True)
    assert str_errors == obj_errors


def test_upload_frame_and_python_frame_clean_alike() -> None:
    """The whole frame, both shapes: the API's Arrow text and plain Python strings agree."""
    raw_rows = pd.DataFrame(
        [_raw(), _raw(year="", fuel="diesel "), _raw(km_driven="lots", name="Tata Nano")]
    ).drop(columns="selling_price")
    for rows in (raw_rows, to_frame(raw_rows)[0].drop(columns=["model", "variant"])):
        rows = rows.astype(object).where(rows.notna(), "").astype(str)
        as_text = rows.astype("str")
        plain, plain_errors = to_frame(rows.astype(object))
        arrow, arrow_errors = to_frame(as_text)
        pd.testing.assert_frame_equal(plain, arrow, check_dtype=False)
        assert plain_errors.tolist() == arrow_errors.tolist()


def test_a_car_by_name_or_by_picks_gets_one_identity() -> None:
    use = {
        "year": 2015,
        "km_driven": 50000,
        "fuel": "Diesel",
        "seller_type": "Individual",
        "transmission": "Manual",
    }
    rows = pd.DataFrame(
        [
            {**use, "name": "Maruti Swift Dzire VDI", "brand": None, "owner_rank": 1},
            {
                **use,
                "brand": "maruti",
                "model": "Swift",
                "variant": "Dzire VDI",
                "owner": "First Owner",
            },
            {
                **use,
                "brand": "Maruti",
                "model": "Swift",
                "variant": "Swift Dzire VDI",
                "owner_rank": 1,
            },
        ]
    )
    frame, errors = to_frame(rows, check_specs=False)
    assert (errors == "").all(), errors.tolist()
    assert frame["variant"].tolist() == ["maruti swift dzire vdi"] * 3
    assert frame["model"].tolist() == ["swift"] * 3
    assert frame["brand"].str.lower().tolist() == ["maruti"] * 3
    assert frame["owner_rank"].tolist() == [1.0] * 3
    assert frame["engine_cc"].isna().all()  # specs left for the catalogue to fill


@pytest.mark.parametrize("repeat", [1, 40])  # a quote's few rows, and an upload's many
def test_map_distinct_calls_once_per_value_and_keeps_missing(repeat: int) -> None:
    """Short inputs take a plain loop, long ones pandas' factorize; both must answer alike:
    missing (None, NaN, pd.NA) stays None and is never passed to the function."""
    cells = ["Diesel", None, "Petrol", float("nan"), "Diesel", pd.NA] * repeat
    calls: list[object] = []

    def upper(value: object) -> str:
        calls.append(value)
        return str(value).upper()

    expected = ["DIESEL", None, "PETROL", None, "DIESEL", None] * repeat
    for column in (pd.Series(cells, dtype="string"), np.array(cells, dtype=object)):
        calls.clear()
        assert map_distinct(column, upper).tolist() == expected
        assert sorted(calls) == ["Diesel", "Petrol"]
