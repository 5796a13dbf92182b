"""Live accuracy of logged quotes against the prices the cars really sold for.

Pure functions over a frame of quotes (one row per priced car, with its sale price where one
was recorded) and the window's count of refused rows, so the API's `/monitoring/summary` and
the `model_monitor` DAG report the same figures from the same rows.

The frame's columns: `created_at` (UTC timestamps), `model_version`, `price`, `price_low`,
`price_high`, `sale_price` (NaN for a quote with no sale), `out_of_range` (the quote carried
a training-range warning), and the car's inputs after catalogue fill (for drift).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carprice import drift

QUOTE_COLUMNS = ("created_at", "model_version", "price", "price_low", "price_high",
                 "sale_price", "out_of_range")  # fmt: skip


def accuracy(matched: pd.DataFrame) -> dict[str, Any]:
    """MAE, MAPE, median APE and interval coverage of quotes that have a sale price."""
    if matched.empty:
        return {"sales": 0, "mae": None, "mape": None, "median_ape": None, "coverage": None}
    sold = matched["sale_price"].to_numpy(dtype=float)
    price = matched["price"].to_numpy(dtype=float)
    error = np.abs(price - sold)
    inside = (matched["price_low"] <= matched["sale_price"]) & (
        matched["sale_price"] <= matched["price_high"]
    )
    return {
        "sales": int(len(matched)),
        "mae": round(float(error.mean()), 2),
        "mape": round(float((error / sold).mean()), 5),
        "median_ape": round(float(np.median(error / sold)), 5),
        "coverage": round(float(inside.mean()), 5),
    }


def with_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The quote log's frame with each car's logged `inputs` (a dict per row) as columns, so
    drift sees year, km, brand, … beside the prices."""
    if "inputs" not in frame or frame.empty:
        return frame
    inputs = pd.DataFrame(list(frame["inputs"].map(lambda v: v or {})), index=frame.index)
    return frame.join(inputs[[c for c in inputs.columns if c not in frame.columns]])


def _week(stamps: pd.Series) -> pd.Series:
    """ISO week start (Monday, UTC) as 'YYYY-MM-DD'."""
    days = pd.to_datetime(stamps, utc=True).dt.tz_convert(None).dt.normalize()
    return (days - pd.to_timedelta(days.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d")


def summary(
    quotes: pd.DataFrame,
    reference: dict[str, Any] | None = None,
    *,
    refused: int | None = None,
    min_rows: int = drift.MIN_ROWS,
    max_major: int = 0,
) -> dict[str, Any]:
    """Counts, live accuracy (overall, by model version, by week), out-of-range and refusal
    rates, and drift of the window's inputs from `reference` (the served model's): the
    inputs are columns of `quotes` (see `with_inputs`).

    `refused` is the number of rows refused in the same window (`QuoteStore.count_refusals`);
    the refusal rate is refused / (quotes + refused), None when the window holds neither, or
    when `refused` is None (a caller that doesn't know)."""
    missing = [c for c in QUOTE_COLUMNS if c not in quotes]
    if missing:
        raise ValueError(f"quote frame lacks column(s): {', '.join(missing)}")
    matched = quotes[quotes["sale_price"].notna()]
    total = len(quotes) + (refused or 0)
    by_version = {
        str(v): {"quotes": int(len(g)), **accuracy(g[g["sale_price"].notna()])}
        for v, g in quotes.groupby("model_version", sort=True)
    }
    weeks = _week(quotes["created_at"]) if len(quotes) else pd.Series(dtype=str)
    by_week = [
        {"week": w, "quotes": int(len(g)), **accuracy(g[g["sale_price"].notna()])}
        for w, g in quotes.groupby(weeks, sort=True)
    ]
    return {
        "quotes": int(len(quotes)),
        "refused": None if refused is None else int(refused),
        "sales": int(len(matched)),
        "accuracy": accuracy(matched),
        "by_model_version": by_version,
        "by_week": by_week,
        "rates": {
            "out_of_range": round(float(quotes["out_of_range"].mean()), 5) if len(quotes) else None,
            # None: nothing asked for in the window, or a caller that didn't count refusals.
            "refused": round(refused / total, 5) if total and refused is not None else None,
        },
        "drift": drift.compare(reference or {}, quotes, min_rows=min_rows, max_major=max_major),
    }
