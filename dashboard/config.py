"""Dashboard settings (env prefix CARPRICE_DASHBOARD_): where the API, MLflow and Airflow are.

The dashboard imports nothing from the services it talks to, so it has its own small settings
object. Credentials stay on the server side: pages never render these values.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from carprice.names import MODEL_NAME, TRAINING_DAG


class DashboardSettings(BaseSettings):
    """Validated once per process; defaults point at the local `make up` stack."""

    model_config = SettingsConfigDict(env_prefix="CARPRICE_DASHBOARD_", extra="ignore")

    api_url: str = Field(default="http://127.0.0.1:8800", description="Pricing API base URL.")
    api_key: SecretStr | None = Field(
        default=None, description="Sent as X-API-Key when the API requires a key."
    )
    mlflow_url: str = Field(
        default="http://127.0.0.1:5001", description="MLflow server (tracking + registry)."
    )
    mlflow_ui_url: str | None = Field(
        default=None, description="MLflow UI base for links shown to users; default mlflow_url."
    )
    airflow_url: str = Field(default="http://127.0.0.1:8080", description="Airflow API server.")
    airflow_user: str = Field(default="admin", description="Airflow user for the REST API.")
    airflow_password: SecretStr | None = Field(
        default=None, description="Airflow password; unset disables the Pipelines actions."
    )
    operator_password: SecretStr | None = Field(
        default=None,
        description="Password an operator types to retrain; unset disables retraining.",
    )
    request_timeout: float = Field(default=30.0, gt=0, description="HTTP timeout in seconds.")
    batch_chunk_rows: int = Field(
        default=1000, ge=10, le=100_000, description="Rows per /predict/csv call on Batch quotes."
    )
    batch_lots_kept: int = Field(
        default=20, ge=1, le=1000,
        description="Priced Batch lots kept in memory for reloads (dashboard.batch_store).",
    )  # fmt: skip
    # Experiments and Pipelines pages.
    model_name: str = Field(default=MODEL_NAME, description="Registered model in MLflow.")
    experiments_max_runs: int = Field(
        default=5000, ge=10, description="Runs fetched per experiment (paged 1,000 at a time)."
    )
    experiments_max_rows: int = Field(
        default=500, ge=10, description="Runs rendered in the runs table at most."
    )
    cache_ttl_seconds: float = Field(
        default=30.0, ge=0, description="How long MLflow and Airflow lists are cached."
    )
    pipeline_dag_id: str = Field(
        default=TRAINING_DAG, description="The DAG the retrain button triggers."
    )
    pipeline_poll_seconds: float = Field(
        default=2.0, gt=0, description="Seconds between status polls while following a run."
    )
    pipeline_watch_timeout: float = Field(
        default=3600.0, gt=0, description="Stop following a run after this many seconds."
    )

    @property
    def mlflow_link_base(self) -> str:
        return (self.mlflow_ui_url or self.mlflow_url).rstrip("/")


@lru_cache
def get_dashboard_settings() -> DashboardSettings:
    """Cached; tests call cache_clear() after changing the environment."""
    return DashboardSettings()
