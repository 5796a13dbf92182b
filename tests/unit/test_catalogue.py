"""The vehicle catalogue: levels and their typical specs, filling a quote's missing specs from
the closest level, browsing, and the artifact round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carprice import catalogue as cat
from carprice.catalogue import (
    BRAND,
    MODEL,
    MODEL_LINE,
    SPEC_COLUMNS,
    VARIANT,
    Catalogue,
    NotInCatalogue,
    level_keys,
)
from carprice.clean import clean_training, compose_name, to_frame
from carprice.schema import NUMERIC_RANGES

# name, fuel, year, mileage, engine, power, torque, seats: raw CarDekho cells.
LISTINGS = [
    (
        "Maruti Swift Dzire VDI",
        "Diesel",
        2012,
        "23.4 kmpl",
        "1248 CC",
        "74 bhp",
        "190Nm@ 2000rpm",
        5,
    ),
    (
        "Maruti Swift Dzire VDI",
        "Diesel",
        2014,
        "22.0 kmpl",
        "1248 CC",
        "74 bhp",
        "190Nm@ 2000rpm",
        5,
    ),
    # Listed once with the other fuel and in capitals: same variant, not the usual spelling.
    (
        "MARUTI Swift Dzire VDI",
        "Petrol",
        2016,
        "20.0 kmpl",
        "1248 CC",
        "75 bhp",
        "200Nm@ 1750rpm",
        5,
    ),
    ("Maruti Swift Dzire ZXI", "Petrol", 2015, "19.1 kmpl", "1197 CC", "85 bhp", "", 5),
    ("Maruti Swift VDI", "Diesel", 2013, "", "1248 CC", "74 bhp", "190Nm@ 2000rpm", 5),
    ("Maruti Swift VDI", "Diesel", 2011, "22.9 kmpl", "1248 CC", "74 bhp", "190Nm@ 2000rpm", 5),
    ("Maruti Alto LXi", "Petrol", 2010, "19.7 kmpl", "796 CC", "47.3 bhp", "69Nm@ 3500rpm", 4),
    ("Maruti Alto LXi", "Petrol", 2012, "20.9 kmpl", "796 CC", "47.3 bhp", "69Nm@ 3500rpm", 5),
    (
        "Land Rover Range Rover Evoque 2.2L Pure",
        "Diesel",
        2015,
        "15.68 kmpl",
        "2179 CC",
        "187.7 bhp",
        "430Nm@ 1750rpm",
        5,
    ),
    ("Hyundai i20 Asta 1.2", "Petrol", 2016, "18.6 kmpl", "1197 CC", "81.86 bhp", "", 5),
]


def _raw(listings: list[tuple]) -> pd.DataFrame:
    columns = ("name", "fuel", "year", "mileage", "engine", "max_power", "torque", "seats")
    raw = pd.DataFrame([dict(zip(columns, row, strict=True)) for row in listings])
    return raw.assign(
        selling_price=400_000,
        km_driven=50_000,
        seller_type="Individual",
        transmission="Manual",
        owner="First Owner",
    )


@pytest.fixture(scope="module")
def small() -> Catalogue:
    report = clean_training(_raw(LISTINGS))
    assert report.counts["rows_out"] == len(LISTINGS)
    return Catalogue.build(report.frame)


def _quotes(*cars: dict) -> pd.DataFrame:
    """Quotes in the internal-frame shape, as the API gets them from `to_frame` (specs left
    out are NaN; `to_frame`'s complaints about them are what filling answers)."""
    base = {
        "year": 2015,
        "km_driven": 40_000,
        "fuel": "Diesel",
        "seller_type": "Individual",
        "transmission": "Manual",
        "owner_rank": 1,
        **dict.fromkeys(SPEC_COLUMNS),
    }
    frame, _ = to_frame(pd.DataFrame([{**base, **car} for car in cars]))
    return frame


def _row(filled: cat.Filled, i: int) -> dict:
    return filled.frame.iloc[i][list(SPEC_COLUMNS)].to_dict()


@pytest.mark.parametrize(
    ("name", "brand", "expected"),
    [
        (
            "Maruti Swift Dzire VDI",
            None,
            ("maruti", "maruti swift", "maruti swift dzire", "maruti swift dzire vdi"),
        ),
        (
            "  MARUTI   swift DZIRE vdi ",
            "maruti",
            ("maruti", "maruti swift", "maruti swift dzire", "maruti swift dzire vdi"),
        ),
        # The name without its stated brand is read with the brand in front.
        (
            "Swift Dzire VDI",
            "Maruti",
            ("maruti", "maruti swift", "maruti swift dzire", "maruti swift dzire vdi"),
        ),
        # A two-word brand counts as one: its model line is the brand plus two words.
        (
            "Land Rover Range Rover Evoque 2.2L Pure",
            None,
            (
                "land rover",
                "land rover range",
                "land rover range rover",
                "land rover range rover evoque 2.2l pure",
            ),
        ),
        (
            "Maruti Swift VDI",
            None,
            ("maruti", "maruti swift", "maruti swift vdi", "maruti swift vdi"),
        ),
        ("Maruti Swift", None, ("maruti", "maruti swift", None, "maruti swift")),
        ("Land Rover", "Land Rover", ("land rover", None, None, None)),
        (None, "Maruti", ("maruti", None, None, None)),
        ("  ", "Maruti", ("maruti", None, None, None)),
    ],
)
def test_level_keys(name: str | None, brand: str | None, expected: tuple) -> None:
    assert tuple(level_keys(name, brand)) == expected


def test_levels_and_counts(small: Catalogue) -> None:
    assert small.sizes() == {BRAND: 3, MODEL: 4, MODEL_LINE: 5, VARIANT: 6}
    assert small.brands() == [
        {"brand": "Hyundai", "models": 1, "listings": 1},
        {"brand": "Land Rover", "models": 1, "listings": 1},
        {"brand": "Maruti", "models": 2, "listings": 8},
    ]
    models = {m["model"]: m for m in small.models("Maruti")}
    assert list(models) == ["Alto", "Swift"]
    swift = models["Swift"]
    assert (swift["name"], swift["listings"], swift["model_lines"], swift["variants"]) == (
        "Maruti Swift",
        6,
        2,
        3,
    )
    assert (swift["year_min"], swift["year_max"]) == (2011, 2016)
    assert [m["model"] for m in small.models("Land Rover")] == ["Range"]


def test_variant_specs_are_medians_ignoring_missing(small: Catalogue) -> None:
    variants = {v["variant"]: v for v in small.variants("Maruti", "Swift")}
    assert list(variants) == ["Dzire VDI", "Dzire ZXI", "VDI"]
    vdi = variants["Dzire VDI"]
    assert vdi["name"] == "Maruti Swift Dzire VDI"  # the usual spelling, not 'MARUTI …'
    assert vdi["model_line"] == "Maruti Swift Dzire"
    assert (vdi["listings"], vdi["year_min"], vdi["year_max"]) == (3, 2012, 2016)
    assert (vdi["fuel"], vdi["fuels"]) == ("Diesel", ["Diesel", "Petrol"])
    assert (vdi["transmission"], vdi["transmissions"]) == ("Manual", ["Manual"])
    assert {c: vdi[c] for c in SPEC_COLUMNS} == {
        "mileage_kmpl": 22.0,
        "engine_cc": 1248.0,
        "max_power_bhp": 74.0,
        "torque_nm": 190.0,
        "torque_rpm": 2000.0,
        "seats": 5.0,
    }
    assert variants["VDI"]["mileage_kmpl"] == 22.9  # the blank listing is ignored
    assert variants["Dzire ZXI"]["torque_nm"] is None  # no listing knows it
    # Medians per level, from the listings above.
    swift = next(m for m in small.models("Maruti") if m["model"] == "Swift")
    assert swift["mileage_kmpl"] == 22.0
    alto = small.variants("maruti", "alto")[0]
    assert alto["seats"] == 5.0  # 4 and 5 seats: an even split rounds up to a whole seat


def test_whole_specs_stay_whole() -> None:
    """An even split of engine sizes or torque rpms would otherwise fill 1,197.5 cc, a size no
    car has, and the form (which shows them whole) would show another value than the model
    used. Decimal specs keep their median."""
    asta = ("Hyundai i20 Asta", "Petrol")
    two = [
        (*asta, 2016, "18.6 kmpl", "1197 CC", "81.86 bhp", "114Nm@ 4000rpm", 5),
        (*asta, 2017, "18.9 kmpl", "1198 CC", "82.85 bhp", "115Nm@ 4001rpm", 5),
    ]
    typical = Catalogue.build(clean_training(_raw(two)).frame).variants("Hyundai", "i20")[0]
    assert (typical["engine_cc"], typical["torque_rpm"]) == (1198.0, 4001.0)
    assert (typical["mileage_kmpl"], typical["torque_nm"]) == (18.75, 114.5)
    assert typical["max_power_bhp"] == pytest.approx(82.355)


def test_fill_takes_the_closest_level(small: Catalogue) -> None:
    """Level medians, as training rows are filled (`relatives=False`); a quote's unlisted
    variant narrows the coarse level to its relatives (the test below)."""
    frame = _quotes(
        {"name": "Maruti Swift Dzire VDI"},  # known variant
        {"name": "Maruti Swift Dzire ZXI", "fuel": "Petrol"},  # variant lacks torque
        {"name": "Maruti Swift Dzire LXI"},  # new variant, known model line
        {"name": "Maruti Swift ZXI Plus"},  # new line, known model
        {"name": "Maruti Ciaz ZXI"},  # new model, known brand
        {"name": "Trabant 601 S"},  # unknown brand
    )
    filled = small.fill(frame, relatives=False)
    every = dict.fromkeys(SPEC_COLUMNS)
    assert filled.filled_from[0] == dict.fromkeys(every, VARIANT)
    assert _row(filled, 0)["mileage_kmpl"] == 22.0
    zxi = {**dict.fromkeys(every, VARIANT), "torque_nm": MODEL_LINE, "torque_rpm": MODEL_LINE}
    assert filled.filled_from[1] == zxi
    assert _row(filled, 1)["torque_nm"] == 190.0 and _row(filled, 1)["engine_cc"] == 1197.0
    assert filled.filled_from[2] == dict.fromkeys(every, MODEL_LINE)
    assert _row(filled, 2)["mileage_kmpl"] == 21.0  # median of the four Dzire listings
    assert filled.filled_from[3] == dict.fromkeys(every, MODEL)
    assert _row(filled, 3)["mileage_kmpl"] == 22.0  # median of the Swift listings
    assert filled.filled_from[4] == dict.fromkeys(every, BRAND)
    assert _row(filled, 4)["mileage_kmpl"] == 20.9  # median of all Maruti listings
    assert filled.filled_from[5] == {}
    assert all(np.isnan(v) for v in _row(filled, 5).values())
    assert not filled.impossible.to_numpy().any()


def test_an_unlisted_variant_takes_its_closest_relatives_specs(small: Catalogue) -> None:
    """Within the closest level that knows the name: the variants of the car's fuel and
    gearbox, then the most words of the name in common, their median on a tie."""
    frame = _quotes(
        {"name": "Maruti Swift Dzire LXI", "fuel": "Petrol"},  # the line's petrol: ZXI
        {"name": "Maruti Swift Dzire LXI"},  # diesel: VDI
        {"name": "Maruti Ciaz Dzire VDI"},  # brand level; Dzire VDI shares three words
        {"name": "Maruti Ciaz VDI"},  # Dzire VDI and Swift VDI share two each
        {"name": "Maruti Ciaz", "fuel": "Petrol"},  # no words to tell: every petrol manual
        {"name": "Maruti Swift Dzire LXI", "fuel": "CNG"},  # no CNG: every variant of the line
        {"name": "Maruti Swift Dzire VDI", "fuel": "Petrol"},  # listed: its own specs
        {"name": "Maruti Swift Dzire LXI", "fuel": "Petrol", "max_power_bhp": 90},
    )
    filled = small.fill(frame)
    rows = [_row(filled, i) for i in range(len(frame))]
    assert (rows[0]["engine_cc"], rows[0]["max_power_bhp"]) == (1197.0, 85.0)
    # The ZXI lists no torque: that one still comes from the line's median.
    assert rows[0]["torque_nm"] == 190.0
    assert filled.filled_from[0] == dict.fromkeys(SPEC_COLUMNS, MODEL_LINE)
    assert (rows[1]["engine_cc"], rows[1]["mileage_kmpl"]) == (1248.0, 22.0)
    assert rows[2]["mileage_kmpl"] == 22.0
    assert filled.filled_from[2] == dict.fromkeys(SPEC_COLUMNS, BRAND)
    assert rows[3]["mileage_kmpl"] == pytest.approx((22.0 + 22.9) / 2)
    assert rows[4]["max_power_bhp"] == pytest.approx((85.0 + 47.3) / 2)
    assert rows[4]["engine_cc"] == 997.0  # (1197 + 796) / 2, whole as every listing's
    assert rows[5]["mileage_kmpl"] == pytest.approx((22.0 + 19.1) / 2)  # VDI's and ZXI's
    assert rows[6]["engine_cc"] == 1248.0
    assert filled.filled_from[6] == dict.fromkeys(SPEC_COLUMNS, VARIANT)
    assert rows[7]["max_power_bhp"] == 90.0 and rows[7]["engine_cc"] == 1197.0
    assert "max_power_bhp" not in filled.filled_from[7]
    # Without relatives, every unlisted variant takes its level's median.
    medians = small.fill(frame, relatives=False)
    assert _row(medians, 0)["engine_cc"] == _row(medians, 1)["engine_cc"] == 1248.0
    assert _row(medians, 0)["max_power_bhp"] == 74.5  # the four Dzire listings


def test_relatives_are_found_once_per_name_fuel_and_gearbox(
    small: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = Catalogue.from_dict(small.to_dict())
    calls: list[tuple] = []
    real = fresh._relatives.specs
    monkeypatch.setattr(fresh._relatives, "specs", lambda *a: calls.append(a) or real(*a))
    two = _quotes({"name": "Maruti Ciaz VDI"}, {"name": "Maruti Ciaz VDI", "fuel": "Petrol"})
    frame = two.iloc[[0, 1] * 3000].reset_index(drop=True)
    filled = fresh.fill(frame)
    assert len(calls) == 2
    assert filled.frame["engine_cc"].tolist()[:4] == [1248.0, 997.0, 1248.0, 997.0]
    # Every spec given: nothing is looked up.
    calls.clear()
    fresh.fill(filled.frame)
    assert calls == []


def test_given_values_win_and_impossible_ones_are_filled(small: Catalogue) -> None:
    frame = _quotes(
        {
            "name": "Maruti Swift Dzire VDI",
            "mileage_kmpl": 30.0,  # unusual but possible: kept
            "engine_cc": 0,
            "max_power_bhp": -5,
            "torque_nm": 250,
        },
        {"name": "Trabant 601 S", "engine_cc": 0, "seats": 4},
    )
    before = frame.copy()
    filled = small.fill(frame)
    first = _row(filled, 0)
    assert (first["mileage_kmpl"], first["torque_nm"]) == (30.0, 250.0)
    assert (first["engine_cc"], first["max_power_bhp"]) == (1248.0, 74.0)
    assert set(filled.filled_from[0]) == {"engine_cc", "max_power_bhp", "torque_rpm", "seats"}
    impossible = filled.impossible
    assert list(impossible.columns) == list(SPEC_COLUMNS)
    assert impossible.columns[impossible.iloc[0].to_numpy()].tolist() == [
        "engine_cc",
        "max_power_bhp",
    ]
    # Nothing to fill an unknown brand from: the impossible value is dropped, still reported.
    assert np.isnan(_row(filled, 1)["engine_cc"]) and _row(filled, 1)["seats"] == 4.0
    assert impossible.iloc[1]["engine_cc"] and filled.filled_from[1] == {}
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone


def test_fill_is_case_and_space_insensitive(small: Catalogue) -> None:
    frame = _quotes(
        {"name": "  maruti SWIFT   dzire vdi ", "brand": "MARUTI"},
        {"name": "Swift Dzire VDI", "brand": "maruti"},
    )
    filled = small.fill(frame)
    assert list(filled.filled_from) == [dict.fromkeys(SPEC_COLUMNS, VARIANT)] * 2


def test_fill_works_per_distinct_name(small: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = cat.level_keys
    monkeypatch.setattr(cat, "level_keys", lambda *a: calls.append(a) or real(*a))
    fresh = Catalogue.from_dict(small.to_dict())  # nothing remembered yet
    three = _quotes(*({"name": n} for n in ("Maruti Swift VDI", "Maruti Alto LXi", "Hyundai i20")))
    frame = three.iloc[[0, 1, 2] * 4000].reset_index(drop=True)
    filled = fresh.fill(frame)
    assert len(calls) == 3
    assert filled.frame["engine_cc"].tolist()[:4] == [1248.0, 796.0, 1197.0, 1248.0]


def test_a_csv_with_only_identity_columns_gets_its_specs(small: Catalogue) -> None:
    """The batch case: name, year, km, fuel, seller, transmission and owner, nothing else."""
    raw = pd.DataFrame(
        [
            {
                "name": "Maruti Swift Dzire VDI",
                "year": "2015",
                "km_driven": "40000",
                "fuel": "Diesel",
                "seller_type": "Individual",
                "transmission": "Manual",
                "owner": "First Owner",
            }
        ]
    )
    frame, _ = to_frame(raw)
    filled = small.fill(frame)
    assert filled.filled_from[0] == dict.fromkeys(SPEC_COLUMNS, VARIANT)
    assert _row(filled, 0)["engine_cc"] == 1248.0
    assert filled.frame[list(SPEC_COLUMNS)].dtypes.eq(float).all()


def test_round_trip_through_json(small: Catalogue) -> None:
    text = json.dumps(small.to_dict(), allow_nan=False)  # strict JSON: missing is null
    loaded = Catalogue.from_dict(json.loads(text))
    assert loaded == small
    frame = _quotes({"name": "Maruti Swift Dzire ZXI"}, {"name": "Maruti Ciaz"})
    a, b = small.fill(frame), loaded.fill(frame)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.filled_from.tolist() == b.filled_from.tolist()


def test_lookups_are_case_insensitive(small: Catalogue) -> None:
    assert small.models("  MARUTI ") == small.models("maruti")
    assert small.variants("land rover", "RANGE") == small.variants("Land Rover", "Range")
    assert small.variants("Land Rover", "Range")[0]["model_line"] == "Land Rover Range Rover"


@pytest.mark.parametrize(
    ("call", "level", "close"),
    [
        (lambda c: c.models("Marutti"), BRAND, ["Maruti"]),
        (lambda c: c.variants("Maruti", "Swfit"), MODEL, ["Swift"]),
        (lambda c: c.variants("Maruti", "i20"), MODEL, []),  # a Hyundai model
        (lambda c: c.variants("Trabant", "601"), BRAND, []),
    ],
)
def test_unknown_names_raise_with_close_matches(
    small: Catalogue, call: object, level: str, close: list[str]
) -> None:
    with pytest.raises(KeyError) as info:
        call(small)  # type: ignore[operator]
    error = info.value
    assert isinstance(error, NotInCatalogue)
    assert (error.level, error.close) == (level, close)
    assert "not in the catalogue" in str(error) and not str(error).startswith('"')


@pytest.mark.parametrize(
    ("brand", "model", "variant", "name"),
    [
        ("maruti", "swift", "dzire vdi", "Maruti Swift Dzire VDI"),
        ("Maruti", "Swift", "VDI", "Maruti Swift VDI"),
        ("Maruti", "Swift", "swift dzire zxi", "Maruti Swift Dzire ZXI"),
        ("Maruti", "Swift", "MARUTI swift dzire vdi", "Maruti Swift Dzire VDI"),
        ("Maruti", "Swift", "Zeta Turbo", "Maruti Swift Zeta Turbo"),  # unlisted: as typed
        ("Maruti", "swift", None, "Maruti Swift"),
        (
            "land rover",
            "range",
            "rover evoque 2.2l pure",
            "Land Rover Range Rover Evoque 2.2L Pure",
        ),
        ("Trabant", "601", "S", "Trabant 601 S"),
    ],
)
def test_picked_cars_compose_the_listing_name(
    small: Catalogue, brand: str, model: str, variant: str | None, name: str
) -> None:
    """A car picked as brand + model + variant reaches the catalogue node its name would."""
    composed = compose_name(brand, model, variant)
    assert composed.lower() == name.lower()
    assert level_keys(composed) == level_keys(name)


def test_real_file(real_data_path: Path | None) -> None:
    if real_data_path is None:
        pytest.skip("real car_details_v3.csv not available")
    frame = clean_training(pd.read_csv(real_data_path)).frame
    catalogue = Catalogue.build(frame)
    sizes = catalogue.sizes()
    assert sizes[BRAND] < sizes[MODEL] < sizes[MODEL_LINE] < sizes[VARIANT]
    assert sizes[VARIANT] == frame["variant"].nunique()
    assert sum(b["listings"] for b in catalogue.brands()) == len(frame)
    swift = {v["name"]: v for v in catalogue.variants("Maruti", "Swift")}
    assert swift["Maruti Swift Dzire VDI"]["engine_cc"] == 1248.0
    # Every ancestor a node names is itself in the catalogue.
    for level in (MODEL, MODEL_LINE, VARIANT):
        table = catalogue.levels[level]
        for parent in cat.LEVELS[: cat.LEVELS.index(level)]:
            known = set(catalogue.levels[parent]["key"])
            assert {k for k in table[parent] if k is not None} <= known, (level, parent)
    # Listings with their specs blanked get every spec back, within the ranges cleaning
    # accepts, from their own variant wherever it knows one.
    blank = frame.drop(columns="selling_price").assign(**dict.fromkeys(SPEC_COLUMNS, np.nan))
    filled = catalogue.fill(blank)
    values = filled.frame[list(SPEC_COLUMNS)].astype(float)
    assert values.notna().all().all()
    for col in SPEC_COLUMNS:
        r = NUMERIC_RANGES[col]
        assert values[col].between(r.low, r.high).all(), col
    assert (values["seats"] % 1 == 0).all()
    levels = pd.Series([lvl for d in filled.filled_from for lvl in d.values()])
    assert levels.value_counts(normalize=True)[VARIANT] > 0.9
    json.dumps(catalogue.to_dict(), allow_nan=False)
