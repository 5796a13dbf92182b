"""The car contract: the two accepted input shapes, their ranges and allowed values.

Both shapes map to one internal frame (`FRAME_COLUMNS`), which is what `clean` produces and
`features` consumes. Brand and model vocabularies are not fixed here: they come from the
training data and travel with the registered model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

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

# Required in the CarFeatures shape; torque and name may be absent.
FEATURE_REQUIRED: tuple[str, ...] = (
    "year",
    "km_driven",
    "fuel",
    "seller_type",
    "transmission",
    "owner_rank",
    "mileage_kmpl",
    "engine_cc",
    "max_power_bhp",
    "seats",
    "brand",
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


class CarFeatures(BaseModel):
    """One car, already in clean units: the API's JSON input."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Maruti Swift Dzire VDI",
                    "brand": "Maruti",
                    "year": 2014,
                    "km_driven": 145500,
                    "fuel": "Diesel",
                    "seller_type": "Individual",
                    "transmission": "Manual",
                    "owner_rank": 1,
                    "mileage_kmpl": 23.4,
                    "engine_cc": 1248,
                    "max_power_bhp": 74,
                    "seats": 5,
                    "torque_nm": 190,
                    "torque_rpm": 2000,
                }
            ]
        },
    )

    year: int = Field(description="Registration year.", **_bounds("year"))
    km_driven: int = Field(description="Odometer reading in km.", **_bounds("km_driven"))
    fuel: str = Field(description=f"One of {', '.join(FUELS)}.")
    seller_type: str = Field(description=f"One of {', '.join(SELLER_TYPES)}.")
    transmission: str = Field(description=f"One of {', '.join(TRANSMISSIONS)}.")
    owner_rank: int = Field(
        description="0 test-drive car, 1 first owner … 4 fourth owner or later.",
        **_bounds("owner_rank"),
    )
    mileage_kmpl: float = Field(
        description="Fuel economy in km/l (km/kg for CNG and LPG).", **_bounds("mileage_kmpl")
    )
    engine_cc: float = Field(description="Displacement in cc.", **_bounds("engine_cc"))
    max_power_bhp: float = Field(description="Peak power in bhp.", **_bounds("max_power_bhp"))
    seats: int = Field(description="Number of seats.", **_bounds("seats"))
    brand: str = Field(description="Make, e.g. Maruti; must be one the model was trained on.")
    torque_nm: float | None = Field(
        default=None, description="Peak torque in Nm.", **_bounds("torque_nm")
    )
    torque_rpm: float | None = Field(
        default=None, description="Engine speed of peak torque in rpm.", **_bounds("torque_rpm")
    )
    name: str | None = Field(
        default=None,
        max_length=200,
        description="Full model name as listed, e.g. 'Maruti Swift Dzire VDI'; "
        "gives the model family and variant.",
    )
