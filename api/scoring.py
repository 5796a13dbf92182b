"""Pricing for the API's response shapes, over one loaded PricingModel.

All encoding lives in the domain package: one car goes `clean.car_row` →
`FeaturePipeline.encode_row` → booster (microseconds, no pandas); a CSV chunk goes through
`PricingModel.predict`, the same path training evaluated. This module adds what only the API
needs: exact TreeSHAP contributions in rupees, comparables, range warnings, and shape of the
JSON answers.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from carprice.clean import car_row
from carprice.explain import ComparablesIndex, rupee_shares
from carprice.features import MODEL_FEATURES, UnknownCategory
from carprice.model import PricingModel
from carprice.schema import CarFeatures

log = logging.getLogger("api.scoring")

# The API's name for the domain's refusal (a 422 listing the allowed values).
UnknownValue = UnknownCategory


@dataclass
class Encoded:
    row: np.ndarray  # float32, MODEL_FEATURES order
    frame_row: dict  # the internal frame's values (for comparables and warnings)


class Scorer:
    """Lookups precomputed once per loaded version; safe to share between threads."""

    def __init__(self, model: PricingModel, comparables_k: int = 5) -> None:
        self.model = model
        self.k = comparables_k
        names = list(model.booster.feature_names or [])
        if names != list(MODEL_FEATURES):
            raise ValueError(f"booster features {names} differ from {list(MODEL_FEATURES)}")
        self.feature_names = names
        self.feature_types = list(model.booster.feature_types or [])
        self.ranges = model.pipeline.ranges
        # One thread for a single row: thread start-up costs more than it saves.
        self.single = model.booster.copy()
        self.single.set_param({"nthread": 1})
        self.bulk = model.booster
        self._comparables = ComparablesIndex(model.comparables)

    def warm_up(self) -> None:
        example = CarFeatures.model_config["json_schema_extra"]["examples"][0]
        car = CarFeatures.model_validate(example)
        with contextlib.suppress(UnknownCategory):
            self.explain(car)

    # ------------------------------------------------------------------ one car
    def encode(self, car: CarFeatures) -> Encoded:
        """Validated CarFeatures → booster row; unknown brand/fuel/… raise UnknownCategory."""
        row = car_row(car)
        return Encoded(self.model.pipeline.encode_row(row), row)

    def warnings(self, frame_row: dict) -> list[dict]:
        out = []
        for col, r in self.ranges.items():
            value = frame_row.get(col)
            if value is not None and (value < r["min"] or value > r["max"]):
                out.append(
                    {
                        "feature": col,
                        "value": value,
                        "train_min": r["min"],
                        "train_max": r["max"],
                        "message": f"{col} {value:g} is outside the training range "
                        f"{r['min']:g}–{r['max']:g}; the estimate is less reliable",
                    }
                )
        return out

    def explain(self, car: CarFeatures) -> dict:
        """Price, bounds, exact TreeSHAP contributions, comparables and range warnings."""
        enc = self.encode(car)
        dmatrix = xgb.DMatrix(
            enc.row[None, :],
            feature_names=self.feature_names,
            feature_types=self.feature_types,
            enable_categorical=True,
            nthread=1,
        )
        contribs = self.single.predict(dmatrix, pred_contribs=True)[0].astype(float)
        parts, base = contribs[:-1], float(contribs[-1])
        price, low, high = self.model.price_from_log(np.array([parts.sum() + base]))
        price_value = float(price[0])
        rupees = rupee_shares(parts, base, price_value)  # add up exactly to the shown price
        items = [
            {
                "feature": col,
                "value": enc.frame_row.get(col),
                "log": float(parts[i]),
                "rupees": float(rupees[i]),
            }
            for i, col in enumerate(self.feature_names)
        ]
        items.sort(key=lambda item: abs(item["rupees"]), reverse=True)
        return {
            "price": price_value,
            "price_low": float(low[0]),
            "price_high": float(high[0]),
            "interval_level": self.model.calibration.level,
            "contributions": {
                "base_value_log": base,
                "base_price": float(np.exp(base)),
                "log_price": base + float(parts.sum()),
                "features": items,
            },
            "comparables": self.comparables(enc.frame_row),
            "warnings": self.warnings(enc.frame_row),
        }

    def comparables(self, frame_row: dict) -> list[dict]:
        return self._comparables.nearest(frame_row, self.k)

    # ------------------------------------------------------------------ many cars
    def price_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encoded rows → (price, low, high), rounded like PricingModel.predict."""
        return self.model.price(rows)

    def score_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """Normalised-header string frame (either shape) → predicted_price, price_low,
        price_high, error ('' when priced), one row per input row in order."""
        try:
            out = self.model.predict(df.reset_index(drop=True))
        except Exception:  # noqa: BLE001 - keep the rows' places, say what happened
            log.exception("PricingModel.predict failed on %d rows", len(df))
            out = pd.DataFrame(
                {
                    c: np.full(len(df), np.nan)
                    for c in ("predicted_price", "price_low", "price_high")
                }
            )
            out["error"] = "could not be priced: internal error (see server log)"
            return out
        out["error"] = out["error"].fillna("").astype(object)
        return out
