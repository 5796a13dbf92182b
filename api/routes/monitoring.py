"""Live accuracy, refusals and input drift of logged quotes: how the served model is doing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, Field

from api.deps import QuoteLogDep, RequireApiKey, ServedModel, quote_log_reachable
from api.schemas import ErrorBody
from carprice import monitoring

router = APIRouter(
    prefix="/monitoring",
    tags=["monitoring"],
    dependencies=[RequireApiKey],
    responses={
        401: {"model": ErrorBody, "description": "API key required and missing or wrong."},
        422: {"model": ErrorBody, "description": "A date that can't be read."},
        503: {
            "model": ErrorBody,
            "description": "No model loaded yet, or the quote log's database can't be reached.",
        },
    },
)


class Accuracy(BaseModel):
    """Error of quotes against the prices the cars sold for (null without sales)."""

    sales: int
    mae: float | None = Field(description="Mean absolute error, ₹.")
    mape: float | None = Field(description="Mean absolute percentage error, a share (0.15).")
    median_ape: float | None
    coverage: float | None = Field(description="Share of sale prices inside the quoted range.")


class VersionAccuracy(Accuracy):
    quotes: int


class WeekAccuracy(VersionAccuracy):
    week: str = Field(description="Monday of the ISO week (UTC), YYYY-MM-DD.")


class Rates(BaseModel):
    out_of_range: float | None = Field(
        description="Share of quotes that carried an outside-the-training-range warning."
    )
    refused: float | None = Field(
        description="Share of the rows asked for that were refused with a reason: refused / "
        "(quotes + refused). Refused rows are /predict cars the pricing logic refused (unknown "
        "brand or fuel, a car it can't price: 422 unknown_value or unpriceable) and "
        "/predict/batch items and /predict/csv rows answered with an error; requests sent "
        "with record=false, whole requests refused (401, 413, an unreadable file) and "
        "/predict bodies failing the request schema are not counted. Null only when the "
        "window holds no quote and no refused row."
    )


class Reference(BaseModel):
    """What the live figures compare with: the served model's own held-out test."""

    model_version: str
    test_mae: float | None
    test_mape: float | None
    test_coverage: float | None


class MonitoringSummary(BaseModel):
    since: datetime | None
    until: datetime | None
    model_version: str | None
    quotes: int
    refused: int = Field(description="Rows refused with a reason in the window (see rates).")
    sales: int
    accuracy: Accuracy
    by_model_version: dict[str, VersionAccuracy]
    by_week: list[WeekAccuracy]
    rates: Rates
    drift: dict[str, Any] = Field(
        description="PSI of each input against the served model's training data (bands: < 0.1 "
        "stable, 0.1–0.25 moderate, ≥ 0.25 major), category share changes, and a verdict per "
        "feature and overall: stable, watch, drift, too few rows or no reference."
    )
    reference: Reference


_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time(value: object) -> object:
    """Only what the document promises (an ISO date-time): pydantic alone would also read a
    bare number as seconds since 1970, or a date without a time."""
    if isinstance(value, str) and not _DATE_TIME.match(value.strip()):
        raise ValueError("give a date and time, e.g. 2026-12-01T00:00:00Z")
    return value


DateTime = Annotated[datetime | None, BeforeValidator(_date_time)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.get("/summary", response_model=MonitoringSummary)
def summary(
    served: ServedModel,
    quote_log: QuoteLogDep,
    since: Annotated[DateTime, Query(description="From this time (UTC if no zone).")] = None,
    until: Annotated[DateTime, Query(description="Before this time.")] = None,
    model_version: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Quotes and matched sales in a window: live MAE, MAPE, median APE and coverage, by model
    version and by week; out-of-range and refusal rates; input drift from the served model's
    training data."""
    since, until = _utc(since), _utc(until)  # `since` ≥ `until` is an empty window, not an error
    with quote_log_reachable("try again shortly."):
        frame = quote_log.store.quotes_frame(since, until, model_version)
        refused = quote_log.store.count_refusals(since, until, model_version)
    out = monitoring.summary(
        monitoring.with_inputs(frame), served.model.drift_reference, refused=refused
    )
    metrics = served.model.metrics
    out["reference"] = {
        "model_version": served.version,
        "test_mae": metrics.get("mae"),
        "test_mape": metrics.get("mape"),
        "test_coverage": metrics.get("interval_coverage"),
    }
    return {"since": since, "until": until, "model_version": model_version, **out}
