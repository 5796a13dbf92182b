"""Dependencies as Annotated aliases: the settings, the model being served, the API key, the
quote log.

They are `async def` on purpose: FastAPI runs plain `def` dependencies in a thread pool,
which would add a thread hop to every request for work that takes microseconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.access import HEADER, REFUSED, key_name, key_ok
from api.config import ApiSettings, get_api_settings
from api.runtime import ModelRuntime, Served
from carprice.quotelog.store import OUTAGE_ERRORS
from carprice.quotelog.writer import QuoteLog

_api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    description="Required on pricing, sales and monitoring when the server has keys "
    "(CARPRICE_API_KEY, CARPRICE_API_KEYS_FILE).",
)


async def get_settings_dep() -> ApiSettings:
    return get_api_settings()


async def get_runtime(request: Request) -> ModelRuntime:
    return request.app.state.runtime


async def get_served(runtime: Annotated[ModelRuntime, Depends(get_runtime)]) -> Served:
    """The model for this whole request: read once, so a swap mid-request can't mix versions."""
    served = runtime.current
    if served is None:
        reason = runtime.status.last_error or "the first load has not finished"
        raise HTTPException(
            status_code=503,
            detail=f"No model is loaded yet ({runtime.name}@{runtime.alias}): {reason}. "
            f"Train and register one (python -m carprice.train); this service checks MLflow "
            f"every {runtime.poll_seconds:g} s and starts pricing as soon as it appears.",
            headers={"Retry-After": str(max(1, round(runtime.poll_seconds)))},
        )
    return served


@contextlib.contextmanager
def quote_log_reachable(outcome: str) -> Iterator[None]:
    """An unreachable quote-log database is a 503 saying so (and `outcome`), never a 500."""
    try:
        yield
    except OUTAGE_ERRORS as exc:
        raise HTTPException(
            status_code=503,
            detail=f"The quote log's database can't be reached ({type(exc).__name__}); {outcome}",
            headers={"Retry-After": "5"},
        ) from exc


async def get_quote_log(request: Request) -> QuoteLog:
    return request.app.state.quote_log


async def get_key_name(
    request: Request, key: Annotated[str | None, Security(_api_key_header)] = None
) -> str | None:
    """The name of the key that let this request in (recorded with its quotes and sales):
    the gate's finding, else the header's match (a path the gate doesn't cover)."""
    if "api_key_name" in request.scope.get("state", {}):
        return request.scope["state"]["api_key_name"]
    return key_name(key)


async def check_api_key(key: Annotated[str | None, Security(_api_key_header)] = None) -> None:
    """Also enforced, before the body is read, by `access.ApiKeyGate`; here for OpenAPI and
    for the GET routes the gate doesn't cover (/monitoring)."""
    if not key_ok(key):
        raise HTTPException(status_code=401, detail=REFUSED, headers={"WWW-Authenticate": HEADER})


Settings = Annotated[ApiSettings, Depends(get_settings_dep)]
Runtime = Annotated[ModelRuntime, Depends(get_runtime)]
ServedModel = Annotated[Served, Depends(get_served)]
RequireApiKey = Depends(check_api_key)
QuoteLogDep = Annotated[QuoteLog, Depends(get_quote_log)]
KeyName = Annotated[str | None, Depends(get_key_name)]
