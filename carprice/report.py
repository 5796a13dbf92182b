"""The evaluation report of one model version: where its errors are, not only how big.

One headline MAPE hides that a model may be fine on Marutis and poor on luxury cars, or on
variants it never saw. The report breaks test error down by brand, price decile, fuel, age
band, and seen vs unseen variant, with row counts so a group of three cars isn't over-read.
It is built at training time, logged to MLflow as a table and saved with the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carprice.schema import TARGET

REPORT_COLUMNS: tuple[str, ...] = ("dimension", "group", "rows", "mae", "mape", "median_ape")
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 3, "0–3 years"),
    (4, 6, "4–6 years"),
    (7, 10, "7–10 years"),
    (11, 15, "11–15 years"),
    (16, 200, "16+ years"),
)
SEEN, UNSEEN = "seen in training", "unseen in training"


def _age_band(age: np.ndarray) -> np.ndarray:
    out = np.full(len(age), "unknown", dtype=object)
    for low, high, label in AGE_BANDS:
        out[(age >= low) & (age <= high)] = label
    return out


def _decile(price: np.ndarray) -> np.ndarray:
    """'D1 ₹45k–1.5L' style labels: which tenth of the test prices a car falls in."""
    ranks = pd.Series(price).rank(method="first").to_numpy()
    deciles = np.minimum((ranks - 1) * 10 // len(price), 9).astype(int)
    labels = np.empty(len(price), dtype=object)
    for d in range(10):
        inside = price[deciles == d]
        if len(inside):
            labels[deciles == d] = f"D{d + 1:02d} ₹{inside.min():,.0f}–₹{inside.max():,.0f}"
    return labels


def variant_seen(test: pd.DataFrame, train: pd.DataFrame) -> np.ndarray:
    """Whether each test car's variant (its full name) appears in the training rows."""
    known = set(train["variant"].dropna().astype(str))
    return test["variant"].astype(object).isin(known).to_numpy()


def build(
    test: pd.DataFrame, price: np.ndarray, seen: np.ndarray, reference_year: int
) -> pd.DataFrame:
    """REPORT_COLUMNS rows for the test rows the model priced (`price` NaN elsewhere)."""
    price = np.asarray(price, dtype=float)
    ok = np.isfinite(price)
    actual = test[TARGET].to_numpy(dtype=float)[ok]
    ape = np.abs(price[ok] - actual) / actual
    abs_err = np.abs(price[ok] - actual)
    groups = {
        "brand": test["brand"].astype(object).to_numpy()[ok],
        "price decile": _decile(actual),
        "fuel": test["fuel"].astype(object).to_numpy()[ok],
        "age band": _age_band(reference_year - test["year"].to_numpy(dtype=float)[ok]),
        "variant": np.where(seen[ok], SEEN, UNSEEN),
    }
    frame = pd.DataFrame({"ape": ape, "abs_err": abs_err})
    parts = []
    for dimension, labels in groups.items():
        grouped = frame.groupby(pd.Series(labels, name="group"), sort=True)
        part = grouped.agg(
            rows=("ape", "size"),
            mae=("abs_err", "mean"),
            mape=("ape", "mean"),
            median_ape=("ape", "median"),
        ).reset_index()
        part.insert(0, "dimension", dimension)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[list(REPORT_COLUMNS)]


def headline(report: pd.DataFrame) -> dict[str, float]:
    """The seen/unseen-variant figures as metrics, for MLflow and the gate's readers."""
    out: dict[str, float] = {}
    for label, key in ((SEEN, "seen_variant"), (UNSEEN, "unseen_variant")):
        row = report[(report["dimension"] == "variant") & (report["group"] == label)]
        if not row.empty:
            out[f"{key}_mape"] = float(row["mape"].iloc[0])
            out[f"{key}_rows"] = float(row["rows"].iloc[0])
    return out


def to_records(report: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (saved with the model, served by the API)."""
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in report.to_dict("records")
    ]
