"""One settings object for every part of CarPrice, read from the environment.

Defaults point at the embedded local stack (SQLite MLflow store, local folders), so a fresh
clone runs with no configuration at all.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from carprice import names


class Settings(BaseSettings):
    """CARPRICE_* variables, plus MLFLOW_TRACKING_URI.

    S3 access is not a setting here: MLflow and `carprice.lake` both read the standard
    MLFLOW_S3_ENDPOINT_URL and AWS_* variables themselves.
    """

    model_config = SettingsConfigDict(env_prefix="CARPRICE_", extra="ignore")

    raw_data: str | None = Field(
        default=None,
        description="Raw CarDekho CSV: local path, s3://bucket/key or http(s):// URL. "
        "Unset means: use a generated synthetic sample.",
    )
    mlflow_tracking_uri: str = Field(
        default="sqlite:///.stack/mlflow.db",
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow server URL or sqlite:/// store.",
    )
    experiment: str = Field(default=names.EXPERIMENT, description="MLflow experiment name.")
    model_name: str = Field(default=names.MODEL_NAME, description="Registered model name.")
    model_alias: str = Field(default=names.CHAMPION, description="Alias of the live model.")
    trials: int = Field(default=30, ge=1, le=500, description="Hyperparameter search trials.")
    seed: int = Field(default=42, description="Seed for splits, search and synthetic data.")
    test_size: float = Field(default=0.2, gt=0.05, lt=0.5, description="Held-out test share.")
    interval_level: float = Field(default=0.8, gt=0.5, lt=0.99, description="Interval level.")
    eval_share: float = Field(
        default=0.15,
        gt=0.01,
        lt=0.5,
        description="Share of the clean rows a new frozen evaluation set holds out.",
    )
    eval_set: str | None = Field(
        default=None,
        description="Pin the frozen evaluation set by id (eval/<id>/ under the lake); unset: "
        "the current one.",
    )
    new_eval_set: bool = Field(
        default=False,
        description="Create a new frozen evaluation set on the next run (then unset it).",
    )
    gate_min_gain: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="Promotion gate: the low end of the bootstrap interval of the MAE gain "
        "(a share of the champion's MAE) must be above this.",
    )
    gate_resamples: int = Field(default=2000, ge=100, le=100_000, description="Bootstrap draws.")
    gate_level: float = Field(default=0.95, gt=0.5, lt=1.0, description="Interval level.")
    require_approval: bool = Field(
        default=False,
        description="A new version waits as challenger for an operator's approval instead "
        "of the gate promoting it.",
    )
    work_dir: str = Field(default=".stack", description="Local folder for generated files.")
    database_url: str = Field(
        default="sqlite:///.stack/carprice.db",
        description="Quote log and sales database (SQLAlchemy URL): SQLite by default, "
        "PostgreSQL with postgresql+psycopg2://user:pass@host:5432/carprice.",
    )
    quote_spool_dir: str = Field(
        default=".stack/quote-spool",
        description="Where quotes wait (JSON lines, fsync'd) while the database is unreachable; "
        "replayed in order when it is back.",
    )
    quote_batch_rows: int = Field(
        default=500, ge=1, le=100_000, description="Quote log: rows that wake the writer early."
    )
    quote_writer: Literal["process", "thread"] = Field(
        default="process",
        description="Quote log: write from a child process (the API's GIL stays free for "
        "pricing) or from a thread of the API process (no extra process).",
    )
    quote_flush_seconds: float = Field(
        default=0.5, gt=0, le=60, description="Quote log: the longest a quote waits in memory."
    )
    lake_root: str = Field(
        default=".stack/lake",
        description="Data lake root: a local folder or s3://bucket. The pipeline reads "
        f"{names.RAW_KEY} and writes {names.RUNS_PREFIX}/<run_id>/ under it.",
    )


@lru_cache
def get_settings() -> Settings:
    """Cached so every caller sees one validated object; tests call cache_clear()."""
    return Settings()
