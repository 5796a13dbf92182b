"""Experiments (data scientists): MLflow runs and trials, compared side by side."""

from __future__ import annotations

import streamlit as st

from carprice import champions
from carprice.names import CHALLENGER, CHAMPION, EXPERIMENT, REPORT_ARTIFACT
from dashboard import auth, banners, connections, model_card
from dashboard import experiments_view as view
from dashboard.clients.mlflow_client import Experiment, MlflowError, MlflowUnavailable, Run
from dashboard.config import get_dashboard_settings

auth.require_page("experiments")  # before anything else: refused roles see nothing

settings = get_dashboard_settings()
TTL = settings.cache_ttl_seconds


@st.cache_data(ttl=TTL, show_spinner=False)
def load_experiments(url: str) -> list[Experiment]:
    return connections.mlflow_client().search_experiments()


@st.cache_data(ttl=TTL, show_spinner="Reading runs from MLflow…")
def load_runs(url: str, experiment_id: str, max_runs: int) -> tuple[list[Run], bool]:
    return connections.mlflow_client().search_runs([experiment_id], max_runs=max_runs)


@st.cache_data(ttl=TTL, show_spinner=False)
def load_aliases(url: str, model: str) -> list[view.AliasedModel]:
    """The champion beside the champion it replaced (from the versions' history tags), and a
    challenger only while it waits for an operator's approval."""
    client = connections.mlflow_client()
    champion = client.get_version_by_alias(model, CHAMPION)
    versions = {v.version: v for v in client.search_versions(model)} if champion else {}
    reigns = champions.history((v.version, v.tags, v.created) for v in versions.values())
    previous = champions.previous_champion(reigns) if champion else None
    challenger = client.get_version_by_alias(model, CHALLENGER)
    picked = [(CHAMPION, champion), (view.PREVIOUS, versions.get(previous or ""))]
    if challenger is not None and challenger.tags.get("gate.awaiting_approval") == "true":
        picked.append((CHALLENGER, challenger))
    return [
        view.AliasedModel(alias, mv, client.get_run(mv.run_id) if mv.run_id else None)
        for alias, mv in picked
        if mv is not None
    ]


@st.cache_data(ttl=TTL, show_spinner="Reading evaluation reports from MLflow…")
def load_report(url: str, run_id: str) -> list[dict] | None:
    return connections.mlflow_client().load_table(run_id, REPORT_ARTIFACT)


def mlflow_down(exc: MlflowError) -> None:
    if isinstance(exc, MlflowUnavailable):
        st.error(
            f"**MLflow is not available.** {exc}\n\nStart the MLflow server (`make up`) or "
            "point `CARPRICE_DASHBOARD_MLFLOW_URL` at it, then reload this page."
        )
    else:
        st.error(f"**MLflow could not answer this page's question.** {exc}")
    st.stop()


st.title("Experiments")
st.caption(
    f"Training runs and their tuning trials, read from MLflow. Lists refresh every {TTL:.0f} s."
)
banners.note_api_down()
link_base = settings.mlflow_link_base
try:
    experiments = load_experiments(settings.mlflow_url)
    aliased = load_aliases(settings.mlflow_url, settings.model_name)
except MlflowError as exc:
    mlflow_down(exc)
if not experiments:
    st.info("MLflow has no experiments yet. Train a model (`make run`) or trigger the pipeline.")
    st.stop()

st.subheader("Champion vs the champion it replaced")
if aliased:
    for column, card, model in zip(
        st.columns(len(aliased)), view.alias_cards(aliased), aliased, strict=True
    ):
        with column.container(border=True, key=f"exp_card_{model.alias}"):
            st.metric(
                card.label,
                card.value,
                card.delta,
                delta_color=card.delta_color,
                delta_arrow=card.delta_arrow,
            )
            st.caption(card.caption)
            if model.run:
                link = view.run_link(link_base, model.run.experiment_id, model.run.run_id)
                st.markdown(f"[Open run `{model.run.run_name}` in MLflow]({link})")
    st.caption(
        "MAE on the frozen evaluation set (the same cars for every model); each run's own "
        "test split is named beside it."
    )
    with st.expander("All test and frozen-set metrics and the gate's reasons"):
        st.dataframe(view.alias_table(aliased), key="exp_aliases")
else:
    st.info(f"No version of `{settings.model_name}` is registered yet.")

names = [e.name for e in experiments]
default = names.index(EXPERIMENT) if EXPERIMENT in names else 0
name = st.selectbox("Experiment", names, index=default, key="exp_experiment")
experiment = experiments[names.index(name)]
try:
    runs, truncated = load_runs(
        settings.mlflow_url, experiment.experiment_id, settings.experiments_max_runs
    )
except MlflowError as exc:
    mlflow_down(exc)
if not runs:
    st.info(f"Experiment `{name}` has no runs yet.")
    st.stop()

