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
import xgboost as xgb

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


FEATURE_TYPES: tuple[str, ...] = tuple(
    "c" if col in CATEGORICAL_COLUMNS else "q" for col in MODEL_FEATURES
)


class UnknownCategory(ValueError):
    """A category the model can't price; carries the allowed values for the caller's message."""

    def __init__(self, column: str, value: object, allowed: list[str]) -> None:
        what = "is missing" if value is None else f"{value!r} is unknown"
        super().__init__(f"{column} {what}; allowed: {', '.join(allowed)}")
        self.column = column
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True)
class Encoded:
    """Model input for a frame: every row's features, and why some rows can't be priced."""

    matrix: np.ndarray
    refusals: dict[int, list[UnknownCategory]] = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        """Rows the model can price."""
        ok = np.ones(len(self.matrix), dtype=bool)
        ok[list(self.refusals)] = False
        return ok

    def reasons(self) -> np.ndarray:
        """Per row: '' or the refusals joined, as the API and batch outputs show them."""
        out = np.full(len(self.matrix), "", dtype=object)
        for row, errors in self.refusals.items():
            out[row] = "; ".join(str(e) for e in errors)
        return out


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

    @cached_property
    def codes(self) -> dict[str, dict[str, float]]:
        """Category key → the code XGBoost was trained with (its position in the vocabulary)."""
        return {
            col: {key: float(i) for i, key in enumerate(keys)} for col, keys in self.vocab.items()
        }

    def encode(self, frame: pd.DataFrame) -> Encoded:
        """The one way a cleaned frame becomes model input, for training, evaluation, batches
        and single quotes alike: a float32 matrix in MODEL_FEATURES order with categories as
        their codes, and the rows refused because a checked category is unknown.

        A new model family or variant is scored as missing (the brand still prices the car); a
        brand, fuel, seller type or transmission the model never saw is refused, naming the
        allowed values, because the trees would silently score it as missing.
        """
        out = np.empty((len(frame), len(MODEL_FEATURES)), dtype=np.float32)
        refusals: dict[int, list[UnknownCategory]] = {}
        for i, col in enumerate(CATEGORICAL_COLUMNS):
            codes = self.codes[col]
            values = frame[col].to_numpy(dtype=object)
            coded = map_distinct(values, lambda v, c=codes, col=col: c.get(_key(col, v)))
            known = pd.notna(coded)
            out[:, i] = np.where(known, coded, np.nan).astype(np.float32)
            if col in CHECKED_CATEGORIES:
                for row in np.flatnonzero(pd.notna(values) & ~known):
                    error = UnknownCategory(col, values[row], self.display_values(col))
                    refusals.setdefault(int(row), []).append(error)
        for i, col in enumerate(NUMERIC_COLUMNS, start=len(CATEGORICAL_COLUMNS)):
            out[:, i] = pd.to_numeric(frame[col], errors="coerce").to_numpy(float, na_value=np.nan)
        return Encoded(out, refusals)

    def dmatrix(self, matrix: np.ndarray, label: np.ndarray | None = None) -> xgb.DMatrix:
        """An encoded matrix as XGBoost's DMatrix, categories marked, for training and SHAP."""
        return xgb.DMatrix(
            matrix,
            label=label,
            feature_names=list(MODEL_FEATURES),
            feature_types=list(FEATURE_TYPES),
            enable_categorical=True,
        )

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
