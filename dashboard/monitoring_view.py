"""The Monitoring page's logic: the API's /monitoring/summary and the model_monitor runs in
MLflow turned into figures, tables and words. Pure functions, so the page stays thin and
these are tested without Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts import ACCENT, DOWN, UP, indian, rupees
from dashboard.clients.mlflow_client import Run

#: The MLflow experiment model_monitor logs to (carprice.monitor.MONITOR_EXPERIMENT; not
#: imported: that module pulls in the lake and the model stack).
MONITOR_EXPERIMENT = "car_price_monitor"
#: Window picker: label → days back from today (UTC).
WINDOWS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
ALL_VERSIONS = "All versions"
#: PSI bands (carprice.drift.BANDS): < 0.1 stable, 0.1–0.25 moderate, ≥ 0.25 major.
MODERATE, MAJOR = 0.1, 0.25
BAND_COLOURS = {"stable": UP, "moderate": "#ef6c00", "major": DOWN}
FEATURE_WORDS = {
    "year": "Year",
    "km_driven": "Kilometres driven",
    "owner_rank": "Owners",
    "mileage_kmpl": "Mileage (km/l)",
    "engine_cc": "Engine (cc)",
    "max_power_bhp": "Power (bhp)",
    "torque_nm": "Torque (Nm)",
    "torque_rpm": "Torque peak (rpm)",
    "seats": "Seats",
    "brand": "Brand",
    "fuel": "Fuel",
    "seller_type": "Seller",
    "transmission": "Transmission",
}


def window_since(days: int, today: date | None = None) -> date:
    """The window's first day: whole UTC days, so a rerun in the same day asks the same thing
    (and its cached answer is reused); the window is open-ended (up to now)."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=days - 1)


def percent(share: float | None, decimals: int = 1) -> str:
    """0.1234 → '12.3%'; '—' when unknown."""
    return "—" if share is None or pd.isna(share) else f"{100 * share:.{decimals}f}%"


def mape_delta(live: float | None, test: float | None) -> str | None:
    """Live MAPE against the test MAPE in points: '+3.2 pts vs test', None when unknown."""
    if live is None or test is None:
        return None
    return f"{100 * (live - test):+.1f} pts vs test"


