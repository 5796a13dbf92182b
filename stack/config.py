"""Launcher settings (env prefix CARPRICE_STACK_): ports, state folder, first-run training.

Every port is overridable so a second stack (tests) can run beside the default one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from carprice import names

REPO_ROOT = Path(__file__).resolve().parent.parent


class StackSettings(BaseSettings):
    """Validated once per command; defaults are the ports in DESIGN.md §4."""

    model_config = SettingsConfigDict(
        env_prefix="CARPRICE_STACK_", extra="ignore", env_ignore_empty=True
    )

    state_dir: Path = Field(
        default=REPO_ROOT / ".stack", description="Secrets, databases, S3 data and logs."
    )
    host: str = Field(default="127.0.0.1", description="Interface every service listens on.")
    s3_port: int = Field(default=9000, ge=1, le=65535, description="rclone S3 server.")
    mlflow_port: int = Field(default=5001, ge=1, le=65535, description="MLflow server.")
    airflow_port: int = Field(default=8080, ge=1, le=65535, description="Airflow API server/UI.")
    airflow_worker_log_port: int = Field(
        default=8793, ge=1, le=65535, description="Airflow task log server."
    )
    airflow_trigger_log_port: int = Field(
        default=8794, ge=1, le=65535, description="Airflow triggerer log server."
    )
    api_port: int = Field(default=8800, ge=1, le=65535, description="Pricing API.")
    dashboard_port: int = Field(default=8501, ge=1, le=65535, description="Streamlit dashboard.")
    dashboard: bool = Field(
        default=True, description="Start the dashboard when dashboard/app.py exists."
    )
    trials: int = Field(
        default=5, ge=1, le=500, description="Search trials of the first training run."
    )
    max_rounds: int | None = Field(
        default=None, ge=10, description="Cap on boosting rounds of the first run (unset: DAG's)."
    )
    dags_folder: Path = Field(
        default=REPO_ROOT / "airflow" / "dags", description="Folder Airflow reads DAGs from."
    )
    dag_id: str = Field(default=names.TRAINING_DAG, description="The training DAG.")
    mlflow_workers: int = Field(default=2, ge=1, le=8, description="MLflow server workers.")
    airflow_parallelism: int = Field(
        default=4, ge=1, le=32, description="Airflow task slots (each forks a worker)."
    )
    start_timeout: float = Field(
        default=300.0, gt=0, description="Seconds every service gets to answer its health URL."
    )
    train_timeout: float = Field(
        default=1800.0, gt=0, description="Seconds the first run gets to put a champion live."
    )
    stop_grace: float = Field(
        default=20.0, gt=0, description="Seconds between SIGTERM and SIGKILL on `down`."
    )
    profile: Literal["embedded", "distributed"] = Field(
        default="embedded",
        description="embedded: SQLite + LocalExecutor; distributed: PostgreSQL + Celery workers.",
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Celery broker (distributed profile)."
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432",
        description="PostgreSQL server holding Airflow's and MLflow's databases (distributed).",
    )
    airflow_database: str = Field(default="airflow", description="Airflow's database there.")
    mlflow_database: str = Field(default="mlflow_db", description="MLflow's database there.")
    workers: int = Field(default=2, ge=1, le=16, description="Celery workers (distributed).")
    worker_concurrency: int = Field(
        default=1, ge=1, le=32, description="Tasks each Celery worker runs at once."
    )
    worker_log_port: int = Field(
        default=8795, ge=1, le=65535, description="Log server of Celery worker 1 (+1 each next)."
    )
    flower_port: int = Field(default=5555, ge=1, le=65535, description="Flower (Celery UI).")

    @field_validator("state_dir", "dags_folder")
    @classmethod
    def _from_repo_root(cls, path: Path) -> Path:
        """Relative paths count from the repository, wherever the command runs."""
        path = path.expanduser()
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def state(self) -> Path:
        """The state folder as an absolute path."""
        return self.state_dir.resolve()

    @property
    def log_dir(self) -> Path:
        return self.state / "logs"

    @property
    def secrets_dir(self) -> Path:
        return self.state / "secrets"

    @property
    def pidfile(self) -> Path:
        return self.state / "supervisor.pid"

    @property
    def env_file(self) -> Path:
        return self.state / "stack.env"

    def url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def ports(self) -> dict[str, int]:
        """Service name -> port it needs, for the busy-port check."""
        ports = {
            "s3": self.s3_port,
            "mlflow": self.mlflow_port,
            "airflow-api-server": self.airflow_port,
            "airflow-worker-log-server": self.airflow_worker_log_port,
            "airflow-trigger-log-server": self.airflow_trigger_log_port,
            "api": self.api_port,
        }
        if self.distributed:
            ports["flower"] = self.flower_port
            for index, port in enumerate(self.worker_log_ports(), start=1):
                ports[f"airflow-worker-{index}-log-server"] = port
        if self.with_dashboard:
            ports["dashboard"] = self.dashboard_port
        return ports

    @property
    def distributed(self) -> bool:
        return self.profile == "distributed"

    def worker_names(self) -> list[str]:
        """Celery hostnames of the workers (`celery@<name>` to Celery, service names here)."""
        return [f"airflow-worker-{index}" for index in range(1, self.workers + 1)]

    def worker_log_ports(self) -> list[int]:
        """One task-log server port per worker: they share a host, so each needs its own."""
        return [self.worker_log_port + index for index in range(self.workers)]

    @property
    def with_dashboard(self) -> bool:
        return self.dashboard and (REPO_ROOT / "dashboard" / "app.py").is_file()


@lru_cache
def get_stack_settings() -> StackSettings:
    """Cached; tests call cache_clear() after changing the environment."""
    return StackSettings()
