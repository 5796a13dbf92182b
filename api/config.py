"""API-only settings (env prefix CARPRICE_API_); MLflow URI, model name and alias come from
`carprice.settings`."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Validated once at start-up; a bad value stops the service with a clear message."""

    model_config = SettingsConfigDict(env_prefix="CARPRICE_API_", extra="ignore")

    key: SecretStr | None = Field(
        default=None,
        description="CARPRICE_API_KEY: when set, pricing endpoints need header X-API-Key "
        "(this key's name in the quote log is 'default').",
    )
    keys_file: str | None = Field(
        default=None,
        description="CARPRICE_API_KEYS_FILE: JSON {name: key} of named keys (one per client), "
        "re-read when it changes: rotate a key by rewriting the file, no restart.",
    )
    poll_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="How often to check whether the alias moved."
    )
    startup_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        le=600,
        description="How long start-up waits for the first model load before serving anyway.",
    )
    max_csv_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=1024,
        description="Largest accepted /predict/csv upload (1,000,000 typical rows fit).",
    )
    max_sheet_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest /predict/csv upload that isn't a plain UTF-8 comma CSV (.xlsx, "
        "semicolon, UTF-16, …): those are read whole, so they get a lower cap than streamed CSV.",
    )
    max_json_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest accepted JSON body on /predict and /predict/batch.",
    )
    csv_chunk_rows: int = Field(
        default=10_000, ge=100, le=1_000_000, description="Rows priced per CSV chunk."
    )
    max_batch_items: int = Field(
        default=1000, ge=1, le=100_000, description="Largest accepted /predict/batch list."
    )
    comparables: int = Field(
        default=5, ge=0, le=50, description="Comparable listings returned by /predict."
    )


@lru_cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
