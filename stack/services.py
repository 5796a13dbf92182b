"""What the stack runs: one command, environment and health URL per service.

Both `up` (health checks, messages) and the supervisor (the processes) build the list from
the same settings and secrets, so nothing with a secret in it is written to disk as a spec.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stack import airflow_config, databases
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
    #: Started again when it dies (a Celery worker: its running task goes back to the queue and
    #: is retried elsewhere), instead of stopping the whole stack as any other exit does.
    restart: bool = False

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


def airflow_database_url(settings: StackSettings) -> str:
    """Airflow's metadata database: SQLite in the state folder, or its PostgreSQL database."""
    if settings.distributed:
        return databases.database_url(settings.database_url, settings.airflow_database)
    return f"sqlite:///{settings.state / 'airflow' / 'airflow.db'}"


def mlflow_store_url(settings: StackSettings) -> str:
    """MLflow's backend store: SQLite in the state folder, or its PostgreSQL database."""
    if settings.distributed:
        return databases.database_url(settings.database_url, settings.mlflow_database)
    return f"sqlite:///{settings.state / 'mlflow.db'}"


def _celery_env(settings: StackSettings, creds: Credentials) -> dict[str, str]:
    """Broker, result backend (Airflow's PostgreSQL database) and Flower's address and login."""
    return {
        "AIRFLOW__CELERY__BROKER_URL": settings.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_database_url(settings),
        "AIRFLOW__CELERY__FLOWER_HOST": settings.host,
        "AIRFLOW__CELERY__FLOWER_PORT": str(settings.flower_port),
        "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": f"{AIRFLOW_USER}:{creds.airflow_admin_password}",
    }


def airflow_env(settings: StackSettings, creds: Credentials) -> dict[str, str]:
    """Environment of every Airflow component; tasks inherit it (MLflow, S3, lake root).

    The profile's shared settings come from stack.airflow_config (compose.yaml and the tests
    use the same); this adds where this stack's pieces are and its secrets."""
    home = settings.state / "airflow"
    env = base_env(settings)
    # Airflow finds airflow_local_settings.py (the preload) on PYTHONPATH: its own mechanism.
    local_settings = REPO_ROOT / "airflow" / "config"
    if local_settings.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(local_settings), env.get("PYTHONPATH")])
        )
    db_url = airflow_database_url(settings)
    env.update(
        {
            **s3_env(settings, creds),
            "AIRFLOW_HOME": str(home),
            **airflow_config.shared(settings.profile),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder.resolve()),
            "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__API__HOST": settings.host,
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__BASE_URL": settings.url(settings.airflow_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": creds.airflow_api_secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": creds.airflow_jwt_secret,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.airflow_worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.airflow_trigger_log_port),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "MLFLOW_TRACKING_URI": settings.url(settings.mlflow_port),
            "CARPRICE_LAKE_ROOT": f"s3://{DATA_BUCKET}",
            "CARPRICE_WORK_DIR": str(settings.state / "work"),
            **quote_log_env(settings),
        }
    )
    if settings.distributed:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = airflow_config.async_url(db_url)
        env.update(_celery_env(settings, creds))
    return env


def celery_services(settings: StackSettings, airflow: dict[str, str]) -> list[Service]:
    """N `airflow celery worker`s, each with its own Celery hostname, pid file and log server
    port (they share a host), and Flower. A worker is up when its log server answers; `status`
    also asks the broker which workers answer a ping."""
    flower_url = settings.url(settings.flower_port) + "/healthcheck"
    airflow_bin = bin_path("airflow")
    services = []
    for name, log_port in zip(settings.worker_names(), settings.worker_log_ports(), strict=True):
        argv = [
            airflow_bin, "celery", "worker",
            "--celery-hostname", name,
            "--concurrency", str(settings.worker_concurrency),
            "--pid", str(settings.state / "airflow" / f"{name}.pid"),
        ]  # fmt: skip
        env = {**airflow, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port)}
        services.append(Service(name, argv, settings.url(log_port) + "/", env, restart=True))
    flower_argv = [airflow_bin, "celery", "flower"]
    services.append(Service("flower", flower_argv, flower_url, airflow))
    return services


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
    # PostgreSQL's URL may hold a password: every profile hands the store over in the
    # environment, never on argv.
    mlflow_store_env = {"MLFLOW_BACKEND_STORE_URI": mlflow_store_url(settings)}
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
            {
                **base,
                **s3_env(settings, creds),
                **mlflow_store_env,
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            },
        ),
    ]
    airflow = airflow_env(settings, creds)
    airflow_url = settings.url(settings.airflow_port)
    for component in AIRFLOW_COMPONENTS:
        health = airflow_url + "/api/v2/monitor/health"
        services.append(
            Service(f"airflow-{component}", [bin_path("airflow"), component], health, airflow)
        )
    if settings.distributed:
        services.extend(celery_services(settings, airflow))
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
            "CARPRICE_DASHBOARD_PIPELINE_DAG_ID": settings.dag_id,
        }
        if os.environ.get("CARPRICE_API_KEY"):
            dash_env.setdefault("CARPRICE_DASHBOARD_API_KEY", os.environ["CARPRICE_API_KEY"])
        services.append(
            Service(
                "dashboard",
                [  # dashboard.serve: sign-in settings to Streamlit; local mode loopback only
                    sys.executable,
                    "-m",
                    "dashboard.serve",
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
