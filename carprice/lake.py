"""The data lake: one place that reads and writes local paths, s3:// URIs and http(s) URLs.

S3 goes through boto3 with path-style addressing so MinIO and `rclone serve s3` work as-is;
the endpoint comes from MLFLOW_S3_ENDPOINT_URL (or AWS_ENDPOINT_URL), credentials from the
standard AWS variables.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pandas as pd


def _s3_client():  # noqa: ANN202 - boto3 clients are dynamically typed
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def read_bytes(uri: str) -> bytes:
    """Whole object; raises FileNotFoundError with the URI when it isn't there."""
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        bucket, key = _split_s3(uri)
        client = _s3_client()
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(f"no object at {uri}") from exc
    if scheme in ("http", "https"):
        response = httpx.get(uri, follow_redirects=True, timeout=60)
        if response.status_code == 404:
            raise FileNotFoundError(f"no file at {uri}")
        response.raise_for_status()
        return response.content
    path = Path(uri.removeprefix("file://"))
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    return path.read_bytes()


def write_bytes(uri: str, data: bytes) -> str:
    """Write atomically for local paths (temp file + rename) so readers never see half a file."""
    if urlparse(uri).scheme == "s3":
        bucket, key = _split_s3(uri)
        _s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return uri
    path = Path(uri.removeprefix("file://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return uri


def read_csv(uri: str) -> pd.DataFrame:
    """A raw CSV with every cell as text: parsing units is `clean`'s job, not pandas'."""
    return pd.read_csv(io.BytesIO(read_bytes(uri)), dtype=str, keep_default_na=False)


def write_csv(uri: str, frame: pd.DataFrame) -> str:
    return write_bytes(uri, frame.to_csv(index=False).encode())
