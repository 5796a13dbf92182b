"""Shared pytest fixtures (kept light: heavy server fixtures live in tests/integration)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Server fixtures shared by several test folders (integration, api, dashboard, e2e). They
# start lazily: a test run that doesn't ask for a server doesn't start one.
pytest_plugins = ["tests.plugins.stack", "tests.plugins.api_stack"]


@pytest.fixture(scope="session")
def real_data_path() -> Path | None:
    """The real car_details_v3.csv if available, else None.

    Looks at ``$CARPRICE_RAW_DATA`` first, then ``../shared/data/car_details_v3.csv``
    relative to the repo root.
    """
    from_env = os.environ.get("CARPRICE_RAW_DATA")
    if from_env and Path(from_env).is_file():
        return Path(from_env).resolve()
    shared = REPO_ROOT.parent / "shared" / "data" / "car_details_v3.csv"
    return shared.resolve() if shared.is_file() else None
