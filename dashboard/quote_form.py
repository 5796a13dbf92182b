"""The Quote form: brand → model → variant pickers fed by the served model's catalogue, then
the car's use (year, km, fuel, transmission, owners, seller), then its specifications in a
collapsed section, pre-filled with the picked car's typical values.

The pickers sit outside the `st.form`, so each choice updates the next list and the specs at
once; the rest is submitted together by *Get price*, so typing doesn't re-price every key.

State rules (they fix "pick Alto after Swift Dzire VDI and the car is priced as an Alto with
1,248 cc and 74 bhp"):

* choosing a brand clears the model and the variant; choosing a model clears the variant;
* whenever the picked car changes, its specs, fuel and transmission are filled again from its
  catalogue entry (the variant's, else the model's), overwriting what the fields held;
* a spec is sent to the API only if the user changed it from the value it was filled with.
  An untouched spec is left out, so the API fills it from the closest catalogue level that
  knows it and names it in `filled`, which the quote then shows. (Sending the pre-filled
  values instead would make every quote look user-given and hide what was assumed.)
* *Get price* pressed in the instant after a variant change sends back the fields the browser
  still held, the previous car's (`raced`): the page fills the picked car's values in again
  and prices that car, so the fields show what is priced.

Empty and impossible values (the number fields have no min/max of their own, so the browser
never swaps an empty field for the range minimum, nor refuses a value without a word):

* an optional spec left empty stays empty and is not sent: the API fills it;
* an empty required field (year, km) or a value outside what a car can have blocks the quote,
  with the reason under the field (`problem`), and no price is shown;
* a year the catalogue doesn't list for the picked car is priced, with a note (`year_note`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import streamlit as st

from carprice.schema import SPEC_COLUMNS
from dashboard import pricing
from dashboard.quote_answer import amount, field_word, number

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
    "torque_nm": ("Torque (Nm)", 1, "%.0f", False),
    "torque_rpm": ("Torque peak at (rpm)", 50, "%.0f", False),
}
REQUIRED = ("year", "km_driven")  # the rest of the numbers are specs: optional
CATEGORY_LABELS = {"fuel": "Fuel", "transmission": "Transmission", "seller_type": "Seller"}
SPEC_KEYS = tuple(f"quote_{c}" for c in SPEC_COLUMNS)


def specs(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Feature specs by name."""
    return {f["name"]: f for f in info["features"]}


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


# ----------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Catalogue:
    """The served model's catalogue through the API, cached per model version."""

    url: str
    version: str | None

    def brands(self, info: dict[str, Any]) -> list[str]:
        """Catalogue brands; the model's brand vocabulary if the API has no catalogue."""
        listed = [b["brand"] for b in pricing.catalogue_brands(self.url, self.version)]
        return listed or list(info["brands"])

    def models(self, brand: str) -> list[dict[str, Any]]:
        return pricing.catalogue_models(self.url, self.version, brand)

    def variants(self, brand: str, model: str) -> list[dict[str, Any]]:
        """The model's variants, most listed first (what a search should offer first)."""
        rows = pricing.catalogue_variants(self.url, self.version, brand, model)
        return sorted(rows, key=lambda v: (-v["listings"], v["variant"].lower()))


@dataclass(frozen=True)
class Pick:
    """The car picked so far; `variant_entry` is None for "any variant" or a typed one."""

    brand: str
    model: str | None
    variant: str | None
    model_entry: dict[str, Any] | None
    variant_entry: dict[str, Any] | None
    has_models: bool

    @property
    def entry(self) -> dict[str, Any] | None:
        """The catalogue entry the specs come from: the variant's, else the model's."""
        return self.variant_entry or self.model_entry

    @property
    def ready(self) -> bool:
        """Enough to price: a model, unless the catalogue lists none for the brand."""
        return self.model is not None or not self.has_models


def find_variant(variants: list[dict[str, Any]], text: str | None) -> dict[str, Any] | None:
    """The listed variant `text` names, in any case, as a trim ('Dzire VDI') or a full name."""
    return next((v for v in variants if _same(text, v["variant"]) or _same(text, v["name"])), None)


