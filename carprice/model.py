"""The trained pricing model as one object: booster + feature pipeline + what serving needs.

Pure Python and files, no MLflow: `registry` wraps it as a pyfunc, the API uses it directly
for contributions and comparables, and tests build it in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    """Input rows made ready for the booster; rows with an error are left out of `features`."""

    frame: pd.DataFrame
    features: pd.DataFrame
    errors: pd.Series
    out_of_range: pd.Series


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
        ok = errors == ""
        features = self.pipeline.transform(frame[ok])
        return Prepared(frame, features, errors, self.pipeline.out_of_range(frame))

    def log_price(self, features: pd.DataFrame) -> np.ndarray:
        if features.empty:
            return np.empty(0)
        dmatrix = xgb.DMatrix(features, enable_categorical=True)
        return self.booster.predict(dmatrix)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """One output row per input row, in order; bad rows get NaN prices and a reason."""
        prepared = self.prepare(rows)
        out = pd.DataFrame(index=prepared.frame.index, columns=list(PREDICTION_COLUMNS))
        out["error"] = prepared.errors.replace("", None)
        price = np.exp(self.log_price(prepared.features))
        low, high = self.calibration.bounds(price)
        ok = prepared.errors == ""
        for col, values in (("predicted_price", price), ("price_low", low), ("price_high", high)):
            out[col] = np.nan
            out.loc[ok, col] = np.round(values, -2)
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
