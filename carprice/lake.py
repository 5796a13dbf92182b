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


def exists(uri: str) -> bool:
    """True when an object/file is at ``uri`` (local path or s3://)."""
    if urlparse(uri).scheme == "s3":
        bucket, key = _split_s3(uri)
        client = _s3_client()
        try:
            client.head_object(Bucket=bucket, Key=key)
        except client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True
    return Path(uri.removeprefix("file://")).is_file()


def delete(uri: str) -> None:
    """Remove one object/file; a missing one is not an error (idempotent retries)."""
    if urlparse(uri).scheme == "s3":
        bucket, key = _split_s3(uri)
        _s3_client().delete_object(Bucket=bucket, Key=key)
        return
    Path(uri.removeprefix("file://")).unlink(missing_ok=True)


def join(root: str, *parts: str) -> str:
    """``root/part/...`` for local folders and s3:// prefixes alike."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def read_parquet(uri: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(read_bytes(uri)))


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet, dtypes (categories included) preserved."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def read_csv(uri: str) -> pd.DataFrame:
    """A raw CSV with every cell as text: parsing units is `clean`'s job, not pandas'."""
    return pd.read_csv(io.BytesIO(read_bytes(uri)), dtype=str, keep_default_na=False)


def write_csv(uri: str, frame: pd.DataFrame) -> str:
    """Whole CSV in one write (an S3 PUT is atomic; local writes rename into place)."""
    return write_bytes(uri, frame.to_csv(index=False).encode())
