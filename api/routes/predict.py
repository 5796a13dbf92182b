"""Pricing: one car with its explanation, a JSON batch, or a CSV file."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, HTTPException, Query, UploadFile
from fastapi.responses import StreamingResponse

from api import metrics
from api.deps import KeyName, QuoteLogDep, RequireApiKey, ServedModel, Settings
from api.quoting import log_batch, log_refusal, log_single
from api.schemas import BatchResult, ErrorBody, Prediction
from api.scoring import EXAMPLE_CAR, UnknownValue, Unpriceable, price_batch
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


RECORD_DOC = (
    "false: price without logging a quote (no quote_id), for explorations such as what-if "
    "variations of a car already quoted, so they don't count as quotes in monitoring (nor "
    "as refused rows, when refused)."
)
Record = Annotated[bool, Query(description=RECORD_DOC)]


@router.post("", response_model=Prediction)
async def predict(
    car: CarFeatures,
    served: ServedModel,
    quote_log: QuoteLogDep,
    key_name: KeyName,
    record: Record = True,
) -> dict:
    """Price one car: its quote id, price, calibrated bounds, per-feature contributions (₹ and
    log) that add up to the price, comparable listings, and out-of-training-range warnings."""
    given = car.model_dump()
    try:
        result = served.model.quote(given, served.comparables_k)
    except (UnknownValue, Unpriceable) as exc:  # → 422 (handlers in main), logged as refused
        if record:
            log_refusal(quote_log, served, str(exc), key_name)
        raise
    metrics.ROWS.labels("predict", "priced").inc()
    result["model_version"] = served.version
    result["quote_id"] = log_single(quote_log, served, given, result, key_name) if record else None
    return result


@router.post("/batch", response_model=BatchResult)
def predict_batch(
    served: ServedModel,
    settings: Settings,
    quote_log: QuoteLogDep,
    key_name: KeyName,
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
    record: Record = True,
) -> BatchResult:
    """Price a list of cars; per-item results (each priced one with its quote id) in input
    order, one bad item fails only itself."""
    if len(cars) > settings.max_batch_items:
        raise HTTPException(
            status_code=413,
            detail=f"{len(cars)} items sent; at most {settings.max_batch_items} per request "
            "(use /predict/csv for more).",
        )
    batch = price_batch(served.model, cars)
    if record:
        log_batch(quote_log, served, batch, key_name)
    items = batch.items
    priced = sum(item.error is None for item in items)
    metrics.ROWS.labels("batch", "priced").inc(priced)
    metrics.ROWS.labels("batch", "failed").inc(len(cars) - priced)
    return BatchResult(
        model_version=served.version, priced=priced, failed=len(cars) - priced, items=items
    )


_TABLE_HEADERS = {
    "X-CarPrice-Dialect": "What was read, in words: `comma-separated CSV, UTF-8`, "
    "`semicolon-separated CSV, Windows-1252, decimal commas`, `Excel workbook, sheet 'Cars'`.",
    "X-CarPrice-Mapping": "JSON object: each uploaded header → the schema column it fed, or "
    "null (passed through untouched). ASCII, non-ASCII as \\uXXXX escapes.",
    "X-CarPrice-Notes": "JSON list of things to check about how the file was read (e.g. it was "
    "read as Windows-1252, a title row was skipped). ASCII.",
    "X-Model-Version": "The model version that priced every row.",
}
MAPPING_DOC = (
    "Optional JSON object {uploaded header: schema column or null}, overriding the guessed "
    'column for those headers; null ignores a column (it passes through). E.g. {"Mileage": '
    '"km_driven", "KMs": null}. Not a JSON object, an unknown column, a header the file '
    "doesn't have or two columns on one field → 422."
)


@router.post(
    "/csv",
    response_class=StreamingResponse,
    description=CSV_DOC,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": "Input rows + prices and each priced row's quote_id as UTF-8 comma "
            "CSV, streamed.",
            "headers": {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in _TABLE_HEADERS.items()
            },
        },
        400: {
            "model": ErrorBody,
            "description": "The file can't be read: empty, a header without rows, binary data, "
            "an old .xls or an unreadable .xlsx. The reason says how to fix it.",
        },
        413: {
            "model": ErrorBody,
            "description": "File larger than CARPRICE_API_MAX_CSV_BYTES (plain UTF-8 comma CSV) or "
            "CARPRICE_API_MAX_SHEET_BYTES (any other format, read whole).",
        },
        422: {
            "model": ErrorBody,
            "description": "The columns can't be used (required ones missing, two on one "
            "field) or `mapping` is not a JSON object of header → column or null.",
        },
    },
)
def predict_csv(
    file: UploadFile,
    served: ServedModel,
    settings: Settings,
    quote_log: QuoteLogDep,
    key_name: KeyName,
    mapping: Annotated[str | None, Form(description=MAPPING_DOC)] = None,
) -> StreamingResponse:
    """Price every row of a CSV or Excel table (either shape); returns it as CSV with prices
    appended, streamed."""
    job = open_csv(file, settings, mapping)
    return StreamingResponse(
        stream_priced(job, served, quote_log, key_name),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{_download_stem(file.filename)}'
            '_priced.csv"',
            "X-Model-Version": served.version,
            **job.response_headers(),
        },
    )


def _download_stem(filename: str | None) -> str:
    """The upload's name without its extension, as ASCII (what every HTTP client decodes)
    that is safe inside a quoted header value."""
    stem = (filename or "cars").rsplit(".", 1)[0]
    stem = re.sub(r'["\\]', "", re.sub(r"[^\x20-\x7e]", "_", stem))[:80]
    return stem or "cars"
