"""The trained pricing model as one object: booster + feature pipeline + what serving needs.

Every price comes from here, whoever asks: training's evaluation, the promotion gate, the
MLflow pyfunc, the API and the batch DAG all call `price_frame` (many rows) or `quote` (one
car, explained). Pure Python and files, no MLflow: `registry` wraps it as a pyfunc.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from carprice.catalogue import Catalogue
from carprice.clean import check_specs, to_frame
from carprice.evaluate import IntervalCalibration
from carprice.explain import ComparablesIndex, SplitExplainer, rupee_shares
from carprice.features import Encoded, FeaturePipeline

PREDICTION_COLUMNS: tuple[str, ...] = (
    "predicted_price",
    "price_low",
    "price_high",
    "filled",
    "error",
)
PRICE_COLUMNS: tuple[str, ...] = PREDICTION_COLUMNS[:3]
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


class UnpriceableCar(ValueError):
    """One car that can't be priced, with the reason (e.g. a value outside its range)."""


@dataclass
class Prepared:
    """Input rows made ready for the booster, with a reason for every row that can't be priced."""

    frame: pd.DataFrame  # the internal frame, one row per input row, specs filled
    encoded: Encoded
    errors: np.ndarray  # '' where the row can be priced
    filled_from: pd.Series  # per row {spec: catalogue level it was filled from}
    impossible: pd.DataFrame  # per row and spec: the given value was ≤ 0, so replaced

    @cached_property
    def ok(self) -> np.ndarray:
        return self.errors == ""


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
    catalogue: Catalogue = field(default_factory=Catalogue)
    report: list[dict[str, Any]] = field(default_factory=list)  # carprice.report rows
    drift_reference: dict[str, Any] = field(default_factory=dict)  # carprice.drift.reference

    # ------------------------------------------------------------------ many rows
    def prepare(self, rows: pd.DataFrame) -> Prepared:
        """Either input shape → booster input, with a reason for every row that can't be priced.

        Missing or placeholder (≤ 0) specs are filled from the catalogue before their ranges
        are checked, so a car given by its name alone is priced like its typical variant.
        """
        frame, errors = to_frame(rows, check_specs=False)
        filled = self.catalogue.fill(frame)
        frame = filled.frame
        errors = _joined(errors.to_numpy(dtype=object), check_specs(frame))
        encoded = self.pipeline.encode(frame)
        errors = _joined(errors, encoded.reasons())
        return Prepared(frame, encoded, errors, filled.filled_from, filled.impossible)

    def price(self, prepared: Prepared) -> pd.DataFrame:
        """PREDICTION_COLUMNS for prepared rows: rupees rounded to ₹100, NaN and a reason for a
        row that can't be priced. One output row per input row, in order."""
        ok = prepared.ok
        prices = np.full((3, len(ok)), np.nan)
        if ok.any():
            matrix = prepared.encoded.matrix[ok]
            log_price = self.booster.inplace_predict(matrix)
            prices[:, ok] = self.price_from_log(log_price, self.pipeline.unseen_variant(matrix))
        columns = dict(zip(PRICE_COLUMNS, prices, strict=True))
        filled = _filled_text(prepared.filled_from.to_numpy(dtype=object))
        return pd.DataFrame(
            columns | {"filled": filled, "error": np.where(ok, None, prepared.errors)}
        )

    def price_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Rows in either shape (text or numbers) → price, interval, the specs filled from the
        catalogue, and the error per row."""
        return self.price(self.prepare(rows.reset_index(drop=True)))

    def price_from_log(
        self, log_price: np.ndarray, unseen: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Booster output → price, low, high in rupees, rounded to ₹100; `unseen` marks rows
        whose variant is new to the model (their interval is wider)."""
        price = np.exp(np.asarray(log_price, dtype=np.float32)).astype(float)
        low, high = self.calibration.bounds(price, unseen)
        return np.round(price, -2), np.round(low, -2), np.round(high, -2)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The pyfunc's name for `price_frame`."""
        return self.price_frame(rows)

    # ------------------------------------------------------------------ one car
    def quote(self, car: Mapping[str, Any], comparables: int = 5) -> dict[str, Any]:
        """One car (either shape, as a mapping) → price, bounds, exact TreeSHAP contributions
        in rupees that add up to the price, comparable listings and range warnings.

        Raises `UnknownCategory` for a brand/fuel/… the model doesn't know, and
        `UnpriceableCar` for any other reason the row can't be priced.
        """
        rows = [dict(car)]
        prepared = self.prepare(pd.DataFrame(rows))
        if not prepared.ok[0]:
            refusals = prepared.encoded.refusals.get(0)
            if refusals:
                raise refusals[0]
            raise UnpriceableCar(str(prepared.errors[0]))
        row = prepared.encoded.matrix[:1]
        # The price itself comes from the same call as a batch row's, so the two agree to the
        # rupee (made while the contributions are computed); the contributions are then shared
        # out so they add up to it exactly.
        contribs, log_price = self._explainer.contributions_and(
            row, lambda: self._single.inplace_predict(row)
        )
        parts, base = contribs[0, :-1], float(contribs[0, -1])
        price, low, high = self.price_from_log(log_price, self.pipeline.unseen_variant(row))
        price_value = float(price[0])
        rupees = rupee_shares(parts, base, price_value)  # add up exactly to the shown price
        frame_row = _plain(prepared.frame.iloc[0].to_dict())
        items = [
            {
                "feature": col,
                # what the car says (names as written); derived inputs as the model saw them
                "value": frame_row[col] if col in frame_row else _number(row[0, i]),
                "log": float(parts[i]),
                "rupees": float(rupees[i]),
            }
            for i, col in enumerate(self.pipeline.features)
        ]
        items.sort(key=lambda item: abs(item["rupees"]), reverse=True)
        return {
            "price": price_value,
            "price_low": float(low[0]),
            "price_high": float(high[0]),
            "interval_level": self.calibration.level,
            "contributions": {
                "base_value_log": base,
                "base_price": float(np.exp(base)),
                "log_price": base + float(parts.sum()),
                "features": items,
            },
            "filled": dict(prepared.filled_from.iloc[0]),
            "comparables": self._comparables.nearest(frame_row, comparables),
            "warnings": self.placeholder_warnings(prepared, 0, rows[0]) + self.warnings(frame_row),
        }

    def warnings(self, frame_row: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Inputs outside what training saw: priced, but less reliable."""
        out = []
        for col, r in self.pipeline.ranges.items():
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

    @staticmethod
    def placeholder_warnings(prepared: Prepared, row: int, given: Mapping[str, Any]) -> list[dict]:
        """A spec given as ≤ 0 is a placeholder, not a fact: it was replaced, and we say so."""
        flags = prepared.impossible.iloc[row]
        out = []
        for col in flags.index[flags.to_numpy(dtype=bool)]:
            level = prepared.filled_from.iloc[row].get(col)
            used = prepared.frame[col].iloc[row]
            source = f"the {level.replace('_', ' ')}'s typical {used:g}" if level else "missing"
            out.append(
                {
                    "feature": col,
                    "value": float(pd.to_numeric(given.get(col), errors="coerce")),
                    "message": f"{col} {given.get(col)} is not a possible value; priced with "
                    f"{source} instead",
                }
            )
        return out

    @cached_property
    def _single(self) -> xgb.Booster:
        """A one-thread copy for single cars: thread start-up costs more than it saves."""
        single = self.booster.copy()
        single.set_param({"nthread": 1})
        return single

    @cached_property
    def _explainer(self) -> SplitExplainer:
        return SplitExplainer(self.booster)

    @cached_property
    def _comparables(self) -> ComparablesIndex:
        return ComparablesIndex(self.comparables)

    # ------------------------------------------------------------------ files
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
            "report": self.report,
            "drift_reference": self.drift_reference,
        }
        (directory / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        self.comparables.to_parquet(directory / "comparables.parquet", index=False)
        (directory / "catalogue.json").write_text(json.dumps(self.catalogue.to_dict()))
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
            report=meta.get("report", []),
            drift_reference=meta.get("drift_reference", {}),
            comparables=pd.read_parquet(directory / "comparables.parquet"),
            catalogue=_load_catalogue(directory / "catalogue.json"),
        )


MODEL_FILES: tuple[str, ...] = ("booster.ubj", "meta.json", "comparables.parquet", "catalogue.json")


def _load_catalogue(path: Path) -> Catalogue:
    """A model saved before the catalogue existed fills nothing (it was trained on full specs)."""
    return Catalogue.from_dict(json.loads(path.read_text())) if path.exists() else Catalogue()


def _joined(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Two per-row reason columns ('' = fine) joined with '; '."""
    both = (first != "") & (second != "")
    return np.where(both, first + "; " + second, np.where(first == "", second, first))


def _filled_text(filled_from: np.ndarray) -> np.ndarray:
    """Per row 'engine_cc from variant, …' ('' when nothing was filled), one string per
    distinct fill pattern (rows filled alike share one dict)."""
    ids = np.fromiter(map(id, filled_from), dtype=np.int64, count=len(filled_from))
    first, codes = np.unique(ids, return_index=True, return_inverse=True)[1:]
    texts = [
        ", ".join(f"{col} from {level}" for col, level in filled_from[i].items()) for i in first
    ]
    return np.array(texts, dtype=object)[codes]


def _number(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 6)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready values: NaN → None, numpy scalars → Python."""
    out = {}
    for key, value in row.items():
        if isinstance(value, float | np.floating) and np.isnan(value):
            out[key] = None
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out
