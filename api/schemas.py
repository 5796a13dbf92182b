"""Response models: they document the API in OpenAPI and keep responses stable."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = Field(description="'ok' when a model is serving, else 'degraded'.")
    model_name: str
    model_alias: str
    model_version: str | None = Field(description="Version being served; null before any.")
    model_loaded_at: str | None = None
    mlflow_reachable: bool | None = Field(description="Result of the last alias check.")
    last_check: str | None = None
    last_error: str | None = Field(
        default=None, description="Why the last check or load failed (the old model keeps serving)."
    )
    refused_version: str | None = Field(
        default=None, description="A version the alias points at that failed to load."
    )
    poll_seconds: float


class FeatureSpec(BaseModel):
    name: str
    kind: str = Field(description="'number' or 'category'.")
    required: bool
    unit: str | None = None
    description: str | None = None
    min: float | None = Field(default=None, description="Smallest accepted value.")
    max: float | None = Field(default=None, description="Largest accepted value.")
    train_min: float | None = Field(default=None, description="Smallest value seen in training.")
    train_max: float | None = Field(default=None, description="Largest value seen in training.")
    train_median: float | None = None
    allowed: list[str] | None = Field(default=None, description="Accepted values (categories).")


class ModelInfo(BaseModel):
    name: str
    version: str
    alias: str
    trained_at: str | None = Field(description="Start of the training run (UTC).")
    registered_at: str | None = None
    loaded_at: str
    run_id: str | None = None
    gate: dict[str, str] = Field(description="Promotion gate verdict, reason and scores.")
    data: dict[str, Any] = Field(
        description="Training data summary: source, `train_rows` and `test_rows` (the split "
        "the metrics were measured on), `fit_rows` (the rows the served model was fitted on: "
        "training and test rows together), year range, brands, cleaning counts."
    )
    metrics: dict[str, float] = Field(
        description="Held-out test metrics, in rupees, of the model fitted on `train_rows` "
        "alone, measured before the served model was refit on training and test rows."
    )
    interval_level: float
    features: list[FeatureSpec]
    brands: list[str]
    models_by_brand: dict[str, list[str]] = Field(
        description="Model families seen per brand (lower-case keys, as matched)."
    )
    example: dict[str, Any]


class Importance(BaseModel):
    model_version: str
    unit: str = "mean |SHAP| in log-price units"
    importance: dict[str, float]


class Contribution(BaseModel):
    feature: str
    value: Any = Field(description="The value the model saw (names as lower-case keys).")
    log: float = Field(description="SHAP value in log-price units.")
    rupees: float = Field(description="Share of (price − base price), in rupees.")


class Contributions(BaseModel):
    base_value_log: float = Field(description="Model's base value (log-price).")
    base_price: float = Field(description="exp(base_value_log): the price before any feature.")
    log_price: float = Field(description="base_value_log + Σ log: the model's log-price.")
    features: list[Contribution] = Field(
        description="Largest first. base_price + Σ rupees = price; "
        "base_value_log + Σ log = log_price."
    )


class RangeWarning(BaseModel):
    """An input the price leans on with less confidence: outside the training range, or a
    placeholder spec (≤ 0) that was replaced from the catalogue."""

    feature: str
    value: float | None = None
    train_min: float | None = Field(default=None, description="Set for out-of-range warnings.")
    train_max: float | None = None
    message: str


FILLED_DOC = (
    "Specs taken from the catalogue, with the level they came from: "
    "{'engine_cc': 'variant', 'torque_nm': 'model_line'}. For a variant the catalogue doesn't "
    "list, a coarser level's specs are those of its listed variants with the car's fuel and "
    "gearbox whose names share most words with the car's (their median). Empty when the car "
    "came with all."
)


QUOTE_ID_DOC = (
    "This quote's id (UUID4), logged with its inputs, price and model version: send it to "
    "POST /quotes/{quote_id}/sale when the car sells."
)


class Prediction(BaseModel):
    quote_id: str | None = Field(description=QUOTE_ID_DOC + " Null with record=false.")
    price: float = Field(description="Predicted price in rupees (rounded to ₹100).")
    price_low: float
    price_high: float
    interval_level: float = Field(description="Calibrated coverage of [price_low, price_high].")
    currency: str = "INR"
    model_version: str
    contributions: Contributions
    filled: dict[str, str] = Field(default_factory=dict, description=FILLED_DOC)
    comparables: list[dict[str, Any]] = Field(
        description="Nearest real training listings with their asking prices."
    )
    warnings: list[RangeWarning] = Field(
        description="Placeholder specs that were replaced, and inputs outside the training "
        "range (priced, but less reliable)."
    )


class BatchItem(BaseModel):
    index: int
    quote_id: str | None = Field(default=None, description=QUOTE_ID_DOC + " Null: not priced.")
    price: float | None = None
    price_low: float | None = None
    price_high: float | None = None
    filled: dict[str, str] = Field(default_factory=dict, description=FILLED_DOC)
    error: str | None = Field(default=None, description="Why this item could not be priced.")
    warnings: list[RangeWarning] = []


class BatchResult(BaseModel):
    model_version: str
    priced: int
    failed: int
    items: list[BatchItem]


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong, for a human.")
    errors: list[dict[str, Any]] | None = None


class _CatalogueNode(BaseModel):
    name: str = Field(description="The full name as listings spell it.")
    listings: int = Field(description="Training listings behind this entry.")
    year_min: int | None = None
    year_max: int | None = None
    fuel: str | None = Field(default=None, description="Most common fuel.")
    transmission: str | None = Field(default=None, description="Most common transmission.")
    mileage_kmpl: float | None = Field(default=None, description="Median of the listings.")
    engine_cc: float | None = None
    max_power_bhp: float | None = None
    torque_nm: float | None = None
    torque_rpm: float | None = None
    seats: float | None = None


class CatalogueBrand(BaseModel):
    brand: str
    models: int
    listings: int


class CatalogueModel(_CatalogueNode):
    model: str = Field(description="The model within its brand, e.g. 'Swift'.")
    model_lines: int
    variants: int


class CatalogueVariant(_CatalogueNode):
    variant: str = Field(description="The variant within its model, e.g. 'Dzire VDI'.")
    model_line: str | None = Field(default=None, description="Brand plus two words.")
    fuels: list[str] = Field(default_factory=list, description="Fuels seen for this variant.")
    transmissions: list[str] = Field(default_factory=list)


class ReportRow(BaseModel):
    dimension: str = Field(description="brand, price decile, fuel, age band or variant.")
    group: str
    rows: int = Field(description="Test rows in the group.")
    mae: float = Field(description="Mean absolute error in rupees.")
    mape: float = Field(description="Mean absolute percentage error (0.1 = 10%).")
    median_ape: float


class EvaluationReport(BaseModel):
    model_version: str
    rows: list[ReportRow] = Field(description="Empty for a model trained before reports.")


class SaleIn(BaseModel):
    """What a quoted car sold for."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {"examples": [{"sale_price": 455000, "sold_on": "2026-11-30"}]},
    }
    sale_price: float = Field(
        gt=0, allow_inf_nan=False, description="Rupees the car sold for; more than 0."
    )
    sold_on: date = Field(description="Day of the sale (YYYY-MM-DD); not in the future.")


class SaleOut(BaseModel):
    quote_id: str
    sale_price: float
    sold_on: date
    recorded_at: datetime = Field(description="When this value was recorded (UTC).")
    price: float = Field(description="The quote's price, for comparison.")
    price_low: float
    price_high: float
    model_version: str
    history: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Earlier values replaced by corrections, oldest first: sale_price, "
        "sold_on, recorded_at, replaced_at.",
    )


class SaleRowStatus(BaseModel):
    row: int = Field(description="Data row number in the upload: 1 is the row under the header.")
    quote_id: str
    status: Literal["recorded", "refused"]
    reason: str | None = Field(default=None, description="Why the row was refused.")


class SalesUpload(BaseModel):
    recorded: int
    refused: int
    rows: list[SaleRowStatus]
