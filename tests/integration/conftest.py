"""Marks every test under ``tests/integration`` as ``integration``.

The server fixtures themselves (``s3_server``, ``mlflow_sqlite_server``,
``mlflow_pg_s3_server``, ``airflow_stack``) live in ``tests/plugins/stack.py`` so other test
folders can share them; their start-up times are printed in the terminal summary there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the items under tests/integration as ``integration``."""
    for item in items:
        if Path(item.path).resolve().is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)
