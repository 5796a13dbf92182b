"""Prometheus metrics (prometheus-client's default registry) and the ASGI middleware that
records request counts and latencies."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "carprice_http_requests_total",
    "HTTP requests by route and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "carprice_http_request_seconds",
    "Time to the response's first byte, by route.",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ROWS = Counter(
    "carprice_rows_priced_total", "Cars priced, by endpoint and outcome.", ["endpoint", "outcome"]
)
MODEL_VERSION = Gauge("carprice_model_version", "Registered model version being served (0: none).")
MODEL_LOADS = Counter("carprice_model_loads_total", "Successful model loads (start-up and swaps).")
MODEL_LOAD_FAILURES = Counter("carprice_model_load_failures_total", "Model loads that failed.")

_ROUTES = {
    "/",
    "/health",
    "/metrics",
    "/model/info",
    "/model/importance",
    "/predict",
    "/predict/batch",
    "/predict/csv",
}


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead); unknown paths share one label."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in _ROUTES else "other"
        method = scope["method"]
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                LATENCY.labels(method, route).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            REQUESTS.labels(method, route, str(status)).inc()
