"""Pricing: one car with its explanation, a JSON batch, or a CSV file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, UploadFile
from fastapi.responses import StreamingResponse

from api import metrics
from api.deps import RequireApiKey, ServedModel, Settings
from api.schemas import BatchResult, ErrorBody, Prediction
from api.scoring import EXAMPLE_CAR, batch_items
from api.tabular import CSV_DOC, open_csv, stream_priced
from carprice.schema import CarFeatures

router = APIRouter(
    prefix="/predict",
    tags=["predict"],
    dependencies=[RequireApiKey],
    responses={
        401: {"model": ErrorBody, "description": "API key required and missing or wrong."},
        422: {"model": ErrorBody, "description": "Invalid input; the reason says which field."},
        503: {"model": ErrorBody, "description": "No model loaded yet."},
    },
)


@router.post("", response_model=Prediction)
async def predict(car: CarFeatures, served: ServedModel) -> dict:
    """Price one car: price, calibrated bounds, per-feature contributions (₹ and log) that add
    up to the price, comparable listings, and out-of-training-range warnings."""
    # UnknownValue and Unpriceable → 422 (handlers in main)
    result = served.model.quote(car.model_dump(), served.comparables_k)
    metrics.ROWS.labels("predict", "priced").inc()
    result["model_version"] = served.version
    return result


@router.post("/batch", response_model=BatchResult)
def predict_batch(
    served: ServedModel,
    settings: Settings,
    cars: Annotated[
        list[dict[str, Any]],
        Body(
            description="CarFeatures objects, at most CARPRICE_API_MAX_BATCH_ITEMS (default "
            "1000). Each is validated on its own: a bad item gets an `error`, the rest are priced.",
            openapi_examples={
                "two cars": {"value": [EXAMPLE_CAR, {**EXAMPLE_CAR, "brand": "Tesla"}]}
            },
        ),
    ],
) -> BatchResult:
    """Price a list of cars; per-item results in input order, one bad item fails only itself."""
    if len(cars) > settings.max_batch_items:
        raise HTTPException(
            status_code=413,
            detail=f"{len(cars)} items sent; at most {settings.max_batch_items} per request "
            "(use /predict/csv for more).",
        )
    items = batch_items(served.model, cars)
    priced = sum(item.error is None for item in items)
    metrics.ROWS.labels("batch", "priced").inc(priced)
    metrics.ROWS.labels("batch", "failed").inc(len(cars) - priced)
    return BatchResult(
        model_version=served.version, priced=priced, failed=len(cars) - priced, items=items
    )


@router.post(
    "/csv",
    response_class=StreamingResponse,
    description=CSV_DOC,
    responses={
        200: {"content": {"text/csv": {}}, "description": "Input rows + prices, streamed."},
        400: {"model": ErrorBody, "description": "Empty, non-UTF-8 or unparsable file."},
        413: {"model": ErrorBody, "description": "File larger than the limit."},
    },
)
def predict_csv(file: UploadFile, served: ServedModel, settings: Settings) -> StreamingResponse:
    """Price every row of a CSV (either shape); returns it with prices appended, streamed."""
    job = open_csv(file, settings)
    stem = (file.filename or "cars").rsplit(".", 1)[0].replace('"', "")[:80] or "cars"
    return StreamingResponse(
        stream_priced(job, served),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}_priced.csv"',
            "X-Model-Version": served.version,
        },
    )
