"""A JSON data profile of one cleaned data set: what went in, what came out, and its shape.

Kept with every pipeline run so a surprising model can be traced to surprising data
(a new brand, a price range that moved, a jump in rejected rows).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from carprice.schema import CATEGORY_CHOICES, NUMERIC_COLUMNS, TARGET

TOP_CATEGORIES = 30


def _numeric(series: pd.Series) -> dict[str, Any]:
    values = pd.to_numeric(series, errors="coerce")
    present = values.dropna()
    if present.empty:
        return {"missing": int(values.isna().sum()), "count": 0}
    return {
        "count": int(present.size),
        "missing": int(values.isna().sum()),
        "min": float(present.min()),
        "max": float(present.max()),
        "mean": float(present.mean()),
        "median": float(present.median()),
    }


def _categories(series: pd.Series) -> dict[str, int]:
    counts = series.astype("string").fillna("<missing>").value_counts()
    return {str(k): int(v) for k, v in counts.head(TOP_CATEGORIES).items()}


def rejection_reasons(rejected: pd.DataFrame) -> dict[str, int]:
    """How often each reason occurs (a row can carry several, joined by '; ')."""
    if rejected.empty or "reason" not in rejected:
        return {}
    reasons = rejected["reason"].astype(str).str.split("; ").explode()
    reasons = reasons.str.replace(r"'[^']*'", "'…'", regex=True)
    return {str(k): int(v) for k, v in reasons.value_counts().head(TOP_CATEGORIES).items()}


def build(
    frame: pd.DataFrame, rejected: pd.DataFrame, counts: dict[str, int], source: str
) -> dict[str, Any]:
    """Row counts, numeric ranges, category counts and rejection reasons of a cleaned set."""
    numeric = [c for c in (*NUMERIC_COLUMNS, TARGET) if c in frame]
    categorical = [c for c in ("brand", *CATEGORY_CHOICES) if c in frame]
    return {
        "source": source,
        "synthetic": "synthetic" in source.lower(),
        "rows": dict(counts),
        "numeric": {c: _numeric(frame[c]) for c in numeric},
        "categories": {c: _categories(frame[c]) for c in categorical},
        "distinct": {c: int(frame[c].nunique()) for c in categorical},
        "rejection_reasons": rejection_reasons(rejected),
    }
