"""The trained pricing model as one object: booster + feature pipeline + what serving needs.

Pure Python and files, no MLflow: `registry` wraps it as a pyfunc, the API uses it directly
for contributions and comparables, and tests build it in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from carprice.clean import to_frame
from carprice.evaluate import IntervalCalibration
from carprice.features import FeaturePipeline

PREDICTION_COLUMNS: tuple[str, ...] = ("predicted_price", "price_low", "price_high", "error")
# Listing columns kept for "comparable cars"; prices are the real asking prices.
COMPARABLE_COLUMNS: tuple[str, ...] = (
    "name",
    "brand",
    "model",
    "year",
    "km_driven",
    "fuel",
    "transmission",
    "owner_rank",
    "max_power_bhp",
    "selling_price",
)


@dataclass
class Prepared:
    """Input rows made ready for the booster; rows with an error are left out of the inputs."""

    frame: pd.DataFrame
    errors: pd.Series
    pipeline: FeaturePipeline

    @cached_property
    def ok(self) -> pd.Series:
        return self.errors == ""

    @cached_property
    def features(self) -> pd.DataFrame:
        """The priceable rows as a categorical DataFrame (for SHAP and analysis)."""
        return self.pipeline.transform(self.frame[self.ok])

    @cached_property
    def matrix(self) -> np.ndarray:
        """The priceable rows as the booster's float matrix (for fast prediction)."""
        return self.pipeline.encode(self.frame[self.ok])

    @cached_property
    def out_of_range(self) -> pd.Series:
        return self.pipeline.out_of_range(self.frame)


@dataclass
class PricingModel:
    booster: xgb.Booster
    pipeline: FeaturePipeline
    calibration: IntervalCalibration
    importance: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    comparables: pd.DataFrame = field(default_factory=pd.DataFrame)

    def prepare(self, rows: pd.DataFrame) -> Prepared:
        """Either input shape → booster input, with a reason for every row that can't be priced."""
        frame, errors = to_frame(rows)
        unknown = self.pipeline.unknown_values(frame)
        errors = errors.where(
            unknown == "", np.where(errors == "", unknown, errors + "; " + unknown)
        )
        return Prepared(frame, errors, self.pipeline)

    def log_price(self, features: pd.DataFrame) -> np.ndarray:
        if features.empty:
            return np.empty(0)
        dmatrix = xgb.DMatrix(features, enable_categorical=True)
        return self.booster.predict(dmatrix)

    def price(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encoded rows (`FeaturePipeline.encode`) → price, low, high in rupees, rounded to ₹100."""
        if len(matrix) == 0:
            empty = np.empty(0)
            return empty, empty, empty
        return self.price_from_log(self.booster.inplace_predict(matrix))

    def price_from_log(self, log_price: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log prices (booster output, or a SHAP row's sum) → price, low, high, rounded."""
        price = np.exp(np.asarray(log_price, dtype=np.float32)).astype(float)
        low, high = self.calibration.bounds(price)
        return np.round(price, -2), np.round(low, -2), np.round(high, -2)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One output row per input row, in order; bad rows get NaN prices and a reason."""
        prepared = self.prepare(rows)
        out = pd.DataFrame(index=prepared.frame.index, columns=list(PREDICTION_COLUMNS))
        out["error"] = prepared.errors.replace("", None)
        ok = prepared.ok
        for col, values in zip(
            ("predicted_price", "price_low", "price_high"), self.price(prepared.matrix), strict=True
        ):
            out[col] = np.nan
            out.loc[ok, col] = values
        return out.reset_index(drop=True)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(directory / "booster.ubj")
        meta = {
            "pipeline": self.pipeline.to_dict(),
            "calibration": self.calibration.__dict__,
            "importance": self.importance,
            "metrics": self.metrics,
            "summary": self.summary,
            "params": self.params,
        }
        (directory / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        self.comparables.to_parquet(directory / "comparables.parquet", index=False)
        return directory

    @classmethod
    def load(cls, directory: Path | str) -> PricingModel:
        directory = Path(directory)
        booster = xgb.Booster()
        booster.load_model(directory / "booster.ubj")
        meta = json.loads((directory / "meta.json").read_text())
        return cls(
            booster=booster,
            pipeline=FeaturePipeline.from_dict(meta["pipeline"]),
            calibration=IntervalCalibration(**meta["calibration"]),
            importance=meta["importance"],
            metrics=meta["metrics"],
            summary=meta["summary"],
            params=meta["params"],
            comparables=pd.read_parquet(directory / "comparables.parquet"),
        )
