"""Pieces of the Model page: the champion's metrics, training data and evaluation report in
readable form (the report helpers are shared with the Experiments compare view)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from carprice.report import UNSEEN
from dashboard import charts, pricing
from dashboard.charts import rupees
from dashboard.clients.api_client import ApiError

NUMERIC_FEATURES = (
    "year", "km_driven", "max_power_bhp", "engine_cc", "mileage_kmpl", "torque_nm", "seats",
    "owner_rank",
)  # fmt: skip
LABELS = {
    "year": "Year of registration",
    "km_driven": "Kilometres driven",
    "max_power_bhp": "Max power (bhp)",
    "engine_cc": "Engine (cc)",
    "mileage_kmpl": "Mileage (km/l)",
    "torque_nm": "Torque (Nm)",
    "seats": "Seats",
    "owner_rank": "Owners",
}


def metric_tiles(metrics: dict[str, float]) -> list[tuple[str, str, str]]:
    """(label, value, help) for the test metrics the API reports, in a salesperson's terms."""
    tiles = []
    if "mae" in metrics:
        tiles.append(("Typical error (MAE)", rupees(metrics["mae"]), "Mean absolute error."))
    if "median_ape" in metrics:
        tiles.append(
            ("Median % error", f"{metrics['median_ape']:.1%}", "Half the test cars are closer.")
        )
    if "r2" in metrics:
        tiles.append(("R²", f"{metrics['r2']:.3f}", "Share of price variation explained."))
    if "rmse" in metrics:
        tiles.append(("RMSE", rupees(metrics["rmse"]), "Root mean squared error."))
    return tiles


def data_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The training data summary as (what, value) rows."""
    rows = [("Source", str(data.get("source", "unknown")))]
    if data.get("train_rows") is not None:
        rows.append(("Training rows", f"{data['train_rows']:,}"))
    if data.get("test_rows") is not None:
        rows.append(("Held-out test rows", f"{data['test_rows']:,}"))
    if data.get("year_range"):
        rows.append(("Years", "–".join(str(y) for y in data["year_range"])))
    if data.get("brands") is not None:
        rows.append(("Brands", str(data["brands"])))
    if data.get("price_median") is not None:
        rows.append(("Median asking price", rupees(data["price_median"])))
    for key, value in (data.get("clean") or {}).items():
        rows.append((f"Cleaning: {key.replace('_', ' ')}", f"{value:,}" if isinstance(value, int)
                     else str(value)))  # fmt: skip
    return rows


# --------------------------------------------------------------------------- evaluation report

#: The report's dimensions in the order people look for them (carprice.report builds them).
REPORT_DIMENSIONS = ("variant", "price decile", "brand", "fuel", "age band")
DIMENSION_LABELS = {
    "variant": "Seen vs unseen variant",
    "price decile": "Price decile",
    "brand": "Brand",
    "fuel": "Fuel",
    "age band": "Age band",
}
REPORT_COLUMNS = ["Group", "Rows", "MAE", "MAPE", "Median APE"]
#: Display formats for report tables (values stay numbers, so the columns sort as numbers).
MAE_FORMAT, PCT_FORMAT = "₹%,.0f", "%.1f%%"


def report_column_config() -> dict[str, Any]:
    """st.dataframe column_config for `report_frame` tables."""
    number = st.column_config.NumberColumn
    return {
        "Group": st.column_config.TextColumn("Group", width="medium"),
        "Rows": number("Rows", help="Held-out test cars in the group.", format="%,d"),
        "MAE": number("MAE", help="Mean absolute error in rupees.", format=MAE_FORMAT),
        "MAPE": number("MAPE", help="Mean absolute % error.", format=PCT_FORMAT),
        "Median APE": number(
            "Median APE", help="Half the group's cars are closer than this.", format=PCT_FORMAT
        ),
    }


@st.cache_data(ttl=300, show_spinner=False)
def evaluation_report(url: str, version: str | None) -> list[dict[str, Any]] | None:
    """GET /model/report: the served model's report rows ([] for a model trained before
    reports); None when the API has no such endpoint (an older API answers 404).

    Read through the page's API client, so failures are the same `ApiError`s as elsewhere.
    """
    try:
        return pricing.api_client().model_report()["rows"]
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise


def report_dimensions(rows: list[dict[str, Any]]) -> list[str]:
    """Dimensions present in a report, known ones in REPORT_DIMENSIONS order, then the rest."""
    present = list(dict.fromkeys(r["dimension"] for r in rows))
    return [d for d in REPORT_DIMENSIONS if d in present] + [
        d for d in present if d not in REPORT_DIMENSIONS
    ]


def group_order(dimension: str, group: str, rows: int) -> tuple:
    """Deciles and age bands by their leading number, variants by name, the rest biggest first."""
    if dimension in ("price decile", "age band"):
        number = re.search(r"\d+", group)
        return (int(number.group()) if number else 10**9, group)
    if dimension == "variant":
        return (0, group)
    return (-rows, group)


def report_frame(rows: list[dict[str, Any]], dimension: str) -> pd.DataFrame:
    """One dimension of a report: Group, Rows, MAE (₹), MAPE and Median APE (in %)."""
    picked = sorted(
        (r for r in rows if r["dimension"] == dimension),
        key=lambda r: group_order(dimension, str(r["group"]), int(r["rows"])),
    )
    return pd.DataFrame(
        [
            (str(r["group"]), int(r["rows"]), float(r["mae"]), 100 * float(r["mape"]),
             100 * float(r["median_ape"]))
            for r in picked
        ],
        columns=REPORT_COLUMNS,
    )  # fmt: skip


def variant_tiles(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(label, value, help) for MAPE on variants seen and unseen in training."""
    tiles = []
    for r in sorted((r for r in rows if r["dimension"] == "variant"), key=lambda r: r["group"]):
        tiles.append(
            (
                f"MAPE, variants {r['group']}",
                f"{r['mape']:.1%}",
                f"{int(r['rows']):,} test cars · MAE {rupees(r['mae'])} · "
                f"median APE {r['median_ape']:.1%}",
            )
        )
    return tiles


