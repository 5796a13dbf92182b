"""The car contract: the two accepted input shapes, their ranges and allowed values.

Both shapes map to one internal frame (`FRAME_COLUMNS`), which is what `clean` produces and
`features` consumes. Brand and model vocabularies are not fixed here: they come from the
training data and travel with the registered model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FUELS: tuple[str, ...] = ("Diesel", "Petrol", "CNG", "LPG")
SELLER_TYPES: tuple[str, ...] = ("Individual", "Dealer", "Trustmark Dealer")
TRANSMISSIONS: tuple[str, ...] = ("Manual", "Automatic")
# CarDekho's owner labels, ranked: 0 is a dealer's test-drive car, 4 is fourth owner or later.
OWNER_LABELS: dict[str, int] = {
    "Test Drive Car": 0,
    "First Owner": 1,
    "Second Owner": 2,
    "Third Owner": 3,
    "Fourth & Above Owner": 4,
}
CATEGORY_CHOICES: dict[str, tuple[str, ...]] = {
    "fuel": FUELS,
    "seller_type": SELLER_TYPES,
    "transmission": TRANSMISSIONS,
}
# Brands whose name is two words in CarDekho listings ("Land Rover Discovery ...").
TWO_WORD_BRANDS: tuple[str, ...] = ("Land Rover", "Ashok Leyland", "Mini Cooper")


@dataclass(frozen=True)
class Range:
    """Physically plausible bounds; values outside are rejected, not clipped."""

    low: float
    high: float
    unit: str


NUMERIC_RANGES: dict[str, Range] = {
    "year": Range(1980, date.today().year + 1, "year"),
    "km_driven": Range(0, 1_000_000, "km"),
    "owner_rank": Range(0, 4, "rank"),
    "mileage_kmpl": Range(3, 60, "kmpl (km/kg for CNG/LPG)"),
    "engine_cc": Range(500, 7000, "cc"),
    "max_power_bhp": Range(20, 800, "bhp"),
    "torque_nm": Range(30, 1200, "Nm"),
    "torque_rpm": Range(500, 9000, "rpm"),
    "seats": Range(2, 14, "seats"),
    "selling_price": Range(10_000, 50_000_000, "INR"),
}

# The internal frame: one row per car, typed. `selling_price` exists only for training data.
CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "brand",
    "model",
    "variant",
    "fuel",
    "seller_type",
    "transmission",
)
NUMERIC_COLUMNS: tuple[str, ...] = (
    "year",
    "km_driven",
    "owner_rank",
    "mileage_kmpl",
    "engine_cc",
    "max_power_bhp",
    "torque_nm",
    "torque_rpm",
    "seats",
)
FRAME_COLUMNS: tuple[str, ...] = ("name", *CATEGORICAL_COLUMNS, *NUMERIC_COLUMNS)
TARGET = "selling_price"

# The car's identity and use: what a salesperson knows, and all the features shape needs.
# `brand` may come from `name` (or brand + model + variant); `owner_rank` from an `owner` label.
FEATURE_REQUIRED: tuple[str, ...] = (
    "year",
    "km_driven",
    "fuel",
    "seller_type",
    "transmission",
    "owner_rank",
    "brand",
)
# The specs a salesperson rarely knows: optional, filled from the model's catalogue.
SPEC_COLUMNS: tuple[str, ...] = (
    "mileage_kmpl",
    "engine_cc",
    "max_power_bhp",
    "torque_nm",
    "torque_rpm",
    "seats",
)
RAW_COLUMNS: tuple[str, ...] = (
    "name",
    "year",
    "km_driven",
    "fuel",
    "seller_type",
    "transmission",
    "owner",
    "mileage",
    "engine",
    "max_power",
    "torque",
    "seats",
)


def _bounds(column: str) -> dict[str, float]:
    r = NUMERIC_RANGES[column]
    return {"ge": r.low, "le": r.high}


_FILLED = (
    " Optional: left out, empty or ≤ 0 (a placeholder, never a real spec), it is filled from "
    "the catalogue (the variant's typical value, else the model line's, model's or brand's, "
    "there from the variants closest to an unlisted one: same fuel and gearbox, most words "
    "of the name in common) and the answer says so in `filled`. Otherwise it must lie in "
    "{low:g}–{high:g} {unit}."
)


def _spec(column: str, description: str) -> Any:
    """An optional spec: ≤ 0 is accepted (and replaced), above the range is refused."""
    r = NUMERIC_RANGES[column]
    return Field(
        default=None,
        description=description + _FILLED.format(low=r.low, high=r.high, unit=r.unit),
        le=r.high,
    )


class CarFeatures(BaseModel):
    """One car as a salesperson knows it: its name (or brand + model + variant), year, km,
    fuel, seller, transmission and owners. Specs are optional and filled from the catalogue."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Maruti Swift Dzire VDI",
                    "year": 2014,
                    "km_driven": 145500,
                    "fuel": "Diesel",
                    "seller_type": "Individual",
                    "transmission": "Manual",
                    "owner_rank": 1,
                },
                {
                    "brand": "Maruti",
                    "model": "Swift",
                    "variant": "Dzire VDI",
                    "year": 2014,
                    "km_driven": 145500,
                    "fuel": "Diesel",
                    "seller_type": "Individual",
                    "transmission": "Manual",
                    "owner": "First Owner",
                    "mileage_kmpl": 23.4,
                    "engine_cc": 1248,
                    "max_power_bhp": 74,
                    "seats": 5,
                    "torque_nm": 190,
                    "torque_rpm": 2000,
                },
            ]
        },
    )

    year: int = Field(description="Registration year.", **_bounds("year"))
    km_driven: int = Field(description="Odometer reading in km.", **_bounds("km_driven"))
    fuel: str = Field(description=f"One of {', '.join(FUELS)}.")
    seller_type: str = Field(description=f"One of {', '.join(SELLER_TYPES)}.")
    transmission: str = Field(description=f"One of {', '.join(TRANSMISSIONS)}.")
    owner_rank: int | None = Field(
        default=None,
        description="0 test-drive car, 1 first owner … 4 fourth owner or later. "
        "Give this or `owner`.",
        **_bounds("owner_rank"),
    )
    owner: str | None = Field(
        default=None,
        max_length=40,
        description=f"Owner label instead of `owner_rank`: one of {', '.join(OWNER_LABELS)}.",
    )
    name: str | None = Field(
        default=None,
        max_length=200,
        description="Full name as listed, e.g. 'Maruti Swift Dzire VDI'; gives brand, model "
        "and variant. Give this, or `brand` (+ `model` + `variant`).",
    )
    brand: str | None = Field(
        default=None,
        max_length=60,
        description="Make, e.g. Maruti; must be one the model was trained on.",
    )
    model: str | None = Field(
        default=None, max_length=80, description="Model within the brand, e.g. 'Swift'."
    )
    variant: str | None = Field(
        default=None,
        max_length=200,
        description="Variant, e.g. 'Dzire VDI' (the trim after the model, or the full name). "
        "An unlisted variant is priced from its model line, model or brand.",
    )
    mileage_kmpl: float | None = _spec(
        "mileage_kmpl", "Fuel economy in km/l (km/kg for CNG and LPG)."
    )
    engine_cc: float | None = _spec("engine_cc", "Displacement in cc.")
    max_power_bhp: float | None = _spec("max_power_bhp", "Peak power in bhp.")
    seats: int | None = _spec("seats", "Number of seats.")
    torque_nm: float | None = _spec("torque_nm", "Peak torque in Nm.")
    torque_rpm: float | None = _spec("torque_rpm", "Engine speed of peak torque in rpm.")

    @field_validator(*NUMERIC_COLUMNS, mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object) -> object:
        """JSON true/false is no number (pydantic would read it as 1/0, a 1 km car)."""
        if isinstance(value, bool):
            raise ValueError("a number is required, not true/false")
        return value

    @model_validator(mode="after")
    def _identity_and_owner(self) -> CarFeatures:
        if not (self.name or "").strip() and not (self.brand or "").strip():
            raise ValueError("give the car's name, or its brand (with model and variant)")
        if self.owner_rank is None and not (self.owner or "").strip():
            raise ValueError("give owner_rank (0–4) or owner (e.g. 'First Owner')")
        return self
