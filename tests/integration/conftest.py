"""Session fixtures that run real servers (rclone S3, MLflow, PostgreSQL) as subprocesses.

Every test under ``tests/integration`` gets the ``integration`` marker (deselect with
``-m "not integration"``). Servers are started lazily on first use, once per session, and
stopped at session end whatever the test outcome (also on Ctrl-C, and on SIGTERM, which is
turned into KeyboardInterrupt once a server runs). Their logs are in pytest's basetemp
(``--basetemp`` to pin it); start-up times are printed in the terminal summary.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

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

S3_BUCKETS = ("data", "mlflow")
MLFLOW_BUCKET = "mlflow"

_startup_times: dict[str, float] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the items under tests/integration as ``integration``."""
    for item in items:
        if Path(item.path).resolve().is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


def _sigterm_to_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _teardown_on_sigterm() -> None:
    """Let SIGTERM (e.g. a CI job being cancelled) run fixture teardown like Ctrl-C does.

    Servers run in their own sessions, so without this they would outlive a killed pytest.
    Only installed if nobody else handles SIGTERM, and only from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_to_keyboard_interrupt)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how long each server took to start."""
    if _startup_times:
        terminalreporter.section("integration servers start-up")
        for name, seconds in _startup_times.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """rclone S3 server over a temp folder, with buckets ``data`` and ``mlflow``."""
    _teardown_on_sigterm()
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
    _teardown_on_sigterm()
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
    _teardown_on_sigterm()
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
