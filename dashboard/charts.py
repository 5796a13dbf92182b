"""Plotly figures for the dashboard pages; pure functions of API answers (easy to test)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

ACCENT = "#1f77b4"
UP = "#2e7d32"
DOWN = "#c62828"


def rupees(value: float | None) -> str:
    """₹ with Indian lakh/crore words for big sums: ₹4.85 lakh, ₹1.20 crore, ₹85,000."""
    if value is None or pd.isna(value):
        return "—"
    sign = "−" if value < 0 else ""
    v = abs(float(value))
    if v >= 1e7:
        return f"{sign}₹{v / 1e7:.2f} crore"
    if v >= 1e5:
        return f"{sign}₹{v / 1e5:.2f} lakh"
    return f"{sign}₹{v:,.0f}"


# The model's name features (carprice.target_encoding) in a salesperson's words: their values
# are log prices and counts, meaningless on their own, so the label says what they stand for.
_NAME_FEATURES = {
    "te_brand": "what the brand fetches",
    "te_model": "what the model fetches",
    "te_model_line": "what the model line fetches",
    "te_variant": "what the variant fetches",
    "te_price": "name and age together",
}
_COUNTS = {"n_variant": "listings of this variant", "n_model_line": "listings of this model line"}
_PER_LITRE = {"power_per_cc": "power per litre (bhp)", "torque_per_cc": "torque per litre (Nm)"}


def feature_name(feature: str) -> str:
    """A model input as a salesperson would name it."""
    if feature in _NAME_FEATURES:
        return _NAME_FEATURES[feature]
    if feature.startswith("tok_"):
        return f"'{feature.removeprefix('tok_').upper()}' in the name"
    return _COUNTS.get(feature) or _PER_LITRE.get(feature) or feature.replace("_", " ")


def _label(feature: str, value: Any) -> str:
    if feature in _NAME_FEATURES:
        return _NAME_FEATURES[feature]
    if feature in _COUNTS and isinstance(value, int | float) and not pd.isna(value):
        return f"{_COUNTS[feature]} = {value:,.0f}"
    if feature.startswith("tok_"):
        word = feature.removeprefix("tok_").upper()
        return f"'{word}' in the name" if value else f"no '{word}' in the name"
    name = feature_name(feature)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return f"{name} (missing)"
    if feature == "year" and isinstance(value, int | float):
        value = str(int(value))
    elif isinstance(value, float):
        value = f"{value:,.1f}".rstrip("0").rstrip(".")
    elif isinstance(value, int) and feature != "year":
        value = f"{value:,}"
    return f"{name} = {value}"


def _span(values: list[float]) -> float:
    """Largest running total of a waterfall (base + relative steps), for the axis range."""
    total, top = 0.0, 0.0
    for v in values[:-1]:
        total += v
        top = max(top, total)
    return max(top, values[-1])


def waterfall(contributions: dict[str, Any], price: float, top: int = 10) -> go.Figure:
    """SHAP waterfall in rupees: base price, the largest contributions, the rest, the price."""
    features = contributions["features"]
    shown, rest = features[:top], features[top:]
    labels = ["Typical car"] + [_label(f["feature"], f["value"]) for f in shown]
    values = [contributions["base_price"]] + [f["rupees"] for f in shown]
    measures = ["absolute"] + ["relative"] * len(shown)
    if rest:
        labels.append(f"{len(rest)} other features")
        values.append(sum(f["rupees"] for f in rest))
        measures.append("relative")
    labels.append("This car")
    values.append(price)
    measures.append("total")
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            measure=measures,
            y=labels,
            x=values,
            text=[
                rupees(v) if m != "relative" else ("+" if v >= 0 else "") + rupees(v)
                for v, m in zip(values, measures, strict=True)
            ],
            textposition="outside",
            cliponaxis=False,
            increasing={"marker": {"color": UP}},
            decreasing={"marker": {"color": DOWN}},
            totals={"marker": {"color": ACCENT}},
            connector={"line": {"color": "#9e9e9e", "width": 1}},
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Why this price: each feature's effect in rupees",
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"title": "Price (₹)", "tickformat": ",.0f", "range": [0, _span(values) * 1.25]},
        height=120 + 32 * len(labels),
        margin={"l": 10, "r": 70, "t": 50, "b": 40},
        showlegend=False,
    )
    return fig


def importance_bar(importance: dict[str, float], top: int = 12) -> go.Figure:
    """Global importance (mean |SHAP|), largest at the top; the long tail (most trim words
    matter for a few cars only) is one bar."""
    ranked = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)
    shown, rest = ranked[:top], ranked[top:]
    items = [(feature_name(k), v) for k, v in shown]
    if rest:
        items.append((f"{len(rest)} other inputs together", sum(v for _, v in rest)))
    items.reverse()
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            marker_color=ACCENT,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="What moves prices overall (mean |SHAP|, log-price units)",
        xaxis_title="mean |SHAP| (≈ typical relative price change)",
        height=120 + 28 * len(items),
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
    )
    return fig


def curve(
    xs: Sequence[float],
    prices: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    x_title: str,
    title: str,
    marker: tuple[float, float] | None = None,
) -> go.Figure:
    """Price against one input with its range band; `marker` highlights the current car."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(xs),
            y=list(highs),
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(xs),
            y=list(lows),
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(31,119,180,0.15)",
            name="80% range",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(xs),
            y=list(prices),
            mode="lines+markers",
            name="price",
            line={"color": ACCENT},
            hovertemplate=f"{x_title}: %{{x:,}}<br>₹%{{y:,.0f}}<extra></extra>",
        )
    )
    if marker is not None:
        fig.add_trace(
            go.Scatter(
                x=[marker[0]],
                y=[marker[1]],
                mode="markers",
                name="this car",
                marker={"size": 13, "color": DOWN, "symbol": "diamond"},
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis={"title": "Price (₹)", "tickformat": ",.0f"},
        height=360,
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def price_histogram(prices: pd.Series) -> go.Figure:
    """Distribution of predicted prices in a batch."""
    fig = go.Figure(
        go.Histogram(
            x=prices,
            nbinsx=40,
            marker_color=ACCENT,
            hovertemplate="₹%{x}<br>%{y} cars<extra></extra>",
        )
    )
    fig.update_layout(
        title="Price distribution",
        xaxis={"title": "Predicted price (₹)", "tickformat": ",.0f"},
        yaxis_title="Cars",
        height=360,
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
        bargap=0.05,
    )
    return fig


def price_by_brand(frame: pd.DataFrame, top: int = 15) -> go.Figure:
    """Median predicted price per brand (the `top` brands by count), with counts on hover."""
    stats = (
        frame.groupby("brand")["predicted_price"]
        .agg(["median", "count"])
        .sort_values("count", ascending=False)
        .head(top)
        .sort_values("median")
    )
    fig = go.Figure(
        go.Bar(
            x=stats["median"],
            y=stats.index.astype(str),
            orientation="h",
            marker_color=ACCENT,
            customdata=stats["count"],
            hovertemplate="%{y}: median ₹%{x:,.0f} (%{customdata} cars)<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Median price by brand (top {min(top, len(stats))} by count)",
        xaxis={"title": "Median predicted price (₹)", "tickformat": ",.0f"},
        height=max(360, 80 + 26 * len(stats)),
        margin={"l": 10, "r": 20, "t": 50, "b": 40},
    )
    return fig


def error_by_group(
    groups: Sequence[str], mape_pct: Sequence[float], rows: Sequence[int], title: str
) -> go.Figure:
    """MAPE (in %) per group of an evaluation report, first group at the top; rows on hover."""
    groups, mape_pct, rows = list(groups)[::-1], list(mape_pct)[::-1], list(rows)[::-1]
    fig = go.Figure(
        go.Bar(
            x=mape_pct,
            y=groups,
            orientation="h",
            marker_color=ACCENT,
            text=[f"{v:.1f}%" for v in mape_pct],
            textposition="outside",
            cliponaxis=False,
            customdata=rows,
            hovertemplate="%{y}: MAPE %{x:.1f}% (%{customdata:,} test cars)<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"title": "MAPE (%)", "ticksuffix": "%", "rangemode": "tozero"},
        yaxis={"automargin": True},
        height=max(220, 90 + 26 * len(groups)),
        margin={"l": 10, "r": 40, "t": 50, "b": 40},
    )
    return fig
