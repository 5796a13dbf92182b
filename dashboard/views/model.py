"""Model (everyone): the champion, what it learned overall, and how price follows one input."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, banners, charts, model_card, pricing, quote_form, whatif
from dashboard.clients.api_client import ApiError
from dashboard.clients.mlflow_client import MlflowError
from dashboard.config import get_dashboard_settings

auth.require_page("model")  # before anything else: refused roles see nothing

SETTINGS = get_dashboard_settings()
URL = SETTINGS.api_url

st.title("The pricing model")
health = banners.require_api()
version = health["model_version"]
try:
    info = pricing.model_info(URL, version)
    importance = pricing.importance(URL, version)["importance"]
except ApiError as exc:
    banners.api_down(exc)

data = info.get("data") or {}
if data.get("synthetic"):
    st.warning(
        "This model was trained on a **synthetic** sample, not real listings: fine for trying "
        "the system, not for quoting customers.",
        icon=":material/science:",
    )
with st.container(border=True, key="model_card"):
    st.subheader(f"Champion: {info['name']} v{info['version']}")
    trained = (info.get("trained_at") or "unknown").replace("T", " ")[:19]
    st.caption(
        f"Alias **{info['alias']}** · trained {trained} UTC · loaded by the API "
        f"{info['loaded_at'].replace('T', ' ')[:19]} UTC · run `{info.get('run_id') or '—'}`"
    )
    tiles = model_card.metric_tiles(info.get("metrics", {}))
    for col, (label, value, help_text) in zip(st.columns(len(tiles) or 1), tiles, strict=False):
        col.metric(label, value, help=help_text)
    figures: dict = {}
    if info.get("run_id"):
        try:
            figures = model_card.run_figures(SETTINGS.mlflow_url, info["run_id"])
        except MlflowError as exc:
            st.caption(f"Its MLflow figures could not be read: {exc}")
    figure_tiles = model_card.figure_tiles(figures.get("metrics", {}), figures.get("tags", {}))
    for col, (label, value, help_text) in zip(
        st.columns(len(figure_tiles) or 1), figure_tiles, strict=False
    ):
        col.metric(label, value, help=help_text)
    if figures and (figures.get("tags") or {}).get("data.synthetic") == "true":
        st.caption("Its MLflow run says: trained on the **synthetic sample**.")
    gate = info.get("gate") or {}
    if gate:
        st.caption(f"Promotion gate: **{gate.get('verdict', '?')}** — {gate.get('reason', '')}")

st.subheader("Champions over time")
try:
    history = model_card.champion_history(SETTINGS.mlflow_url, SETTINGS.model_name)
except MlflowError as exc:
    st.warning(f"The history of champions could not be read from MLflow: {exc}")
else:
    if history.empty:
        st.info("No version has gone live yet.")
    else:
        st.caption(
            "Each period a version was live: when, what it replaced and why (recorded on the "
            "version by the gate, an operator's approval or a rollback). MAE on the frozen "
            "evaluation set compares models on the same cars; the own-split figure does not."
        )
        st.container(key="model_history").dataframe(
            charts.rupee_styler(history, model_card.HISTORY_MONEY),
            key="model_history_table",
            hide_index=True,
            column_config={
                **{c: st.column_config.NumberColumn(c) for c in model_card.HISTORY_MONEY},
                "Why": st.column_config.TextColumn(width="large"),
            },
        )

st.subheader("Where it errs: the evaluation report")
try:
    report = model_card.evaluation_report(URL, version)
except ApiError as exc:
    if exc.unreachable:
        banners.api_down(exc)
    st.error(
        f"**The evaluation report could not be read:** {exc}\n\nReload the page; if it keeps "
        "failing, check the pricing API's log.",
        icon=":material/warning:",
    )
else:
    model_card.show_report(report, version)

st.subheader("What it learned")
left, right = st.columns(2, gap="large")
with left:
    st.plotly_chart(charts.importance_bar(importance), key="model_importance")
with right:
    st.markdown("**Training data**")
    st.dataframe(
        pd.DataFrame(model_card.data_rows(data), columns=["What", "Value"]),
        hide_index=True,
        key="model_data",
    )

st.subheader("How price follows one input")
st.caption(
    "The example car priced by the API with one input swept across the range seen in "
    "training, everything else held fixed."
)
specs = {f["name"]: f for f in info["features"]}
choices = [f for f in model_card.NUMERIC_FEATURES if f in specs]
a, b = st.columns([1, 3])
feature = a.selectbox(
    "Input", choices, format_func=model_card.LABELS.get, key="model_dependence_feature"
)
example_brand = quote_form.named_brand(info["example"], info["brands"])
brand = a.selectbox(
    "Brand of the example car",
    info["brands"],
    index=info["brands"].index(example_brand) if example_brand else 0,
    key="model_dependence_brand",
)
car = {**info["example"], "brand": brand}
if brand != example_brand:  # another brand: the example's name would contradict it
    car.pop("name", None)
try:
    curve = whatif.sweep(URL, version, car, feature, whatif.grid(specs[feature], points=25))
    base = pricing.explore(URL, version, pricing.canonical(car))
except ApiError as exc:
    if exc.unreachable:
        banners.api_down(exc)
    st.error(f"**The sweep could not be priced:** {exc}", icon=":material/warning:")
    st.stop()
label = model_card.LABELS[feature]
marker = (car[feature], base["price"]) if car.get(feature) is not None else None
b.plotly_chart(
    charts.curve(
        *curve,
        label,
        f"Price vs {label.lower()} ({brand} example car)",
        marker,
        years=feature == "year",
    ),
    key="model_dependence",
)
