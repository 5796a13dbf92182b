"""Monitoring (data scientists): live accuracy on real sales, input drift, model_monitor's
decisions, and recording sales."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import auth, banners, charts, connections, pricing, sales
from dashboard import monitoring_view as view
from dashboard.clients.api_client import ApiError
from dashboard.clients.mlflow_client import MlflowError, Run
from dashboard.config import get_dashboard_settings

auth.require_page("monitoring")  # before anything else: refused roles see nothing

settings = get_dashboard_settings()
URL, TTL = settings.api_url, settings.cache_ttl_seconds


@st.cache_data(ttl=TTL, show_spinner="Reading the quote log…")
def load_summary(url: str, since: str, version: str | None, recorded: int) -> dict:
    """`recorded` (sales recorded in this session) is only a cache key: a new sale, new figures."""
    return pricing.api_client().monitoring_summary(date.fromisoformat(since), None, version)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_monitor_runs(url: str, limit: int = 20) -> list[Run] | None:
    """The latest model_monitor runs; None when the experiment doesn't exist yet."""
    client = connections.mlflow_client()
    found = [e for e in client.search_experiments() if e.name == view.MONITOR_EXPERIMENT]
    return client.search_runs([found[0].experiment_id], max_runs=limit)[0] if found else None


# Six figures side by side: they wrap rather than being cut off ("₹2.76 la…"), as on Quote.
st.html("""<style>
[class*="st-key-monitoring_"] [data-testid="stMetricValue"],
[class*="st-key-monitoring_"] [data-testid="stMetricValue"] * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
}
[class*="st-key-monitoring_"] [data-testid="stMetricValue"] {
  font-size: clamp(1.3rem, 2vw, 2rem); line-height: 1.2;
}
</style>""")
if "monitoring_window" not in st.session_state:
    st.session_state["monitoring_window"] = next(iter(view.WINDOWS))
    st.session_state["monitoring_version"] = view.ALL_VERSIONS

st.title("Monitoring")
st.caption(
    "How the served model prices real cars: quotes logged by the API, the prices they sold "
    f"for, and drift of the cars quoted from the training data. Figures refresh every {TTL:.0f} s."
)
pick, version_pick, refresh = st.columns([3, 2, 1], vertical_alignment="bottom")
window = pick.radio("Window", list(view.WINDOWS), horizontal=True, key="monitoring_window")
if refresh.button("Refresh", key="monitoring_refresh", icon=":material/refresh:"):
    load_summary.clear()
    load_monitor_runs.clear()
since = view.window_since(view.WINDOWS[window]).isoformat()
recorded = st.session_state.get(sales.SALES_RECORDED, 0)
try:
    everything = load_summary(URL, since, None, recorded)
    versions = [view.ALL_VERSIONS, *everything["by_model_version"]]
    if st.session_state["monitoring_version"] not in versions:
        st.session_state["monitoring_version"] = view.ALL_VERSIONS
    version = version_pick.selectbox("Model version", versions, key="monitoring_version")
    summary = (
        everything if version == view.ALL_VERSIONS else load_summary(URL, since, version, recorded)
    )
except ApiError as exc:
    if exc.unreachable:
        banners.api_down(exc)
    st.error(f"**The monitoring summary could not be read:** {exc}", icon=":material/block:")
    st.stop()

accuracy, reference = summary["accuracy"], summary["reference"]
st.caption(
    f"Quotes made since {since} (UTC). Live figures compare with model "
    f"v{reference['model_version']}'s own test set (the served champion)."
)
cells = st.columns(7)
figures = [
    ("quotes", "Quotes", charts.indian(summary["quotes"]), None, None),
    ("sales", "Sales matched", charts.indian(summary["sales"]), None,
     "Quotes in the window with a recorded sale price."),
    ("mape", "Live MAPE", view.percent(accuracy["mape"]),
     view.mape_delta(accuracy["mape"], reference["test_mape"]),
     f"Mean absolute % error of the quotes against their sale prices; the test set's was "
     f"{view.percent(reference['test_mape'])}."),
    ("mae", "Live MAE", charts.rupees(accuracy["mae"]), None,
     f"Mean absolute error, {charts.rupees(accuracy['mae'], exact=True)}; the test set's was "
     f"{charts.rupees(reference['test_mae'], exact=True)}."),
    ("coverage", "Coverage", view.percent(accuracy["coverage"], 0), None,
     f"Share of sale prices inside the quoted range; on the test set "
     f"{view.percent(reference['test_coverage'], 0)}."),
    ("out_of_range", "Out of range", view.percent(summary["rates"]["out_of_range"]), None,
     "Share of quotes with an input outside the training range."),
    ("refused", "Refused", view.percent(summary["rates"].get("refused")), None,
     f"Share of the rows asked for that got no price ({charts.indian(summary.get('refused') or 0)}"
     " rows: an unknown brand, a value outside what the model accepts, a malformed line)."),
]  # fmt: skip
for cell, (key, label, value, delta, help_text) in zip(cells, figures, strict=True):
    with cell.container(key=f"monitoring_{key}"):
        st.metric(label, value, delta=delta, delta_color="inverse", help=help_text)

