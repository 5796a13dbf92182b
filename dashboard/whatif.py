"""What-if sweeps: one input varied over its training range, every variation priced by the
API in a single /predict/batch call. Used by the Quote what-if and the Model dependence view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dashboard import pricing


def grid(spec: dict[str, Any], current: float | None = None, points: int = 15) -> list[float]:
    """Evenly spaced values over the training range (widened to include `current`)."""
    lo = spec.get("train_min") if spec.get("train_min") is not None else spec.get("min")
    hi = spec.get("train_max") if spec.get("train_max") is not None else spec.get("max")
    if current is not None:
        lo, hi = min(lo, current), max(hi, current)
    values = np.linspace(lo, hi, points)
    if spec["name"] in ("year", "km_driven", "seats", "owner_rank", "engine_cc"):
        values = np.unique(np.round(values).astype(int))
    return [v.item() for v in values]


def sweep(
    url: str, version: str | None, car: dict[str, Any], feature: str, values: list[float]
) -> tuple[list[float], list[float | None], list[float | None], list[float | None]]:
    """(values, prices, lows, highs) for `car` with `feature` set to each value."""
    cars = [{**car, feature: v} for v in values]
    items = pricing.sweep(url, version, pricing.canonical_list(cars))
    return (
        values,
        [i.get("price") for i in items],
        [i.get("price_low") for i in items],
        [i.get("price_high") for i in items],
    )
