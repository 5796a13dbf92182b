"""Random secrets generated on the first `up`, kept in files only the user can read.

A second `up` reads the same files, so logins, tokens and S3 keys survive restarts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

#: File name -> number of random bytes (URL-safe text is about 4/3 as long).
_SECRETS = {
    "airflow_admin_password": 18,
    "airflow_jwt_secret": 32,
    "airflow_api_secret_key": 32,
    "s3_key": 12,
    "s3_secret": 24,
}


@dataclass(frozen=True)
class Credentials:
    """Every secret the local stack uses."""

    airflow_admin_password: str
    airflow_jwt_secret: str
    airflow_api_secret_key: str
    s3_key: str
    s3_secret: str


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file created with mode 0600 (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def load_or_create(secrets_dir: Path) -> tuple[Credentials, list[Path]]:
    """Read the secrets, generating the missing ones; return them and the files just created."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    values: dict[str, str] = {}
    created: list[Path] = []
    for name, nbytes in _SECRETS.items():
        path = secrets_dir / name
        text = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
        if not text:
            # S3 keys: letters and digits only, so they survive any config syntax.
            text = (
                secrets.token_hex(nbytes)
                if name.startswith("s3_")
                else secrets.token_urlsafe(nbytes)
            )
            write_private(path, text + "\n")
            created.append(path)
        elif path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        values[name] = text
    return Credentials(**values), created
