"""One-off Airflow set-up before its components start: login file and database schema."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from stack.config import StackSettings
from stack.credentials import Credentials, write_private
from stack.services import AIRFLOW_USER, airflow_env, bin_path

_MARKER = ".migrated"


def write_passwords(home: Path, creds: Credentials) -> Path:
    """The simple auth manager's password file (fixed credentials, mode 0600)."""
    path = home / "passwords.json"
    write_private(path, json.dumps({AIRFLOW_USER: creds.airflow_admin_password}))
    return path


def ensure_databases(settings: StackSettings) -> list[str]:
    """Distributed profile: create Airflow's and MLflow's PostgreSQL databases if missing."""
    if not settings.distributed:
        return []
    from stack import databases

    return databases.ensure(
        settings.database_url, settings.airflow_database, settings.mlflow_database
    )


def airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def migrate(
    settings: StackSettings,
    creds: Credentials,
    timeout: float = 600,
    announce: Callable[[str], None] | None = None,
) -> bool:
    """`airflow db migrate` unless this Airflow version already migrated the database.

    Returns True if it ran (``announce`` hears it first: it takes about a minute). Raises
    RuntimeError naming the log file on failure.
    """
    home = settings.state / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    marker = home / _MARKER
    wanted = airflow_version()
    if settings.distributed:  # its own marker: the PostgreSQL database, not airflow.db
        marker = home / f"{_MARKER}-distributed"
        wanted = f"{wanted} {settings.airflow_database}"
    if marker.is_file() and marker.read_text().strip() == wanted:
        return False
    if announce is not None:
        announce("airflow: creating its database (first run only, about a minute) …")
    log = settings.log_dir / "airflow-db-migrate.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        done = subprocess.run(
            [bin_path("airflow"), "db", "migrate"],
            env=airflow_env(settings, creds),
            cwd=home,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed (exit {done.returncode}); see {log}")
    marker.write_text(wanted + "\n")
    return True
