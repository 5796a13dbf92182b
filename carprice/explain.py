"""Why a price is what it is: exact TreeSHAP contributions, global importance, comparable cars.

XGBoost's `pred_contribs` gives the same values as `shap.TreeExplainer` without the import
cost; the last column is the base value and each row sums to the log-price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xgboost as xgb

if TYPE_CHECKING:
    from carprice.model import PricingModel


def log_contributions(model: PricingModel, features: pd.DataFrame) -> pd.DataFrame:
    """Per-feature log-price contributions plus a `base_value` column."""
    dmatrix = xgb.DMatrix(features, enable_categorical=True)
    values = model.booster.predict(dmatrix, pred_contribs=True)
    return pd.DataFrame(values, index=features.index, columns=[*features.columns, "base_value"])


def rupee_contributions(log_contribs: pd.Series) -> tuple[float, dict[str, float]]:
    """Split price − exp(base) across features in proportion to their log contributions.

    The rupee values add up exactly to the price, and each keeps the sign of its log value.
    """
    base = float(log_contribs["base_value"])
    parts = log_contribs.drop("base_value").astype(float)
    log_total = float(parts.sum())
    price = float(np.exp(base + log_total))
    base_price = float(np.exp(base))
    if abs(log_total) < 1e-12:
        return base_price, {k: 0.0 for k in parts.index}
    scale = (price - base_price) / log_total
    return base_price, {k: float(v * scale) for k, v in parts.items()}


def global_importance(model: PricingModel, frame: pd.DataFrame) -> dict[str, float]:
    """Mean |SHAP| per feature in log-price units, largest first; computed once at training."""
    contribs = log_contributions(model, model.pipeline.transform(frame)).drop(columns="base_value")
    mean_abs = contribs.abs().mean().sort_values(ascending=False)
    return {k: round(float(v), 6) for k, v in mean_abs.items()}


def comparables(model: PricingModel, car: pd.Series, k: int = 5) -> pd.DataFrame:
    """Closest training listings: same model family if known, else same brand; nearest by
    year, km and power. Real listings with their real prices."""
    table = model.comparables
    pool = table[table["model"] == car.get("model")] if car.get("model") else table.iloc[0:0]
    if len(pool) < k:
        brand = str(car.get("brand") or "").lower()
        pool = table[table["brand"].str.lower() == brand]
    if pool.empty:
        return pool
    distance = (
        (pool["year"] - car["year"]).abs() / 2.0
        + (pool["km_driven"] - car["km_driven"]).abs() / 40_000.0
        + (pool["fuel"] != car.get("fuel")).astype(float)
        + (pool["transmission"] != car.get("transmission")).astype(float)
    )
    power = car.get("max_power_bhp")
    if power is not None and not pd.isna(power):
        distance = distance + ((pool["max_power_bhp"] - power).abs() / 30.0).fillna(1.0)
    return pool.assign(distance=distance.round(3)).nsmallest(k, "distance")