st.subheader("Live accuracy over time")
weekly = view.weekly_frame(summary)
if not summary["sales"]:
    st.info(
        "No sale is recorded yet for the quotes of this window, so there is no live error to "
        "show. Record sales below (or on the Quote page) and they appear here.",
        icon=":material/info:",
    )
else:
    left, right = st.columns(2)
    left.plotly_chart(
        view.accuracy_chart(weekly, reference["test_mape"]), key="monitoring_mape_chart"
    )
    right.plotly_chart(
        view.coverage_chart(weekly, reference["test_coverage"]), key="monitoring_coverage_chart"
    )
    numbers = {
        c: st.column_config.NumberColumn(label)
        for c, label in (("mae", "MAE"), ("mape", "MAPE"), ("median_ape", "Median APE"),
                         ("coverage", "Coverage"))
    }  # fmt: skip
    with st.expander("By week and by model version"):
        st.dataframe(
            view.shares_styler(weekly), hide_index=True, key="monitoring_weeks",
            column_config=numbers,
        )  # fmt: skip
        st.dataframe(
            view.shares_styler(view.versions_frame(summary)), hide_index=True,
            key="monitoring_versions", column_config=numbers,
        )  # fmt: skip

st.subheader("Input drift")
level, words = view.drift_words(summary["drift"])
getattr(st, level)(words)
drift = view.drift_frame(summary["drift"])
if len(drift):
    left, right = st.columns([3, 2])
    left.dataframe(
        drift,
        hide_index=True,
        key="monitoring_drift",
        column_config={
            "feature": st.column_config.TextColumn("Input"),
            "psi": st.column_config.NumberColumn("PSI", format="%.3f"),
            "band": st.column_config.TextColumn("Band"),
            "moved": st.column_config.TextColumn("What moved", width="large"),
        },
    )
    right.plotly_chart(view.drift_chart(drift), key="monitoring_drift_chart")

st.subheader("Latest model_monitor runs")
try:
    runs = load_monitor_runs(settings.mlflow_url)
except MlflowError as exc:
    st.warning(f"**The monitor runs could not be read from MLflow.** {exc}")
else:
    if not runs:
        st.info(
            "`model_monitor` has not logged a run yet (MLflow experiment "
            f"`{view.MONITOR_EXPERIMENT}`). It runs daily on Airflow, or trigger it there."
        )
    else:
        st.dataframe(
            view.runs_frame(runs),
            hide_index=True,
            key="monitoring_runs",
            column_config={
                "when": st.column_config.TextColumn("When"),
                "decision": st.column_config.TextColumn("Decision"),
                "reasons": st.column_config.TextColumn("Reasons", width="large"),
                "drift": st.column_config.TextColumn("Drift"),
                "champion": st.column_config.TextColumn("Champion"),
                "live_mape": st.column_config.NumberColumn("Live MAPE", format="percent"),
            },
        )

st.subheader("Record sales")
upload_col, one_col = st.columns(2, gap="large")
with upload_col:
    st.markdown("**A sales file**")
    answer = sales.upload_form("monitoring_upload", rerun_on_success=True)
    if answer is not None:
        st.markdown(f"{answer['recorded']} recorded, {answer['refused']} refused.")
        st.dataframe(view.upload_frame(answer), hide_index=True, key="monitoring_upload_rows")
with one_col:
    st.markdown("**One sale**")
    sales.sale_form("monitoring_sale", rerun_on_success=True)
