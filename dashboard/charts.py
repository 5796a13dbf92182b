"""Plotly figures for the dashboard pages; pure functions of API answers (easy to test)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

ACCENT = "#1f77b4"
UP = "#2e7d32"
DOWN = "#c62828"


# ----------------------------------------------------------------------------- rupees
# One place for money as people in India write it: digits grouped 10,06,500 (the last three,
# then pairs), and lakh (1,00,000) / crore (1,00,00,000) words for headline figures.

_LAKH, _CRORE = 100_000, 10_000_000


def _half_up(value: float, decimals: int = 0) -> Decimal:
    """Rounded half away from zero, on the decimal value as written (10.065 → 10.07)."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def indian(value: float, decimals: int = 0) -> str:
    """A number with Indian digit grouping: 1006500 → '10,06,500', 12345.6 (1) → '12,345.6';
    '—' for a missing one."""
    if _missing(value):
        return "—"
    rounded = _half_up(value, decimals)
    sign = "−" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):.{decimals}f}".partition(".")
    head, tail = whole[:-3], whole[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)][::-1]
    grouped = ",".join([*pairs, tail]) if head else tail
    return sign + grouped + (f".{fraction}" if fraction else "")


def _missing(value: float | None) -> bool:
    return value is None or pd.isna(value)


def rupees(value: float | None, exact: bool = False) -> str:
    """Money for a person: '₹85,000', '₹10.07 lakh', '₹1.25 crore' (headline figures), or
    with `exact` every rupee in Indian grouping: '₹10,06,500'. Negative: '−₹39,200'."""
    if _missing(value):
        return "—"
    whole = _half_up(value)
    sign, v = ("−" if whole < 0 else ""), abs(whole)
    if exact or v < _LAKH:
        return f"{sign}₹{indian(v)}"
    lakh = _half_up(v / _LAKH, 2)
    if lakh < 100:
        return f"{sign}₹{lakh:.2f} lakh"
    return f"{sign}₹{indian(v / _CRORE, 2)} crore"


def signed_rupees(value: float | None, exact: bool = False) -> str:
    """A change in price: '+₹12,000', '−₹39,200', '+₹1.20 lakh'; '₹0' for no change."""
    if _missing(value):
        return "—"
    text = rupees(value, exact)
    return text if text.startswith(("−", "₹0")) else f"+{text}"


def rupee_range(low: float | None, high: float | None) -> str:
    """'₹8.05 – ₹12.58 lakh' (one unit said once), '₹95,000 – ₹1.20 lakh'."""
    a, b = rupees(low), rupees(high)
    for unit in (" lakh", " crore"):
        if a.endswith(unit) and b.endswith(unit):
            return f"{a.removesuffix(unit)} – {b}"
    return f"{a} – {b}"


def rupee_styler(
    frame: pd.DataFrame | Styler, columns: Sequence[str] = (), signed: Sequence[str] = ()
) -> Styler:
    """A table for st.dataframe with its rupee columns written exact in Indian grouping
    ('₹10,06,500'; `signed` ones as changes, '+₹12,000'); the cells stay numbers, so the
    columns still sort as numbers. Give those columns a NumberColumn *without* `format`:
    Streamlit's own formats can't group the Indian way (printf ',' groups in threes,
    'localized' follows the browser's locale) and a column format overrides the Styler's."""
    styler = frame if isinstance(frame, Styler) else frame.style
    shown = set(styler.data.columns)
    formats: dict[str, Any] = {c: partial(rupees, exact=True) for c in columns if c in shown}
    formats |= {c: partial(signed_rupees, exact=True) for c in signed if c in shown}
    return styler.format(formats) if formats else styler


def _short(value: float) -> str:
    """An axis tick: '₹0', '₹50,000', '₹2.5 lakh', '₹1.2 crore' (no trailing zeros)."""
    if abs(value) < _LAKH:
        return rupees(value)
    unit, size = ("crore", _CRORE) if abs(value) >= _CRORE else ("lakh", _LAKH)
    number = f"{_half_up(value / size, 2):f}".rstrip("0").rstrip(".")
    return f"₹{number} {unit}"


def ticks(low: float, high: float, count: int = 5, text: Any = None) -> dict[str, Any]:
    """Plotly axis settings with about `count` round ticks over low..high, written by `text`
    (default: Indian grouping; Plotly itself can only group digits in threes)."""
    text = text or indian
    low, high = min(low, high), max(low, high)
    span = (high - low) or max(abs(high), 1.0)
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    values = [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]
    return {"tickmode": "array", "tickvals": values, "ticktext": [text(v) for v in values]}


def rupee_ticks(low: float, high: float, count: int = 5) -> dict[str, Any]:
    """`ticks` written as short rupees: '₹0', '₹50,000', '₹2.5 lakh', '₹1.2 crore'."""
    return ticks(low, high, count, _short)


# The model's name features (carprice.target_encoding) in a salesperson's words: their values
# are log prices and counts, meaningless on their own, so the label says what they stand for.
_NAME_FEATURES = {
    "te_brand": "what the brand fetches",
    "te_model": "what the model fetches",
    "te_model_line": "what the model line fetches",
    "te_trim_line": "what the trim line fetches",
    "te_variant": "what the variant fetches",
    "te_variant_year": "what the variant fetches at this year",
    "te_price": "name, age, km and owners together",
}
_COUNTS = {
    "n_variant": "listings of this variant",
    "n_model_line": "listings of this model line",
    "n_variant_year": "listings of this variant and year",
}
_PER_LITRE = {"power_per_cc": "power per litre (bhp)", "torque_per_cc": "torque per litre (Nm)"}
# The car's own inputs as the Quote form names them.
_PLAIN = {
    "km_driven": "km driven",
    "mileage_kmpl": "mileage (km/l)",
    "engine_cc": "engine (cc)",
    "max_power_bhp": "max power (bhp)",
    "torque_nm": "torque (Nm)",
    "torque_rpm": "torque peak (rpm)",
    "owner_rank": "owners",
    "seller_type": "seller",
}


