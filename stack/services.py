"""What the stack runs: one command, environment and health URL per service.

Both `up` (health checks, messages) and the supervisor (the processes) build the list from
the same settings and secrets, so nothing with a secret in it is written to disk as a spec.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stack.config import REPO_ROOT, StackSettings
from stack.credentials import Credentials
from stack.process import find_executable

AIRFLOW_USER = "admin"
DATA_BUCKET = "data"
MLFLOW_BUCKET = "mlflow"
#: Every process of a stack carries this variable (value: its state folder), so `down` finds
#: leftovers even after they were re-parented.
MARKER = "CARPRICE_STACK_MARKER"
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


@dataclass(frozen=True)
class Service:
    """One supervised process."""

    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def log_file(self, log_dir: Path) -> Path:
        return log_dir / f"{self.name}.log"


def bin_path(name: str) -> str:
    """An executable of this virtual environment (rclone, mlflow, airflow, …), else of PATH;
    the bare name if neither has it (the start then fails with a message naming it)."""
    try:
        return str(find_executable(name))
    except FileNotFoundError:
        return name


def s3_env(settings: StackSettings, creds: Credentials) -> dict[str, str]:
    """S3 client settings for MLflow, Airflow tasks and boto3."""
    return {
        "MLFLOW_S3_ENDPOINT_URL": settings.url(settings.s3_port),
        "AWS_ACCESS_KEY_ID": creds.s3_key,
        "AWS_SECRET_ACCESS_KEY": creds.s3_secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "path",
    }


def base_env(settings: StackSettings) -> dict[str, str]:
    """The caller's environment plus the venv on PATH and the marker.

    No PYTHONPATH: carprice, api, dashboard and stack are installed into the venv.
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env[MARKER] = str(settings.state)
    return env


def quote_log_env(settings: StackSettings) -> dict[str, str]:
    """The quote log both the API (writes) and model_monitor (reads) use: the caller's
    CARPRICE_DATABASE_URL (e.g. PostgreSQL) when set, else one SQLite file in the stack's
    state, by absolute path (the API and Airflow tasks run in different folders)."""
    return {
        "CARPRICE_DATABASE_URL": os.environ.get("CARPRICE_DATABASE_URL")
        or f"sqlite:///{(settings.state / 'carprice.db').resolve()}",
        "CARPRICE_QUOTE_SPOOL_DIR": os.environ.get("CARPRICE_QUOTE_SPOOL_DIR")
        or str((settings.state / "quote-spool").resolve()),
    }


def airflow_env(settings: StackSettings, creds: Credentials) -> dict[str, str]:
    """Environment of every Airflow component; tasks inherit it (MLflow, S3, lake root)."""
    home = settings.state / "airflow"
    db = home / "airflow.db"
    env = base_env(settings)
    # Airflow finds airflow_local_settings.py (the preload) on PYTHONPATH: its own mechanism.
    local_settings = REPO_ROOT / "airflow" / "config"
    if local_settings.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(local_settings), env.get("PYTHONPATH")])
        )
    return {
        **env,
        **s3_env(settings, creds),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder.resolve()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__API__HOST": settings.host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.url(settings.airflow_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": creds.airflow_api_secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": creds.airflow_jwt_secret,
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.airflow_worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.airflow_trigger_log_port),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "MLFLOW_TRACKING_URI": settings.url(settings.mlflow_port),
        "CARPRICE_LAKE_ROOT": f"s3://{DATA_BUCKET}",
        "CARPRICE_WORK_DIR": str(settings.state / "work"),
        **quote_log_env(settings),
    }


def rclone_auth_env(key: str, secret: str) -> dict[str, str]:
    """rclone's key pair as an environment variable, never a flag (`ps` shows every flag to
    every local user). rclone reads a list flag's variable as CSV, so the pair, which holds a
    comma itself, is one quoted CSV field."""
    return {"RCLONE_AUTH_KEY": '"' + f"{key},{secret}".replace('"', '""') + '"'}


def build(settings: StackSettings, creds: Credentials) -> list[Service]:
    """The services in start order."""
    state, host = settings.state, settings.host
    base = base_env(settings)
    mlflow_url = settings.url(settings.mlflow_port)
    s3_url = settings.url(settings.s3_port)
    services = [
        Service(
            "s3",
            [
                bin_path("rclone"),
                "serve",
                "s3",
                "--addr",
                f"{host}:{settings.s3_port}",
                "--dir-cache-time",
                "1s",  # 0s makes rclone 1.75 busy-loop
                "--config",
                "",
                "--log-level",
                "INFO",
                str(state / "s3"),
            ],
            s3_url + "/",
            {**base, **rclone_auth_env(creds.s3_key, creds.s3_secret)},
        ),
        Service(
            "mlflow",
            [
                bin_path("mlflow"),
                "server",
                "--backend-store-uri",
                f"sqlite:///{state / 'mlflow.db'}",
                "--artifacts-destination",
                f"s3://{MLFLOW_BUCKET}",
                "--host",
                host,
                "--port",
                str(settings.mlflow_port),
                "--workers",
                str(settings.mlflow_workers),
            ],
            mlflow_url + "/health",
            {**base, **s3_env(settings, creds), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        ),
    ]
    airflow = airflow_env(settings, creds)
    airflow_url = settings.url(settings.airflow_port)
    for component in AIRFLOW_COMPONENTS:
        health = airflow_url + "/api/v2/monitor/health"
        services.append(
            Service(f"airflow-{component}", [bin_path("airflow"), component], health, airflow)
        )
    api_env = {
        **base,
        "MLFLOW_TRACKING_URI": mlflow_url,
        "CARPRICE_API_POLL_SECONDS": os.environ.get("CARPRICE_API_POLL_SECONDS", "5"),
        "CARPRICE_API_STARTUP_WAIT_SECONDS": "0",
        **quote_log_env(settings),
    }
    services.append(
        Service(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                host,
                "--port",
                str(settings.api_port),
            ],
            settings.url(settings.api_port) + "/health",
            api_env,
        )
    )
    if settings.with_dashboard:
        dash_env = {
            **base,
            "CARPRICE_DASHBOARD_API_URL": settings.url(settings.api_port),
            "CARPRICE_DASHBOARD_MLFLOW_URL": mlflow_url,
            "CARPRICE_DASHBOARD_AIRFLOW_URL": airflow_url,
            "CARPRICE_DASHBOARD_AIRFLOW_USER": AIRFLOW_USER,
            "CARPRICE_DASHBOARD_AIRFLOW_PASSWORD": creds.airflow_admin_password,
            "CARPRICE_DASHBOARD_OPERATOR_PASSWORD": creds.dashboard_operator_password,
            "CARPRICE_DASHBOARD_PIPELINE_DAG_ID": settings.dag_id,
        }
        if os.environ.get("CARPRICE_API_KEY"):
            dash_env.setdefault("CARPRICE_DASHBOARD_API_KEY", os.environ["CARPRICE_API_KEY"])
        services.append(
            Service(
                "dashboard",
                [
                    bin_path("streamlit"),
                    "run",
                    str(REPO_ROOT / "dashboard" / "app.py"),
                    "--server.address",
                    host,
                    "--server.port",
                    str(settings.dashboard_port),
                    "--server.headless",
                    "true",
                    "--browser.gatherUsageStats",
                    "false",
                ],
                settings.url(settings.dashboard_port) + "/_stcore/health",
                dash_env,
            )
        )
    return services
