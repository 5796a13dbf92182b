"""Fixtures for the dashboard's AppTest tests: pages run in-process against a real API.

`app_env(url)` points CARPRICE_DASHBOARD_API_URL at `url` and clears the dashboard's caches
(settings, st.cache_data, st.cache_resource) before and after, so tests never share answers.
`apptest(page)` builds an AppTest for dashboard/views/<page>.py with a generous timeout.
`fake_airflow` answers the Pipelines page's Airflow calls (tests/dashboard/test_pipelines.py's
FakeAirflow, served on a loopback port by tests/dashboard/fake_http.py); `page_text(at)` is
everything a page rendered, for "is this shown?" checks. After every test the fake servers
are stopped (an assertion that failed inside a fake fails the test), MLflow's process-wide
HTTP settings, which the dashboard's MLflow client may set, are put back, and so is
`sys.modules["__main__"]`: a page run by AppTest can leave itself there, and a later test that
spawns a process (the quote-log writer) would make the child run that page as its main module.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.dashboard import fake_http
from tests.dashboard.test_pipelines import FakeAirflow
from tests.plugins.api_stack import ApiServer
from tests.servers import free_port

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples"
TIMEOUT = 60


#: Set by dashboard.clients.mlflow_client for its process; restored after each test here.
_MLFLOW_HTTP_ENV = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")


@pytest.fixture(autouse=True)
def _fake_servers_and_mlflow_env() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in _MLFLOW_HTTP_ENV}
    main = sys.modules["__main__"]
    try:
        yield
    finally:
        sys.modules["__main__"] = main
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        fake_http.stop_all()


def _clear() -> None:
    import streamlit as st

    from dashboard.config import get_dashboard_settings

    get_dashboard_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Dashboard settings re-read and Streamlit caches empty, before and after the test."""
    _clear()
    yield
    _clear()


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


@pytest.fixture
def fake_airflow(monkeypatch: pytest.MonkeyPatch) -> FakeAirflow:
    """The Pipelines page talks to a fake Airflow (the sidebar's probe still uses the URL)."""
    from dashboard import connections
    from dashboard.clients.airflow_client import AirflowClient
    from dashboard.config import get_dashboard_settings

    airflow = FakeAirflow()
    url = fake_http.serve(airflow).url

    def client() -> AirflowClient:
        s = get_dashboard_settings()
        return AirflowClient(url, s.airflow_user, s.airflow_password)

    monkeypatch.setattr(connections, "airflow_client", client)
    return airflow


def page_text(at: AppTest) -> str:
    """Every element's content (main and sidebar), widget labels and table cells included."""
    parts = [
        str(node.proto)
        for node in iter(at._tree)
        if getattr(node, "proto", None) is not None and not hasattr(node, "children")
    ]
    parts += [d.value.to_csv() if hasattr(d.value, "to_csv") else "" for d in at.dataframe]
    return "\n".join(parts)
