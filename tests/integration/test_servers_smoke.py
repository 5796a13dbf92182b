"""Smoke tests proving the integration server fixtures really work.

What a client of the S3-backed MLflow server (``mlflow_pg_s3_server``) needs:

* Logging (metrics, params, artifacts, models) only needs the tracking URI. Artifacts use
  ``mlflow-artifacts:/`` URIs and are uploaded *through* the server, which holds the S3
  credentials. No ``MLFLOW_S3_ENDPOINT_URL`` / ``AWS_*`` on the client.
* Downloading: the server advertises presigned downloads for an ``s3://`` destination
  (``/server-info``), so by default the client asks the server for a presigned URL per
  file and then GETs it *directly from the S3 endpoint the server was configured with*
  (``MLFLOW_S3_ENDPOINT_URL`` of the server). Still no credentials on the client, but
  it must be able to reach that endpoint (true here: everything is on 127.0.0.1; not
  true when the server talks to e.g. ``http://minio:9000`` inside a container network).
  Setting ``MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD=false`` on the client streams the
  download through the server instead. Both paths are tested below.
* Uploads of files >= ``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` (default 500 MiB)
  likewise go directly to S3 through presigned part URLs; tested with a lowered
  threshold.
"""

from __future__ import annotations

import filecmp
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
from boto3.s3.transfer import TransferConfig
from mlflow import MlflowClient
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

from tests.servers import MlflowS3Stack, MlflowServer, S3Server

pytestmark = pytest.mark.timeout(300)

MIB = 1024 * 1024

# Anything that would let the client talk to S3 by itself; removed to prove it needs none.
_CLIENT_ENV_TO_CLEAR = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_REGION",
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD",
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
)


@pytest.fixture
def bare_client_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Client process env without any S3 endpoint or AWS credentials."""
    for name in _CLIENT_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))


@pytest.fixture
def use_tracking_uri() -> Iterator[Any]:
    """Call it with a URL to point the fluent ``mlflow`` API there for this test only."""
    previous = mlflow.get_tracking_uri()

    def _use(url: str) -> None:
        mlflow.set_tracking_uri(url)

    yield _use
    mlflow.set_tracking_uri(previous)


@pytest.fixture
def presigned_download_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the artifact paths the client fetched through presigned URLs."""
    calls: list[str] = []
    original = HttpArtifactRepository._get_presigned_download_url

    def spy(self: HttpArtifactRepository, remote_file_path: str) -> Any:
        calls.append(remote_file_path)
        return original(self, remote_file_path)

    monkeypatch.setattr(HttpArtifactRepository, "_get_presigned_download_url", spy)
    return calls


def _log_run_with_artifact(url: str, src: Path) -> tuple[str, str]:
    """Create experiment + run on ``url``, log a metric and ``src``; return (run_id, uri)."""
    client = MlflowClient(tracking_uri=url)
    exp_id = client.create_experiment(f"smoke-{uuid.uuid4().hex[:8]}")
    run = client.create_run(exp_id)
    run_id = run.info.run_id
    client.log_metric(run_id, "rmse", 1.25)
    client.log_param(run_id, "model", "smoke")
    client.log_artifact(run_id, str(src), artifact_path="smoke")
    client.set_terminated(run_id)
    finished = client.get_run(run_id)
    assert finished.data.metrics == {"rmse": 1.25}
    assert finished.info.status == "FINISHED"
    assert finished.info.artifact_uri.startswith("mlflow-artifacts:/")
    return run_id, finished.info.artifact_uri


def _download(url: str, run_id: str, artifact_path: str, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=artifact_path, dst_path=str(dst), tracking_uri=url
    )
    return Path(local)


def _s3_key(artifact_uri: str, *parts: str) -> str:
    """Object key in the artifacts bucket for a ``mlflow-artifacts:/...`` run artifact URI."""
    prefix = artifact_uri.removeprefix("mlflow-artifacts:").lstrip("/")
    return "/".join([prefix, *parts])


# ---------------------------------------------------------------------------- S3


def test_s3_put_get(s3_server: S3Server) -> None:
    s3 = s3_server.client()
    assert {"data", "mlflow"} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}
    s3.put_object(Bucket="data", Key="smoke/hello.txt", Body=b"hello s3")
    assert s3.get_object(Bucket="data", Key="smoke/hello.txt")["Body"].read() == b"hello s3"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="smoke/")["Contents"]]
    assert keys == ["smoke/hello.txt"]
    # Buckets are plain folders: the object is a file on disk.
    assert (s3_server.data_dir / "data" / "smoke" / "hello.txt").read_bytes() == b"hello s3"


def test_s3_file_dropped_on_disk_is_served(s3_server: S3Server) -> None:
    s3 = s3_server.client()
    s3.list_objects_v2(Bucket="data")  # warm rclone's directory cache (1 s)
    target = s3_server.data_dir / "data" / "dropped" / "raw.csv"
    target.parent.mkdir(parents=True)
    target.write_text("a,b\n1,2\n")
    deadline = time.monotonic() + 5
    while True:
        try:
            body = s3.get_object(Bucket="data", Key="dropped/raw.csv")["Body"].read()
            break
        except s3.exceptions.NoSuchKey:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert body == b"a,b\n1,2\n"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="dropped/")["Contents"]]
    assert keys == ["dropped/raw.csv"]


