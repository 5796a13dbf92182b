"""Seed the stack's S3: buckets `data` and `mlflow`, and the raw file the first run trains on."""

from __future__ import annotations

import hashlib
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
    sha256: str = ""  # of the object's bytes: what a champion trained on it records
    replaced: bool = False  # the configured file differed from the object there before


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


def _read(client: Any, key: str) -> bytes | None:
    try:
        return client.get_object(Bucket=DATA_BUCKET, Key=key)["Body"].read()
    except client.exceptions.ClientError:
        return None


def seed_data(client: Any, raw_data: str | None, work_dir: Path) -> Seed:
    """Upload CARPRICE_RAW_DATA to s3://data/raw/car_details_v3.csv (`names.RAW_KEY`), or
    else the synthetic sample under a name that says so.

    The synthetic sample already there is kept. A configured file replaces the object when
    their bytes differ (a new file was configured since the last `up`): the lake then holds
    what the user configured, and every earlier training run kept its own snapshot."""
    key = REAL_KEY if raw_data else SYNTHETIC_KEY
    source = f"configured: {raw_data}" if raw_data else "synthetic"
    uri = f"s3://{DATA_BUCKET}/{key}"
    there = _read(client, key)
    if raw_data:
        from carprice import lake

        try:
            body = lake.read_bytes(raw_data)
        except (FileNotFoundError, OSError) as err:
            raise RuntimeError(
                f"CARPRICE_RAW_DATA={raw_data} could not be read ({err}); fix the path or "
                "unset it to use the synthetic sample"
            ) from err
        if there == body:
            return Seed(uri, source, uploaded=False, sha256=_sha(body))
    elif there is not None:
        return Seed(uri, source, uploaded=False, sha256=_sha(there))
    else:
        from carprice.synthetic import ensure_sample

        body = Path(ensure_sample(str(work_dir))).read_bytes()
    client.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
    return Seed(uri, source, uploaded=True, sha256=_sha(body), replaced=there is not None)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
