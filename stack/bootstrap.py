"""Seed the stack's S3: buckets `data` and `mlflow`, and the raw file the first run trains on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carprice import names
from stack.config import StackSettings
from stack.credentials import Credentials
from stack.services import DATA_BUCKET, MLFLOW_BUCKET

REAL_KEY = names.RAW_KEY
SYNTHETIC_KEY = "raw/SYNTHETIC_car_details.csv"


@dataclass(frozen=True)
class Seed:
    """Where the first run's data is and what it is."""

    data_uri: str
    source: str  # "configured: <uri>" or "synthetic"
    uploaded: bool


def s3_client(settings: StackSettings, creds: Credentials) -> Any:
    """boto3 client for the stack's S3 (path-style, SigV4: what rclone accepts)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.url(settings.s3_port),
        aws_access_key_id=creds.s3_key,
        aws_secret_access_key=creds.s3_secret,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def ensure_buckets(client: Any) -> None:
    """Create `data` and `mlflow` unless they exist."""
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    for name in (DATA_BUCKET, MLFLOW_BUCKET):
        if name not in existing:
            client.create_bucket(Bucket=name)


def _exists(client: Any, key: str) -> bool:
    try:
        client.head_object(Bucket=DATA_BUCKET, Key=key)
    except client.exceptions.ClientError:
        return False
    return True


def seed_data(client: Any, raw_data: str | None, work_dir: Path) -> Seed:
    """Upload CARPRICE_RAW_DATA to s3://data/raw/car_details_v3.csv (`names.RAW_KEY`), or
    else the synthetic sample under a name that says so. An object already there is kept."""
    if raw_data:
        key, source = REAL_KEY, f"configured: {raw_data}"
    else:
        key, source = SYNTHETIC_KEY, "synthetic"
    uri = f"s3://{DATA_BUCKET}/{key}"
    if _exists(client, key):
        return Seed(uri, source, uploaded=False)
    if raw_data:
        from carprice import lake

        try:
            body = lake.read_bytes(raw_data)
        except (FileNotFoundError, OSError) as err:
            raise RuntimeError(
                f"CARPRICE_RAW_DATA={raw_data} could not be read ({err}); fix the path or "
                "unset it to use the synthetic sample"
            ) from err
    else:
        from carprice.synthetic import ensure_sample

        body = Path(ensure_sample(str(work_dir))).read_bytes()
    client.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
    return Seed(uri, source, uploaded=True)
