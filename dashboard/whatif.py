"""What-if sweeps: one input varied over a range, every variation priced by the API in a
single /predict/batch call. The Model dependence view sweeps the training range (`grid`); the
Quote what-if stays within what is plausible for the picked car (`span`) and says when a value
is not (`flags`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard import pricing
from dashboard.charts import indian


def grid(spec: dict[str, Any], current: float | None = None, points: int = 15) -> list[float]:
    """Evenly spaced values over the training range (widened to include `current`)."""
    lo = spec.get("train_min") if spec.get("train_min") is not None else spec.get("min")
    hi = spec.get("train_max") if spec.get("train_max") is not None else spec.get("max")
    if current is not None:
        lo, hi = min(lo, current), max(hi, current)
    values = np.linspace(lo, hi, points)
    if spec["name"] in ("year", "km_driven", "seats", "owner_rank", "engine_cc"):
        values = np.unique(np.round(values).astype(int))
    return [v.item() for v in values]


def sweep(
    url: str, version: str | None, car: dict[str, Any], feature: str, values: list[float]
) -> tuple[list[float], list[float | None], list[float | None], list[float | None]]:
    """(values, prices, lows, highs) for `car` with `feature` set to each value."""
    cars = [{**car, feature: v} for v in values]
    items = pricing.sweep(url, version, pricing.canonical_list(cars))
    return (
        values,
        [i.get("price") for i in items],
        [i.get("price_low") for i in items],
        [i.get("price_high") for i in items],
    )


# ----------------------------------------------------------------------------- plausible ranges
# A what-if slider over the whole training range prices cars that never existed (a 2002
# Creta). The sliders run over what the catalogue has seen of the picked car instead, and a
# value outside that is said in words.

KM_PER_YEAR = 30_000  # a hard-driven car; more than this a year is unusual
KM_FLOOR = 50_000  # the km slider reaches at least this far, even for a new car


@dataclass(frozen=True)
class Span:
    """Slider bounds for one car: years the catalogue lists it, km plausible for its age."""

    year_low: int
    year_high: int
    year_listed: tuple[int, int] | None  # the catalogue's years for the car; None: not known
    km_high: int
    latest: int  # the newest year in training: a car's age is counted from it


def _bound(spec: dict[str, Any], side: str) -> float:
    value = spec.get(f"train_{side}")
    return value if value is not None else spec.get(side)


def km_limit(year: int, latest: int) -> int:
    """The most km a car from `year` plausibly has by `latest` (KM_PER_YEAR a year)."""
    return max(KM_FLOOR, KM_PER_YEAR * max(1, latest - int(year) + 1))


def span(
    year_spec: dict[str, Any],
    km_spec: dict[str, Any],
    entry: dict[str, Any] | None,
    car: dict[str, Any],
) -> Span:
    """Slider bounds for `car`: the catalogue entry's years (variant, else model; the training
    years when the catalogue has none), widened to include the car's own year; km from 0 to
    what the oldest of those years plausibly reaches, within training, and at least the car's."""
    first, latest = int(_bound(year_spec, "min")), int(_bound(year_spec, "max"))
    listed = None
    if entry and entry.get("year_min") and entry.get("year_max"):
        listed = (int(entry["year_min"]), int(entry["year_max"]))
    low, high = listed or (first, latest)
    year = int(car["year"])
    low, high = min(low, year), max(high, year)
    if low == high:  # one year on record: a slider needs two ends
        low, high = max(first, low - 1), min(max(latest, high), high + 1)
        low, high = (low, high) if low < high else (low - 1, high + 1)
    km_top = min(km_limit(low, latest), int(_bound(km_spec, "max")))
    km_high = max(km_top, int(car["km_driven"]))
    km_high = int(math.ceil(km_high / 10_000) * 10_000)
    return Span(low, high, listed, km_high, latest)


def year_values(s: Span) -> list[int]:
    """Every year of the slider (at most about 15, evenly spaced)."""
    step = max(1, math.ceil((s.year_high - s.year_low) / 14))
    values = list(range(s.year_low, s.year_high + 1, step))
    return values if values[-1] == s.year_high else [*values, s.year_high]


def km_values(s: Span, points: int = 15) -> list[int]:
    """Evenly spaced km from 0 to the slider's end, in whole thousands."""
    values = np.unique(np.round(np.linspace(0, s.km_high, points) / 1000).astype(int) * 1000)
    return [int(v) for v in values]


def km_steps(s: Span, current: int) -> list[int]:
    """The km slider's stops: 0 to its end in steps of 1,000 (5,000 past 2,00,000 km), and
    the car's own km."""
    step = 1_000 if s.km_high <= 200_000 else 5_000
    return sorted({*range(0, s.km_high + 1, step), int(current)})


def flags(s: Span, name: str, year: int, km: int) -> list[str]:
    """What is implausible about a (year, km) for the car named `name`, in words."""
    out = []
    if s.year_listed and not s.year_listed[0] <= year <= s.year_listed[1]:
        lo, hi = s.year_listed
        years = f"{lo}" if lo == hi else f"{lo}–{hi}"
        out.append(
            f"**A {year} {name} isn't on record:** the listings the model learned from have "
            f"it from {years} only, so this price is a guess."
        )
    if km > km_limit(year, s.latest):
        out.append(
            f"**{indian(km)} km is a lot for a {year} car** (more than {indian(KM_PER_YEAR)} "
            "km a year): check the odometer reading."
        )
    return out
