"""`.stack/stack.env`: every URL and credential as KEY=VALUE lines, for scripts and tests."""

from __future__ import annotations

from pathlib import Path

from stack.config import StackSettings
from stack.credentials import Credentials, write_private
from stack.services import AIRFLOW_USER


def values(settings: StackSettings, creds: Credentials) -> dict[str, str]:
    """The stack's addresses and credentials."""
    env = {
        "AIRFLOW_URL": settings.url(settings.airflow_port),
        "AIRFLOW_USER": AIRFLOW_USER,
        "AIRFLOW_PASSWORD": creds.airflow_admin_password,
        "MLFLOW_URL": settings.url(settings.mlflow_port),
        "API_URL": settings.url(settings.api_port),
        "DASHBOARD_URL": settings.url(settings.dashboard_port) if settings.with_dashboard else "",
        "S3_ENDPOINT": settings.url(settings.s3_port),
        "S3_KEY": creds.s3_key,
        "S3_SECRET": creds.s3_secret,
        "STATE_DIR": str(settings.state),
        "LOG_DIR": str(settings.log_dir),
        "SECRETS_DIR": str(settings.secrets_dir),
        "PROFILE": settings.profile,
    }
    if settings.distributed:  # Flower shares the Airflow login
        env["FLOWER_URL"] = settings.url(settings.flower_port)
    return env


def write(path: Path, env: dict[str, str]) -> None:
    """Write KEY=VALUE lines (mode 0600); values never contain spaces or quotes."""
    lines = [f"{key}={value}" for key, value in env.items()]
    write_private(path, "\n".join(lines) + "\n")


def read(path: Path) -> dict[str, str]:
    """Parse a file written by ``write``."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out
