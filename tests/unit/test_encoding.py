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


def _listings(rows: list[tuple[str, int, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["name", "year", "km_driven", "selling_price"])
    return frame.assign(
        brand=frame["name"].str.split().str[0], owner_rank=1, seller_type="Individual"
    )


def test_a_variant_is_valued_apart_from_how_far_its_listings_were_driven() -> None:
    """Two variants worth the same, one listed at 10k km and one at 100k km: within each, km
    lowers the price, and the encoder takes that out, so both variants get one value and the
    km shows in `te_price` instead. An encoder saved when age was the only adjuster still
    prices by age alone."""
    from carprice.catalogue import frame_level_keys
    from carprice.target_encoding import ENCODED, HierarchicalTargetEncoder

    def price(km: int) -> float:
        return 2e6 * (1 + km) ** -0.25

    low = [("Maruti Swift VDI", 2015, km, price(km)) for km in range(10_000, 16_000, 1_000)]
    high = [("Maruti Swift ZXI", 2015, km, price(km)) for km in range(100_000, 160_000, 10_000)]
    train = _listings(low + high)
    encoder = HierarchicalTargetEncoder.fit(train, frame_level_keys(train), 2021)
    assert encoder.adjust["log_km"] == pytest.approx(-0.25, abs=1e-6)
    quotes = _listings(
        [("Maruti Swift VDI", 2015, 50_000, 1.0), ("Maruti Swift ZXI", 2015, 50_000, 1.0)]
    )
    out = pd.DataFrame(encoder.transform(quotes, frame_level_keys(quotes)), columns=ENCODED)
    assert out.loc[0, "te_variant"] == pytest.approx(out.loc[1, "te_variant"])
    assert np.exp(out["te_price"]).to_numpy() == pytest.approx(price(50_000), rel=1e-6)
    # Saved before: no `adjust`, so te_price is the finest value moved by age alone.
    data = {k: v for k, v in encoder.to_dict().items() if k != "adjust"}
    old = HierarchicalTargetEncoder.from_dict(data)
    out_old = pd.DataFrame(old.transform(quotes, frame_level_keys(quotes)), columns=ENCODED)
    assert out_old["te_price"].to_numpy() == pytest.approx(
        out_old["te_variant_year"] + old.slope * (2021 - 2015)
    )


def test_an_older_or_further_driven_car_never_gains_through_the_encoders_estimate() -> None:
    """A sample where, within the variant, older and further-driven listings happen to sell
    higher: the age and km slopes stop at 0, so `te_price` (constrained to raise the price)
    never rises with age or km."""
    from carprice.catalogue import frame_level_keys
    from carprice.target_encoding import ENCODED, HierarchicalTargetEncoder

    rows = [
        ("Maruti Swift VDI", 2010 + i, 90_000 - 10_000 * i, 600_000.0 - 40_000 * i)
        for i in range(6)
    ]
    train = _listings(rows)
    encoder = HierarchicalTargetEncoder.fit(train, frame_level_keys(train), 2021)
    assert encoder.slope <= 0 and encoder.adjust["log_km"] <= 0
    quotes = _listings(
        [("Maruti Swift VDI", y, km, 1.0) for y in (2010, 2015) for km in (10_000, 90_000)]
    )
    te = pd.DataFrame(encoder.transform(quotes, frame_level_keys(quotes)), columns=ENCODED)[
        "te_price"
    ]
    assert te[0] <= te[2] and te[1] <= te[3]  # older never higher
    assert te[1] <= te[0] and te[3] <= te[2]  # more km never higher


def test_comparables_of_one_year_never_price_a_newer_car_lower() -> None:
    """Listings of 2014 that sold dear and of 2015 that sold cheap: the encoder's estimate
    still rises from 2014 to 2015, because each year's comparables move it by at most half a
    year's depreciation. An encoder saved before that bound prices as it did."""
    from carprice.catalogue import frame_level_keys
    from carprice.target_encoding import ENCODED, HierarchicalTargetEncoder

    rows = [
        ("Maruti Swift VDI", year, 50_000 + i, 500_000.0 * 0.9 ** (2020 - year))
        for year in range(2008, 2021)
        for i in range(3)
    ]
    rows += [("Maruti Swift VDI", 2014, 60_000 + i, 900_000.0) for i in range(8)]
    rows += [("Maruti Swift VDI", 2015, 60_000 + i, 200_000.0) for i in range(8)]
    train = _listings(rows)
    encoder = HierarchicalTargetEncoder.fit(train, frame_level_keys(train), 2021)
    quotes = _listings([("Maruti Swift VDI", year, 55_000, 1.0) for year in range(2005, 2022)])
    keys = frame_level_keys(quotes)
    te = pd.DataFrame(encoder.transform(quotes, keys), columns=ENCODED)["te_price"]
    assert te.is_monotonic_increasing
    unbounded = HierarchicalTargetEncoder.from_dict({**encoder.to_dict(), "bounded": False})
    old = pd.DataFrame(unbounded.transform(quotes, keys), columns=ENCODED)["te_price"]
    assert not old.is_monotonic_increasing  # the 2014 → 2015 step falls without the bound
    data = {k: v for k, v in encoder.to_dict().items() if k != "bounded"}
    assert not HierarchicalTargetEncoder.from_dict(data).bounded


def test_the_variant_year_level_prices_a_car_from_its_comparables() -> None:
    """Cars of the same variant and year move the finest level; another year of the variant
    falls back to the variant's value and counts no comparables."""
    from carprice.catalogue import frame_level_keys
    from carprice.target_encoding import ENCODED, HierarchicalTargetEncoder

    rows = [("Maruti Swift VDI", 2015, 40_000 + i, 500_000.0) for i in range(6)]
    rows += [("Maruti Swift VDI", 2012, 90_000 + i, 250_000.0) for i in range(6)]
    train = _listings(rows)
    encoder = HierarchicalTargetEncoder.fit(train, frame_level_keys(train), 2021)
    quotes = _listings([("Maruti Swift VDI", 2015, 1, 1.0), ("Maruti Swift VDI", 2018, 1, 1.0)])
    out = pd.DataFrame(encoder.transform(quotes, frame_level_keys(quotes)), columns=ENCODED)
    assert out.loc[0, "n_variant_year"] == 6 and out.loc[1, "n_variant_year"] == 0
    assert out.loc[0, "te_variant_year"] != out.loc[0, "te_variant"]
    assert out.loc[1, "te_variant_year"] == out.loc[1, "te_variant"]
    # An encoder saved before the level existed reads as one that never saw any comparables.
    data = encoder.to_dict()
    data["values"].pop("variant_year")
    data["counts"].pop("variant_year")
    old = HierarchicalTargetEncoder.from_dict(data).transform(quotes, frame_level_keys(quotes))
    old = pd.DataFrame(old, columns=ENCODED)
    assert (old["n_variant_year"] == 0).all()
    assert old["te_variant_year"].equals(old["te_variant"])


def test_one_far_off_listing_pulls_its_comparables_by_at_most_the_clip() -> None:
    """A 2015 car listed at ten times its year's others: in the variant-year value it counts
    as a car TWIN_CLIP above the variant's value, not ten times dearer; the variant level
    itself still takes it in full."""
    from carprice.catalogue import frame_level_keys
    from carprice.target_encoding import (
        ADJUSTED,
        SMOOTHING,
        TWIN_CLIP,
        HierarchicalTargetEncoder,
        _adjusters,
    )

    rows = [("Maruti Swift VDI", 2015, 50_000, 500_000.0 + 5_000 * i) for i in range(6)]
    rows += [("Maruti Swift VDI", 2012, 50_000, 250_000.0 + 5_000 * i) for i in range(6)]
    rows += [("Maruti Swift VDI", 2015, 50_000, 5_000_000.0)]
    train = _listings(rows)
    encoder = HierarchicalTargetEncoder.fit(train, frame_level_keys(train), 2021)
    slopes = np.array([encoder.slope, *(encoder.adjust[n] for n in ADJUSTED[1:])])
    target = np.log(train["selling_price"].to_numpy()) - _adjusters(train, 2021) @ slopes
    variant = encoder.values["variant"]["maruti swift vdi"]
    year = (train["year"] == 2015).to_numpy()
    pulls = target[year] - variant
    assert pulls.max() > 1.0 and np.sort(pulls)[-2] < TWIN_CLIP  # only the far-off car clips
    value = encoder.values["variant_year"]["maruti swift vdi|2015"]
    assert value == pytest.approx(
        variant + np.clip(pulls, -TWIN_CLIP, TWIN_CLIP).sum() / (year.sum() + SMOOTHING)
    )
    assert value < variant + pulls.sum() / (year.sum() + SMOOTHING) - 0.05  # unclipped
    line = encoder.values["model_line"]["maruti swift vdi"]  # the variant's parent
    assert variant == pytest.approx((target.sum() + SMOOTHING * line) / (len(target) + SMOOTHING))


def test_reposts_never_encode_each_other_but_comparables_do() -> None:
    """Out of fold, a car's repost (same name, year and km) is always in the car's own inner
    fold, so it never counts as a comparable; another car of the variant and year does."""
    from carprice.listings import listing_groups
    from carprice.target_encoding import ENCODED, oof_encode

    filler = [("Hyundai i20 Asta", 2016, 30_000 + i, 600_000.0) for i in range(40)]
    reposted = [("Maruti Swift VDI", 2015, 45_000, 500_000.0)] * 2
    compared = [
        ("Maruti Swift ZXI", 2015, 45_000, 520_000.0),
        ("Maruti Swift ZXI", 2015, 61_000, 480_000.0),
    ]
    frame = _listings(filler + reposted + compared)
    out = oof_encode(frame, 2021, listing_groups(frame), seed=0)
    n = out[:, ENCODED.index("n_variant_year")]
    assert n[40] == n[41] == 0  # the repost pair: no comparables
    assert n[42] > 0 and n[43] > 0  # two different cars: each the other's comparable


def test_an_unseen_variant_is_priced_from_its_nearest_known_trim() -> None:
    """'Swift Dzire VDI Optional' was never listed, but 'Swift Dzire VDI …' variants were: the
    trim-line level gives it their value, not the whole Swift Dzire line's."""
    from carprice.catalogue import frame_level_keys
    from carprice.target_encoding import ENCODED, HierarchicalTargetEncoder, encoder_keys

    rows = [("Maruti Swift Dzire VDI AMT", 2015, 40_000 + i, 700_000.0) for i in range(8)]
    rows += [("Maruti Swift Dzire LXI Std", 2015, 60_000 + i, 350_000.0) for i in range(8)]
    train = _listings(rows)
    encoder = HierarchicalTargetEncoder.fit(train, frame_level_keys(train), 2021)
    quotes = _listings(
        [("Maruti Swift Dzire VDI Optional", 2015, 1, 1.0), ("Maruti Swift Dzire", 2015, 1, 1.0)]
    )
    keys = encoder_keys(quotes, frame_level_keys(quotes))
    assert keys["trim_line"].iloc[0] == "maruti swift dzire vdi"
    assert pd.isna(keys["trim_line"].iloc[1])  # no word after the model line
    out = pd.DataFrame(encoder.transform(quotes, frame_level_keys(quotes)), columns=ENCODED)
    assert out.loc[0, "te_trim_line"] > out.loc[0, "te_model_line"]  # the VDI half, not the mean
    assert out.loc[0, "te_variant"] == out.loc[0, "te_trim_line"]  # unseen: nothing finer
    assert out.loc[0, "n_variant"] == 0
