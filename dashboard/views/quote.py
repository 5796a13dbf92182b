"""Quote (salespeople): price one car, see why, compare listings, try what-ifs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import banners, charts, pricing, whatif
from dashboard import quote_answer as answer
from dashboard import quote_form as form
from dashboard.clients.api_client import ApiError
from dashboard.config import get_dashboard_settings

URL = get_dashboard_settings().api_url

st.title("Quote a car")
health = banners.require_api()
version = health["model_version"]
try:
    info = pricing.model_info(URL, version)
except ApiError as exc:
    banners.api_down(exc)
st.caption(
    f"Prices from model **v{info['version']}** · {info['interval_level']:.0%} of real prices "
    "fall inside the range shown."
)
catalogue = form.Catalogue(URL, version)

left, right = st.columns([2, 3], gap="large")
with left:
    st.subheader("The car")
    try:
        form.init_state(info, catalogue)
        pick = form.vehicle_pickers(info, catalogue)
    except ApiError as exc:
        banners.api_down(exc)
    if form.details_form(info, pick):
        st.session_state["quote_car"] = form.car_from_state(pick)
        st.session_state.pop("quote_whatif_for", None)

car = st.session_state.get("quote_car")
with right:
    if car is None:
        st.info(
            "Fill in the car on the left (its name and use are enough) and press **Get price**.",
            icon=":material/arrow_back:",
        )
        # How far to trust a quote, and what moves prices in general, while the form is
        # filled in. Drawing a metric and a chart now also makes the browser load their code
        # before the first price, not in the middle of showing it.
        metrics = info.get("metrics") or {}
        if "mae" in metrics and "median_ape" in metrics:
            mae, ape = st.columns(2)
            mae.metric("Typical error on unseen cars", charts.rupees(metrics["mae"]))
            ape.metric("Median % error", f"{metrics['median_ape']:.1%}")
        try:
            importance = pricing.importance(URL, version)["importance"]
        except ApiError:
            importance = None
        if importance:
            st.plotly_chart(charts.importance_bar(importance), key="quote_importance")
        st.stop()
    try:
        result = pricing.quote(URL, version, pricing.canonical(car))
    except ApiError as exc:
        if exc.unreachable:
            banners.api_down(exc)
        st.error(f"**This car can't be priced:** {exc}", icon=":material/warning:")
        st.stop()
    st.subheader(answer.display_name(car))
    price_col, range_col = st.columns([1, 2])
    with price_col.container(key="quote_price"):
        st.metric("Estimated price", charts.rupees(result["price"]))
    with range_col.container(key="quote_range"):
        st.metric(
            f"{result['interval_level']:.0%} range",
            f"{charts.rupees(result['price_low'])} – {charts.rupees(result['price_high'])}",
        )
    st.caption(f"Model version {result['model_version']} · ₹{result['price']:,.0f}")
    if assumed := answer.assumed(result):
        with st.container(key="quote_filled"):
            st.info(
                "  \n".join(assumed) + "  \nIf this car differs, change the value under "
                "*Specifications* and press *Get price* again.",
                icon=":material/info:",
            )
    for warning in result["warnings"]:
        st.warning(answer.warning_text(warning), icon=":material/warning:")
    st.plotly_chart(
        charts.waterfall(result["contributions"], result["price"]), key="quote_waterfall"
    )

st.divider()
st.subheader("What if?")
st.caption("Move the sliders to re-price this car without filling the form again.")
by_name = form.specs(info)
km_values = whatif.grid(by_name["km_driven"], car["km_driven"])
year_values = whatif.grid(by_name["year"], car["year"])
if st.session_state.get("quote_whatif_for") != pricing.canonical(car):
    st.session_state["quote_whatif_km"] = int(car["km_driven"])
    st.session_state["quote_whatif_year"] = int(car["year"])
    st.session_state["quote_whatif_for"] = pricing.canonical(car)
a, b, c = st.columns([2, 2, 1])
km = a.slider(
    "Kilometres driven (km)", int(min(km_values)), int(max(km_values)), step=1000,
    key="quote_whatif_km",
)  # fmt: skip
year = b.slider("Year of registration", int(min(year_values)), int(max(year_values)),
                key="quote_whatif_year")  # fmt: skip
try:
    variant = pricing.quote(URL, version, pricing.canonical({**car, "km_driven": km, "year": year}))
    change = variant["price"] - result["price"]
    with c.container(key="quote_whatif_price"):
        st.metric("What-if price", charts.rupees(variant["price"]),
                  delta=charts.rupees(change) if change else None)  # fmt: skip
    km_curve = whatif.sweep(URL, version, {**car, "year": year}, "km_driven", km_values)
    year_curve = whatif.sweep(URL, version, {**car, "km_driven": km}, "year", year_values)
except ApiError as exc:
    if exc.unreachable:
        banners.api_down(exc)
    st.error(f"**The what-if prices failed:** {exc}", icon=":material/warning:")
    st.stop()
a, b = st.columns(2)
a.plotly_chart(
    charts.curve(*km_curve, "Kilometres driven", f"Price vs km ({year})", (km, variant["price"])),
    key="quote_km_curve",
)
b.plotly_chart(
    charts.curve(*year_curve, "Year", f"Price vs year ({km:,} km)", (year, variant["price"])),
    key="quote_year_curve",
)

st.subheader("Comparable listings")
comparables = pd.DataFrame(result["comparables"])
if comparables.empty:
    st.info("No comparable listings in the training data.")
else:
    st.caption("The nearest real listings the model learned from, with their asking prices.")
    st.dataframe(
        comparables.drop(columns=["distance", "brand", "model"], errors="ignore"),
        hide_index=True,
        key="quote_comparables",
        column_config={
            "selling_price": st.column_config.NumberColumn("Asking price (₹)", format="%,d"),
            "km_driven": st.column_config.NumberColumn("km", format="%,d"),
            "year": st.column_config.NumberColumn("Year", format="%d"),
            "owner_rank": st.column_config.NumberColumn("Owners"),
            "max_power_bhp": st.column_config.NumberColumn("Power (bhp)"),
        },
    )
