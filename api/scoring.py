"""Fast pricing paths over one loaded PricingModel.

`PricingModel.prepare` cleans any input shape with pandas, which costs milliseconds per call
even for one row. Validated CarFeatures (and clean CarFeatures-shaped CSV rows) are encoded
straight into the booster's numeric layout here: categorical columns become their code in the
model's own vocabulary (the order XGBoost was trained with), numbers stay numbers. Rows this
path is not sure about go through `PricingModel.predict`, so reasons for bad rows always come
from the domain package. tests/api/test_scoring.py checks both paths give the same prices.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from carprice.clean import split_name
from carprice.features import MODEL_FEATURES
from carprice.model import PricingModel
from carprice.schema import (
    CATEGORICAL_COLUMNS,
    CATEGORY_CHOICES,
    FEATURE_REQUIRED,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    CarFeatures,
)

log = logging.getLogger("api.scoring")
_BLANKS = {"", "nan", "NaN", "None"}  # what carprice.clean treats as an empty cell
_WHOLE = ("year", "km_driven", "seats", "owner_rank")
_CHOSEN = ("fuel", "seller_type", "transmission")


class UnknownValue(ValueError):
    """A category the model can't price; carries the allowed values for the 422 body."""

    def __init__(self, field: str, value: object, allowed: list[str], reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.value = value
        self.allowed = allowed


@dataclass
class Encoded:
    row: np.ndarray  # float32, MODEL_FEATURES order
    frame_row: dict  # the internal frame's values (for comparables and warnings)


def _blank(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return None if text in _BLANKS else text


def _names(name: str | None, brand: str | None) -> tuple[str | None, str | None]:
    """(model family key, variant key) exactly as carprice.clean derives them."""
    if not name:
        return None, None
    name_brand, model = split_name(name)
    if brand and name_brand and name_brand.lower() != brand.lower():
        model = name.lower().split()[0]
    return model, " ".join(name.lower().split())


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
        vocab = model.pipeline.vocab
        self.codes = {c: {key: float(i) for i, key in enumerate(vocab[c])} for c in vocab}
        self.canonical = {c: {v.lower(): v for v in CATEGORY_CHOICES[c]} for c in _CHOSEN}
        self.allowed = {c: model.pipeline.display_values(c) for c in ("brand", *_CHOSEN)}
        self.ranges = model.pipeline.ranges
        # One thread for a single row: thread start-up costs more than it saves.
        self.single = model.booster.copy()
        self.single.set_param({"nthread": 1})
        self.bulk = model.booster
        self._index_comparables()

    def warm_up(self) -> None:
        example = CarFeatures.model_config["json_schema_extra"]["examples"][0]
        car = CarFeatures.model_validate(example)
        with contextlib.suppress(UnknownValue):
            self.explain(car)

    # ------------------------------------------------------------------ one car
    def encode(self, car: CarFeatures) -> Encoded:
        """Validated CarFeatures → booster row; unknown brand/fuel/… raise UnknownValue."""
        name = _blank(car.name)
        brand = _blank(car.brand)
        frame_row: dict = {"name": name, "brand": brand}
        row = np.full(len(self.feature_names), np.nan, dtype=np.float32)
        if brand is None or brand.lower() not in self.codes["brand"]:
            raise UnknownValue(
                "brand",
                car.brand,
                self.allowed["brand"],
                f"brand {car.brand!r} is unknown; allowed: {', '.join(self.allowed['brand'])}",
            )
        row[0] = self.codes["brand"][brand.lower()]
        model_key, variant_key = _names(name, brand)
        frame_row["model"], frame_row["variant"] = model_key, variant_key
        row[1] = self.codes["model"].get(model_key, np.nan) if model_key else np.nan
        row[2] = self.codes["variant"].get(variant_key, np.nan) if variant_key else np.nan
        for i, col in enumerate(_CHOSEN, start=3):
            value = getattr(car, col)
            canon = self.canonical[col].get(value.strip().lower())
            code = self.codes[col].get(canon) if canon else None
            if code is None:
                allowed = self.allowed[col]
                raise UnknownValue(
                    col,
                    value,
                    allowed,
                    f"{col} {value!r} is unknown; allowed: {', '.join(allowed)}",
                )
            row[i] = code
            frame_row[col] = canon
        for i, col in enumerate(NUMERIC_COLUMNS, start=len(CATEGORICAL_COLUMNS)):
            value = getattr(car, col)
            frame_row[col] = value
            row[i] = np.nan if value is None else value
        return Encoded(row, frame_row)

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

    def _bounds(self, price: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        low, high = self.model.calibration.bounds(price)
        return np.round(np.asarray(price, float), -2), np.round(low, -2), np.round(high, -2)

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
        price, low, high = self._bounds(np.exp(np.array([parts.sum() + base], dtype=np.float32)))
        price_value = float(price[0])
        base_price = math.exp(base)
        log_total = float(parts.sum())
        # Rupee shares in proportion to log contributions, adding up exactly to the price.
        scale = (price_value - base_price) / log_total if abs(log_total) > 1e-12 else 0.0
        items = [
            {
                "feature": col,
                "value": enc.frame_row.get(col),
                "log": float(parts[i]),
                "rupees": float(parts[i] * scale),
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
                "base_price": base_price,
                "log_price": base + log_total,
                "features": items,
            },
            "comparables": self.comparables(enc.frame_row),
            "warnings": self.warnings(enc.frame_row),
        }

    def _index_comparables(self) -> None:
        """Per-family and per-brand row groups plus numpy columns, so ranking one car's
        neighbours costs microseconds instead of several pandas filters."""
        table = self.model.comparables.reset_index(drop=True)
        self._records = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict("records")
        ]
        if table.empty:
            self._by_model, self._by_brand = {}, {}
            return
        self._year = table["year"].to_numpy(float)
        self._km = table["km_driven"].to_numpy(float)
        self._power = table["max_power_bhp"].to_numpy(float)
        self._fuel = table["fuel"].to_numpy(object)
        self._transmission = table["transmission"].to_numpy(object)
        self._by_model = {k: v.to_numpy() for k, v in table.groupby("model").groups.items()}
        brand = table["brand"].str.lower()
        self._by_brand = {k: v.to_numpy() for k, v in table.groupby(brand).groups.items()}

    def comparables(self, frame_row: dict) -> list[dict]:
        """Same pool and distance as carprice.explain.comparables (checked in tests)."""
        if self.k == 0:
            return []
        empty = np.empty(0, dtype=int)
        model = frame_row.get("model")
        pool = self._by_model.get(model, empty) if model else empty
        if len(pool) < self.k:
            pool = self._by_brand.get(str(frame_row.get("brand") or "").lower(), empty)
        if len(pool) == 0:
            return []
        distance = (
            np.abs(self._year[pool] - frame_row["year"]) / 2.0
            + np.abs(self._km[pool] - frame_row["km_driven"]) / 40_000.0
            + (self._fuel[pool] != frame_row.get("fuel"))
            + (self._transmission[pool] != frame_row.get("transmission"))
        )
        power = frame_row.get("max_power_bhp")
        if power is not None and not math.isnan(power):
            gap = np.abs(self._power[pool] - power) / 30.0
            distance = distance + np.where(np.isnan(gap), 1.0, gap)
        distance = np.round(distance, 3)
        order = np.argsort(distance, kind="stable")[: self.k]
        return [{**self._records[pool[i]], "distance": float(distance[i])} for i in order]

    # ------------------------------------------------------------------ many cars
    def price_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encoded rows → (price, low, high), rounded like PricingModel.predict."""
        if len(rows) == 0:
            empty = np.empty(0)
            return empty, empty, empty
        log_price = self.bulk.inplace_predict(rows)
        return self._bounds(np.exp(log_price))

    def score_frame(self, df: pd.DataFrame, shape: str) -> pd.DataFrame:
        """Normalised-header string frame → predicted_price, price_low, price_high, error."""
        df = df.reset_index(drop=True)
        n = len(df)
        out = pd.DataFrame(
            {
                "predicted_price": np.full(n, np.nan),
                "price_low": np.full(n, np.nan),
                "price_high": np.full(n, np.nan),
                "error": np.full(n, "", dtype=object),
            }
        )
        ok = np.zeros(n, dtype=bool)
        if shape == "features" and n:
            rows, ok = self._encode_frame(df)
            price, low, high = self.price_rows(rows[ok])
            out.loc[ok, "predicted_price"] = price
            out.loc[ok, "price_low"] = low
            out.loc[ok, "price_high"] = high
        rest = ~ok
        if not rest.any():
            return out
        # Work-around: carprice.clean crashes on a blank `name` cell under pandas 3 (its
        # `_text` yields NaN, which `split_name` can't take), so blank-name rows never reach it
        # with the name column present.
        blank_name = np.zeros(n, dtype=bool)
        if "name" in df:
            names = df["name"].astype(object).where(df["name"].notna(), "").astype(str)
            blank_name = names.str.strip().isin(_BLANKS).to_numpy()
        groups = [(rest & ~blank_name, df)]
        if shape == "features" and "brand" in df:
            groups.append((rest & blank_name, df.drop(columns="name")))
        elif blank_name.any():
            out.loc[rest & blank_name, "error"] = "name is missing"
        for mask, source in groups:
            if mask.any():
                self._slow(source[mask].reset_index(drop=True), out, mask)
        return out

    def _slow(self, rows: pd.DataFrame, out: pd.DataFrame, mask: np.ndarray) -> None:
        """The domain package's own path: gives the canonical reason for every bad row."""
        try:
            slow = self.model.predict(rows)
        except Exception:  # noqa: BLE001 - keep the rows' places, say what happened
            log.exception("PricingModel.predict failed on %d rows", len(rows))
            out.loc[mask, "error"] = "could not be priced: internal error (see server log)"
            return
        for col in ("predicted_price", "price_low", "price_high"):
            out.loc[mask, col] = slow[col].to_numpy(float)
        out.loc[mask, "error"] = slow["error"].fillna("").to_numpy(object)

    def _encode_frame(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised encoding of CarFeatures-shaped text rows; `ok` is False wherever this
        path is unsure (anything unusual goes to the domain package instead)."""
        n = len(df)
        ok = np.ones(n, dtype=bool)
        rows = np.full((n, len(self.feature_names)), np.nan, dtype=np.float32)

        def text(col: str) -> pd.Series:
            if col not in df:
                return pd.Series([None] * n, dtype=object)
            s = df[col].astype(object).where(df[col].notna(), "").astype(str).str.strip()
            values = s.to_numpy(dtype=object)
            values[np.isin(values, list(_BLANKS))] = None
            return pd.Series(values, dtype=object)

        name = text("name")
        if "brand" in df:
            brand = text("brand")
        else:
            brand = name.map(lambda v: split_name(v)[0] if v else None).astype(object)
        brand_key = brand.str.lower()
        ok &= brand_key.map(self.codes["brand"]).notna().to_numpy()
        rows[:, 0] = brand_key.map(self.codes["brand"]).to_numpy(float)
        uniq = {v: _names(v, None) for v in name.dropna().unique()}
        name_brand = name.map(lambda v: (split_name(v)[0] or "").lower() if v else None)
        model_key = name.map(lambda v: uniq[v][0] if v else None)
        first_word = name.map(lambda v: v.lower().split()[0] if v else None)
        mismatch = (name.notna() & brand.notna() & (name_brand != brand_key)).to_numpy()
        model_key = model_key.where(~mismatch, first_word)
        variant_key = name.map(lambda v: uniq[v][1] if v else None)
        rows[:, 1] = model_key.map(self.codes["model"]).to_numpy(float)
        rows[:, 2] = variant_key.map(self.codes["variant"]).to_numpy(float)
        for i, col in enumerate(_CHOSEN, start=3):
            codes = text(col).str.lower().map(self.canonical[col]).map(self.codes[col])
            ok &= codes.notna().to_numpy()
            rows[:, i] = codes.to_numpy(float)
        for i, col in enumerate(NUMERIC_COLUMNS, start=len(CATEGORICAL_COLUMNS)):
            raw = text(col)
            values = pd.to_numeric(raw.str.replace(",", "", regex=False), errors="coerce")
            values = values.to_numpy(float)
            present = raw.notna().to_numpy()
            r = NUMERIC_RANGES[col]
            with np.errstate(invalid="ignore"):
                good = np.isfinite(values) & (values >= r.low) & (values <= r.high)
                if col in _WHOLE:
                    good &= values % 1 == 0
            ok &= np.where(present, good, col not in FEATURE_REQUIRED)
            rows[:, i] = values
        return rows, ok