def show_report(report: list[dict[str, Any]] | None, version: str | None) -> None:
    """The Model page's report section: seen/unseen-variant tiles, then one dimension at a
    time (variant first) as a table and a MAPE bar chart; plain words when there is none."""
    if report is None:
        st.info(
            "This pricing API does not serve evaluation reports (`GET /model/report` is "
            "missing). Update and restart the API to see where the model errs.",
            icon=":material/info:",
        )
        return
    if not report:
        st.info(
            f"**Version {version} has no evaluation report:** it was trained before reports "
            "existed. Retrain it (`make run`, or the retrain button on Pipelines) to get one.",
            icon=":material/info:",
        )
        return
    st.caption(
        "Error on the held-out test cars, group by group. MAE is in rupees; MAPE is the mean "
        "absolute % error. Small groups are noisy: read them with their row counts."
    )
    box = st.container(key="model_report")
    tiles = variant_tiles(report)
    for col, (label, value, help_text) in zip(box.columns(4), tiles, strict=False):
        col.metric(label, value, help=help_text)
    groups = {r["group"] for r in report if r["dimension"] == "variant"}
    if groups and UNSEEN not in groups:
        box.caption("No held-out test car had a variant unseen in training.")
    dimensions = report_dimensions(report)
    dimension = box.radio(
        "Error by",
        dimensions,
        index=dimensions.index("variant") if "variant" in dimensions else 0,
        format_func=lambda d: DIMENSION_LABELS.get(d, d),
        horizontal=True,
        key="model_report_dimension",
    )
    table = report_frame(report, dimension)
    left, right = box.columns([3, 2], gap="large")
    left.dataframe(
        table, hide_index=True, column_config=report_column_config(), key="model_report_table"
    )
    title = f"MAPE by {DIMENSION_LABELS.get(dimension, dimension).lower()}"
    right.plotly_chart(
        charts.error_by_group(table["Group"], table["MAPE"], table["Rows"], title),
        key="model_report_chart",
    )
