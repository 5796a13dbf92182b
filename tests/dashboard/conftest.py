"""Fixtures for the dashboard's AppTest tests: pages run in-process against a real API.

`app_env(url)` points CARPRICE_DASHBOARD_API_URL at `url` and clears the dashboard's caches
(settings, st.cache_data, st.cache_resource) before and after, so tests never share answers.
`apptest(page)` builds an AppTest for dashboard/views/<page>.py with a generous timeout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.plugins.api_stack import ApiServer
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples"
TIMEOUT = 60


def _clear() -> None:
    import streamlit as st

    from dashboard.config import get_dashboard_settings

    get_dashboard_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


@contextlib.contextmanager
def app_env(url: str, **settings: str) -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARPRICE_DASHBOARD_API_URL", url)
        mp.delenv("CARPRICE_DASHBOARD_API_KEY", raising=False)
        for key, value in settings.items():
            mp.setenv(f"CARPRICE_DASHBOARD_{key.upper()}", value)
        _clear()
        try:
            yield mp
        finally:
            _clear()


@pytest.fixture
def live_env(api_server: ApiServer) -> Iterator[pytest.MonkeyPatch]:
    """Dashboard settings pointed at the session's real API."""
    with app_env(api_server.url) as mp:
        yield mp


@pytest.fixture
def down_env() -> Iterator[str]:
    """Dashboard settings pointed at a closed loopback port (the API is down)."""
    url = f"http://127.0.0.1:{free_port()}"
    with app_env(url, mlflow_url=url, airflow_url=url):
        yield url


@pytest.fixture
def apptest() -> Callable:
    from streamlit.testing.v1 import AppTest

    def make(page: str):  # noqa: ANN202 - AppTest
        path = REPO / "dashboard" / ("app.py" if page == "app" else f"views/{page}.py")
        return AppTest.from_file(str(path), default_timeout=TIMEOUT)

    return make
