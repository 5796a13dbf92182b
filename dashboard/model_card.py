"""Pieces of the Model page: the champion's metrics and training data in readable form."""

from __future__ import annotations

from typing import Any

from dashboard.charts import rupees

NUMERIC_FEATURES = (
    "year", "km_driven", "max_power_bhp", "engine_cc", "mileage_kmpl", "torque_nm", "seats",
    "owner_rank",
)  # fmt: skip
LABELS = {
    "year": "Year of registration",
    "km_driven": "Kilometres driven",
    "max_power_bhp": "Max power (bhp)",
    "engine_cc": "Engine (cc)",
    "mileage_kmpl": "Mileage (km/l)",
    "torque_nm": "Torque (Nm)",
    "seats": "Seats",
    "owner_rank": "Owners",
}


def metric_tiles(metrics: dict[str, float]) -> list[tuple[str, str, str]]:
    """(label, value, help) for the test metrics the API reports, in a salesperson's terms."""
    tiles = []
    if "mae" in metrics:
        tiles.append(("Typical error (MAE)", rupees(metrics["mae"]), "Mean absolute error."))
    if "median_ape" in metrics:
        tiles.append(
            ("Median % error", f"{metrics['median_ape']:.1%}", "Half the test cars are closer.")
        )
    if "r2" in metrics:
        tiles.append(("R²", f"{metrics['r2']:.3f}", "Share of price variation explained."))
    if "rmse" in metrics:
        tiles.append(("RMSE", rupees(metrics["rmse"]), "Root mean squared error."))
    return tiles


def data_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The training data summary as (what, value) rows."""
    rows = [("Source", str(data.get("source", "unknown")))]
    if data.get("train_rows") is not None:
        rows.append(("Training rows", f"{data['train_rows']:,}"))
    if data.get("test_rows") is not None:
        rows.append(("Held-out test rows", f"{data['test_rows']:,}"))
    if data.get("year_range"):
        rows.append(("Years", "–".join(str(y) for y in data["year_range"])))
    if data.get("brands") is not None:
        rows.append(("Brands", str(data["brands"])))
    if data.get("price_median") is not None:
        rows.append(("Median asking price", rupees(data["price_median"])))
    for key, value in (data.get("clean") or {}).items():
        rows.append((f"Cleaning: {key.replace('_', ' ')}", f"{value:,}" if isinstance(value, int)
                     else str(value)))  # fmt: skip
    return rows
