"""The MLflow and Airflow clients, one per dashboard process (st.cache_resource).

Keyed on the URL and timeout so a changed configuration gets a fresh client; the Airflow
password is read from settings inside, so it is never a cache key or a page value.
"""

from __future__ import annotations

import streamlit as st

from dashboard.clients.airflow_client import AirflowClient
from dashboard.clients.mlflow_client import MlflowClient
from dashboard.config import get_dashboard_settings


@st.cache_resource(show_spinner=False)
def _mlflow(url: str, timeout: float) -> MlflowClient:
    return MlflowClient(url, timeout=timeout)


@st.cache_resource(show_spinner=False)
def _airflow(url: str, user: str, timeout: float) -> AirflowClient:
    password = get_dashboard_settings().airflow_password
    return AirflowClient(url, user, password, timeout=timeout)


def mlflow_client() -> MlflowClient:
    s = get_dashboard_settings()
    return _mlflow(s.mlflow_url, s.request_timeout)


def airflow_client() -> AirflowClient:
    s = get_dashboard_settings()
    return _airflow(s.airflow_url, s.airflow_user, s.request_timeout)