def feature_name(feature: str) -> str:
    """A model input as a salesperson would name it."""
    if feature in _NAME_FEATURES:
        return _NAME_FEATURES[feature]
    if feature.startswith("tok_"):
        return f"'{feature.removeprefix('tok_').upper()}' in the name"
    return (
        _COUNTS.get(feature)
        or _PER_LITRE.get(feature)
        or _PLAIN.get(feature)
        or feature.replace("_", " ")
    )


def _label(feature: str, value: Any) -> str:
    if feature in _NAME_FEATURES:
        return _NAME_FEATURES[feature]
    if feature in _COUNTS and isinstance(value, int | float) and not pd.isna(value):
        return f"{_COUNTS[feature]} = {indian(value)}"
    if feature.startswith("tok_"):
        word = feature.removeprefix("tok_").upper()
        return f"'{word}' in the name" if value else f"no '{word}' in the name"
    name = feature_name(feature)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return f"{name} (missing)"
    if feature == "year" and isinstance(value, int | float):
        value = str(int(value))
    elif isinstance(value, float):
        value = indian(value, 1).removesuffix(".0")
    elif isinstance(value, int) and feature != "year":
        value = indian(value)
    return f"{name} = {value}"


def _span(values: list[float]) -> float:
    """Largest running total of a waterfall (base + relative steps), for the axis range."""
    total, top = 0.0, 0.0
    for v in values[:-1]:
        total += v
        top = max(top, total)
    return max(top, values[-1])


def waterfall(contributions: dict[str, Any], price: float, top: int = 10) -> go.Figure:
    """How each detail moved the price, in rupees: the typical car's price, the largest
    effects, the rest together, this car's price (SHAP contributions, summed exactly)."""
    features = contributions["features"]
    shown, rest = features[:top], features[top:]
    labels = ["Typical car"] + [_label(f["feature"], f["value"]) for f in shown]
    values = [contributions["base_price"]] + [f["rupees"] for f in shown]
    measures = ["absolute"] + ["relative"] * len(shown)
    if rest:
        labels.append(f"{len(rest)} other details together")
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
                rupees(v) if m != "relative" else signed_rupees(v)
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
        title="Why this price: how each detail moved it",
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={
            "title": "Price",
            "range": [0, _span(values) * 1.25],
            **rupee_ticks(0, _span(values) * 1.25),
        },  # fmt: skip
        height=120 + 32 * len(labels),
        margin={"l": 10, "r": 70, "t": 50, "b": 40},
        showlegend=False,
    )
    return fig


def importance_bar(importance: dict[str, float], top: int = 12) -> go.Figure:
    """How much each detail moves prices in general, largest at the top; the long tail (most
    trim words matter for a few cars only) is one bar. The bars are mean |SHAP| in log-price
    units (kept as the API gives them); the hover says it as a typical share of the price."""
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
            customdata=[f"{math.expm1(v):.0%}" for _, v in items],
            hovertemplate="%{y}: moves a price by about %{customdata} on average<extra></extra>",
        )
    )
    fig.update_layout(
        title="What moves prices overall: how much each detail moves a price",
        xaxis={"title": "Bigger bar = moves the price more", "showticklabels": False},
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
    years: bool = False,
) -> go.Figure:
    """Price against one input with its range band; `marker` highlights the current car.
    With `years`, x is a year, written as one (2014, not 2,014)."""
    fig = go.Figure()
    known = [p for p in (*prices, *lows, *highs) if not _missing(p)]
    x_text = [str(int(x)) if years else indian(x) for x in xs]
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
            customdata=[[t, rupees(p, exact=True)] for t, p in zip(x_text, prices, strict=True)],
            hovertemplate=f"{x_title}: %{{customdata[0]}}<br>%{{customdata[1]}}<extra></extra>",
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
                hovertemplate=f"this car: {rupees(marker[1], exact=True)}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis={
            "title": x_title,
            **({"tickformat": "d"} if years else ticks(min(xs), max(xs)) if len(xs) else {}),
        },  # fmt: skip
        yaxis={"title": "Price", **(rupee_ticks(min(known), max(known)) if known else {})},
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
            hovertemplate="%{y} cars<extra></extra>",
        )
    )
    fig.update_layout(
        title="Price distribution",
        xaxis={
            "title": "Predicted price",
            **(rupee_ticks(prices.min(), prices.max()) if prices.notna().any() else {}),
        },
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
            customdata=[
                [rupees(m, exact=True), indian(n)]
                for m, n in zip(stats["median"], stats["count"], strict=True)
            ],  # fmt: skip
            hovertemplate="%{y}: median %{customdata[0]} (%{customdata[1]} cars)<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Median price by brand (top {min(top, len(stats))} by count)",
        xaxis={
            "title": "Median predicted price",
            **(rupee_ticks(0, stats["median"].max()) if len(stats) else {}),
        },
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
