"""The data lake: one place that reads and writes local paths, s3:// URIs and http(s) URLs.

Every scheme goes through fsspec (s3fs for S3). S3 uses path-style addressing so MinIO and
`rclone serve s3` work as-is; the endpoint comes from MLFLOW_S3_ENDPOINT_URL (or
AWS_ENDPOINT_URL), credentials from the standard AWS variables, the region from
AWS_DEFAULT_REGION (default us-east-1).

Filesystems are looked up per call, never kept in a module global: fsspec caches instances
per process id (and per option set, so a changed endpoint or key gives a new one), and its
event-loop thread is reset after a fork. An Airflow task process forked from a scheduler
that already used the lake therefore builds its own client instead of reusing the parent's.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
from fsspec.utils import get_protocol

_S3 = ("s3", "s3a")


def _s3_options() -> dict[str, Any]:
    """s3fs options from the environment; empty variables count as unset."""
    env = {name: value for name, value in os.environ.items() if value}
    return {
        "endpoint_url": env.get("MLFLOW_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL"),
        # None lets botocore's own chain (profiles, instance roles) find credentials.
        "key": env.get("AWS_ACCESS_KEY_ID"),
        "secret": env.get("AWS_SECRET_ACCESS_KEY"),
        "token": env.get("AWS_SESSION_TOKEN"),
        "client_kwargs": {"region_name": env.get("AWS_DEFAULT_REGION", "us-east-1")},
        "config_kwargs": {"s3": {"addressing_style": "path"}, "retries": {"max_attempts": 3}},
        # The pipeline writes a stage file or manifest and reads it back at once, and a retry
        # rewrites it; a cached directory listing could hide the new object (or show a deleted
        # one), so every lookup asks S3.
        "use_listings_cache": False,
    }


def _fs(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem for ``uri`` and the path within it."""
    options = _s3_options() if get_protocol(uri) in _S3 else {}
    return fsspec.core.url_to_fs(uri, **options)


def _is_local(uri: str) -> bool:
    return get_protocol(uri) in ("file", "local")


def read_bytes(uri: str) -> bytes:
    """Whole object; raises FileNotFoundError with the URI when it isn't there."""
    fs, path = _fs(uri)
    try:
        return fs.cat_file(path)
    except (FileNotFoundError, IsADirectoryError) as exc:
        what = "object" if get_protocol(uri) in _S3 else "file"
        raise FileNotFoundError(f"no {what} at {uri}") from exc


def write_bytes(uri: str, data: bytes) -> str:
    """Write the whole object; readers never see half a file.

    An S3 PUT is atomic by itself. Local files are the one special case: fsspec's local
    ``open`` writes in place (and its transactional mode stages in the system temp folder,
    then moves across filesystems), so a reader could see a partial file. Here the bytes go
    to a temp file in the target folder and are renamed into place.
    """
    fs, path = _fs(uri)
    if not _is_local(uri):
        fs.pipe_file(path, data)
        return uri
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return uri


def exists(uri: str) -> bool:
    """True when a file/object (not a folder or prefix) is at ``uri``."""
    fs, path = _fs(uri)
    return fs.isfile(path)


def delete(uri: str) -> None:
    """Remove one object/file; a missing one is not an error (idempotent retries)."""
    fs, path = _fs(uri)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


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
