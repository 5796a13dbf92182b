"""Column headers as people write them ("Km Driven", "KMs", "Fuel Type", "No. of Owners") →
the schema's column names, as a mapping the user can see and correct.

Matching ignores case, spacing and punctuation. A mapping is per header position, so two
columns with the same header stay two columns: the first that matches a target takes it, the
other passes through untouched. Unmapped columns always pass through to the output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from carprice.clean import ShapeError
from carprice.schema import NUMERIC_COLUMNS, RAW_COLUMNS, TARGET

# What a header can be mapped to: the car's name or its parts, its use, its specs (raw text
# with units, or plain numbers), and an input price (kept in the output, never priced on).
TARGETS: tuple[str, ...] = tuple(
    dict.fromkeys(
        ("name", "brand", "model", "variant", *RAW_COLUMNS, "owner_rank", *NUMERIC_COLUMNS, TARGET)
    )
)
# Columns that pass through carry this prefix internally, so a column the user chose to ignore
# (say a "Mileage" that holds odometer km) can't be read as the schema's column of that name.
PASS_PREFIX = "passthrough:"

_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("carname", "car", "vehicle", "vehiclename", "title", "carmodel", "fullname"),
    "brand": ("make", "manufacturer", "company", "carmake", "brandname", "oem"),
    "model": ("modelname", "carmodelname"),
    "variant": ("trim", "version", "variantname"),
    "year": (
        "modelyear", "yearofmanufacture", "manufacturingyear", "mfgyear", "mfg", "regyear",
        "registrationyear", "yearofregistration", "yr", "makeyear",
    ),
    "km_driven": (
        "km", "kms", "kmsdriven", "kilometers", "kilometres", "kilometersdriven",
        "kilometresdriven", "odometer", "odometerkm", "odometerreading", "distance",
        "distancedriven", "kmdone", "kmsdone", "totalkm",
    ),
    "fuel": ("fueltype", "fuelused"),
    "seller_type": ("seller", "soldby", "sellercategory"),
    "transmission": ("transmissiontype", "gearbox", "gear", "geartype"),
    "owner": (
        "owners", "noofowners", "numberofowners", "ownertype", "ownership", "owners",
        "previousowners", "ownerno", "ownernumber",
    ),
    "mileage": ("fuelefficiency", "fueleconomy", "kmpl", "mileagekmpl2"),
    "engine": ("displacement", "enginecapacity", "enginesize", "cc", "enginedisplacement"),
    "max_power": ("power", "bhp", "maxpowerbhp2", "horsepower", "hp"),
    "torque": ("maxtorque",),
    "seats": ("seatingcapacity", "noofseats", "numberofseats", "seater"),
    TARGET: ("price", "askingprice", "listprice", "saleprice", "priceinr", "sellingpriceinr"),
}  # fmt: skip
_LOOKUP: dict[str, str] = {
    **{alias: target for target, aliases in _ALIASES.items() for alias in aliases},
    **{re.sub(r"[^a-z0-9]", "", t): t for t in TARGETS},
}
_UNIT_SUFFIXES = ("inrs", "inr", "rs", "incc", "cc", "inkm", "km", "kms", "inbhp", "bhp")


def squash(header: object) -> str:
    """The header with case, spacing and punctuation ignored: 'No. of Owners' → 'noofowners'."""
    return re.sub(r"[^a-z0-9]", "", str(header).lower())


def _target(header: object) -> str | None:
    key = squash(header)
    if key in _LOOKUP:
        return _LOOKUP[key]
    for suffix in _UNIT_SUFFIXES:  # "Engine (CC)", "Price (Rs)", "Km Driven (km)"
        if key.endswith(suffix) and key[: -len(suffix)] in _LOOKUP:
            return _LOOKUP[key[: -len(suffix)]]
    return None


def suggest(headers: Sequence[object]) -> list[str | None]:
    """Per header position, the schema column it most likely holds (None: pass through)."""
    taken: set[str] = set()
    out: list[str | None] = []
    for header in headers:
        target = _target(header)
        if target in taken:
            target = None
        if target:
            taken.add(target)
        out.append(target)
    return out


def resolve(headers: Sequence[object], mapping: Mapping[str, str | None] | None) -> list[str]:
    """The column names to price by, one per header position: the user's choice where given
    (header → target, or None/"" to ignore the column), else the suggestion.

    Raises ShapeError for a target that doesn't exist or that two columns claim.
    """
    mapping = dict(mapping or {})
    unknown = sorted(str(t) for t in mapping.values() if t and t not in TARGETS)
    if unknown:
        raise ShapeError(
            f"the column mapping names unknown column(s): {', '.join(unknown)}; "
            f"map to one of: {', '.join(TARGETS)}"
        )
    missing = sorted(set(mapping) - {str(h) for h in headers})
    if missing:
        raise ShapeError(
            f"the column mapping names header(s) the file doesn't have: {', '.join(missing)}"
        )
    suggested = suggest(headers)
    chosen: list[str | None] = []
    for header, guess in zip(headers, suggested, strict=True):
        chosen.append(mapping[str(header)] or None if str(header) in mapping else guess)
    claimed: dict[str, list[str]] = {}
    for header, target in zip(headers, chosen, strict=True):
        if target:
            claimed.setdefault(target, []).append(str(header))
    clashes = {t: hs for t, hs in claimed.items() if len(hs) > 1}
    if clashes:
        detail = "; ".join(f"{' and '.join(map(repr, hs))} → {t}" for t, hs in clashes.items())
        raise ShapeError(f"two columns are mapped to the same field: {detail}. Map one of them "
                         "to nothing (ignore) or to another field.")  # fmt: skip
    return [
        target if target else f"{PASS_PREFIX}{i}:{header}"
        for i, (header, target) in enumerate(zip(headers, chosen, strict=True))
    ]


def describe(headers: Sequence[object], columns: Sequence[str]) -> dict[str, str | None]:
    """Header → the field it feeds (None: passed through), for showing the mapping used.
    A header written twice is told apart as 'Price (2)', so neither column disappears."""
    out: dict[str, str | None] = {}
    for header, column in zip(headers, columns, strict=True):
        key, n = str(header), 1
        while key in out:
            n += 1
            key = f"{header} ({n})"
        out[key] = None if column.startswith(PASS_PREFIX) else column
    return out
