"""Session fixtures that run real servers (rclone S3, MLflow, PostgreSQL) as subprocesses.

Every test under ``tests/integration`` gets the ``integration`` marker (deselect with
``-m "not integration"``) and a 300 s pytest-timeout unless it sets its own. Servers are
started lazily on first use, once per session, and stopped at session end whatever the
test outcome; their logs are in pytest's basetemp (``--basetemp`` to pin it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import (
    MlflowS3Stack,
    MlflowServer,
    S3Server,
    create_pg_database,
    drop_pg_database,
    start_mlflow_server,
    start_s3_server,
)

INTEGRATION_DIR = Path(__file__).resolve().parent
DEFAULT_TIMEOUT_S = 300

S3_BUCKETS = ("data", "mlflow")
MLFLOW_BUCKET = "mlflow"

_startup_times: dict[str, float] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark items under tests/integration as ``integration`` and give them a timeout."""
    for item in items:
        if not Path(item.path).resolve().is_relative_to(INTEGRATION_DIR):
            continue
        item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT_S))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how long each server took to start."""
    if _startup_times:
        terminalreporter.section("integration servers start-up")
        for name, seconds in _startup_times.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """rclone S3 server over a temp folder, with buckets ``data`` and ``mlflow``."""
    base = tmp_path_factory.mktemp("s3")
    server = start_s3_server(base / "data", log_path=base / "rclone.log")
    _startup_times["rclone serve s3"] = server.startup_seconds
    try:
        server.create_buckets(*S3_BUCKETS)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """MLflow server on ``sqlite:///<tmp>/mlflow.db`` with a local artifacts folder."""
    base = tmp_path_factory.mktemp("mlflow_sqlite")
    server = start_mlflow_server(
        f"sqlite:///{base / 'mlflow.db'}",
        str(base / "artifacts"),
        log_path=base / "mlflow.log",
        workdir=base,
    )
    _startup_times["mlflow (sqlite, local artifacts)"] = server.startup_seconds
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_pg_s3_server(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server
) -> Iterator[MlflowS3Stack]:
    """MLflow server on a fresh PostgreSQL database, artifacts proxied to ``s3://mlflow``."""
    base = tmp_path_factory.mktemp("mlflow_pg_s3")
    db_name = f"carprice_test_mlflow_{os.getpid()}"
    backend_uri = create_pg_database(db_name)
    try:
        server = start_mlflow_server(
            backend_uri,
            f"s3://{MLFLOW_BUCKET}",
            env_extra=s3_server.env(),
            log_path=base / "mlflow.log",
            workdir=base,
        )
        _startup_times["mlflow (postgresql, s3 artifacts)"] = server.startup_seconds
        try:
            yield MlflowS3Stack(server=server, s3=s3_server, bucket=MLFLOW_BUCKET, db_name=db_name)
        finally:
            server.stop()
    finally:
        drop_pg_database(db_name)
