"""The Quote form, built from the API's /model/info: pickers from the model's vocabulary,
accepted ranges as widget bounds, training medians and the API's example as defaults.

Brand and model sit outside the `st.form` so choosing a brand filters the model list at
once; everything else is submitted together, so typing doesn't re-price on every keystroke.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

OWNER_LABELS = {
    0: "Test-drive car",
    1: "First owner",
    2: "Second owner",
    3: "Third owner",
    4: "Fourth owner or more",
}
# label, step, format, integer?
NUMBER_FIELDS: dict[str, tuple[str, float, str, bool]] = {
    "year": ("Year of registration", 1, "%d", True),
    "km_driven": ("Kilometres driven (km)", 1000, "%d", True),
    "mileage_kmpl": ("Mileage (km/l)", 0.1, "%.1f", False),
    "engine_cc": ("Engine (cc)", 1, "%d", True),
    "max_power_bhp": ("Max power (bhp)", 0.5, "%.1f", False),
    "seats": ("Seats", 1, "%d", True),
    "torque_nm": ("Torque (Nm, optional)", 1, "%.0f", False),
    "torque_rpm": ("Torque peak at (rpm, optional)", 50, "%.0f", False),
}
CATEGORY_LABELS = {"fuel": "Fuel", "transmission": "Transmission", "seller_type": "Seller"}
OPTIONAL = ("torque_nm", "torque_rpm")


def specs(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Feature specs by name."""
    return {f["name"]: f for f in info["features"]}


def model_families(info: dict[str, Any], brand: str) -> list[str]:
    """Model families the model saw for `brand`, in display case ("swift" → "Swift")."""
    by_brand = info.get("models_by_brand", {})
    families = by_brand.get(brand) or by_brand.get(brand.lower()) or []
    return [m if any(c.isupper() for c in m) else m.title() for m in families]


def default_value(name: str, spec: dict[str, Any], example: dict[str, Any]) -> Any:
    """The API's example if it is a valid choice, else the training median (or first choice)."""
    value = example.get(name)
    allowed = spec.get("allowed")
    if allowed:
        return value if value in allowed else allowed[0]
    if value is None and name not in OPTIONAL:
        value = spec.get("train_median") or spec.get("min") or 0
    if value is None:
        return None
    integer = NUMBER_FIELDS.get(name, ("", 1, "", False))[3]
    return int(round(value)) if integer else float(value)


def defaults(info: dict[str, Any]) -> dict[str, Any]:
    """Widget key → starting value: the API's example car where valid, else medians."""
    example, by_name = info.get("example", {}), specs(info)
    brands = info["brands"]
    brand = example.get("brand") if example.get("brand") in brands else brands[0]
    families = model_families(info, brand)
    guess = (example.get("name") or "").split()
    out: dict[str, Any] = {
        "quote_brand": brand,
        "quote_model": next(
            (m for m in families if len(guess) > 1 and m.lower() == guess[1].lower()),
            families[0] if families else None,
        ),
        "quote_variant": " ".join(guess[2:]),
    }
    for name, spec in by_name.items():
        if name in NUMBER_FIELDS or name in CATEGORY_LABELS or name == "owner_rank":
            out[f"quote_{name}"] = default_value(name, spec, example)
    return out


def init_state(info: dict[str, Any]) -> None:
    """Seed widget state: all of it for a new model version, else only what is missing
    (Streamlit forgets a widget's value while its page is not shown)."""
    fresh = st.session_state.get("quote_defaults_for") != info["version"]
    for key, value in defaults(info).items():
        if fresh or key not in st.session_state:
            st.session_state[key] = value
    st.session_state["quote_defaults_for"] = info["version"]


def _on_brand_change() -> None:
    st.session_state.pop("quote_model", None)


def vehicle_pickers(info: dict[str, Any]) -> tuple[str, str | None]:
    """Brand and model selectboxes (outside the form, so the model list follows the brand)."""
    brand = st.selectbox("Brand", info["brands"], key="quote_brand", on_change=_on_brand_change)
    families = model_families(info, brand)
    if families:
        if st.session_state.get("quote_model") not in families:
            st.session_state["quote_model"] = families[0]
        model = st.selectbox("Model", families, key="quote_model")
    else:
        st.caption("No model families on record for this brand; the brand alone is used.")
        model = None
    return brand, model


def _number(name: str, spec: dict[str, Any], container: Any) -> Any:
    label, step, fmt, integer = NUMBER_FIELDS[name]
    low, high = spec.get("min"), spec.get("max")
    cast = int if integer else float
    return container.number_input(
        label,
        min_value=cast(low) if low is not None else None,
        max_value=cast(high) if high is not None else None,
        step=cast(step),
        format=fmt,
        key=f"quote_{name}",
        help=_range_help(spec),
    )


def _range_help(spec: dict[str, Any]) -> str | None:
    lo, hi = spec.get("train_min"), spec.get("train_max")
    if lo is None or hi is None:
        return spec.get("description")
    return f"{spec.get('description') or ''} Cars in training: {lo:,.0f} – {hi:,.0f}.".strip()


def details_form(info: dict[str, Any]) -> bool:
    """The rest of the car in one form; True when the user pressed *Get price*."""
    by_name = specs(info)
    with st.form("quote_form", border=False):
        st.text_input(
            "Variant (optional)",
            key="quote_variant",
            placeholder="e.g. VDI, 1.2 Sportz",
            help="The rest of the listing name; makes comparables more specific.",
        )
        a, b = st.columns(2)
        _number("year", by_name["year"], a)
        _number("km_driven", by_name["km_driven"], b)
        a, b, c = st.columns(3)
        for col, name in zip((a, b, c), ("fuel", "transmission", "seller_type"), strict=True):
            col.selectbox(CATEGORY_LABELS[name], by_name[name]["allowed"], key=f"quote_{name}")
        a, b = st.columns(2)
        a.selectbox(
            "Owners", list(OWNER_LABELS), format_func=OWNER_LABELS.get, key="quote_owner_rank"
        )
        _number("seats", by_name["seats"], b)
        a, b, c = st.columns(3)
        _number("mileage_kmpl", by_name["mileage_kmpl"], a)
        _number("engine_cc", by_name["engine_cc"], b)
        _number("max_power_bhp", by_name["max_power_bhp"], c)
        a, b = st.columns(2)
        _number("torque_nm", by_name["torque_nm"], a)
        _number("torque_rpm", by_name["torque_rpm"], b)
        return st.form_submit_button("Get price", type="primary", key="quote_submit")


def car_from_state(brand: str, model: str | None) -> dict[str, Any]:
    """The CarFeatures JSON for the current widget values."""
    s = st.session_state
    name = " ".join(p for p in (brand, model or "", s.get("quote_variant", "").strip()) if p)
    car: dict[str, Any] = {"name": name, "brand": brand, "owner_rank": s["quote_owner_rank"]}
    for field in (*NUMBER_FIELDS, *CATEGORY_LABELS):
        car[field] = s.get(f"quote_{field}")
    return {k: v for k, v in car.items() if v is not None}
