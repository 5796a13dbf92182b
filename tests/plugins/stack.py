"""Session fixtures that run the real stack as local processes, shared by every test folder.

- ``s3_server``: ``rclone serve s3`` over a temp folder, buckets ``data`` and ``mlflow``.
- ``mlflow_sqlite_server``: MLflow on SQLite with a local artifacts folder.
- ``mlflow_pg_s3_server``: MLflow on a fresh PostgreSQL database, artifacts in ``s3://mlflow``.
- ``airflow_stack``: Airflow 3 (api-server, scheduler, dag-processor, triggerer, LocalExecutor)
  on a fresh PostgreSQL database, its tasks wired to ``mlflow_pg_s3_server`` and
  ``s3_server`` with ``CARPRICE_LAKE_ROOT=s3://data``.

Servers start lazily on first use, once per session, and stop at session end whatever the
outcome (also on Ctrl-C, and on SIGTERM, which is turned into KeyboardInterrupt once a server
runs). Logs are in pytest's basetemp (``--basetemp`` to pin it); start-up times are printed
in the terminal summary.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from stack.services import DATA_BUCKET, MLFLOW_BUCKET
from tests.airflow_server import AirflowStack, start_airflow, stop_airflow
from tests.servers import (
    MlflowS3Stack,
    MlflowServer,
    S3Server,
    create_pg_database,
    drop_pg_database,
    start_mlflow_server,
    start_s3_server,
)

S3_BUCKETS = (DATA_BUCKET, MLFLOW_BUCKET)  # as in the local stack

#: Server name -> seconds it took to start, for the terminal summary.
STARTUP_TIMES: dict[str, float] = {}


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
    if STARTUP_TIMES:
        terminalreporter.section("integration servers start-up")
        for name, seconds in STARTUP_TIMES.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """rclone S3 server over a temp folder, with buckets ``data`` and ``mlflow``."""
    _teardown_on_sigterm()
    base = tmp_path_factory.mktemp("s3")
    server = start_s3_server(base / "data", log_path=base / "rclone.log")
    STARTUP_TIMES["rclone serve s3"] = server.startup_seconds
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
    STARTUP_TIMES["mlflow (sqlite, local artifacts)"] = server.startup_seconds
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
        STARTUP_TIMES["mlflow (postgresql, s3 artifacts)"] = server.startup_seconds
        try:
            yield MlflowS3Stack(server=server, s3=s3_server, bucket=MLFLOW_BUCKET, db_name=db_name)
        finally:
            server.stop()
    finally:
        drop_pg_database(db_name)


@pytest.fixture(scope="session")
def airflow_stack(
    tmp_path_factory: pytest.TempPathFactory,
    s3_server: S3Server,
    mlflow_pg_s3_server: MlflowS3Stack,
) -> Iterator[AirflowStack]:
    """A real Airflow 3 on PostgreSQL whose tasks use ``mlflow_pg_s3_server`` and ``s3_server``.

    Returns an ``AirflowStack`` with ``url``, ``user``, ``password`` (UI and REST login),
    ``mlflow_url``, ``s3`` (the ``S3Server``; the lake is ``s3://data``), ``token()`` (a
    bearer JWT), ``client`` (``AirflowClient``: trigger, dag_run, task_instances, task_log)
    and ``trigger_and_wait(dag_id, conf, timeout) -> dict``: the finished run's JSON plus
    ``task_states`` (``task_id`` / ``task_id[map_index]`` -> state). A failed run is
    returned, not raised; ``stack.failure_report(run)`` gives the failed tasks' log tails.
    Component logs: ``stack.home / "logs"``. Start-up takes about a minute on a busy box
    (database migration included).
    """
    _teardown_on_sigterm()
    home = tmp_path_factory.mktemp("airflow")
    task_env = {
        **s3_server.env(),
        "MLFLOW_TRACKING_URI": mlflow_pg_s3_server.url,
        "CARPRICE_LAKE_ROOT": f"s3://{DATA_BUCKET}",
        # model_monitor reads the quote log; tests write quotes into the same file.
        "CARPRICE_DATABASE_URL": f"sqlite:///{home / 'quotes.db'}",
    }
    stack = start_airflow(home, task_env, mlflow_url=mlflow_pg_s3_server.url, s3=s3_server)
    STARTUP_TIMES["airflow (postgresql, 4 components)"] = stack.startup_seconds
    try:
        yield stack
    finally:
        stop_airflow(stack)
