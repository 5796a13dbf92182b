"""Pieces of the Model page: the champion's metrics, training data and evaluation report in
readable form (the report helpers are shared with the Experiments compare view)."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st

from carprice.report import UNSEEN
from dashboard import charts, pricing
from dashboard.charts import indian, rupees
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
        rows.append(("Training rows", indian(data["train_rows"])))
    if data.get("test_rows") is not None:
        rows.append(("Held-out test rows", indian(data["test_rows"])))
    if data.get("fit_rows") is not None:  # the served model is refit on train + test
        rows.append(("Served model fitted on", f"{indian(data['fit_rows'])} rows"))
    if data.get("year_range"):
        rows.append(("Years", "–".join(str(y) for y in data["year_range"])))
    if data.get("brands") is not None:
        rows.append(("Brands", str(data["brands"])))
    if data.get("price_median") is not None:
        rows.append(("Median asking price", rupees(data["price_median"])))
    for key, value in (data.get("clean") or {}).items():
        rows.append((f"Cleaning: {key.replace('_', ' ')}", indian(value) if isinstance(value, int)
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
#: Display format for report tables' percentages (values stay numbers, so the columns sort
#: as numbers). Rupees go through charts.rupee_styler: no column format groups the Indian way.
PCT_FORMAT = "%.1f%%"


def report_column_config() -> dict[str, Any]:
    """st.dataframe column_config for `report_frame` tables."""
    number = st.column_config.NumberColumn
    return {
        "Group": st.column_config.TextColumn("Group", width="medium"),
        "Rows": number("Rows", help="Held-out test cars in the group.", format="%,d"),
        "MAE": number("MAE", help="Mean absolute error in rupees."),
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
                f"{indian(int(r['rows']))} test cars · MAE {rupees(r['mae'], exact=True)} · "
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
        charts.rupee_styler(table, ["MAE"]),
        hide_index=True,
        column_config=report_column_config(),
        key="model_report_table",
    )
    title = f"MAPE by {DIMENSION_LABELS.get(dimension, dimension).lower()}"
    right.plotly_chart(
        charts.error_by_group(table["Group"], table["MAPE"], table["Rows"], title),
        key="model_report_chart",
    )


# --------------------------------------------------------------------------- champions' history

HISTORY_COLUMNS = [
    "Version", "Went live (UTC)", "Until (UTC)", "Replaced", "How", "Why",
    "MAE on frozen set", "MAE on own test split", "Evaluation set", "Trained on",
]  # fmt: skip
HISTORY_MONEY = ["MAE on frozen set", "MAE on own test split"]  # rupees, numbers in the table
HOW_WORDS = {"gate": "promotion gate", "approval": "operator approval", "rollback": "rollback"}


@st.cache_data(ttl=60, show_spinner=False)
def champion_history(url: str, model: str) -> pd.DataFrame:
    """Every period as champion, newest first, with each version's figures (MLflow)."""
    from carprice import champions
    from dashboard import connections

    client = connections.mlflow_client()
    versions = client.search_versions(model)
    reigns = champions.history((v.version, v.tags, v.created) for v in versions)
    by_version = {v.version: v for v in versions}
    runs = {}
    for version in {r.version for r in reigns}:
        run_id = by_version[version].run_id if version in by_version else None
        runs[version] = client.get_run(run_id) if run_id else None
    return history_frame(reigns, runs)


def history_frame(reigns: list[Any], runs: dict[str, Any]) -> pd.DataFrame:
    """The history as a table: when each champion went live, what it replaced and why, and
    its MAE on the frozen evaluation set beside its own test split's."""
    rows = []
    for r in reigns:
        run = runs.get(r.version)
        metrics, tags = (run.metrics, run.tags) if run else ({}, {})
        rows.append(
            [
                f"v{r.version}",
                _when(r.went_live),
                _when(r.until) if r.until else "live now",
                f"v{r.replaced}" if r.replaced else "—",
                HOW_WORDS.get(r.how, r.how),
                r.reason + (f" — ended: {r.end_reason}" if r.end_reason else ""),
                metrics.get("frozen_mae"),
                metrics.get("test_mae"),
                tags.get("carprice.eval_set", "— (before frozen sets)"),
                "SYNTHETIC sample" if tags.get("data.synthetic") == "true" else "real listings"
                if run else "?",
            ]
        )  # fmt: skip
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


@st.cache_data(ttl=60, show_spinner=False)
def run_figures(url: str, run_id: str) -> dict[str, Any]:
    """The served version's MLflow run: its frozen-set and own-split figures, tags."""
    from dashboard import connections

    run = connections.mlflow_client().get_run(run_id)
    return {"metrics": run.metrics, "tags": run.tags}


def figure_tiles(metrics: dict[str, float], tags: dict[str, str]) -> list[tuple[str, str, str]]:
    """Two labelled figures: MAE on the frozen evaluation set (the same cars for every model)
    and MAE on the run's own test split (its own draw of cars)."""
    tiles = []
    if "frozen_mae" in metrics:
        rows = metrics.get("frozen_rows", 0)
        tiles.append((
            "MAE · frozen evaluation set",
            rupees(metrics["frozen_mae"]),
            f"{tags.get('carprice.eval_set', '?')}: {indian(rows)} cars every model is scored on "
            f"(MAPE {metrics.get('frozen_mape', float('nan')):.1%}).",
        ))  # fmt: skip
    if "test_mae" in metrics:
        tiles.append((
            "MAE · its own test split",
            rupees(metrics["test_mae"]),
            "The held-out part of this run's own data: differs from run to run.",
        ))  # fmt: skip
    return tiles