def weekly_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per ISO week: quotes, sales, MAE (₹), MAPE, median APE, coverage (numbers)."""
    rows = summary.get("by_week") or []
    columns = ["week", "quotes", "sales", "mae", "mape", "median_ape", "coverage"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"mae": float, "mape": float, "median_ape": float, "coverage": float})


def versions_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """One row per model version in the window, as `weekly_frame` (column `model_version`)."""
    rows = [{"model_version": v, **a} for v, a in (summary.get("by_model_version") or {}).items()]
    columns = ["model_version", "quotes", "sales", "mae", "mape", "median_ape", "coverage"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"mae": float, "mape": float, "median_ape": float, "coverage": float})


def shares_styler(frame: pd.DataFrame) -> Any:
    """A weekly or by-version table for st.dataframe: ₹ MAE in Indian grouping, shares as %,
    the cells still numbers (so they sort)."""
    return frame.style.format(
        {
            "mae": lambda v: rupees(v, exact=True),
            "mape": percent,
            "median_ape": percent,
            "coverage": percent,
        }
    )


def _reference_line(fig: go.Figure, value: float | None, text: str) -> None:
    if value is not None:
        fig.add_hline(
            y=100 * value,
            line={"dash": "dash", "color": DOWN},
            annotation_text=text,
            annotation_position="top left",
        )


def accuracy_chart(weekly: pd.DataFrame, test_mape: float | None) -> go.Figure:
    """Live MAPE by week (weeks with sales) as a line, the champion's test MAPE as a dashed
    reference line."""
    sold = weekly[weekly["sales"] > 0]
    fig = go.Figure(
        go.Scatter(
            x=list(sold["week"]),
            y=[100 * v for v in sold["mape"]],
            mode="lines+markers",
            name="live MAPE",
            line={"color": ACCENT},
            customdata=[
                [int(s), rupees(m, exact=True)]
                for s, m in zip(sold["sales"], sold["mae"], strict=True)
            ],  # fmt: skip
            hovertemplate="week of %{x}<br>MAPE %{y:.1f}% on %{customdata[0]} sales"
            "<br>MAE %{customdata[1]}<extra></extra>",
        )
    )
    _reference_line(fig, test_mape, f"test MAPE {percent(test_mape)}")
    fig.update_layout(
        title="Live MAPE by week (sale prices vs quotes)",
        xaxis={"title": "Week (Monday)", "type": "category"},
        yaxis={"title": "MAPE (%)", "rangemode": "tozero", "ticksuffix": "%"},
        height=340,
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return fig


def coverage_chart(weekly: pd.DataFrame, test_coverage: float | None) -> go.Figure:
    """Share of sale prices inside the quoted range, by week, against the test coverage."""
    sold = weekly[weekly["sales"] > 0]
    fig = go.Figure(
        go.Scatter(
            x=list(sold["week"]),
            y=[100 * v for v in sold["coverage"]],
            mode="lines+markers",
            name="live coverage",
            line={"color": UP},
            hovertemplate="week of %{x}<br>%{y:.0f}% of sales inside the range<extra></extra>",
        )
    )
    _reference_line(fig, test_coverage, f"test coverage {percent(test_coverage, 0)}")
    fig.update_layout(
        title="Sale prices inside the quoted range",
        xaxis={"title": "Week (Monday)", "type": "category"},
        yaxis={"title": "Coverage (%)", "range": [0, 105], "ticksuffix": "%"},
        height=340,
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return fig


def feature_word(name: str) -> str:
    return FEATURE_WORDS.get(name, name.replace("_", " ").capitalize())


def _number(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "—"
    return indian(value, 0 if abs(value) >= 100 else 1)


def what_moved(feature: dict[str, Any]) -> str:
    """Numeric: 'median 45,000 (training 60,000)'; category: the largest share changes,
    'Diesel +12.3 pts (40.0% → 52.3%)'."""
    if feature.get("kind") == "numeric":
        return (
            f"median {_number(feature.get('median'))} "
            f"(training {_number(feature.get('train_median'))})"
        )
    changes = [c for c in feature.get("share_changes") or [] if c.get("change_points")][:2]
    if not changes:
        return "shares as in training"
    return "; ".join(
        f"{c['value']} {c['change_points']:+.1f} pts "
        f"({percent(c['train_share'])} → {percent(c['share'])})"
        for c in changes
    )


def drift_frame(drift: dict[str, Any]) -> pd.DataFrame:
    """One row per input, most drifted first: feature, PSI, band, what moved."""
    rows = [
        {
            "feature": feature_word(name),
            "psi": f.get("psi"),
            "band": f.get("band"),
            "moved": what_moved(f),
        }
        for name, f in (drift.get("features") or {}).items()
    ]
    frame = pd.DataFrame(rows, columns=["feature", "psi", "band", "moved"])
    return frame.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def drift_chart(table: pd.DataFrame) -> go.Figure:
    """PSI per input as horizontal bars coloured by band, with the band limits drawn."""
    shown = table.iloc[::-1]  # most drifted on top
    fig = go.Figure(
        go.Bar(
            x=list(shown["psi"]),
            y=list(shown["feature"]),
            orientation="h",
            marker={"color": [BAND_COLOURS.get(b, ACCENT) for b in shown["band"]]},
            customdata=list(zip(shown["band"], shown["moved"], strict=True)),
            hovertemplate="%{y}: PSI %{x:.3f} (%{customdata[0]})<br>%{customdata[1]}"
            "<extra></extra>",
        )
    )
    for limit, text in ((MODERATE, "moderate"), (MAJOR, "major")):
        fig.add_vline(x=limit, line={"dash": "dot", "color": "grey"}, annotation_text=text)
    fig.update_layout(
        title="Input drift (PSI against the training data)",
        xaxis={"title": "PSI", "rangemode": "tozero"},
        height=max(260, 40 + 26 * len(shown)),
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return fig


def drift_words(drift: dict[str, Any]) -> tuple[str, str]:
    """(level, sentence): the overall verdict for a data scientist; level is one of
    'success', 'warning', 'error', 'info' (the Streamlit call to show it with)."""
    verdict = drift.get("verdict")
    features = drift.get("features") or {}
    rows = drift.get("rows", 0)
    by_band = {
        b: sorted(feature_word(n) for n, f in features.items() if f.get("band") == b)
        for b in ("moderate", "major")
    }
    if verdict == "stable":
        return "success", (
            f"**Stable.** All {len(features)} inputs have PSI below {MODERATE} against the "
            f"training data on {indian(rows)} quotes: the cars quoted look like the cars the "
            "model learned from."
        )
    if verdict == "watch":
        moved = by_band["major"] + by_band["moderate"]
        return "warning", (
            f"**Watch.** {len(moved)} input(s) have shifted (PSI ≥ {MODERATE}: "
            f"{', '.join(moved)}) on {indian(rows)} quotes, not enough to call it drift. "
            "Prices for those cars rest on thinner training data; keep an eye on live error."
        )
    if verdict == "drift":
        return "error", (
            f"**Drift.** {len(by_band['major'])} input(s) are in the major band (PSI ≥ "
            f"{MAJOR}: {', '.join(by_band['major'])}) on {indian(rows)} quotes. The model is "
            "pricing cars unlike its training data; expect its live error to rise. "
            "`model_monitor` retrains when enough inputs drift (its drift_features threshold)."
        )
    if verdict == "too few rows":
        return "info", (
            f"**Too few quotes to judge drift:** {indian(rows)} in this window; PSI needs at "
            f"least {drift.get('min_rows', 50)}. Pick a longer window."
        )
    if verdict == "no reference":
        return "info", (
            "**Drift can't be measured:** the served model was saved without a training "
            "reference (models trained before drift monitoring). A retrain adds one."
        )
    return "info", f"Drift verdict: {verdict or 'unknown'}."


def _when(run: Run) -> str:
    if run.start_time is None:
        return ""
    return datetime.fromtimestamp(run.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """The model_monitor runs, newest first: when, decision, reasons, drift verdict, figures."""
    rows = []
    for run in sorted(runs, key=lambda r: -(r.start_time or 0)):
        retrain = run.tags.get("retrain")
        rows.append(
            {
                "when": _when(run),
                "decision": {"true": "Retrain triggered", "false": "No retrain"}.get(
                    retrain or "", run.status.lower() or "unknown"
                ),
                "reasons": run.tags.get("reasons") or "",
                "drift": run.tags.get("drift") or "",
                "champion": run.tags.get("champion") or "",
                "quotes": run.metrics.get("quotes"),
                "sales": run.metrics.get("sales"),
                "live_mape": run.metrics.get("live_mape"),
            }
        )
    columns = ["when", "decision", "reasons", "drift", "champion", "quotes", "sales", "live_mape"]
    return pd.DataFrame(rows, columns=columns)


def sale_words(answer: dict[str, Any]) -> str:
    """What a recorded sale means: 'Recorded: sold for ₹4,50,000 on 2026-11-30; the quote
    was ₹4,80,000 (6.2% off, inside its range).'"""
    sold, price = answer["sale_price"], answer["price"]
    off = abs(sold - price) / sold if sold else None
    inside = answer["price_low"] <= sold <= answer["price_high"]
    corrected = " (corrected; the earlier value is kept)" if answer.get("history") else ""
    return (
        f"**Recorded{corrected}:** sold for {rupees(sold, exact=True)} on {answer['sold_on']}; "
        f"the quote was {rupees(price, exact=True)} ({percent(off)} off, "
        f"{'inside' if inside else 'outside'} its range)."
    )


def upload_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """The sales upload's answer as a table: row, quote id, status, reason."""
    frame = pd.DataFrame(answer.get("rows") or [], columns=["row", "quote_id", "status", "reason"])
    frame["reason"] = frame["reason"].fillna("")
    return frame
