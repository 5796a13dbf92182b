"""Dashboard settings (env prefix CARPRICE_DASHBOARD_): where the API, MLflow and Airflow are.

The dashboard imports nothing from the services it talks to, so it has its own small settings
object. Credentials stay on the server side: pages never render these values.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    # Sign-in (dashboard.auth, dashboard.serve): Streamlit's OIDC login. No metadata URL means
    # local mode: no sign-in, everyone is operator, and the dashboard listens on loopback only.
    oidc_server_metadata_url: str | None = Field(
        default=None, description="The IdP's .well-known/openid-configuration URL."
    )
    oidc_client_id: str | None = Field(default=None, description="This app's client id.")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Its client secret.")
    oidc_redirect_uri: str | None = Field(
        default=None, description="The dashboard's public URL + /oauth2callback."
    )
    oidc_cookie_secret: SecretStr | None = Field(
        default=None, description="Signs the identity cookie (32+ random characters)."
    )
    oidc_scope: str = Field(default="openid profile email", description="Scopes requested.")
    oidc_role_claim: str = Field(
        default="carprice_role", description="ID-token claim naming the role (or a list)."
    )
    oidc_roles: Annotated[dict[str, Literal["sales", "science", "operator"]], NoDecode] = Field(
        default_factory=dict, description="JSON {email: role} for users the claim doesn't cover."
    )
    auth_secrets_dir: Path | None = Field(
        default=None, description="Where dashboard.serve writes Streamlit's auth secrets file."
    )

    @field_validator(
        "oidc_server_metadata_url", "oidc_client_id", "oidc_client_secret",
        "oidc_redirect_uri", "oidc_cookie_secret", "auth_secrets_dir", mode="before",
    )  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`KEY=` in an env file means unset, as everywhere else in .env.example."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("oidc_roles", mode="before")
    @classmethod
    def _roles_json(cls, value: object) -> object:
        """A JSON object in the environment; empty means no map."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"CARPRICE_DASHBOARD_OIDC_ROLES is not JSON: {exc}") from exc

    @field_validator("oidc_roles")
    @classmethod
    def _emails_lowercase(cls, value: dict[str, str]) -> dict[str, str]:
        return {email.strip().lower(): role for email, role in value.items()}

    @model_validator(mode="after")
    def _oidc_complete(self) -> DashboardSettings:
        """Half an OIDC configuration would silently mean local mode: refuse it instead."""
        names = ("client_id", "client_secret", "redirect_uri", "cookie_secret")
        given = {n: getattr(self, f"oidc_{n}") for n in names}
        if self.oidc_server_metadata_url is None:
            if any(v is not None for v in given.values()):
                raise ValueError(
                    "CARPRICE_DASHBOARD_OIDC_* is set without "
                    "CARPRICE_DASHBOARD_OIDC_SERVER_METADATA_URL: set it, or unset the others"
                )
            return self
        missing = [f"CARPRICE_DASHBOARD_OIDC_{n.upper()}" for n, v in given.items() if not v]
        if missing:
            raise ValueError(f"sign-in is configured but {', '.join(missing)} is missing")
        assert self.oidc_redirect_uri is not None and self.oidc_cookie_secret is not None
        if not self.oidc_redirect_uri.rstrip("/").endswith("/oauth2callback"):
            raise ValueError("CARPRICE_DASHBOARD_OIDC_REDIRECT_URI must end with /oauth2callback")
        if len(self.oidc_cookie_secret.get_secret_value()) < 32:
            raise ValueError("CARPRICE_DASHBOARD_OIDC_COOKIE_SECRET needs 32+ characters")
        return self

    @property
    def oidc_enabled(self) -> bool:
        """True when an identity provider is configured; False is local mode."""
        return self.oidc_server_metadata_url is not None

    @property
    def mlflow_link_base(self) -> str:
        return (self.mlflow_ui_url or self.mlflow_url).rstrip("/")


@lru_cache
def get_dashboard_settings() -> DashboardSettings:
    """Cached; tests call cache_clear() after changing the environment."""
    return DashboardSettings()
