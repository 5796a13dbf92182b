"""The single feature pipeline: fitted on training rows, saved with the model, applied at serving.

It owns the vocabularies (which brands, models and variants the model knows), the feature
ranges the API warns against, and the conversion of the internal frame into XGBoost's input
with native categorical columns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from carprice.clean import map_distinct
from carprice.schema import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS

# Variants seen once can't be learnt from; they'd only let the trees memorise one listing.
MIN_VARIANT_COUNT = 2
# Older is cheaper, more km is cheaper: enforced in the trees, not merely hoped for.
MONOTONE: dict[str, int] = {"year": 1, "km_driven": -1}
NAME_KEYS: tuple[str, ...] = ("brand", "model", "variant")
MODEL_FEATURES: tuple[str, ...] = (*CATEGORICAL_COLUMNS, *NUMERIC_COLUMNS)
# A value outside these vocabularies would be scored as "missing": refused, never guessed.
# Model family and variant may be new (the brand still prices the car).
CHECKED_CATEGORIES: tuple[str, ...] = ("brand", "fuel", "seller_type", "transmission")


class UnknownCategory(ValueError):
    """A category the model can't price; carries the allowed values for the caller's message."""

    def __init__(self, column: str, value: object, allowed: list[str]) -> None:
        what = "is missing" if value is None else f"{value!r} is unknown"
        super().__init__(f"{column} {what}; allowed: {', '.join(allowed)}")
        self.column = column
        self.value = value
        self.allowed = allowed


@dataclass
class FeaturePipeline:
    """Plain data (JSON-serialisable) so the logged model carries it as an artifact."""

    vocab: dict[str, list[str]] = field(default_factory=dict)
    brand_display: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, dict[str, float]] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> FeaturePipeline:
        """Learn vocabularies and ranges from the training split only."""
        vocab: dict[str, list[str]] = {}
        for col in CATEGORICAL_COLUMNS:
            counts = _keys(frame, col).dropna().value_counts()
            if col == "variant":
                counts = counts[counts >= MIN_VARIANT_COUNT]
            vocab[col] = sorted(counts.index.astype(str))
        display = {brand: _display_brand(frame, brand) for brand in vocab["brand"]}
        ranges = {
            col: {
                "min": float(frame[col].min()),
                "max": float(frame[col].max()),
                "p01": float(frame[col].quantile(0.01)),
                "p99": float(frame[col].quantile(0.99)),
            }
            for col in NUMERIC_COLUMNS
            if frame[col].notna().any()
        }
        medians = {col: float(frame[col].median()) for col in NUMERIC_COLUMNS}
        return cls(vocab=vocab, brand_display=display, ranges=ranges, medians=medians)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Internal frame → model input; unknown categories become missing (checked upstream)."""
        out = pd.DataFrame(index=frame.index)
        for col in CATEGORICAL_COLUMNS:
            values = _keys(frame, col)
            known = values.isin(self.vocab[col])
            out[col] = pd.Categorical(values.where(known), categories=self.vocab[col])
        for col in NUMERIC_COLUMNS:
            out[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float32)
        return out[list(MODEL_FEATURES)]

    def unknown_values(self, frame: pd.DataFrame) -> pd.Series:
        """Per-row reason when brand or fuel-like categories are outside the vocabulary.

        Model family and variant are allowed to be new (the brand still prices the car);
        a brand the model never saw would be scored as missing, so it is an error.
        """
        messages = pd.Series("", index=frame.index, dtype="object")
        for col in CHECKED_CATEGORIES:
            known = set(self.vocab[col])
            values = frame[col]
            keys = values.str.lower() if col == "brand" else values
            bad = values.notna() & ~keys.isin(known)
            if bad.any():
                allowed = self.display_values(col)
                text = (
                    f"{col} "
                    + values[bad].map(repr)
                    + " is unknown; allowed: "
                    + ", ".join(allowed)
                )
                messages[bad] = np.where(messages[bad] == "", text, messages[bad] + "; " + text)
        return messages

    def out_of_range(self, frame: pd.DataFrame) -> pd.Series:
        """Per-row list of numeric fields outside what training saw (a warning, not an error)."""
        columns = [col for col in self.ranges if col in frame]
        outside = np.column_stack(
            [
                (frame[col] < self.ranges[col]["min"]) | (frame[col] > self.ranges[col]["max"])
                for col in columns
            ]
            or [np.zeros(len(frame), dtype=bool)]
        )
        names = np.array(columns or [""], dtype=object)
        flags = [list(names[row]) for row in outside]
        return pd.Series(flags, index=frame.index, dtype="object")

    @cached_property
    def codes(self) -> dict[str, dict[str, float]]:
        """Category key → the code XGBoost was trained with (its position in the vocabulary)."""
        return {
            col: {key: float(i) for i, key in enumerate(keys)} for col, keys in self.vocab.items()
        }

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Internal frame → float32 matrix in MODEL_FEATURES order, categories as their codes.

        The same input as `transform`, for `Booster.inplace_predict` (no DataFrame or DMatrix
        round trip, which dominates the cost of pricing a few rows).
        """
        out = np.empty((len(frame), len(MODEL_FEATURES)), dtype=np.float32)
        for i, col in enumerate(CATEGORICAL_COLUMNS):
            codes = self.codes[col]
            out[:, i] = map_distinct(
                frame[col], lambda v, c=codes, col=col: c.get(_key(col, v), np.nan)
            ).astype(float)  # missing (None) → NaN
        for i, col in enumerate(NUMERIC_COLUMNS, start=len(CATEGORICAL_COLUMNS)):
            out[:, i] = pd.to_numeric(frame[col], errors="coerce").to_numpy(float, na_value=np.nan)
        return out

    def encode_row(self, row: dict) -> np.ndarray:
        """One internal-frame row (a dict) → the booster's row; raises UnknownCategory for a
        brand/fuel/seller/transmission the model can't price."""
        out = np.full(len(MODEL_FEATURES), np.nan, dtype=np.float32)
        for i, col in enumerate(CATEGORICAL_COLUMNS):
            value = row.get(col)
            key = _key(col, value)
            code = self.codes[col].get(key) if key is not None else None
            if code is None and col in CHECKED_CATEGORIES:
                allowed = self.display_values(col)
                raise UnknownCategory(col, value, allowed)
            out[i] = np.nan if code is None else code
        for i, col in enumerate(NUMERIC_COLUMNS, start=len(CATEGORICAL_COLUMNS)):
            value = row.get(col)
            out[i] = np.nan if value is None else value
        return out

    def display_values(self, col: str) -> list[str]:
        if col == "brand":
            return sorted(self.brand_display.values())
        return list(self.vocab[col])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FeaturePipeline:
        return cls(**data)


def _keys(frame: pd.DataFrame, col: str) -> pd.Series:
    """Name-derived columns are matched case-insensitively; the rest are canonical already."""
    values = frame[col].astype("object")
    if col in NAME_KEYS:
        keys = map_distinct(values, lambda v: _key(col, v))
        return pd.Series(keys, index=values.index, dtype=object)
    return values


def _key(col: str, value: object) -> object:
    """One cell's vocabulary key: the rule behind `_keys`, `encode` and `encode_row`."""
    return value.lower() if col in NAME_KEYS and isinstance(value, str) else value


def _display_brand(frame: pd.DataFrame, brand: str) -> str:
    """The brand as listings spell it ('Mercedes-Benz'), from the most common name prefix."""
    names = frame.loc[_keys(frame, "brand") == brand, "name"].dropna()
    words = len(brand.split())
    if names.empty:
        return brand.title()
    prefixes = names.map(lambda n: " ".join(n.split()[:words]))
    return str(prefixes.value_counts().index[0])
