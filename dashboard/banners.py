"""Service banners: a clear message naming the service that is down, then stop the page.

Pages call `require_api()` first; it returns the API's health or shows an `st.error` that
says which service, where it was expected, and what to do, and stops the script there.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import streamlit as st

from dashboard import pricing
from dashboard.clients.api_client import ApiError
from dashboard.config import get_dashboard_settings

API_HINT = (
    "Start it with `make up` (or `uvicorn api.main:app --port 8800`), or point "
    "`CARPRICE_DASHBOARD_API_URL` at it, then reload this page."
)


def api_down(exc: ApiError) -> None:
    """Show why the pricing API can't be used, then stop the page."""
    url = get_dashboard_settings().api_url
    if exc.unreachable:
        st.error(
            f"**The pricing API is down.** Nothing answers at {url}.\n\n{API_HINT}",
            icon=":material/block:",
        )
    else:
        st.error(f"**The pricing API cannot serve this page.** {exc}", icon=":material/block:")
    st.stop()


def require_api() -> dict[str, Any]:
    """Health of the API with a model loaded; otherwise a banner and `st.stop()`."""
    url = get_dashboard_settings().api_url
    try:
        status = pricing.health(url)
    except ApiError as exc:
        api_down(exc)
    if not status.get("model_version"):
        reason = status.get("last_error") or "no champion model is registered yet"
        st.warning(
            f"**The pricing API is up but has no model to serve** ({reason}). Train and "
            "promote one (`make run`, or the retrain button on Pipelines); this page "
            "works as soon as the API loads it.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    if status.get("mlflow_reachable") is False:
        st.warning(
            f"**MLflow is not reachable from the API.** Quotes still work with version "
            f"{status['model_version']}, but a newly promoted model won't be picked up until "
            "MLflow is back.",
            icon=":material/warning:",
        )
    return status


def _answers(url: str) -> bool:
    """True if `url` answers at all (any HTTP status) within two seconds."""
    try:
        httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    return True


@st.cache_data(ttl=15, show_spinner=False)
def _reachable(url: str) -> bool:
    return _answers(url)


@st.cache_data(ttl=15, show_spinner=False)
def _reachable_all(urls: tuple[str, ...]) -> tuple[bool, ...]:
    """Probed side by side: every page waits for the slowest service, not for their sum."""
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return tuple(pool.map(_answers, urls))


def note_api_down() -> None:
    """Pages that don't price cars still say when the pricing API is down, then carry on."""
    url = get_dashboard_settings().api_url
    if not _reachable(url.rstrip("/") + "/health"):
        st.warning(
            f"**The pricing API is down.** Nothing answers at {url}: Quote, Batch quotes and "
            "Model wait for it. This page doesn't need it and keeps working.",
            icon=":material/block:",
        )


def sidebar_status() -> None:
    """One line per service in the sidebar, so a down service is visible from every page."""
    s = get_dashboard_settings()
    services = {
        "Pricing API": s.api_url.rstrip("/") + "/health",
        "MLflow": s.mlflow_url.rstrip("/") + "/health",
        "Airflow": s.airflow_url.rstrip("/") + "/api/v2/monitor/health",
    }
    states = _reachable_all(tuple(services.values()))
    with st.sidebar:
        st.caption("Services")
        for (name, url), up in zip(services.items(), states, strict=True):
            st.markdown(
                f":green[●] {name}" if up else f":red[●] {name} — **down**",
                help=url.rsplit("/", 1)[0] if up else f"Nothing answers at {url}",
            )
