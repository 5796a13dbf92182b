"""Parsers for CarDekho's unit strings (`23.4 kmpl`, `1248 CC`, `74 bhp`, torque notations).

Each parser takes one cell and returns numbers or None for an empty or unit-only cell; it
raises ValueError with a human reason when the cell holds something it cannot read.
"""

from __future__ import annotations

import re

KGM_TO_NM = 9.80665
_NUMBER = r"(\d+(?:\.\d+)?)"
_EMPTY = re.compile(r"^\s*(?:nan|none|null|na|n/a)?\s*$", re.IGNORECASE)


def _is_blank(cell: object) -> bool:
    return (
        cell is None or (isinstance(cell, float) and cell != cell) or bool(_EMPTY.match(str(cell)))
    )


def _unit_value(cell: object, units: tuple[str, ...], what: str) -> float | None:
    """A number optionally followed by one of `units`; a bare unit counts as empty."""
    if _is_blank(cell):
        return None
    text = str(cell).strip().lower()
    for unit in units:
        if text == unit:
            return None
    match = re.fullmatch(_NUMBER + r"\s*(" + "|".join(map(re.escape, units)) + r")?", text)
    if not match:
        raise ValueError(f"{what} {str(cell)!r} is not a number with unit {units[0]}")
    return float(match.group(1))


def parse_mileage(cell: object) -> float | None:
    """kmpl for liquid fuels, km/kg for CNG/LPG; both are distance per unit of fuel."""
    return _unit_value(cell, ("kmpl", "km/kg", "km/l"), "mileage")


def parse_engine(cell: object) -> float | None:
    return _unit_value(cell, ("cc",), "engine")


def parse_power(cell: object) -> float | None:
    return _unit_value(cell, ("bhp", "ps", "hp"), "max_power")


def parse_torque(cell: object) -> tuple[float | None, float | None]:
    """Return (torque in Nm, rpm of peak torque) from any notation in the CarDekho file.

    Handles `190Nm@ 2000rpm`, `250Nm@ 1500-2500rpm` (upper end of the band), `12.7@ 2,700(kgm@
    rpm)`, `22.4 kgm at 1750-2750rpm`, `110(11.2)@ 4800` (Nm with kgm in brackets),
    `51Nm@ 4000+/-500rpm` (centre), `210 / 1900`, `400Nm` and case variants. A value without a
    unit is kgm when below 60 (no car makes < 60 Nm but many quote < 60 kgm), else Nm; a
    "kgm" figure above 80 is a mislabelled Nm figure.
    """
    if _is_blank(cell):
        return None, None
    raw = str(cell)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", raw.strip().lower())
    first = re.match(r"\s*" + _NUMBER + r"\s*(nm|kgm)?", text)
    if not first:
        raise ValueError(f"torque {raw!r} has no leading number")
    value = float(first.group(1))
    unit = first.group(2)
    if unit is None:
        if "kgm" in text and "nm" not in text.split("(")[0]:
            # "12.7@ 2700(kgm@ rpm)": unit given in trailing brackets.
            unit = "kgm" if "(nm" not in text else "nm"
        elif "nm" in text:
            unit = "nm"
        else:
            unit = "kgm" if value < 60 else "nm"
    if unit == "kgm" and value > 80:
        # No road car makes 80 kgm (785 Nm) here; "145@ 4,100(kgm@ rpm)" is a mislabelled Nm.
        unit = "nm"
    torque_nm = value * KGM_TO_NM if unit == "kgm" else value
    rest = text[first.end() :]
    rest = re.sub(r"^\s*\([^)]*\)", "", rest)  # "(38.7kgm)" or "(11.2)" restates the value
    rpm_match = re.search(
        r"(?:@|at|/)\s*" + _NUMBER + r"(?:\s*(?:-|~)\s*" + _NUMBER + r")?(?:\s*\+/-\s*\d+)?",
        rest,
    )
    rpm = None
    if rpm_match:
        rpm = float(rpm_match.group(2) or rpm_match.group(1))
    return round(torque_nm, 2), rpm
