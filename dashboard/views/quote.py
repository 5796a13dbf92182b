"""Quote (salespeople): price one car, see why, compare listings, try what-ifs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import auth, banners, charts, pricing, sales, whatif
from dashboard import quote_answer as answer
from dashboard import quote_form as form
from dashboard.clients.api_client import ApiError
from dashboard.config import get_dashboard_settings

auth.require_page("quote")  # before anything else: refused roles see nothing

URL = get_dashboard_settings().api_url
# Figures wrap instead of being cut off ("₹10.06 la…") in narrow columns, and shrink a little
# on small screens; the range is a smaller figure than the price. The form's number fields
# drop their +/- buttons (nobody steps a year or km by one), so a 6-digit km shows whole.
# Style-only st.html takes no room on the page.
FIGURES_CSS = """<style>
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * {
  white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; overflow-wrap: anywhere;
}
[data-testid="stMetricValue"] { font-size: clamp(1.6rem, 2.4vw, 2.25rem); line-height: 1.2; }
.st-key-quote_range [data-testid="stMetricValue"] { font-size: clamp(1.2rem, 1.7vw, 1.6rem); }
.st-key-quote_details [data-testid="stNumberInputStepDown"],
.st-key-quote_details [data-testid="stNumberInputStepUp"] { display: none; }
</style>"""

st.html(FIGURES_CSS)
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
    pressed = form.details_form(info, pick)
    if pressed and form.submitted_in_a_race():
        form.refill_and_price()  # the fields then show the car that is priced
        st.rerun()
    if pressed or form.reprice():
        if form.problems(info):  # said under each field; no price for an incomplete car
            st.session_state.pop("quote_car", None)
        else:
            st.session_state["quote_car"] = form.car_from_state(pick)
            st.session_state["quote_entry"] = pick.entry
            st.session_state.pop("quote_whatif_for", None)

car = st.session_state.get("quote_car")
with right:
    if car is None:
        if form.problems(info):
            st.warning(
                "**No price yet:** fix the fields marked in red on the left, then press "
                "**Get price**.",
                icon=":material/arrow_back:",
            )
        else:
            st.info(
                "Fill in the car on the left (its name and use are enough) and press "
                "**Get price**.",
                icon=":material/arrow_back:",
            )
        # How far to trust a quote, and what moves prices in general, while the form is
        # filled in. Drawing a metric and a chart now also makes the browser load their code
        # before the first price, not in the middle of showing it.
        metrics = info.get("metrics") or {}
        if "mae" in metrics and "median_ape" in metrics:
            mae, ape = st.columns(2)
            mae.metric(
                "Typical error on unseen cars",
                charts.rupees(metrics["mae"]),
                help="On average, a quote for a car the model hadn't seen was this far from "
                "its real asking price (mean absolute error on held-out cars).",
            )
            ape.metric("Median % error", f"{metrics['median_ape']:.1%}")
        try:
            importance = pricing.importance(URL, version)["importance"]
        except ApiError:
            importance = None
        if importance:
            st.plotly_chart(charts.importance_bar(importance), key="quote_importance")
            with st.expander("How is this measured?"):
                st.markdown(
                    "Each bar is the mean absolute SHAP value of that input over the training "
                    "cars, in log-price units (0.1 ≈ a 10% change in price); the hover gives "
                    "it as a share of the price. Inputs named `tok_…` are words in the car's "
                    "name; `te_…` is what its brand, model or variant fetches on average."
                )
        st.stop()
    try:
        result = pricing.quote(URL, version, pricing.canonical(car), pricing.session_id())
    except ApiError as exc:
        if exc.unreachable:
            banners.api_down(exc)
        st.error(
            f"**This car can't be priced:** {answer.error_text(str(exc))}",
            icon=":material/warning:",
        )
        with st.expander("Technical details"):
            st.code(str(exc), language=None, wrap_lines=True)
        st.stop()
    st.subheader(answer.display_name(car))
    price_col, range_col = st.columns(2)
    with price_col.container(key="quote_price"):
        st.metric(
            "Estimated price",
            charts.rupees(result["price"]),
            help=f"Exactly {charts.rupees(result['price'], exact=True)}.",
        )
    with range_col.container(key="quote_range"):
        st.metric(
            f"{result['interval_level']:.0%} of real prices fall within",
            charts.rupee_range(result["price_low"], result["price_high"]),
            help=f"{charts.rupees(result['price_low'], exact=True)} to "
            f"{charts.rupees(result['price_high'], exact=True)}.",
        )
    st.caption(
        f"Model version {result['model_version']} · {charts.rupees(result['price'], exact=True)}"
    )
    if result.get("quote_id"):  # the id a sale is recorded against (copy button on the code)
        with st.container(key="quote_id"):
            st.caption("Quote id, to record the sale:")
            st.code(result["quote_id"], language=None)
        with st.expander("Record the sale", icon=":material/handshake:"):
            sales.sale_form("quote_sale", result["quote_id"], result["price"])
    span = whatif.span(
        form.specs(info)["year"],
        form.specs(info)["km_driven"],
        st.session_state.get("quote_entry"),
        car,
    )
    name = answer.display_name(car)
    for flag in whatif.flags(span, name, car["year"], car["km_driven"]):
        st.warning(flag, icon=":material/warning:")
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
    with st.expander("Technical details"):
        st.markdown(
            "The bars are SHAP contributions of the model's inputs, turned into rupees so "
            "that they add up exactly to the price."
        )
        if result["warnings"]:
            st.markdown("The API's warnings:\n" + answer.technical(result["warnings"]))
        if result.get("filled"):
            st.markdown(
                "Specs filled from the catalogue: "
                + ", ".join(f"`{k}` ({v})" for k, v in result["filled"].items())
            )

st.divider()
st.subheader("What if?")
st.caption(
    f"Move the sliders to re-price this car without filling the form again. They cover "
    f"the years the catalogue lists for this car and the kilometres plausible for them "
    f"(up to {charts.indian(whatif.KM_PER_YEAR)} km a year)."
)
if st.session_state.get("quote_whatif_for") != pricing.canonical(car):
    st.session_state["quote_whatif_km"] = int(car["km_driven"])
    st.session_state["quote_whatif_year"] = int(car["year"])
    st.session_state["quote_whatif_for"] = pricing.canonical(car)
a, b = st.columns(2)
km = a.select_slider(  # a select slider: its labels can be written 1,45,500 km
    "Kilometres driven (km)",
    whatif.km_steps(span, int(car["km_driven"])),
    key="quote_whatif_km",
    format_func=lambda v: f"{charts.indian(v)} km",
)
year = b.slider("Year of registration", span.year_low, span.year_high, key="quote_whatif_year")
try:
    variant = pricing.explore(
        URL, version, pricing.canonical({**car, "km_driven": km, "year": year})
    )
    change = variant["price"] - result["price"]
    with st.container(key="quote_whatif_price"):
        st.metric(
            "What-if price",
            charts.rupees(variant["price"]),
            delta=charts.signed_rupees(change, exact=True) if change else None,
            delta_arrow="down" if change < 0 else "up",
            delta_color="red" if change < 0 else "green",
            help=f"{charts.indian(km)} km, {year}: "
            f"{charts.rupees(variant['price'], exact=True)}, "
            f"{'less' if change < 0 else 'more'} than the quote above by "
            f"{charts.rupees(abs(change), exact=True)}.",
        )
    for flag in whatif.flags(span, name, year, km):
        st.warning(flag, icon=":material/warning:")
    km_curve = whatif.sweep(
        URL, version, {**car, "year": year}, "km_driven", whatif.km_values(span)
    )
    year_curve = whatif.sweep(
        URL, version, {**car, "km_driven": km}, "year", whatif.year_values(span)
    )
except ApiError as exc:
    if exc.unreachable:
        banners.api_down(exc)
    st.error(
        f"**The what-if prices failed:** {answer.error_text(str(exc))}", icon=":material/warning:"
    )
    st.stop()
a, b = st.columns(2)
a.plotly_chart(
    charts.curve(*km_curve, "Kilometres driven", f"Price vs km ({year})", (km, variant["price"])),
    key="quote_km_curve",
)
b.plotly_chart(
    charts.curve(
        *year_curve,
        "Year",
        f"Price vs year ({charts.indian(km)} km)",
        (year, variant["price"]),
        years=True,
    ),
    key="quote_year_curve",
)

st.subheader("Comparable listings")
comparables = pd.DataFrame(result["comparables"])
if comparables.empty:
    st.info("No comparable listings in the training data.")
else:
    st.caption("The nearest real listings the model learned from, with their asking prices.")
    shown = comparables.drop(columns=["distance", "brand", "model"], errors="ignore")
    written = {  # as the form writes them; the Styler keeps the numbers for sorting
        "selling_price": lambda v: charts.rupees(v, exact=True),
        "km_driven": charts.indian,
        "year": lambda v: "" if pd.isna(v) else str(int(v)),
        "owner_rank": lambda v: "" if pd.isna(v) else form.OWNER_LABELS.get(int(v), str(v)),
        "max_power_bhp": lambda v: "" if pd.isna(v) else answer.number(v),
    }
    st.dataframe(
        shown.style.format({c: f for c, f in written.items() if c in shown}),
        hide_index=True,
        key="quote_comparables",
        column_config={
            "name": st.column_config.TextColumn("Car"),
            "selling_price": st.column_config.NumberColumn("Asking price"),
            "km_driven": st.column_config.NumberColumn("Kilometres driven"),
            "year": st.column_config.NumberColumn("Year"),
            "fuel": st.column_config.TextColumn("Fuel"),
            "transmission": st.column_config.TextColumn("Transmission"),
            "owner_rank": st.column_config.NumberColumn("Owners"),
            "max_power_bhp": st.column_config.NumberColumn("Power (bhp)"),
        },
    )
