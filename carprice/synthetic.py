"""SYNTHETIC CarDekho-format listings, for machines that don't have the real data file.

Every file this writes has "SYNTHETIC" in its name, and trained models record the source, so a
synthetic model can't pass for a real one. The generator mimics the raw file's messiness
(unit strings, torque notations, blanks, duplicates, a few impossible rows).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# brand → [(model, base price new in ₹, engine cc, bhp, torque Nm, kmpl, seats, variants)]
_CATALOGUE: dict[str, list[tuple[str, float, int, float, float, float, int, list[str]]]] = {
    "Maruti": [
        ("Swift", 650_000, 1197, 82, 113, 21.2, 5, ["LXI", "VXI", "ZXI", "VDI", "ZDI"]),
        ("Alto", 350_000, 796, 47, 69, 22.7, 5, ["LX", "LXI", "VXI"]),
        ("Ertiga", 900_000, 1462, 103, 138, 19.0, 7, ["VXI", "ZXI", "VDI"]),
        ("Baleno", 750_000, 1197, 83, 115, 21.4, 5, ["Delta", "Zeta", "Alpha"]),
    ],
    "Hyundai": [
        ("i20", 750_000, 1197, 82, 115, 18.6, 5, ["Magna", "Sportz", "Asta"]),
        ("Creta", 1_300_000, 1582, 126, 260, 17.0, 5, ["1.6 SX", "1.6 EX", "1.4 S"]),
        ("Santro", 450_000, 1086, 62, 96, 18.0, 5, ["GL", "GLS", "Xing"]),
    ],
    "Honda": [
        ("City", 1_100_000, 1497, 117, 145, 17.4, 5, ["V MT", "VX CVT", "ZX"]),
        ("Amaze", 700_000, 1199, 88, 110, 18.5, 5, ["S", "VX", "E"]),
    ],
    "Toyota": [
        ("Innova", 1_700_000, 2393, 148, 343, 13.0, 7, ["2.5 G", "Crysta 2.4 VX", "2.5 GX"]),
        ("Fortuner", 3_200_000, 2755, 174, 450, 10.0, 7, ["4x2 AT", "4x4 MT"]),
    ],
    "Mahindra": [
        ("XUV500", 1_600_000, 2179, 140, 330, 15.1, 7, ["W6", "W8", "W10"]),
        ("Bolero", 850_000, 2523, 63, 195, 13.6, 7, ["SLE", "ZLX", "Power Plus"]),
    ],
    "Tata": [
        ("Nexon", 900_000, 1198, 108, 170, 17.0, 5, ["XM", "XZ", "XZA Plus"]),
        ("Indica", 400_000, 1396, 70, 135, 19.0, 5, ["V2 DLS", "Vista Aura"]),
    ],
    "BMW": [("3 Series", 4_500_000, 1995, 188, 400, 16.0, 5, ["320d", "320d Luxury Line"])],
    "Land Rover": [("Discovery Sport", 5_500_000, 1999, 177, 430, 12.5, 7, ["HSE", "SE"])],
}
_OWNERS = ["First Owner", "Second Owner", "Third Owner", "Fourth & Above Owner", "Test Drive Car"]
_OWNER_P = [0.64, 0.26, 0.07, 0.025, 0.005]


def _mileage_unit(fuel: str) -> str:
    return "km/kg" if fuel in ("CNG", "LPG") else "kmpl"


def _torque_text(rng: np.random.Generator, nm: float, rpm: int) -> str:
    style = rng.integers(0, 5)
    if style == 0:
        return f"{nm:.0f}Nm@ {rpm}rpm"
    if style == 1:
        return f"{nm:.0f}Nm@ {rpm}-{rpm + 1000}rpm"
    if style == 2:
        return f"{nm / 9.80665:.1f}@ {rpm:,}(kgm@ rpm)"
    if style == 3:
        return f"{nm / 9.80665:.1f} kgm at {rpm} rpm"
    return f"{nm:.0f} Nm at {rpm}-{rpm + 500} rpm"


def generate(rows: int = 3000, seed: int = 42, reference_year: int = 2020) -> pd.DataFrame:
    """Raw-format SYNTHETIC listings whose prices follow age, km, owners, fuel and spec."""
    rng = np.random.default_rng(seed)
    catalogue = [(b, *m) for b, models in _CATALOGUE.items() for m in models]
    records = []
    for _ in range(rows):
        brand, model, base, cc, bhp, nm, kmpl, seats, variants = catalogue[
            rng.integers(len(catalogue))
        ]
        variant_idx = int(rng.integers(len(variants)))
        year = int(np.clip(reference_year - rng.gamma(2.2, 2.8), 1995, reference_year))
        age = reference_year - year
        km = int(max(1000, rng.normal(11_000 * (age + 0.5), 6000)))
        owner = str(rng.choice(_OWNERS, p=_OWNER_P))
        diesel = rng.random() < 0.5
        fuel = (
            "Diesel" if diesel else str(rng.choice(["Petrol", "CNG", "LPG"], p=[0.95, 0.03, 0.02]))
        )
        automatic = rng.random() < (0.5 if base > 2_000_000 else 0.12)
        price = (
            base
            * (1 + 0.08 * variant_idx)
            * 0.86**age
            * np.exp(-km / 400_000)
            * (1.08 if diesel else 1.0)
            * (1.1 if automatic else 1.0)
            * (1 - 0.05 * _OWNERS.index(owner) if owner != "Test Drive Car" else 1.05)
            * rng.lognormal(0, 0.12)
        )
        records.append(
            {
                "name": f"{brand} {model} {variants[variant_idx]}",
                "year": year,
                "selling_price": int(round(price, -3)),
                "km_driven": km,
                "fuel": fuel,
                "seller_type": str(
                    rng.choice(["Individual", "Dealer", "Trustmark Dealer"], p=[0.8, 0.15, 0.05])
                ),
                "transmission": "Automatic" if automatic else "Manual",
                "owner": owner,
                "mileage": f"{kmpl * rng.uniform(0.9, 1.1):.2f} {_mileage_unit(fuel)}",
                "engine": f"{cc} CC",
                "max_power": f"{bhp * (1 + 0.03 * variant_idx):.1f} bhp",
                "torque": _torque_text(rng, nm, int(rng.choice([1500, 1750, 2000, 3000, 4000]))),
                "seats": str(seats),
            }
        )
    frame = pd.DataFrame.from_records(records)
    blank = rng.random(rows) < 0.02
    frame.loc[blank, ["mileage", "engine", "torque", "seats"]] = ""
    frame.loc[blank, "max_power"] = " bhp"
    frame.loc[rng.random(rows) < 0.003, "km_driven"] = 5_000_000  # impossible: rejected
    duplicates = frame.sample(frac=0.1, random_state=seed)
    return pd.concat([frame, duplicates]).sample(frac=1, random_state=seed).reset_index(drop=True)


def ensure_sample(work_dir: str, rows: int = 3000) -> str:
    """Write (once) and return the path of the synthetic sample in the work dir."""
    path = Path(work_dir) / "SYNTHETIC_car_details.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(rows).to_csv(path, index=False)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write SYNTHETIC CarDekho-format listings.")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default="SYNTHETIC_car_details.csv")
    args = parser.parse_args(argv)
    if "synthetic" not in Path(args.out).name.lower():
        parser.error("the output file name must contain 'synthetic' so nobody mistakes it")
    generate(args.rows, args.seed).to_csv(args.out, index=False)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
