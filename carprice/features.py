"""The single feature pipeline: fitted on training rows, saved with the model, applied at serving.

It owns the vocabularies (which brands, fuels, … the model knows), the feature ranges the API
warns against, the hierarchical target encoding of the car's name, and the conversion of the
internal frame into the booster's input. The pipeline saves the list of features its booster
was trained on, and `encode` builds exactly those, so a model trained before a feature change
still prices correctly.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import xgboost as xgb

from carprice.catalogue import frame_level_keys
from carprice.clean import map_distinct
from carprice.schema import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS
from carprice.target_encoding import (
    ENCODED,
    YEAR_DEPENDENT,
    HierarchicalTargetEncoder,
    oof_encode,
)

# Variants seen once can't be learnt from; they'd only let the trees memorise one listing.
MIN_VARIANT_COUNT = 2
# Older is cheaper, more km is cheaper: enforced in the trees, not merely hoped for. The
# encoder's own price estimate rises with its level value and with the year, like a price.
MONOTONE: dict[str, int] = {"year": 1, "km_driven": -1, "te_price": 1}
NAME_KEYS: tuple[str, ...] = ("brand", "model", "variant")
# A value outside these vocabularies would be scored as "missing": refused, never guessed.
# Model family and variant may be new: the name's hierarchy prices them.
CHECKED_CATEGORIES: tuple[str, ...] = ("brand", "fuel", "seller_type", "transmission")
# Ratios trees can't form by themselves (per 1,000 cc).
DERIVED: tuple[str, ...] = ("power_per_cc", "torque_per_cc")
# Trim words of a variant's name: gearbox, trim level, drive, emissions.
TRIM_TOKENS: tuple[str, ...] = (
    *("at", "amt", "cvt", "dct", "dsg", "automatic"),
    *("std", "lxi", "ldi", "lx", "era", "e", "base"),
    *("vxi", "vdi", "vx", "magna", "sportz", "s", "ex", "gls", "trend", "comfortline", "g"),
    *("zxi", "zdi", "zx", "asta", "sx", "titanium", "highline", "alpha", "v", "xz"),
    *("plus", "option", "top", "dual", "4x4", "4wd", "awd", "bsiii", "bsiv"),
)
TOKEN_FEATURES: tuple[str, ...] = tuple(f"tok_{t}" for t in TRIM_TOKENS)
SMALL_MATRIX_ROWS = 1000
_TOKEN_RE = re.compile(r"[a-z0-9.+-]+")
# Model v1 (before the name hierarchy): native categories for model family and variant.
V1_FEATURES: tuple[str, ...] = (*CATEGORICAL_COLUMNS, *NUMERIC_COLUMNS)
# Model v2: the name enters through its target encoding, not as raw high-cardinality codes.
MODEL_FEATURES: tuple[str, ...] = (
    *CHECKED_CATEGORIES,
    *NUMERIC_COLUMNS,
    *DERIVED,
    *(col for col in ENCODED if col not in YEAR_DEPENDENT),
    *TOKEN_FEATURES,
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
    features: list[str] = field(default_factory=lambda: list(V1_FEATURES))  # pre-v2 default
    encoder: dict | None = None  # HierarchicalTargetEncoder data (v2)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> FeaturePipeline:
        """Learn vocabularies, ranges and the name encoding from the training split only."""
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
        encoder = HierarchicalTargetEncoder.fit(
            frame, frame_level_keys(frame), reference_year=int(frame["year"].max()) + 1
        )
        return cls(vocab, display, ranges, medians, list(MODEL_FEATURES), encoder.to_dict())

    @cached_property
    def codes(self) -> dict[str, dict[str, float]]:
        """Category key → the code XGBoost was trained with (its position in the vocabulary)."""
        return {
            col: {key: float(i) for i, key in enumerate(keys)} for col, keys in self.vocab.items()
        }

    @cached_property
    def feature_types(self) -> list[str]:
        return ["c" if col in CATEGORICAL_COLUMNS else "q" for col in self.features]

    @cached_property
    def _encoder(self) -> HierarchicalTargetEncoder | None:
        return HierarchicalTargetEncoder.from_dict(self.encoder) if self.encoder else None

    def encode(
        self, frame: pd.DataFrame, oof_groups: np.ndarray | None = None, seed: int = 0
    ) -> Encoded:
        """The one way a cleaned frame becomes model input, for training, evaluation, batches
        and single quotes alike: a float32 matrix of `features` (categories as their codes),
        and the rows refused because a checked category is unknown.

        A new model family or variant is priced from its name's hierarchy; a brand, fuel,
        seller type or transmission the model never saw is refused, naming the allowed values,
        because the trees would silently score it as missing. `oof_groups` is for training
        rows only: their name encoding comes out of fold, grouped by these labels.
        """
        columns: dict[str, np.ndarray] = {}
        refusals: dict[int, list[UnknownCategory]] = {}
        wanted = set(self.features)
        for col in CATEGORICAL_COLUMNS:
            if col not in wanted and col not in CHECKED_CATEGORIES:
                continue
            codes = self.codes[col]
            values = frame[col].to_numpy(dtype=object)
            coded = map_distinct(values, lambda v, c=codes, col=col: c.get(_key(col, v)))
            known = pd.notna(coded)
            columns[col] = np.where(known, coded, np.nan).astype(float)
            if col in CHECKED_CATEGORIES:
                for row in np.flatnonzero(pd.notna(values) & ~known):
                    error = UnknownCategory(col, values[row], self.display_values(col))
                    refusals.setdefault(int(row), []).append(error)
        for col in NUMERIC_COLUMNS:
            columns[col] = pd.to_numeric(frame[col], errors="coerce").to_numpy(
                float, na_value=np.nan
            )
        if wanted & set(DERIVED):
            with np.errstate(divide="ignore", invalid="ignore"):
                cc = columns["engine_cc"] / 1000
                columns["power_per_cc"] = columns["max_power_bhp"] / cc
                columns["torque_per_cc"] = columns["torque_nm"] / cc
        if wanted & set(ENCODED):
            encoded = self._name_encoding(frame, oof_groups, seed)
            columns.update({col: encoded[:, i] for i, col in enumerate(ENCODED)})
        if wanted & set(TOKEN_FEATURES):
            codes, variants = pd.factorize(frame["variant"])  # -1 (no name) → the zero row
            table = np.vstack([*(_trim_flags(v) for v in variants), _trim_flags(None)])
            columns.update({col: table[codes, i] for i, col in enumerate(TOKEN_FEATURES)})
        out = np.empty((len(frame), len(self.features)), dtype=np.float32)
        for i, col in enumerate(self.features):
            out[:, i] = columns[col]
        return Encoded(out, refusals)

    def _name_encoding(
        self, frame: pd.DataFrame, oof_groups: np.ndarray | None, seed: int
    ) -> np.ndarray:
        encoder = self._encoder
        if encoder is None:
            raise ValueError("this pipeline was fitted without a name encoding")
        if oof_groups is not None:
            return oof_encode(frame, encoder.reference_year, oof_groups, seed)
        return encoder.transform(frame, frame_level_keys(frame))

    def dmatrix(
        self,
        matrix: np.ndarray,
        label: np.ndarray | None = None,
        base_margin: np.ndarray | None = None,
    ) -> xgb.DMatrix:
        """An encoded matrix as XGBoost's DMatrix, categories marked, for training and SHAP;
        with `base_margin`, boosting starts from it (`carprice.anchor`), not the base score.

        A few rows (a single quote) are built on one thread: waking OpenMP's pool costs more
        than the work, and on a loaded machine it cost 10+ ms.
        """
        return xgb.DMatrix(
            matrix,
            label=label,
            base_margin=base_margin,
            feature_names=list(self.features),
            feature_types=self.feature_types,
            enable_categorical=True,
            nthread=1 if len(matrix) < SMALL_MATRIX_ROWS else -1,
        )

    def unseen_variant(self, matrix: np.ndarray) -> np.ndarray:
        """Rows whose variant had no training listing (a pre-v2 pipeline doesn't tell)."""
        if "n_variant" not in self.features:
            return np.zeros(len(matrix), dtype=bool)
        return matrix[:, self.features.index("n_variant")] == 0

    def monotone(self) -> str:
        """XGBoost's monotone_constraints for `features`."""
        return "(" + ",".join(str(c) for c in self.monotone_list()) + ")"

    def monotone_list(self) -> list[int]:
        """Per feature: +1 rises with the price, -1 falls, 0 free."""
        return [MONOTONE.get(c, 0) for c in self.features]

    def categorical_indices(self) -> list[int]:
        """Positions of the features given as category codes."""
        return [i for i, kind in enumerate(self.feature_types) if kind == "c"]

    def category_counts(self) -> dict[int, int]:
        """Per categorical feature's position: how many codes it has (0 … n-1)."""
        return {i: len(self.vocab[self.features[i]]) for i in self.categorical_indices()}

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


def _trim_flags(variant: object) -> np.ndarray:
    """0/1 per TRIM_TOKENS word in a variant's name ('(o)' and 'optional' mean 'option')."""
    if not isinstance(variant, str):
        return np.zeros(len(TRIM_TOKENS))
    text = variant.lower().replace("(o)", " option ").replace("optional", "option")
    words = set(_TOKEN_RE.findall(text))
    return np.array([t in words for t in TRIM_TOKENS], dtype=float)


def _display_brand(frame: pd.DataFrame, brand: str) -> str:
    """The brand as listings spell it ('Mercedes-Benz'), from the most common name prefix."""
    names = frame.loc[_keys(frame, "brand") == brand, "name"].dropna()
    words = len(brand.split())
    if names.empty:
        return brand.title()
    prefixes = names.map(lambda n: " ".join(n.split()[:words]))
    return str(prefixes.value_counts().index[0])