def named_brand(example: dict[str, Any], brands: list[str]) -> str | None:
    """The brand of `brands` the API's example car is: its `brand` field, else the longest
    brand its name starts with ('Land Rover …' is Land Rover, not Land); None if neither."""
    given = str(example.get("brand") or "").lower()
    name = " ".join(str(example.get("name") or "").lower().split())
    named = [b for b in brands if b.lower() == given or f"{name} ".startswith(f"{b.lower()} ")]
    return max(named, key=len, default=None)


def example_pick(info: dict[str, Any], catalogue: Catalogue) -> tuple[str, str | None, str | None]:
    """(brand, model, variant) of the API's example car, as far as the catalogue lists it;
    else the first brand and its most listed model."""
    brands = catalogue.brands(info)
    name = " ".join(str((info.get("example") or {}).get("name") or "").lower().split())
    brand = named_brand({"name": name}, brands)
    rest = name[len(brand) :].strip() if brand else ""
    brand = brand or brands[0]
    models = catalogue.models(brand)
    found = [m["model"] for m in models if f"{rest} ".startswith(f"{m['model'].lower()} ")]
    if found:
        model = max(found, key=len)
        rest = rest[len(model) :].strip()
    else:
        model = max(models, key=lambda m: m["listings"])["model"] if models else None
        rest = ""
    entry = find_variant(catalogue.variants(brand, model), rest) if model and rest else None
    return brand, model, entry["variant"] if entry else None


# ----------------------------------------------------------------------------- state


def default_value(name: str, spec: dict[str, Any], example: dict[str, Any]) -> Any:
    """The API's example if it is a valid choice, else the training median (or first choice)."""
    value = example.get(name)
    allowed = spec.get("allowed")
    if allowed:
        return value if value in allowed else allowed[0]
    if value is None:
        value = spec.get("train_median") or spec.get("min") or 0
    return int(round(value)) if NUMBER_FIELDS.get(name, ("", 1, "", True))[3] else float(value)


