"""The distributed profile's pieces that need no server: database URLs, port messages,
`status` finding the profile a running stack was started with."""

from __future__ import annotations

import socket
from pathlib import Path

from stack import databases, envfile
from stack.cli import _running_profile
from stack.config import StackSettings
from stack.ports import busy_ports


def test_database_url_names_psycopg2_and_the_database() -> None:
    url = databases.database_url("postgresql://postgres@127.0.0.1:5432", "airflow")
    assert url == "postgresql+psycopg2://postgres@127.0.0.1:5432/airflow"
    with_pw = databases.database_url("postgresql://u:p%40ss@db:5433/other", "mlflow_db")
    assert with_pw == "postgresql+psycopg2://u:p%40ss@db:5433/mlflow_db"
    assert databases.kind(with_pw) == "postgresql"
    assert databases.kind("sqlite:////x/airflow.db") == "sqlite"


def test_busy_worker_log_port_names_its_variable(tmp_path: Path) -> None:
    settings = StackSettings(profile="distributed", state_dir=tmp_path, dashboard=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = busy_ports("127.0.0.1", {"airflow-worker-2-log-server": port})
    assert len(busy) == 1 and "CARPRICE_STACK_WORKER_LOG_PORT" in busy[0]
    assert "flower" in settings.ports() and "airflow-worker-2-log-server" in settings.ports()


def test_embedded_ports_are_unchanged(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, dashboard=False)
    assert settings.profile == "embedded" and not settings.distributed
    assert set(settings.ports()) == {
        "s3", "mlflow", "airflow-api-server", "airflow-worker-log-server",
        "airflow-trigger-log-server", "api",
    }  # fmt: skip


def test_status_uses_the_profile_the_stack_was_started_with(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    assert _running_profile(settings).profile == "embedded"  # no stack.env yet
    envfile.write(settings.env_file, {"PROFILE": "distributed"})
    assert _running_profile(settings).profile == "distributed"
