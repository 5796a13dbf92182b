"""The words of a quote: the car's display name, the specs the API assumed, and warnings.

Pure functions of the form's car and the API's answer, kept apart from the form widgets.
"""

from __future__ import annotations

import math
from typing import Any

from carprice.schema import SPEC_COLUMNS

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
    """1248.0 → '1,248', 81.83 → '81.8', 74.0 → '74'."""
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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
    """A range warning, or a placeholder spec (≤ 0) the API replaced (no training range)."""
    if warning.get("train_min") is None and warning.get("train_max") is None:
        return f"**Not a possible value, replaced:** {warning['message']}"
    return f"**Outside the training range:** {warning['message']}"