def test_s3_multipart_upload(s3_server: S3Server) -> None:
    s3 = s3_server.client()
    payload = os.urandom(11 * MIB)
    # boto3's managed transfer: 5 MiB parts uploaded by 4 threads (parts may arrive
    # out of order; rclone buffers them).
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(payload), "data", "smoke/big.bin", Config=config)
    assert s3.get_object(Bucket="data", Key="smoke/big.bin")["Body"].read() == payload

    # Low-level API, parts sent explicitly.
    upload = s3.create_multipart_upload(Bucket="data", Key="smoke/parts.bin")
    parts = []
    for number, start in enumerate(range(0, len(payload), 5 * MIB), start=1):
        resp = s3.upload_part(
            Bucket="data",
            Key="smoke/parts.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=payload[start : start + 5 * MIB],
        )
        parts.append({"ETag": resp["ETag"], "PartNumber": number})
    s3.complete_multipart_upload(
        Bucket="data",
        Key="smoke/parts.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    head = s3.head_object(Bucket="data", Key="smoke/parts.bin")
    assert head["ContentLength"] == len(payload)
    assert s3.get_object(Bucket="data", Key="smoke/parts.bin")["Body"].read() == payload


def test_s3_presigned_url_download(s3_server: S3Server) -> None:
    s3 = s3_server.client()
    s3.put_object(Bucket="data", Key="smoke/presigned.txt", Body=b"presigned!")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "data", "Key": "smoke/presigned.txt"}, ExpiresIn=60
    )
    resp = httpx.get(url, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.content == b"presigned!"
    # Unsigned access is refused.
    assert httpx.get(url.split("?")[0], timeout=10).status_code >= 400


# ---------------------------------------------------------------------------- MLflow


def test_mlflow_sqlite_roundtrip(
    mlflow_sqlite_server: MlflowServer, tmp_path: Path, bare_client_env: None
) -> None:
    src = tmp_path / "hello.txt"
    src.write_text("hello mlflow sqlite\n")
    run_id, artifact_uri = _log_run_with_artifact(mlflow_sqlite_server.url, src)

    local = _download(mlflow_sqlite_server.url, run_id, "smoke/hello.txt", tmp_path / "out")
    assert filecmp.cmp(local, src, shallow=False)
    on_disk = Path(mlflow_sqlite_server.artifacts_destination) / _s3_key(
        artifact_uri, "smoke", "hello.txt"
    )
    assert on_disk.read_text() == "hello mlflow sqlite\n"


@pytest.mark.parametrize("download_mode", ["presigned", "proxied"])
def test_mlflow_pg_s3_roundtrip(
    mlflow_pg_s3_server: MlflowS3Stack,
    tmp_path: Path,
    bare_client_env: None,
    presigned_download_calls: list[str],
    monkeypatch: pytest.MonkeyPatch,
    download_mode: str,
) -> None:
    if download_mode == "proxied":
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
    stack = mlflow_pg_s3_server
    src = tmp_path / "hello.txt"
    src.write_text(f"hello mlflow on s3 ({download_mode})\n")
    run_id, artifact_uri = _log_run_with_artifact(stack.url, src)

    # The object really is in the S3 bucket.
    key = _s3_key(artifact_uri, "smoke", "hello.txt")
    s3 = stack.s3.client()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.bucket)["Contents"]]
    assert key in listed
    assert s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read() == src.read_bytes()

    local = _download(stack.url, run_id, "smoke/hello.txt", tmp_path / "out")
    assert filecmp.cmp(local, src, shallow=False)
    if download_mode == "presigned":
        assert presigned_download_calls, "expected a direct download via a presigned URL"
    else:
        assert presigned_download_calls == []


def test_mlflow_pg_s3_large_artifact_presigned_multipart_upload(
    mlflow_pg_s3_server: MlflowS3Stack,
    tmp_path: Path,
    bare_client_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Lower the thresholds so a 12 MiB file takes the >= 500 MiB code path: the client
    # PUTs 5 MiB parts straight to S3 on presigned URLs handed out by the server.
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MIB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MIB))
    stack = mlflow_pg_s3_server
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(12 * MIB))
    run_id, artifact_uri = _log_run_with_artifact(stack.url, src)

    head = stack.s3.client().head_object(
        Bucket=stack.bucket, Key=_s3_key(artifact_uri, "smoke", "big.bin")
    )
    assert head["ContentLength"] == 12 * MIB
    local = _download(stack.url, run_id, "smoke/big.bin", tmp_path / "out")
    assert filecmp.cmp(local, src, shallow=False)


def test_mlflow_pg_s3_model_roundtrip(
    mlflow_pg_s3_server: MlflowS3Stack,
    bare_client_env: None,
    use_tracking_uri: Any,
) -> None:
    """Fluent API: log a tiny sklearn model and load it back, no S3 config on the client."""
    import numpy as np
    from sklearn.linear_model import LinearRegression

    stack = mlflow_pg_s3_server
    use_tracking_uri(stack.url)
    x = np.arange(10, dtype=float).reshape(-1, 1)
    model = LinearRegression().fit(x, 3 * x.ravel() + 1)
    exp_id = mlflow.create_experiment(f"smoke-model-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run(experiment_id=exp_id):
        mlflow.log_metric("r2", 1.0)
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])

    loaded = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_allclose(loaded.predict(np.array([[20.0]])), [61.0])

    keys = [o["Key"] for o in stack.s3.client().list_objects_v2(Bucket=stack.bucket)["Contents"]]
    model_keys = [k for k in keys if f"/models/{info.model_id}/artifacts/" in k]
    assert any(k.endswith("/MLmodel") for k in model_keys), keys
    # mlflow 3.17 serializes sklearn models with skops by default (not pickle).
    assert any(k.rsplit("/", 1)[-1].startswith("model.") for k in model_keys), keys