st.subheader("Runs")
left, right = st.columns([3, 4])
kind = left.radio("Show", ["all", "training runs", "trials"], horizontal=True, key="exp_kind")
text = right.text_input("Filter by run name or id", key="exp_filter")
shown = view.filter_runs(runs, kind, text)
table = view.runs_frame(shown).head(settings.experiments_max_rows)
table.insert(
    0, "open", [view.run_link(link_base, experiment.experiment_id, r) for r in table.run_id]
)
st.container(key="exp_runs_box").dataframe(
    view.runs_styler(table),
    key="exp_runs",
    hide_index=True,
    height="auto" if len(table) <= 10 else 420,
    column_config={
        "open": st.column_config.LinkColumn("MLflow", display_text="open"),
        # A column format wins over the Styler's text (which would be str() of the time).
        "started": st.column_config.DatetimeColumn("started", format="YYYY-MM-DD HH:mm:ss"),
    },
)
note = f"{len(table):,} of {len(shown):,} matching runs shown (click a header to sort)."
if len(shown) > len(table):
    note += " Narrow the list with the filter to see the rest."
if truncated:
    note += f" Only the newest {settings.experiments_max_runs:,} runs were read."
st.caption(note)

st.subheader("Compare runs")
labels = {view.run_label(r): r for r in view.ordered(shown)[: settings.experiments_max_rows]}
picked = st.multiselect("Runs to compare (two or more)", list(labels), key="exp_compare")
if len(picked) < 2:
    st.info("Pick two or more runs above to compare their parameters and metrics.")
    st.stop()
chosen = [labels[p] for p in picked]
metrics = view.metric_names(chosen)
if not metrics:
    st.warning("The picked runs logged no metrics.")
    st.stop()
metric = st.selectbox(
    "Metric", metrics, index=metrics.index(view.default_metric(metrics)), key="exp_metric"
)
figure = view.parallel_coordinates(chosen, metric)
if figure is None:
    st.info("Parallel coordinates need two runs with the metric and a numeric param that differs.")
else:
    st.plotly_chart(figure, key="exp_parallel")
params = view.numeric_params(chosen)
if params:
    param = st.selectbox("Parameter", params, key="exp_param")
    scatter = view.metric_vs_param(shown, metric, param, {r.run_id for r in chosen})
    if scatter is not None:
        st.plotly_chart(scatter, key="exp_scatter")
st.markdown("**Parameters that differ**")
diff = view.param_differences(chosen)
same = view.identical_retrains(chosen)
if same:
    st.info(same + " Differences in their metrics are run-to-run noise, not a finding.")
elif diff.empty:
    st.info("The picked runs have identical parameters.")
else:
    st.dataframe(diff, key="exp_param_diff")
st.markdown("**Metrics**")
st.dataframe(view.metrics_side_by_side(chosen), key="exp_metric_table")
st.markdown(
    " · ".join(
        f"[{view.run_label(r)}]({view.run_link(link_base, r.experiment_id, r.run_id)})"
        for r in chosen
    )
)

st.markdown("**Evaluation report** (held-out test error by group)")
tags = view.run_tags(len(chosen))
reports: list[list[dict] | None] = []
legend = []
for tag, run in zip(tags, chosen, strict=True):
    try:
        reports.append(load_report(settings.mlflow_url, run.run_id))
    except MlflowError as exc:
        reports.append(None)
        legend.append(f"- **{tag}** = {view.run_label(run)}: *the report could not be read*")
        st.error(
            f"**The report of {view.run_label(run)} could not be read.** {exc}\n\nCheck that "
            "MLflow and its artifact store are up, then reload the page."
        )
        continue
    note = "" if reports[-1] else ": *no report for this run*"
    legend.append(f"- **{tag}** = {view.run_label(run)}{note}")
st.container(key="exp_report_legend").markdown("\n".join(legend))
dimensions = view.report_dimensions(reports)
if not dimensions:
    st.info(
        "None of the picked runs has an evaluation report: training runs log one "
        f"(`{REPORT_ARTIFACT}`), tuning trials and runs from before reports don't."
    )
    st.stop()
dimension = st.radio(
    "Report by",
    dimensions,
    index=dimensions.index("variant") if "variant" in dimensions else 0,
    format_func=lambda d: model_card.DIMENSION_LABELS.get(d, d),
    horizontal=True,
    key="exp_report_dimension",
)
side = view.report_side_by_side(reports, dimension)
st.container(key="exp_report_box").dataframe(
    view.report_styler(side),
    key="exp_report_table",
    column_config={
        "_index": st.column_config.TextColumn("group", width="medium"),
        **{
            c: st.column_config.NumberColumn(c, format=f)
            for c, f in view.report_formats(side.columns).items()
        },
    },
)
st.caption(
    "MAPE in %, MAE in rupees, each on the run's own held-out test rows. Δ columns: that run "
    "minus the first run with a report (negative: smaller error)."
)
