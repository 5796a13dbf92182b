"""Fixtures for the API tests.

* `mem_model`: a small PricingModel trained in memory (pure unit tests, no servers).
* `client`: `TestClient(app)` with the real lifespan, pointed at the session MLflow server.
* `settings_env`: change CARPRICE_API_* for one test.

The server fixtures (`mlflow_server`, `champion`, `api_server`) and helpers (`start_api`,
`api_env`, ...) live in tests/plugins/api_stack.py so tests/dashboard and tests/e2e share them;
they are re-exported here for the tests that import them from this module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.api_stack import (  # noqa: F401 - re-exported for the API tests
    CAR,
    MODEL,
    REPO,
    Champion,
    api_env,
    csv_bytes,
    refresh_settings,
    served_version,
    start_api,
    wait_for,
)


@pytest.fixture(scope="session")
def mem_model():  # noqa: ANN201 - PricingModel
    """Fitted exactly like train.run's final model, minus MLflow (a few seconds)."""
    from carprice import train
    from carprice.clean import clean_training
    from carprice.synthetic import generate

    report = clean_training(generate(rows=1000, seed=3))
    tr, te = train.split(report.frame, 0.2, seed=1)
    summary = train.data_summary(tr, te, report.counts, "SYNTHETIC api-test sample")
    params = {"eta": 0.1, "max_depth": 5, "min_child_weight": 1.0, "subsample": 0.9}
    return train.fit_best(tr, te, params, rounds=80, seed=1, level=0.8, summary=summary)


@pytest.fixture(scope="module")
def client(champion: Champion) -> Iterator:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with api_env(champion.url), TestClient(create_app()) as c:
        assert c.get("/health").json()["model_version"] is not None
        yield c


@pytest.fixture
def settings_env() -> Iterator[pytest.MonkeyPatch]:
    """Change CARPRICE_API_* for one test; settings are re-read per request."""
    with pytest.MonkeyPatch.context() as mp:
        yield mp
    refresh_settings()
