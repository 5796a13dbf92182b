"""The CarPrice pricing API: `uvicorn api.main:app --port 8800`.

The lifespan validates settings, points MLflow at the tracking server, starts the quote log's
writer (migrations, then a thread that batches quotes into the database) and the model
runtime (first load, then a poller that follows the alias). Nothing happens at import time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mlflow
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.access import ApiKeyGate
from api.config import get_api_settings
from api.keys import key_ring
from api.metrics import MetricsMiddleware
from api.openapi import install as install_openapi
from api.routes import catalogue, health, model, monitoring, predict, quotes
from api.runtime import ModelRuntime
from api.scoring import UnknownValue, Unpriceable
from api.tabular import UploadLimit
from carprice.quotelog.writer import QuoteLog
from carprice.settings import get_settings

log = logging.getLogger("api")

DESCRIPTION = """Prices used cars in India (₹) with the registered MLflow model
`car_price@champion`, explains each price (exact TreeSHAP contributions in rupees and log
space, plus comparable real listings) and follows the alias: when a new champion is promoted
the service loads it in the background and switches without dropping a request.

Inputs are checked against the model's own vocabulary: an unknown brand or fuel is a 422 that
lists the allowed values, never silently priced. `GET /model/info` lists every input with its
range and allowed values. When the server sets `CARPRICE_API_KEY`, the `/predict*` and
`/quotes*` endpoints need the header `X-API-Key`.

Every priced row gets a `quote_id` and is logged (inputs, price, interval, model version);
`/quotes/{quote_id}/sale` and `/quotes/sales` record what the car really sold for.
"""


def _configure_logging() -> None:
    logger = logging.getLogger("api")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    _configure_logging()
    settings = get_settings()
    api_settings = get_api_settings()  # fails loudly on a bad CARPRICE_API_* value
    key_ring()  # and on a keys file that can't be read
    # MLflow's HTTP client retries for minutes by default; the poller retries anyway.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    runtime = ModelRuntime(
        settings.mlflow_tracking_uri,
        settings.model_name,
        settings.model_alias,
        api_settings.poll_seconds,
        comparables_k=api_settings.comparables,
    )
    app.state.runtime = runtime
    quote_log = QuoteLog.from_settings(settings)  # a bad URL fails start-up here, loudly
    await anyio.to_thread.run_sync(quote_log.start)  # an unreachable database only spools
    app.state.quote_log = quote_log
    log.info("quote log in %s (spool %s)", quote_log.describe(), settings.quote_spool_dir)
    log.info(
        "serving %s@%s from %s (%s)",
        settings.model_name,
        settings.model_alias,
        settings.mlflow_tracking_uri,
        f"API key required, keys: {', '.join(sorted(key_ring().names())) or 'none yet'}"
        if key_ring().configured
        else "API key not required",
    )
    await anyio.to_thread.run_sync(runtime.start, api_settings.startup_wait_seconds)
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(runtime.stop)
        await anyio.to_thread.run_sync(quote_log.stop)  # drained to the database or spool


def _summary(errors: list[dict]) -> str:
    parts = []
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {e.get('msg')}")
    return "; ".join(parts)


def _echo(value: object) -> object:
    """A refused input as JSON can carry it: a body that isn't JSON arrives as bytes."""
    if isinstance(value, bytes):
        return value[:200].decode("utf-8", "replace")
    return value


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {k: e[k] for k in ("loc", "msg", "type") if k in e} | {"input": _echo(e.get("input"))}
        for e in exc.errors()
    ]
    return JSONResponse(
        status_code=422,
        content={"detail": f"Invalid request: {_summary(errors)}", "errors": errors},
    )


async def _unknown_value(request: Request, exc: UnknownValue) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "detail": str(exc),
            "errors": [
                {
                    "loc": ["body", exc.column],
                    "msg": str(exc),
                    "type": "unknown_value",
                    "input": exc.value,
                    "allowed": exc.allowed,
                }
            ],
        },
    )


async def _unpriceable(request: Request, exc: Unpriceable) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "detail": str(exc),
            "errors": [{"loc": ["body"], "msg": str(exc), "type": "unpriceable"}],
        },
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's answer, except that a 405's `Allow` lists every method the path has: Starlette
    names only the first route's (POST /quotes/{id}/sale hides its PUT)."""
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    path = request.url.path
    allowed = sorted(
        {
            method
            for route in request.app.router.routes
            if getattr(route, "methods", None) and route.path_regex.match(path)
            for method in route.methods
        }
    )
    return JSONResponse(
        status_code=405, content={"detail": exc.detail}, headers={"Allow": ", ".join(allowed)}
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=500,
        content={"detail": f"Internal error ({type(exc).__name__}); see the server log."},
    )


def create_app() -> FastAPI:
    application = FastAPI(
        title="CarPrice API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    application.include_router(health.router)
    application.include_router(model.router)
    application.include_router(catalogue.router)
    application.include_router(predict.router)
    application.include_router(quotes.router)
    application.include_router(monitoring.router)
    application.add_exception_handler(RequestValidationError, _validation_error)
    application.add_exception_handler(StarletteHTTPException, _http_error)
    application.add_exception_handler(UnknownValue, _unknown_value)
    application.add_exception_handler(Unpriceable, _unpriceable)
    application.add_exception_handler(Exception, _unexpected)
    application.add_middleware(UploadLimit)
    application.add_middleware(ApiKeyGate)  # runs before UploadLimit: no key, no body read
    application.add_middleware(MetricsMiddleware)
    install_openapi(application)  # the document follows the served model and the key setting
    return application


app = create_app()
