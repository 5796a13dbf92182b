"""Service status and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import Runtime
from api.schemas import Health

router = APIRouter(tags=["service"])


def _health(runtime: Runtime) -> Health:
    served = runtime.current
    status = runtime.status
    return Health(
        status="ok" if served else "degraded",
        model_name=runtime.name,
        model_alias=runtime.alias,
        model_version=served.version if served else None,
        model_loaded_at=served.loaded_at if served else None,
        mlflow_reachable=status.mlflow_reachable,
        last_check=status.last_check,
        last_error=status.last_error,
        refused_version=status.failed_version,
        poll_seconds=runtime.poll_seconds,
    )


@router.get("/", response_model=Health)
async def root(runtime: Runtime) -> Health:
    """Service status (same as /health); interactive docs are at /docs."""
    return _health(runtime)


@router.get("/health", response_model=Health)
async def health(runtime: Runtime) -> Health:
    """Status, served model version, MLflow reachability and the last error; 200 even with no
    model, so the process counts as up while it waits for one."""
    return _health(runtime)


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
