"""The words of a quote: the car's display name, the specs the API assumed, warnings and
errors, in a salesperson's words (the API's own text is kept for a "details" expander).

Pure functions of the form's car and the API's answer, kept apart from the form widgets.
"""

from __future__ import annotations

import math
import re
from typing import Any

from carprice.schema import SPEC_COLUMNS
from dashboard.charts import indian

# How each input is called on the form, and its unit: "Kilometres driven", "km".
FIELD_WORDS: dict[str, tuple[str, str]] = {
    "year": ("Year of registration", ""),
    "km_driven": ("Kilometres driven", "km"),
    "owner_rank": ("Owners", ""),
    "fuel": ("Fuel", ""),
    "transmission": ("Transmission", ""),
    "seller_type": ("Seller", ""),
    "brand": ("Brand", ""),
    "model": ("Model", ""),
    "variant": ("Variant", ""),
    "name": ("Car name", ""),
    "mileage_kmpl": ("Mileage", "km/l"),
    "engine_cc": ("Engine", "cc"),
    "max_power_bhp": ("Max power", "bhp"),
    "torque_nm": ("Torque", "Nm"),
    "torque_rpm": ("Torque peak", "rpm"),
    "seats": ("Seats", ""),
}

# How a spec reads in a sentence: "engine 1,248 cc".
SPEC_TEXT = {
    "mileage_kmpl": "mileage {} km/l",
    "engine_cc": "engine {} cc",
    "max_power_bhp": "power {} bhp",
    "torque_nm": "torque {} Nm",
    "torque_rpm": "torque peak at {} rpm",
    "seats": "{} seats",
}
LEVEL_WORDS = {"variant": "variant", "model_line": "model line", "model": "model", "brand": "brand"}


def number(value: float | None, decimals: int = 1) -> str:
    """1248.0 → '1,248', 81.83 → '81.8', 74.0 → '74', 145500 → '1,45,500'."""
    text = indian(value, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def field_word(name: str) -> str:
    """'km_driven' → 'Kilometres driven'; an unknown name with its underscores as spaces."""
    return FIELD_WORDS.get(name, (name.replace("_", " ").capitalize(), ""))[0]


def amount(name: str, value: float | None) -> str:
    """A value with its unit as the form shows it: '9,00,000 km', '2002', '1,248 cc'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "empty"
    if name == "year":
        return str(int(value))
    unit = FIELD_WORDS.get(name, ("", ""))[1]
    return f"{number(value)} {unit}".strip()


def display_name(car: dict[str, Any]) -> str:
    """'Maruti Swift Dzire VDI' from the car's name, or brand + model + variant."""
    if car.get("name"):
        return car["name"]
    brand, variant = car.get("brand") or "", car.get("variant") or ""
    if variant.lower().startswith(f"{brand.lower()} "):  # typed as the full name
        return variant
    return " ".join(p for p in (brand, car.get("model"), variant) if p)


def assumed(result: dict[str, Any]) -> list[str]:
    """One line per catalogue level the API filled specs from, with the values it used:
    'Assumed from the variant's typical specs: engine 1,248 cc, power 74 bhp, …'."""
    filled = result.get("filled") or {}
    used = {f["feature"]: f.get("value") for f in result["contributions"]["features"]}
    by_level: dict[str, list[str]] = {}
    for col in (c for c in SPEC_COLUMNS if c in filled):
        value = used.get(col)
        known = isinstance(value, int | float) and not math.isnan(value)
        text = SPEC_TEXT[col].format(number(value)) if known else col.replace("_", " ")
        by_level.setdefault(filled[col], []).append(text)
    order = [*LEVEL_WORDS, *(level for level in by_level if level not in LEVEL_WORDS)]
    return [
        f"**Assumed from the {LEVEL_WORDS.get(level, level.replace('_', ' '))}'s typical "
        f"specs:** {', '.join(by_level[level])}."
        for level in order
        if level in by_level
    ]


def warning_text(warning: dict[str, Any]) -> str:
    """A range warning, or a placeholder spec (≤ 0) the API replaced (no training range), in
    the form's words; the API's `message` is the technical detail (see `technical`)."""
    name, value = warning.get("feature") or "", warning.get("value")
    low, high = warning.get("train_min"), warning.get("train_max")
    what = field_word(name)
    if low is None and high is None:
        return (
            f"**Not a possible value, replaced:** {what} {amount(name, value)} can't be right, "
            "so the price uses this car's typical value instead."
        )
    side = (
        "below" if isinstance(value, int | float) and low is not None and value < low else "above"
    )
    return (
        f"**Outside the cars the model learned from:** {what} {amount(name, value)} is {side} "
        f"anything it has seen ({amount(name, low)} – {amount(name, high)}), so this price is "
        "less reliable."
    )


def technical(warnings: list[dict[str, Any]]) -> str:
    """The API's own words for the warnings, for the 'technical details' expander."""
    return "\n".join(f"- `{w.get('message', w)}`" for w in warnings)


_UNKNOWN = re.compile(
    r"^(?P<field>\w+) (?:(?P<value>.+?) is unknown|is missing); allowed: (?P<allowed>.*)$"
)
_OUTSIDE = re.compile(r"^(?P<field>\w+) (?P<value>\S+) is outside (?P<low>[^–]+)–(?P<high>\S+)")
_CATALOGUE = re.compile(
    r"^(?P<level>\w+) (?P<value>.+?) is not in the catalogue(?:; did you mean: (?P<close>.*))?"
)
_LE = re.compile(r"(?P<field>\w+): Input should be less than or equal to (?P<limit>[\d.e+]+)")
_GE = re.compile(r"(?P<field>\w+): Input should be greater than or equal to (?P<limit>[\d.e+]+)")


def _words(text: str) -> str:
    """Raw field names in a message replaced by the form's words."""
    for name in sorted(FIELD_WORDS, key=len, reverse=True):
        if "_" in name:
            text = text.replace(name, field_word(name))
    return text


def error_text(message: str) -> str:
    """Why the API refused a car, said shortly for a salesperson (the full message goes in a
    details expander): no list of 30 brands, no `km_driven`, no '0–1e+06'."""
    message = message.removeprefix("Invalid request: ")
    if m := _UNKNOWN.match(message):
        what, allowed = field_word(m["field"]), [a for a in m["allowed"].split(", ") if a]
        if m["value"] is None:
            return f"{what} is missing: choose one."
        known = f" It knows: {', '.join(allowed)}." if len(allowed) <= 6 else ""
        return (
            f"The model doesn't know the {what.lower()} {m['value']}.{known} Choose one it lists."
        )
    if m := _OUTSIDE.match(message):
        name = m["field"]
        try:
            low, high, value = float(m["low"]), float(m["high"]), float(m["value"])
        except ValueError:
            return _words(message)
        return (
            f"{field_word(name)} {amount(name, value)} isn't possible: it must be between "
            f"{amount(name, low)} and {amount(name, high)}."
        )
    if m := _CATALOGUE.match(message):
        close = f" Did you mean {m['close']}?" if m["close"] else ""
        return f"The {field_word(m['level']).lower()} {m['value']} isn't in the catalogue.{close}"
    for pattern, word in ((_LE, "at most"), (_GE, "at least")):
        if m := pattern.search(message):
            name = m["field"].rsplit(".", 1)[-1]
            return f"{field_word(name)} must be {word} {amount(name, float(m['limit']))}."
    return _words(message)
