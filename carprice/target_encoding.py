"""Hierarchical, smoothed target encoding of a car's name: what the model knows of its make.

A variant seen twice says little on its own, and one never seen says nothing; its model line,
model and brand say a lot. Each level (brand → model → model line → variant, keyed by
`catalogue.level_keys`, then the variant at the row's model year) gets the mean of an
adjusted log price, shrunk toward its parent:

    value[level][key] = (Σ t + m · value[parent]) / (n + m)

so an unseen variant *is* its model line, and a rare one sits close to it. The target
``t = log(price) − Σ slope · x`` brings every listing to the same age, km, owner count and
seller kind first (`ADJUSTED`), with slopes fitted within variants, so a variant's value
doesn't depend on how old, driven or re-sold its listings happen to be.

The last level is what an appraiser looks up first: other cars of the same variant and year.
Within such a group log prices spread by 0.13, against about 0.19 for the model's own error, so
where the comparables exist they are the best evidence there is; one far-off listing among them
pulls by at most `TWIN_CLIP`.

Training rows are encoded out of fold (`oof_encode`): K inner folds grouped so that reposts of
one car (`listings.listing_groups`) never encode each other, while other cars of the same
variant and year do, as they will for a quote. Every other row (validation, test, serving)
uses the encoder fitted on all training rows. Grouped CV on the real file chose this design:
MAPE −0.4 to −0.5 points against raw name categories; the variant-year and trim-line levels
−₹2.9k MAE in CV grouped by name, year and km, +₹1.5k where no car of the variant and year
is ever known (folds grouped by name and year); adjusting for km, owners and seller besides
age −0.11 MAPE points (see the README).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from carprice.catalogue import LEVELS, frame_level_keys
from carprice.clean import map_distinct
from carprice.schema import TARGET

SMOOTHING = 10.0  # pseudo-count toward the parent level (3 and 30 were no better)
INNER_FOLDS = 5
# The inner partition is random, and one draw moves test MAE by ±₹2k on the real file; the
# mean over a few draws is steadier.
OOF_REPEATS = 3
# Two levels only the encoder keeps (the catalogue fills specs from the four above):
# the model line plus the variant's next word ('maruti swift dzire vdi' for 'maruti swift dzire
# vdi optional'), what an unseen variant shares with its nearest known one; and the variant at
# one model year, the closest comparables a listing has.
TRIM = "trim_line"
TWIN = "variant_year"
ENCODER_LEVELS: tuple[str, ...] = (*LEVELS[:3], TRIM, LEVELS[3], TWIN)
COUNTED: tuple[str, ...] = ("model_line", "variant", TWIN)
# What moves one listing's price against another's of the same variant; the encoder's target
# takes it out. Grouped CV on the real file (5 folds × 4), against age alone: MAPE −0.11 points
# [−0.18, −0.04], median APE −0.09, MAE −₹0.33k (README, "Model v2").
ADJUSTED: tuple[str, ...] = ("age", "log_km", "owner_rank", "dealer")
# A newer car is never cheaper: `te_price` rises with year as long as the comparables of one
# year move it from the variant's value by at most half a year's depreciation either way (two
# neighbouring years then differ by at most one year's worth, which the age slope covers).
# Unbounded, and with the variant-year value and count as features of their own, 41 of 300
# real cars priced lower one year newer somewhere (worst step −11%). Bounded, with those two
# left out of MODEL_FEATURES: none, at no cost in accuracy (grouped CV 5 × 4, paired: MAPE
# −0.04 points, median APE −0.09, MAE +₹0.17k, all within noise).
YEAR_BOUND = 0.5
# One listing pulls its year's comparables by at most this much, in adjusted log price from
# the variant's value (about 1.5 times or two thirds of it): a mispriced or damaged car then
# moves the others of its year little. Grouped CV on the real file (5 folds × 4, paired, on
# three sets of folds): median APE −0.06, −0.06 and −0.04 points; MAPE, MAE and unseen-variant
# MAPE within noise. Clipping at 0.25 or 0.15 (which also clips ordinary cars) was worse, and
# clipping the variant level too cost the dear cars, whose variants genuinely sit far from
# their parents (README, "Model v2").
TWIN_CLIP = 0.4
# Encoder outputs the booster never sees: they move with the year without a monotone
# constraint. Kept in ENCODED so that models trained with them still price.
YEAR_DEPENDENT: tuple[str, ...] = ("te_variant_year", "n_variant_year")
ENCODED: tuple[str, ...] = (
    *(f"te_{level}" for level in ENCODER_LEVELS),
    *(f"n_{level}" for level in COUNTED),
    "te_price",
)


def _trim_line(line: object, variant: str) -> str | None:
    """The model line plus the variant's next word, when the variant has more words after it
    (a shorter variant is its own trim line, and the level adds nothing)."""
    if not isinstance(line, str):
        return None
    words = variant.split()
    end = len(line.split()) + 1
    return " ".join(words[:end]) if len(words) > end else None


def encoder_keys(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """`keys` (`catalogue.frame_level_keys`) plus the trim-line and variant-year keys
    ('maruti swift dzire vdi|2015'); None where the row has no variant. Built once per distinct
    variant and year, so a 100,000-row upload costs a few thousand string operations. Keys
    that already carry them are returned as they are (`oof_encode` builds them once for its 15
    inner fits)."""
    if TWIN in keys and TRIM in keys:
        return keys
    codes, variants = pd.factorize(keys["variant"])
    trim = np.full(len(keys), None, dtype=object)
    twin = np.full(len(keys), None, dtype=object)
    known = codes >= 0
    if known.any():
        # each variant's first row (variant codes number rows' first appearances, in order)
        first = np.flatnonzero(known)[np.unique(codes[known], return_index=True)[1]]
        lines = keys["model_line"].to_numpy(object)[first]
        trims = [_trim_line(line, v) for line, v in zip(lines, variants, strict=True)]
        trim[known] = np.array(trims, dtype=object)[codes[known]]
        years = pd.to_numeric(frame["year"], errors="coerce").to_numpy(float)
        year_codes, distinct_years = pd.factorize(np.round(years[known]))
        pairs, _ = pd.factorize(codes[known] * (len(distinct_years) + 1) + year_codes)
        first_row = np.unique(pairs, return_index=True)[1]
        texts = [
            f"{variants[c]}|{int(y)}" if y == y else None
            for c, y in zip(codes[known][first_row], np.round(years[known])[first_row], strict=True)
        ]
        twin[known] = np.array(texts, dtype=object)[pairs]
    return keys.assign(**{TRIM: trim, TWIN: twin})


def _adjusters(frame: pd.DataFrame, reference_year: int) -> np.ndarray:
    """Rows × ADJUSTED. Year, km, owner rank and seller type are required of every priced row,
    and the seller type arrives in its canonical spelling (`clean`). A row of an upload with an
    impossible km (below 0) gets NaN, quietly: that row is refused with its reason anyway."""
    with np.errstate(invalid="ignore"):
        log_km = np.log1p(frame["km_driven"].to_numpy(float))
    return np.column_stack(
        [
            reference_year - frame["year"].to_numpy(float),
            log_km,
            frame["owner_rank"].to_numpy(float),
            frame["seller_type"].to_numpy(object) != "Individual",
        ]
    ).astype(float)


def _slopes(log_price: np.ndarray, x: np.ndarray, variant: np.ndarray) -> np.ndarray:
    """Log-price change per unit of each adjuster, estimated within variants (fixed effects):
    comparing listings of one car, not cheap makes with dear ones. An adjuster that never
    varies within a variant gets slope 0 (least squares' minimum-norm answer); pooled across
    variants only when nothing varies within any (every variant listed once)."""
    data = pd.DataFrame(x).assign(y=log_price)
    within = data - data.groupby(pd.Series(variant).to_numpy(), dropna=False).transform("mean")
    dx, dy = within.drop(columns="y").to_numpy(float), within["y"].to_numpy(float)
    if not np.any(dx):
        dx, dy = x - x.mean(axis=0), log_price - log_price.mean()
    return np.linalg.lstsq(dx, dy, rcond=None)[0]


@dataclass
class HierarchicalTargetEncoder:
    """Per-level smoothed values of the adjusted log price; plain JSON-ready data.

    `slope` is the age slope; `adjust` holds the other adjusters' slopes, and is empty in an
    encoder saved when age was the only one, which then prices as it did; likewise `bounded`
    (the comparables' bound, `YEAR_BOUND`) is False in one saved before the bound."""

    reference_year: int = 2021
    prior: float = 0.0
    slope: float = 0.0
    adjust: dict[str, float] = field(default_factory=dict)
    bounded: bool = False  # comparables bounded by YEAR_BOUND; False in encoders saved before
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, keys: pd.DataFrame, reference_year: int
    ) -> HierarchicalTargetEncoder:
        """From training rows (`year`, `selling_price`) and their `frame_level_keys`."""
        log_price = np.log(frame[TARGET].to_numpy(float))
        x = _adjusters(frame, reference_year)
        slopes = _slopes(log_price, x, keys["variant"].to_numpy(object))
        # `te_price` carries a rising monotone constraint, as year does and km does falling:
        # an age or km slope above 0 (a quirk of a small sample) would let an older or
        # further-driven car price higher through it. On the real file they are −0.084 a year
        # and −0.058 per log km.
        slopes[:2] = np.minimum(slopes[:2], 0.0)
        target = pd.Series(log_price - x @ slopes, index=frame.index)
        keys = encoder_keys(frame, keys)
        prior = float(target.mean())
        values: dict[str, dict[str, float]] = {}
        counts: dict[str, dict[str, int]] = {}
        parent = pd.Series(prior, index=frame.index)  # each row's parent-level value
        for level in ENCODER_LEVELS:
            key = keys[level]
            known = key.notna()
            pulled = target[known]
            if level == TWIN:
                near = parent[known]  # the variant's value
                pulled = near + (pulled - near).clip(-TWIN_CLIP, TWIN_CLIP)
            stats = pulled.groupby(key[known]).agg(["sum", "count"])
            parents = parent[known].groupby(key[known]).first()
            smoothed = (stats["sum"] + SMOOTHING * parents) / (stats["count"] + SMOOTHING)
            values[level] = {str(k): float(v) for k, v in smoothed.items()}
            counts[level] = {str(k): int(v) for k, v in stats["count"].items()}
            parent = key.map(smoothed).where(known, parent).astype(float)
        adjust = {name: float(v) for name, v in zip(ADJUSTED[1:], slopes[1:], strict=True)}
        return cls(reference_year, prior, float(slopes[0]), adjust, True, values, counts)

    def transform(self, frame: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
        """Rows × ENCODED: each level's value (an unseen or missing key takes its parent's),
        the training counts of the model line, the variant and the variant-year, and the
        encoder's own estimate of the log price at the row's age, km, owners and seller
        (`te_price`). An encoder saved before the variant-year level existed reads as one that
        never saw any."""
        out = np.empty((len(frame), len(ENCODED)))
        current = np.full(len(frame), self.prior)
        keys = encoder_keys(frame, keys)
        for i, level in enumerate(ENCODER_LEVELS):
            mapped = _lookup(keys[level], self.values.get(level, {}))
            if level == TWIN and self.bounded:
                bound = YEAR_BOUND * abs(self.slope)
                mapped = current + np.clip(mapped - current, -bound, bound)
            current = np.where(np.isnan(mapped), current, mapped)
            out[:, i] = current
        for i, level in enumerate(COUNTED, start=len(ENCODER_LEVELS)):
            out[:, i] = np.nan_to_num(_lookup(keys[level], self.counts.get(level, {})))
        slopes = np.array([self.slope, *(self.adjust.get(n, 0.0) for n in ADJUSTED[1:])])
        out[:, -1] = current + _adjusters(frame, self.reference_year) @ slopes
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> HierarchicalTargetEncoder:
        return cls(**data)


def _lookup(keys: pd.Series, table: dict[str, float]) -> np.ndarray:
    """Each key's value (NaN when absent), one dict look-up per distinct key."""
    values = map_distinct(keys.to_numpy(dtype=object), table.get)
    values[pd.isna(values)] = np.nan  # absent (None) → NaN, then one C-level conversion
    return values.astype(float)


def oof_encode(frame: pd.DataFrame, encoder_year: int, groups: np.ndarray, seed: int) -> np.ndarray:
    """Training rows × ENCODED, each row encoded by an encoder fitted on the other inner folds
    (grouped; the mean over OOF_REPEATS partitions), so a row never sees its own price. Counts
    are scaled to the full-data scale that scoring sees."""
    keys = encoder_keys(frame, frame_level_keys(frame))
    out = np.zeros((len(frame), len(ENCODED)))
    for repeat in range(OOF_REPEATS):
        splitter = GroupKFold(INNER_FOLDS, shuffle=True, random_state=seed + repeat)
        for fit_idx, hold_idx in splitter.split(frame, groups=groups):
            part = HierarchicalTargetEncoder.fit(
                frame.iloc[fit_idx], keys.iloc[fit_idx], encoder_year
            )
            out[hold_idx] += part.transform(frame.iloc[hold_idx], keys.iloc[hold_idx])
    out /= OOF_REPEATS
    counts = [ENCODED.index(f"n_{level}") for level in COUNTED]
    out[:, counts] *= INNER_FOLDS / (INNER_FOLDS - 1)
    return out
