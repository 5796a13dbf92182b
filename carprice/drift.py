"""Input drift: do the cars being quoted still look like the cars the model learned from?

The reference (decile bins of every numeric input, shares of every category) is computed from
the training rows and saved inside the model, so the API and the monitor compare a window of
quotes with the served model's own training data without reading the lake.

Written here rather than taken from Evidently: Evidently pulls in its own pinned stack
(pydantic, plotly, nltk, …) beside Airflow and MLflow in one environment, and the maths
needed is one formula. PSI (population stability index) is the industry's usual measure for
both kinds of input, with the usual bands: < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 major.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from carprice.schema import CATEGORY_CHOICES, NUMERIC_COLUMNS

BINS = 10
#: Categories kept by name in the reference; the rest are pooled as OTHER.
TOP_CATEGORIES = 30
OTHER = "<other>"
MISSING = "<missing>"
#: A share of 0 makes PSI infinite; both sides are floored at this (a common choice).
FLOOR = 1e-4
BANDS: tuple[tuple[float, str], ...] = ((0.1, "stable"), (0.25, "moderate"), (math.inf, "major"))
#: Fewer rows than this in a window say nothing about drift: verdict "too few rows".
MIN_ROWS = 50
CATEGORICAL = ("brand", *CATEGORY_CHOICES)


def band(value: float) -> str:
    """'stable', 'moderate' or 'major' for a PSI value."""
    return next(name for upper, name in BANDS if value < upper)


def reference(frame: pd.DataFrame) -> dict[str, Any]:
    """Decile edges and shares of each numeric input, and shares of each category, in `frame`
    (the training rows). JSON-ready; saved with the model."""
    out: dict[str, Any] = {"rows": len(frame), "numeric": {}, "categories": {}}
    for col in (c for c in NUMERIC_COLUMNS if c in frame):
        values = pd.to_numeric(frame[col], errors="coerce").dropna().to_numpy(dtype=float)
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
        out["numeric"][col] = {
            "edges": edges.tolist(),
            "shares": _shares(_bin_counts(values, edges)),
            "median": float(np.median(values)),
        }
    for col in (c for c in CATEGORICAL if c in frame):
        counts = frame[col].astype("string").fillna(MISSING).value_counts()
        kept = counts.head(TOP_CATEGORIES)
        shares = (kept / counts.sum()).to_dict()
        rest = 1.0 - sum(shares.values())
        if rest > 0:
            shares[OTHER] = rest
        out["categories"][col] = {str(k): float(v) for k, v in shares.items()}
    return out


def _bin_counts(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Counts per bin; bin i holds edges[i-1] < v ≤ edges[i] (ties fall in the lower bin)."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def psi(expected: list[float] | np.ndarray, actual: list[float] | np.ndarray) -> float:
    """Σ (a − e) · ln(a / e) over bins, with both shares floored at FLOOR."""
    e = np.maximum(np.asarray(expected, dtype=float), FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(ref: dict[str, Any], series: pd.Series) -> dict[str, Any]:
    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=float)
    shares = _shares(_bin_counts(values, ref["edges"]))
    value = psi(ref["shares"], shares)
    return {
        "kind": "numeric",
        "rows": int(values.size),
        "psi": round(value, 4),
        "band": band(value),
        "median": float(np.median(values)) if values.size else None,
        "train_median": ref["median"],
    }


def _categorical(ref: dict[str, float], series: pd.Series, top: int = 5) -> dict[str, Any]:
    labels = series.astype("string").fillna(MISSING)
    labels = labels.where(labels.isin(ref) | (labels == MISSING), OTHER)
    counts = labels.value_counts()
    actual = (counts / counts.sum()).to_dict() if counts.sum() else {}
    keys = sorted(set(ref) | set(actual))
    value = psi([ref.get(k, 0.0) for k in keys], [actual.get(k, 0.0) for k in keys])
    changes = sorted(
        ((k, actual.get(k, 0.0) - ref.get(k, 0.0)) for k in keys), key=lambda kv: -abs(kv[1])
    )
    return {
        "kind": "category",
        "rows": int(counts.sum()),
        "psi": round(value, 4),
        "band": band(value),
        "share_changes": [
            {
                "value": k,
                "train_share": round(ref.get(k, 0.0), 4),
                "share": round(actual.get(k, 0.0), 4),
                "change_points": round(100 * d, 2),
            }
            for k, d in changes[:top]
        ],  # fmt: skip
    }


def compare(
    ref: dict[str, Any], frame: pd.DataFrame, min_rows: int = MIN_ROWS, max_major: int = 0
) -> dict[str, Any]:
    """Drift of each input in `frame` (a window of quotes, inputs after catalogue fill) from
    the training reference, a verdict per feature and overall.

    Overall: "drift" when more than `max_major` features are in the major band, "watch" when
    any is moderate or major, else "stable"; "too few rows" below `min_rows`, and "no
    reference" for a model saved without one.
    """
    if not ref or not (ref.get("numeric") or ref.get("categories")):
        return {"verdict": "no reference", "rows": len(frame), "features": {}}
    if len(frame) < min_rows:
        return {"verdict": "too few rows", "rows": len(frame), "min_rows": min_rows,
                "features": {}}  # fmt: skip
    features: dict[str, dict[str, Any]] = {}
    for col, spec in ref.get("numeric", {}).items():
        if col in frame:
            features[col] = _numeric(spec, frame[col])
    for col, shares in ref.get("categories", {}).items():
        if col in frame:
            features[col] = _categorical(shares, frame[col])
    bands = [f["band"] for f in features.values()]
    major = sum(b == "major" for b in bands)
    if major > max_major:
        verdict = "drift"
    else:
        verdict = "watch" if major or "moderate" in bands else "stable"
    return {"verdict": verdict, "rows": len(frame), "major": major, "features": features}