def defaults(info: dict[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    """Widget key → starting value: the API's example car where valid, else medians."""
    example, by_name = info.get("example", {}), specs(info)
    brand, model, variant = example_pick(info, catalogue)
    out: dict[str, Any] = {"quote_brand": brand, "quote_model": model, "quote_variant": variant}
    for name in ("year", "km_driven", "owner_rank", *CATEGORY_LABELS):
        out[f"quote_{name}"] = default_value(name, by_name[name], example)
    return out


def init_state(info: dict[str, Any], catalogue: Catalogue) -> None:
    """Seed what is missing (Streamlit forgets a widget's value while its page is not shown).
    A new champion going live mid-form keeps what the salesperson entered: only a choice the
    new model doesn't offer is reset (the pickers re-check brand and model themselves)."""
    s = st.session_state
    fresh = s.get("quote_defaults_for") != info["version"]
    by_name = specs(info)
    for key, value in defaults(info, catalogue).items():
        allowed = by_name.get(key.removeprefix("quote_"), {}).get("allowed")
        stale = fresh and allowed is not None and s.get(key) not in allowed
        if key not in s or stale:
            s[key] = value
    s["quote_defaults_for"] = info["version"]


def _clear(*keys: str) -> None:
    """on_change of a picker: the pickers below it start empty again."""
    for key in keys:
        st.session_state[key] = None


def typical_specs(pick: Pick, info: dict[str, Any]) -> dict[str, Any]:
    """The picked car's typical spec values, rounded as their fields show them: the
    variant's, else the model's; None where neither knows (or the value is off the form)."""
    by_name, out = specs(info), {}
    for col in SPEC_COLUMNS:
        value = next(
            (e[col] for e in (pick.variant_entry, pick.model_entry) if e and e.get(col)), None
        )
        _, _, fmt, integer = NUMBER_FIELDS[col]
        lo, hi = by_name[col].get("min"), by_name[col].get("max")
        if value is None or math.isnan(value) or not (lo or 0) <= value <= (hi or math.inf):
            out[col] = None
        else:  # "%.1f" → 1 decimal: an untouched field then equals its typical value exactly
            out[col] = int(round(value)) if integer else round(float(value), int(fmt[2]))
    return out


def refill(pick: Pick, info: dict[str, Any]) -> None:
    """Fill specs, fuel and transmission from the picked car when it changed (or when the
    fields were forgotten); the user's edits to the previous car's values are overwritten."""
    s = st.session_state
    picked = (info["version"], pick.brand, pick.model, (pick.variant or "").lower())
    if s.get("quote_specs_for") == picked and all(k in s for k in SPEC_KEYS):
        return
    typical = typical_specs(pick, info)
    s["quote_typical_before"] = s.get("quote_typical") or {}
    for col, value in typical.items():
        s[f"quote_{col}"] = value
    by_name = specs(info)
    for name in ("fuel", "transmission"):
        value = (pick.entry or {}).get(name)
        if value in (by_name[name].get("allowed") or ()):
            s[f"quote_{name}"] = value
    s["quote_typical"] = typical
    s["quote_specs_for"] = picked


# ----------------------------------------------------------------------------- widgets


def vehicle_pickers(info: dict[str, Any], catalogue: Catalogue) -> Pick:
    """Brand, model and variant selectboxes (outside the form: each list follows the one
    above it). The variant is searchable and takes free text for an unlisted variant."""
    s = st.session_state
    brands = catalogue.brands(info)
    if s.get("quote_brand") not in brands:
        s["quote_brand"] = brands[0]
    left, right = st.columns(2)
    brand = left.selectbox(
        "Brand", brands, key="quote_brand", on_change=_clear, args=("quote_model", "quote_variant")
    )
    models = catalogue.models(brand)
    names = [m["model"] for m in models]
    if s.get("quote_model") not in names:
        s["quote_model"] = None
    model = right.selectbox(
        "Model", names, index=None, key="quote_model", on_change=_clear, args=("quote_variant",),
        placeholder="Choose a model" if names else "None on record: priced by brand",
    )  # fmt: skip
    model_entry = next((m for m in models if m["model"] == model), None)
    variants = catalogue.variants(brand, model) if model else []
    entry = find_variant(variants, s.get("quote_variant"))
    if entry is not None and s["quote_variant"] != entry["variant"]:
        s["quote_variant"] = entry["variant"]  # typed in another case or in full: the listed one
    variant = st.selectbox(
        "Variant",
        [v["variant"] for v in variants],
        index=None,
        key="quote_variant",
        accept_new_options=True,
        disabled=model is None,
        placeholder="Any variant: type to search, or type one that isn't listed"
        if model
        else "Choose the model first",
        help="Search the variants the model knows (most listed first). A variant that isn't "
        "listed can be typed in: it is priced from its model line or model.",
    )
    variant = (variant or "").strip() or None
    pick = Pick(brand, model, variant, model_entry, entry, bool(names))
    _describe(pick)
    return pick


def _describe(pick: Pick) -> None:
    """One line under the pickers: what the quote will be based on."""
    entry = pick.entry
    if entry is None:
        if not pick.has_models:
            st.caption(f"The catalogue lists no models for {pick.brand}: priced from the brand.")
        return
    seen = f"{entry['listings']:,} listing{'s' if entry['listings'] != 1 else ''}"
    if entry.get("year_min"):
        seen += f", {entry['year_min']}–{entry['year_max']}"
    usual = " ".join(v for v in (entry.get("fuel"), entry.get("transmission")) if v)
    seen += f", mostly {usual}" if usual else ""
    if pick.variant_entry:
        st.caption(f"**{entry['name']}**: {seen}.")
    elif pick.variant:
        st.caption(
            f"“{pick.variant}” isn't in the catalogue: specs you leave untouched are taken "
            f"from the listed variants closest to it (same fuel and gearbox, most words of the "
            f"name in common) within its model line, else model. Specs below: a typical "
            f"{entry['name']}."
        )
    else:
        st.caption(
            f"No variant chosen: priced as a typical **{entry['name']}** ({seen}). "
            "Pick the variant for a closer price."
        )


# ----------------------------------------------------------------------------- checks


def problem(name: str, value: float | None, spec: dict[str, Any]) -> str | None:
    """Why `value` can't be priced for the field `name`, in words; None when it can. Empty is
    a problem only for a required field; the bounds are the API's (what a car can have)."""
    what = field_word(name)
    if value is None:
        return f"Enter the {what.lower()}: it is needed for a price." if name in REQUIRED else None
    if isinstance(value, float) and math.isnan(value):
        return f"{what} must be a number."
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {amount(name, low)} and {amount(name, high)}"
            if low is not None and high is not None
            else f"at least {amount(name, low)}"
            if low is not None
            else f"at most {amount(name, high)}"
        )
        hint = "" if name in REQUIRED else " Leave it empty if you don't know it."
        return f"{what} {amount(name, value)} isn't possible: it must be {bounds}.{hint}"
    return None


def problems(info: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, str]:
    """`problem` for every number field (values: the widgets' state unless given)."""
    s = st.session_state if values is None else values
    by_name = specs(info)
    found = {name: problem(name, s.get(f"quote_{name}"), by_name[name]) for name in NUMBER_FIELDS}
    return {name: text for name, text in found.items() if text}


def year_note(pick: Pick, year: int | None) -> str | None:
    """A year the catalogue doesn't list for the picked car: priced, but said."""
    entry = pick.entry
    if year is None or not entry or not entry.get("year_min") or not entry.get("year_max"):
        return None
    low, high = int(entry["year_min"]), int(entry["year_max"])
    if low <= year <= high:
        return None
    years = f"{low}" if low == high else f"{low}–{high}"
    return f"No {year} {entry['name']} on record (listed {years}): the price will be a guess."


# ----------------------------------------------------------------------------- number fields


def _number(name: str, spec: dict[str, Any], container: Any, note: str | None = None) -> Any:
    """A number field without min/max (so empty stays empty and an impossible value reaches
    `problem`, which is said under the field), then its problem or note, if any."""
    label, step, fmt, integer = NUMBER_FIELDS[name]
    cast = int if integer else float
    value = container.number_input(
        label,
        value=None,
        step=cast(step),
        format=fmt,
        key=f"quote_{name}",
        help=_range_help(name, spec),
        placeholder="Needed" if name in REQUIRED else "Not known: the model fills it",
    )
    text = problem(name, st.session_state.get(f"quote_{name}"), spec)
    if text or note:
        with container.container(key=f"quote_{name}_{'problem' if text else 'note'}"):
            if text:
                st.markdown(f":red[:material/error: {text}]")
            else:
                st.markdown(f":orange[:material/warning: {note}]")
    return value


def _range_help(name: str, spec: dict[str, Any]) -> str:
    """The field's tooltip: what it means and what the model has seen."""
    lo, hi = spec.get("train_min"), spec.get("train_max")
    optional = "" if name in REQUIRED else " Leave it empty if you don't know it."
    seen = f" Cars the model learned from: {amount(name, lo)} – {amount(name, hi)}."
    return (seen if lo is not None and hi is not None else "").strip() + optional


def specs_label() -> str:
    """'Specifications (typical: 1,248 cc · 74 bhp · 23.4 km/l)', from the values filled in."""
    typical = st.session_state.get("quote_typical") or {}
    shown = [
        f"{number(typical[c])} {unit}"
        for c, unit in (("engine_cc", "cc"), ("max_power_bhp", "bhp"), ("mileage_kmpl", "km/l"))
        if typical.get(c) is not None
    ]
    return f"Specifications (typical: {' · '.join(shown)})" if shown else "Specifications"


def details_form(info: dict[str, Any], pick: Pick) -> bool:
    """The rest of the car in one form; True when the user pressed *Get price*."""
    by_name = specs(info)
    refill(pick, info)
    with st.container(key="quote_details"), st.form("quote_form", border=False):
        a, b = st.columns([2, 3])  # km needs the room: its digits and the field's buttons
        _number("year", by_name["year"], a, year_note(pick, st.session_state.get("quote_year")))
        _number("km_driven", by_name["km_driven"], b)
        a, b = st.columns(2)
        for col, name in zip((a, b), ("fuel", "transmission"), strict=True):
            col.selectbox(CATEGORY_LABELS[name], by_name[name]["allowed"], key=f"quote_{name}")
        a, b = st.columns(2)
        a.selectbox(
            "Owners", list(OWNER_LABELS), format_func=OWNER_LABELS.get, key="quote_owner_rank"
        )
        b.selectbox("Seller", by_name["seller_type"]["allowed"], key="quote_seller_type")
        found = problems(info)
        wrong_spec = [n for n in found if n in SPEC_COLUMNS]
        with st.container(key="quote_specs"), st.expander(specs_label(), expanded=bool(wrong_spec)):
            level = "variant" if pick.variant_entry else "model"
            st.caption(
                f"Filled with the {level}'s typical values from the model's catalogue. Change "
                "one only if this car differs: changed values are used as given, the rest are "
                "filled by the model and named with the price."
            )
            for row in (("engine_cc", "max_power_bhp"), ("mileage_kmpl", "seats"),
                        ("torque_nm", "torque_rpm")):  # fmt: skip
                for col, name in zip(st.columns(2), row, strict=True):
                    _number(name, by_name[name], col)
        if not pick.ready:
            st.caption("Choose the model above to get a price.")
        pressed = st.form_submit_button(
            "Get price", type="primary", key="quote_submit", disabled=not pick.ready
        )
        if found:
            where = ", ".join(field_word(n) + (" (under Specifications)" if n in SPEC_COLUMNS
                                               else "") for n in found)  # fmt: skip
            with st.container(key="quote_blocked"):
                st.markdown(f":red[:material/error: **No price yet.** Check: {where}.]")
        return pressed


# ----------------------------------------------------------------------------- the request


def _differs(value: float | None, was: float | None) -> bool:
    if value is None or was is None:
        return value is not was
    return abs(value - was) > 1e-9


def raced(values: dict[str, Any], typical: dict[str, Any], before: dict[str, Any]) -> bool:
    """Every spec field still holds the previous car's typical values, and those differ from
    the picked car's: a browser that submitted before the new car's values reached it (a
    price asked in the instant after a variant change). Nobody typed them."""
    changed = any(_differs(before.get(c), typical.get(c)) for c in SPEC_COLUMNS)
    return (
        bool(before)
        and changed
        and not any(_differs(values.get(c), before.get(c)) for c in SPEC_COLUMNS)
    )


def edited(values: dict[str, Any], typical: dict[str, Any], before: dict[str, Any]) -> dict:
    """Specs changed from the picked car's typical values: only these are sent. After a
    race (`raced`) nothing counts as edited."""
    if raced(values, typical, before):
        return {}
    return {
        col: value
        for col in SPEC_COLUMNS
        if (value := values.get(col)) is not None and _differs(value, typical.get(col))
    }


def _form_specs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The spec fields' values, the picked car's typical ones and the previous car's."""
    s = st.session_state
    values = {col: s.get(f"quote_{col}") for col in SPEC_COLUMNS}
    return values, s.get("quote_typical") or {}, s.get("quote_typical_before") or {}


def edited_specs() -> dict[str, Any]:
    """`edited` for the form's current values."""
    return edited(*_form_specs())


def submitted_in_a_race() -> bool:
    """`raced` for the form just submitted: its fields (specs, and fuel and transmission with
    them) are the previous car's, which the browser sent back over the new car's."""
    return raced(*_form_specs())


def refill_and_price() -> None:
    """After a race: the next run fills the picked car's specs, fuel and transmission again
    (`refill`), so the fields show what is priced, and then prices it (`reprice`)."""
    st.session_state["quote_specs_for"] = None
    st.session_state["quote_reprice"] = True


def reprice() -> bool:
    """Whether this run should price as if *Get price* were pressed (once)."""
    return bool(st.session_state.pop("quote_reprice", False))


def car_from_state(pick: Pick) -> dict[str, Any]:
    """The CarFeatures JSON for the current widget values: the car's identity, its use, and
    only the specs the user changed."""
    s = st.session_state
    car: dict[str, Any] = {"brand": pick.brand, "model": pick.model, "variant": pick.variant}
    for name in ("year", "km_driven", "owner_rank", *CATEGORY_LABELS):
        car[name] = s.get(f"quote_{name}")
    car |= edited_specs()
    return {k: v for k, v in car.items() if v is not None}
