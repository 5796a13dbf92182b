"""Why a price is what it is: exact TreeSHAP contributions, global importance, comparable cars.

XGBoost's `pred_contribs` gives the same values as `shap.TreeExplainer` without the import
cost; the last column is the base value and each row sums to the log-price.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
import xgboost as xgb

if TYPE_CHECKING:
    from carprice.model import PricingModel

T = TypeVar("T")


def log_contributions(
    booster: xgb.Booster, dmatrix: xgb.DMatrix, validate: bool = True
) -> np.ndarray:
    """Per-feature log-price contributions, the base value last; each row sums to its log-price."""
    return booster.predict(dmatrix, pred_contribs=True, validate_features=validate).astype(float)


class SplitExplainer:
    """One car's TreeSHAP on two threads: the booster's trees in two halves, each explained on
    a thread of its own, their contributions summed (TreeSHAP is additive over trees, and
    XGBoost releases the GIL while it explains). XGBoost explains one row on one thread, and
    the blended booster has 1,200 trees: on a real-file model that took 4.0 ms of a quote,
    and 2.6 ms split in two."""

    def __init__(self, booster: xgb.Booster) -> None:
        middle = booster.num_boosted_rounds() // 2
        self._halves = [booster[:middle], booster[middle:]] if middle else [booster]
        for half in self._halves:
            half.set_param({"nthread": 1})
        # Each half's base value column holds the base score; the sum must hold it once.
        config = json.loads(booster.save_config())["learner"]["learner_model_param"]
        self._base_score = float(str(config["base_score"]).strip("[]"))

    def contributions_and(
        self, matrix: np.ndarray, alongside: Callable[[], T]
    ) -> tuple[np.ndarray, T]:
        """As `log_contributions` (each row sums to its log price, the base value last) for
        rows the model's own pipeline encoded (its feature order), with `alongside()` run on
        this thread while the second half is explained on the pool's.

        A quote's own price (a plain predict, mostly Python-side set-up that overlaps
        XGBoost's GIL-free explaining) then costs almost nothing extra. The rows reach
        XGBoost without feature names or types, as `inplace_predict` takes them (TreeSHAP
        reads category splits from the trees; the values are identical). Both together took
        explain-and-price from 3.42 to 2.54 ms (p50, benchmark champion, quiet machine)."""
        data = xgb.DMatrix(matrix, nthread=1)
        if len(self._halves) == 1:
            return log_contributions(self._halves[0], data, validate=False), alongside()
        second = _pool().submit(log_contributions, self._halves[1], data, validate=False)
        extra = alongside()
        out = log_contributions(self._halves[0], data, validate=False) + second.result()
        out[:, -1] -= self._base_score
        return out, extra


@cache
def _pool() -> ThreadPoolExecutor:
    """One pool for every model the process loads (a hot swap leaves no idle threads behind),
    created on the first quote, never at import."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="shap")


def rupee_shares(log_parts: np.ndarray, base: float, price: float) -> np.ndarray:
    """Split price − exp(base) across features in proportion to their log contributions.

    The shares add up exactly to `price` (pass the price as shown, e.g. rounded) and each keeps
    the sign of its log value.
    """
    log_total = float(np.sum(log_parts))
    if abs(log_total) < 1e-12:
        return np.zeros(len(log_parts))
    return np.asarray(log_parts, float) * ((price - float(np.exp(base))) / log_total)


def rupee_contributions(log_contribs: pd.Series) -> tuple[float, dict[str, float]]:
    """`rupee_shares` for one row of `log_contributions`: (base price, rupees per feature)."""
    base = float(log_contribs["base_value"])
    parts = log_contribs.drop("base_value").astype(float)
    price = float(np.exp(base + float(parts.sum())))
    shares = rupee_shares(parts.to_numpy(), base, price)
    return float(np.exp(base)), {k: float(v) for k, v in zip(parts.index, shares, strict=True)}


def global_importance(model: PricingModel, frame: pd.DataFrame) -> dict[str, float]:
    """Mean |SHAP| per feature in log-price units, largest first; computed once at training."""
    prepared = model.prepare(frame)  # specs filled as a quote's would be
    matrix = prepared.encoded.matrix[prepared.ok]
    contribs = log_contributions(model.booster, model.pipeline.dmatrix(matrix))
    mean_abs = pd.Series(np.abs(contribs[:, :-1]).mean(axis=0), index=model.pipeline.features)
    return {k: round(float(v), 6) for k, v in mean_abs.sort_values(ascending=False).items()}


class ComparablesIndex:
    """Training listings grouped by model family and brand, as numpy columns, so finding one
    car's neighbours costs microseconds (the API does it on every /predict).

    Pool: the same model family when it has at least k listings, else the same brand. Distance:
    years/2 + km/40,000 + 1 per differing fuel or transmission + bhp/30 (1 when unknown).
    """

    def __init__(self, table: pd.DataFrame) -> None:
        table = table.reset_index(drop=True)
        self.records = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict("records")
        ]
        self._by_model: dict[str, np.ndarray] = {}
        self._by_brand: dict[str, np.ndarray] = {}
        if table.empty:
            return
        self._year = table["year"].to_numpy(float)
        self._km = table["km_driven"].to_numpy(float)
        self._power = table["max_power_bhp"].to_numpy(float)
        self._fuel = table["fuel"].to_numpy(object)
        self._transmission = table["transmission"].to_numpy(object)
        self._by_model = {k: v.to_numpy() for k, v in table.groupby("model").groups.items()}
        brand = table["brand"].str.lower()
        self._by_brand = {k: v.to_numpy() for k, v in table.groupby(brand).groups.items()}

    def nearest(self, car: dict, k: int = 5) -> list[dict]:
        """Up to k listings (dicts with a `distance`), closest first; ties keep table order."""
        empty = np.empty(0, dtype=int)
        if k <= 0:
            return []
        model = car.get("model")
        pool = self._by_model.get(model, empty) if isinstance(model, str) else empty
        if len(pool) < k:
            pool = self._by_brand.get(str(car.get("brand") or "").lower(), empty)
        if len(pool) == 0:
            return []
        distance = (
            np.abs(self._year[pool] - car["year"]) / 2.0
            + np.abs(self._km[pool] - car["km_driven"]) / 40_000.0
            + (self._fuel[pool] != car.get("fuel"))
            + (self._transmission[pool] != car.get("transmission"))
        )
        power = car.get("max_power_bhp")
        if power is not None and not pd.isna(power):
            gap = np.abs(self._power[pool] - power) / 30.0
            distance = distance + np.where(np.isnan(gap), 1.0, gap)
        distance = np.round(distance, 3)
        order = np.argsort(distance, kind="stable")[:k]
        return [{**self.records[pool[i]], "distance": float(distance[i])} for i in order]
