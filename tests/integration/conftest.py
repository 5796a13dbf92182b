"""Marks every test under ``tests/integration`` as ``integration``; the Airflow tests' MLflow
client and alias lookup.

The server fixtures themselves (``s3_server``, ``mlflow_sqlite_server``,
``mlflow_pg_s3_server``, ``airflow_stack``) live in ``tests/plugins/stack.py`` so other test
folders can share them; their start-up times are printed in the terminal summary there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.airflow_server import AirflowStack

INTEGRATION_DIR = Path(__file__).resolve().parent
MODEL = "car_price"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the items under tests/integration as ``integration``."""
    for item in items:
        if Path(item.path).resolve().is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def mlflow_client(airflow_stack: AirflowStack) -> MlflowClient:
    """The Airflow tasks' MLflow. registry_uri too: an earlier in-process test may have set
    mlflow's global registry URI."""
    from mlflow import MlflowClient

    url = airflow_stack.mlflow_url
    return MlflowClient(tracking_uri=url, registry_uri=url)


def alias_version(client: MlflowClient, alias: str) -> str | None:
    """The version behind `alias` of the registered model, or None when it is absent."""
    try:
        return str(client.get_model_version_by_alias(MODEL, alias).version)
    except Exception:  # noqa: BLE001 - MlflowException when the alias (or model) is absent
        return None
